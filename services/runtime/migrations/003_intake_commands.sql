-- Intake commands seen, by (agency, command id), with where each was first read. The same command at
-- the same Kafka position again is a redelivery (ignored: its outcome is already committed); at another
-- position it is a replay (refused). Written in the same transaction as the command's effects.
-- Used by every service that takes commands from dondoc.intake (services/runtime/intake_ledger.py).
-- IF NOT EXISTS: local databases made before this moved here already have it from a service migration.
CREATE TABLE IF NOT EXISTS intake_commands (
    agency_id     text NOT NULL,
    command_id    text NOT NULL,
    command_type  text NOT NULL,
    topic         text NOT NULL,
    partition     int NOT NULL,
    "offset"      bigint NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('accepted', 'rejected')),
    code          text,
    received_at   timestamptz NOT NULL,
    PRIMARY KEY (agency_id, command_id)
);
