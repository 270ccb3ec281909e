-- Progress commands received from agency systems over dondoc.intake: one row per (agency, command id),
-- written in the transaction of the command's effects (or of its rejection). The same id at the same
-- Kafka position is a redelivery (nothing happens again); at another position it is a replay (refused).
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
