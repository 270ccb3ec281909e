-- Reorganisation decisions (DESIGN §4 "Reorganisation") and what assignment must know to move open tasks.
CREATE TABLE reorganisations (
    reorganisation_id  text PRIMARY KEY,
    body               jsonb NOT NULL,          -- the decision as the admin sent it (a re-send is compared)
    body_hash          text NOT NULL,
    decision_number    text NOT NULL,
    effective_on       date NOT NULL,
    moved_task_ids     text[] NOT NULL,
    undecided_task_ids text[] NOT NULL,         -- split tasks no share named: with the first successor
    applied_at         timestamptz NOT NULL,
    applied_by         text NOT NULL
);

-- Only open tasks move; progress owns completion, so assignment keeps what it reads of it
-- (CompletionReported / CompletionReturned / TaskCompleted on dondoc.task-events).
ALTER TABLE tasks ADD COLUMN completed_at timestamptz;
CREATE INDEX tasks_coordinating ON tasks USING gin (coordinating_agency_ids);
