-- Outbox: events written in the same transaction as the state change that caused them.
-- The relay publishes rows in id order and marks them; it never tracks a cursor, so a row
-- that commits after a higher id (insert order differs from commit order) is still published.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    topic         text NOT NULL,
    key           text,
    value         bytea NOT NULL,
    headers       jsonb NOT NULL DEFAULT '[]',
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Inbox: ids of events whose effects are committed. Recorded in the effect's transaction,
-- so a re-delivered event is recognised and its effects are never applied twice.
CREATE TABLE inbox (
    event_id      uuid PRIMARY KEY,
    event_type    text NOT NULL,
    topic         text NOT NULL,
    partition     int NOT NULL,
    "offset"      bigint NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now()
);

-- Dead letters: what this service gave up on, kept locally as well as on the dead-letter topic.
CREATE TABLE dead_letters (
    id            bigserial PRIMARY KEY,
    topic         text NOT NULL,
    partition     int NOT NULL,
    "offset"      bigint NOT NULL,
    key           bytea,
    value         bytea,
    error         text NOT NULL,
    attempts      int NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic, partition, "offset")
);
