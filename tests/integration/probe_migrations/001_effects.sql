-- The probe service's only state: one row per effect applied. No unique constraint on purpose:
-- an event applied twice shows up as two rows.
CREATE TABLE effects (
    event_id    uuid NOT NULL,
    note        text NOT NULL,
    "offset"    bigint NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- Written outside the handler's transaction, so it survives the rollback of a crash.
CREATE TABLE handler_started (
    event_id    uuid NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now()
);
