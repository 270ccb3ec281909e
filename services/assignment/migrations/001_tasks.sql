-- Tasks as assigned. The assignment service owns what was asked of whom, by when;
-- progress and status belong to the progress service.
CREATE TABLE tasks (
    task_id                 text PRIMARY KEY,
    code                    text NOT NULL,
    assigning_agency_id     text NOT NULL,
    idempotency_key         text NOT NULL,
    title                   text NOT NULL,
    description             text NOT NULL DEFAULT '',
    expected_product        text NOT NULL DEFAULT '',
    source_number           text NOT NULL,
    source_issued_on        date NOT NULL,
    source_issuer           text NOT NULL,
    lead_agency_id          text NOT NULL,
    coordinating_agency_ids text[] NOT NULL DEFAULT '{}',
    officer_in_charge_id    text,
    deadline                jsonb NOT NULL,
    key_task                boolean NOT NULL DEFAULT false,
    classification          text NOT NULL DEFAULT 'cong-khai',
    parent_task_id          text REFERENCES tasks (task_id),
    assigned_at             timestamptz NOT NULL,
    -- A client's retry carries the same key and gets the same task back.
    UNIQUE (assigning_agency_id, idempotency_key)
);
CREATE INDEX tasks_lead ON tasks (lead_agency_id);
CREATE INDEX tasks_parent ON tasks (parent_task_id) WHERE parent_task_id IS NOT NULL;
