-- Durable timers: rows, not in-memory sleeps, so they survive restarts and run on any replica.
-- A worker claims due rows with FOR UPDATE SKIP LOCKED and stamps a lease token; the firing
-- transaction (which also writes the outbox event) only succeeds if the token is still its own.
CREATE TABLE timers (
    timer_id          uuid PRIMARY KEY,
    kind              text NOT NULL,
    subject_id        text NOT NULL,
    dedup_key         text NOT NULL,
    fire_at           timestamptz NOT NULL,
    data              jsonb NOT NULL DEFAULT '{}',
    status            text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'fired', 'cancelled')),
    lease_token       uuid,
    lease_expires_at  timestamptz,
    fired_at          timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);
-- One live timer per (kind, subject, dedup key): a duplicate schedule is unrepresentable.
CREATE UNIQUE INDEX timers_one_live ON timers (kind, subject_id, dedup_key) WHERE status = 'scheduled';
CREATE INDEX timers_due ON timers (fire_at) WHERE status = 'scheduled';
CREATE INDEX timers_subject ON timers (subject_id) WHERE status = 'scheduled';
