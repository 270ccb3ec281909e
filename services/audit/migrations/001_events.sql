-- Append-only, hash-chained copy of every event. Each row's hash covers the previous row's hash
-- and this event's exact bytes: changing, removing or reordering any row breaks every hash after it.
CREATE TABLE events (
    seq            bigint PRIMARY KEY,
    event_id       uuid NOT NULL UNIQUE,
    event_type     text NOT NULL,
    task_id        text,
    correlation_id uuid NOT NULL,
    occurred_at    timestamptz NOT NULL,
    topic          text NOT NULL,
    partition      int NOT NULL,
    "offset"       bigint NOT NULL,
    value          bytea NOT NULL,
    prev_hash      bytea NOT NULL,
    hash           bytea NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_task ON events (task_id, seq) WHERE task_id IS NOT NULL;

-- The chain's head, one row, locked by each append so concurrent replicas extend one chain.
CREATE TABLE chain_head (
    id    boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq   bigint NOT NULL,
    hash  bytea NOT NULL
);
INSERT INTO chain_head (seq, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only: the database itself refuses updates and deletes.
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
