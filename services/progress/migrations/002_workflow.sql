-- The status workflow of DESIGN §4: completion is reported, then confirmed or returned; withdrawn apart.
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check
    CHECK (status IN ('assigned', 'in_progress', 'completion_reported', 'completed', 'withdrawn'));
ALTER TABLE tasks
    ADD COLUMN coordinating_agency_ids text[] NOT NULL DEFAULT '{}',
    ADD COLUMN parent_task_id text,
    -- Per-task reminder override (working days before the deadline); NULL follows the defaults.
    ADD COLUMN lead_days int[],
    -- Bumped at every re-plan: a timer of an older plan finds a different number and does nothing,
    -- and the new plan's timers get new ids (a cancelled timer's id can never be scheduled again).
    ADD COLUMN plan int NOT NULL DEFAULT 0,
    ADD COLUMN note text NOT NULL DEFAULT '',
    ADD COLUMN reported_on date,
    ADD COLUMN evidence jsonb,
    ADD COLUMN open_children_override text,
    ADD COLUMN return_reason text;
CREATE INDEX tasks_children ON tasks (parent_task_id) WHERE parent_task_id IS NOT NULL;

-- Each confirmed completion, one per occurrence of a recurring task (counted on its own).
CREATE TABLE completions (
    task_id       text NOT NULL REFERENCES tasks (task_id),
    due           date NOT NULL DEFAULT '-infinity',
    reported_on   date NOT NULL,
    on_time       boolean,
    product       text NOT NULL,
    evidence      jsonb,
    confirmed_at  timestamptz NOT NULL,
    PRIMARY KEY (task_id, due)
);

-- Notes of the lead and coordinating agencies on their part of the work.
CREATE TABLE notes (
    id         bigserial PRIMARY KEY,
    task_id    text NOT NULL REFERENCES tasks (task_id),
    agency_id  text NOT NULL,
    note       text NOT NULL,
    noted_at   timestamptz NOT NULL
);
CREATE INDEX notes_of_task ON notes (task_id, id);
