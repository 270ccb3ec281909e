-- Intake commands seen, by (agency, command id), with where each was first read. The same command at
-- the same Kafka position again is a redelivery (ignored: its outcome is already committed); at another
-- position it is a replay (refused). Written in the same transaction as the command's effects.
CREATE TABLE intake_commands (
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
