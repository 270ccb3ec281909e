-- The directory: agencies (a tree), the people in them, and the group names documents use.
-- The assignment service owns it; every change is also published, whole, on the compacted
-- dondoc.directory topic (AgencyChanged / PersonChanged / AgencyGroupChanged) through the outbox.
-- Nothing is deleted: tasks keep pointing at abolished agencies and people who left (active = false).
CREATE TABLE agencies (
    agency_id        text PRIMARY KEY,
    name             text NOT NULL,
    short_name       text NOT NULL DEFAULT '',
    level            text NOT NULL,
    -- Deferred, so a whole directory can be loaded in one transaction in any order.
    parent_id        text REFERENCES agencies (agency_id) DEFERRABLE INITIALLY DEFERRED,
    aliases          text[] NOT NULL DEFAULT '{}',
    tracking_office  boolean NOT NULL DEFAULT false,
    can_assign_to    text[] NOT NULL DEFAULT '{}',
    active           boolean NOT NULL DEFAULT true,
    successor_id     text REFERENCES agencies (agency_id) DEFERRABLE INITIALLY DEFERRED,
    -- Matching keys of the name and aliases (services/assignment/names.py): no two active agencies
    -- or groups share one, so a name in a document never means two bodies.
    name_keys        text[] NOT NULL DEFAULT '{}',
    version          int NOT NULL DEFAULT 1,
    seq              bigint GENERATED ALWAYS AS IDENTITY,  -- directory order (group members, listings)
    updated_at       timestamptz NOT NULL
);
CREATE INDEX agencies_parent ON agencies (parent_id);
CREATE INDEX agencies_name_keys ON agencies USING gin (name_keys);

CREATE TABLE people (
    person_id   text PRIMARY KEY,
    agency_id   text NOT NULL REFERENCES agencies (agency_id) DEFERRABLE INITIALLY DEFERRED,
    full_name   text NOT NULL,
    role        text NOT NULL CHECK (role IN ('head', 'deputy', 'officer')),
    title       text NOT NULL DEFAULT '',
    email       text,
    active      boolean NOT NULL DEFAULT true,
    demo        boolean NOT NULL DEFAULT false,
    version     int NOT NULL DEFAULT 1,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX people_agency ON people (agency_id);
-- One head (người đứng đầu) per agency: alerts and escalations go to exactly one person.
CREATE UNIQUE INDEX people_one_head ON people (agency_id) WHERE role = 'head' AND active;

CREATE TABLE agency_groups (
    group_id    text PRIMARY KEY,
    name        text NOT NULL,
    aliases     text[] NOT NULL DEFAULT '{}',
    kind        text NOT NULL CHECK (kind IN ('all', 'related')),
    rule        jsonb,
    member_ids  text[] NOT NULL DEFAULT '{}',
    name_keys   text[] NOT NULL DEFAULT '{}',
    version     int NOT NULL DEFAULT 1,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX agency_groups_name_keys ON agency_groups USING gin (name_keys);
