-- The chain is keyed from here on (services/audit/domain.py): rows before this stay version 1 (unkeyed
-- SHA-256 links), the first keyed link covers their last hash.
ALTER TABLE events ADD COLUMN version smallint NOT NULL DEFAULT 1;
ALTER TABLE events ALTER COLUMN version SET DEFAULT 2;
-- Classifying a break looks rows up by their hash and by the hash they link to.
CREATE INDEX events_hash ON events (hash);
CREATE INDEX events_prev_hash ON events (prev_hash);

-- Which part of each partition the chain has read (first offset, next offset), written with each append:
-- the signed checkpoints publish it, and `audit verify` holds the table to that part of the Kafka log.
CREATE TABLE chain_offsets (
    topic        text NOT NULL,
    partition    int NOT NULL,
    first_offset bigint NOT NULL,
    next_offset  bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
INSERT INTO chain_offsets (topic, partition, first_offset, next_offset)
    SELECT topic, partition, min("offset"), max("offset") + 1 FROM events GROUP BY topic, partition;

-- TRUNCATE bypasses row triggers: refuse it too. A superuser can still drop these triggers; the keyed
-- chain and the checkpoints on Kafka are what find that, these only stop mistakes.
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
