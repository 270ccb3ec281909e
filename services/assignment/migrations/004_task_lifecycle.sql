-- What happens to a task after it is assigned, as far as the assigner and the lead decide it:
-- delegation down the tree, extensions of the deadline, withdrawal. Progress and completion belong
-- to the progress service.
ALTER TABLE tasks
    -- The deadline as first assigned stays in `deadline`; an approved extension changes only this one.
    ADD COLUMN deadline_in_force jsonb,
    ADD COLUMN coordinating_group_ids text[] NOT NULL DEFAULT '{}',
    ADD COLUMN assigning_document jsonb,
    -- Same idempotency key with a different command is a conflict, not a silent "same task".
    ADD COLUMN command_hash text,
    ADD COLUMN delegation_id text,
    ADD COLUMN withdrawn_at timestamptz,
    ADD COLUMN withdrawn_by text,
    ADD COLUMN withdrawal_reason text;
UPDATE tasks SET deadline_in_force = deadline;
ALTER TABLE tasks ALTER COLUMN deadline_in_force SET NOT NULL;
CREATE INDEX tasks_source ON tasks (source_number);

CREATE TABLE delegations (
    delegation_id         text PRIMARY KEY,
    parent_task_id        text NOT NULL REFERENCES tasks (task_id),
    delegating_agency_id  text NOT NULL,
    delegating_role       text NOT NULL CHECK (delegating_role IN ('chu-tri', 'phoi-hop')),
    idempotency_key       text NOT NULL,
    command_hash          text NOT NULL,
    document              jsonb,
    child_task_ids        text[] NOT NULL,
    delegated_at          timestamptz NOT NULL
);
CREATE INDEX delegations_parent ON delegations (parent_task_id);

CREATE TABLE extension_requests (
    request_id              text PRIMARY KEY,
    task_id                 text NOT NULL REFERENCES tasks (task_id),
    requested_by_agency_id  text NOT NULL,
    idempotency_key         text NOT NULL,
    reason                  text NOT NULL,
    proposed_deadline       jsonb NOT NULL,
    requested_at            timestamptz NOT NULL,
    status                  text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by_agency_id    text,
    decided_at              timestamptz,
    decision_reason         text,
    decided_deadline        jsonb,
    decision_document       jsonb
);
-- One open request per task: the assigner decides it before the lead can ask again.
CREATE UNIQUE INDEX extension_requests_one_pending ON extension_requests (task_id) WHERE status = 'pending';
