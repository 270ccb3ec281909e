-- What the alerts service needs to know of a task to word and address its alerts.
CREATE TABLE tasks (
    task_id               text PRIMARY KEY,
    code                  text NOT NULL,
    title                 text NOT NULL,
    source_number         text NOT NULL,
    lead_agency_id        text NOT NULL,
    assigning_agency_id   text NOT NULL,
    officer_in_charge_id  text,
    due                   date,
    status                text NOT NULL DEFAULT 'open'
);

-- One alert per (task, kind, threshold, recipient): re-deliveries and restarts never duplicate one.
CREATE TABLE alerts (
    alert_id              uuid PRIMARY KEY,
    task_id               text NOT NULL REFERENCES tasks (task_id),
    kind                  text NOT NULL,
    threshold             text NOT NULL,
    recipient_person_id   text NOT NULL,
    recipient_role        text NOT NULL,
    message_vi            text NOT NULL,
    due                   date,
    raised_at             timestamptz NOT NULL,
    acknowledged_at       timestamptz,
    UNIQUE (task_id, kind, threshold, recipient_person_id)
);
CREATE INDEX alerts_inbox ON alerts (recipient_person_id, raised_at DESC);
