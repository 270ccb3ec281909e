-- What alerts need beyond issue 2: wording (source document, deadline text), recipients
-- (coordinating agencies), resolution, acknowledgement, repeats, and delivery channels.
ALTER TABLE tasks
    ADD COLUMN source_issued_on date,
    ADD COLUMN source_issuer text NOT NULL DEFAULT '',
    ADD COLUMN deadline_text text NOT NULL DEFAULT '',
    ADD COLUMN coordinating_agency_ids text[] NOT NULL DEFAULT '{}',
    ADD COLUMN key_task boolean NOT NULL DEFAULT false;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check
    CHECK (status IN ('open', 'completion_reported', 'completed', 'withdrawn'));

ALTER TABLE alerts
    ADD COLUMN recipient_agency_id text,
    ADD COLUMN reminders int NOT NULL DEFAULT 0,
    ADD COLUMN resolved_at timestamptz,
    ADD COLUMN resolved_because text;
CREATE INDEX alerts_open_of_task ON alerts (task_id) WHERE resolved_at IS NULL;

-- The directory as the alerts service needs it (from dondoc.directory): the head of an agency is its
-- active person with role 'head'; its tracking offices are its active children with tracking_office.
-- Agencies and people arrive on different keys, in any order: heads are looked up at alert time.
CREATE TABLE agencies (
    agency_id        text PRIMARY KEY,
    name             text NOT NULL DEFAULT '',
    parent_id        text,
    tracking_office  boolean NOT NULL DEFAULT false,
    active           boolean NOT NULL DEFAULT true,
    version          int NOT NULL DEFAULT 0
);
CREATE INDEX agencies_children ON agencies (parent_id) WHERE tracking_office AND active;
CREATE TABLE people (
    person_id   text PRIMARY KEY,
    agency_id   text,
    name        text NOT NULL DEFAULT '',
    role        text,
    email       text,
    active      boolean NOT NULL DEFAULT true,
    version     int NOT NULL DEFAULT 0
);
CREATE INDEX people_heads ON people (agency_id) WHERE role = 'head' AND active;
-- One signed webhook per agency system.
CREATE TABLE webhooks (
    agency_id   text PRIMARY KEY,
    url         text NOT NULL,
    secret      text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The in-app stream: what each person's open SSE connections receive, in order. ``seq`` is the SSE
-- event id (Last-Event-ID). Writers take a per-person transaction lock before inserting, so for one
-- person seq order is commit order and a reader resuming after seq N never skips a late commit.
CREATE TABLE stream (
    seq         bigserial PRIMARY KEY,
    person_id   text NOT NULL,
    alert_id    uuid,
    kind        text NOT NULL,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stream_of_person ON stream (person_id, seq);

-- One digest per person and day, however many digest timers fire that day.
CREATE TABLE digests (
    person_id  text NOT NULL,
    day        date NOT NULL,
    PRIMARY KEY (person_id, day)
);

-- Deliveries to external channels, worked by a background loop per channel (never by the consumer):
-- claimed with FOR UPDATE SKIP LOCKED and a lease token, retried with backoff on the database clock.
CREATE TABLE deliveries (
    delivery_id       uuid PRIMARY KEY,
    alert_id          uuid,
    task_id           text,
    person_id         text NOT NULL,
    channel           text NOT NULL CHECK (channel IN ('webhook', 'email')),
    reminder          int NOT NULL DEFAULT 0,
    digest_day        date,
    target            text NOT NULL,
    body              jsonb NOT NULL,
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts          int NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_error        text,
    lease_token       uuid,
    lease_expires_at  timestamptz,
    delivered_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_due ON deliveries (channel, next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_of_alert ON deliveries (alert_id);
