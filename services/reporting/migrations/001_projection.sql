-- Read model of every task, built only from events (never from other services' tables).
CREATE TABLE tasks (
    task_id               text PRIMARY KEY,
    code                  text NOT NULL,
    title                 text NOT NULL,
    document              text NOT NULL,
    assigning_agency_id   text NOT NULL,
    lead_agency_id        text NOT NULL,
    officer_in_charge_id  text,
    deadline_kind         text NOT NULL,
    original_due          date,
    due                   date,
    key_task              boolean NOT NULL,
    classification        text NOT NULL,
    status                text NOT NULL CHECK (status IN ('open', 'completed', 'withdrawn')),
    percent               int NOT NULL DEFAULT 0,
    assigned_at           timestamptz NOT NULL,
    completed_on          date,
    on_time               boolean
);
CREATE INDEX tasks_document ON tasks (document);
CREATE INDEX tasks_lead ON tasks (lead_agency_id);
