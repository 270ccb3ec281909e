-- The progress service's view of each task: its status and the deadline in force.
CREATE TABLE tasks (
    task_id               text PRIMARY KEY,
    code                  text NOT NULL,
    title                 text NOT NULL,
    assigning_agency_id   text NOT NULL,
    lead_agency_id        text NOT NULL,
    officer_in_charge_id  text,
    key_task              boolean NOT NULL,
    deadline              jsonb NOT NULL,
    original_due          date,
    due                   date,
    status                text NOT NULL CHECK (status IN ('assigned', 'in_progress', 'completed')),
    percent               int NOT NULL DEFAULT 0,
    completed_on          date,
    on_time               boolean,
    product               text,
    updated_at            timestamptz NOT NULL
);
