-- Two times per fact (events/effective.py). A history row's valid_from/valid_to are *effective* times:
-- when its state held as the documents say (a plan issued on 21/11/2022 and loaded on 15/02/2023 is
-- assigned from 21/11/2022). recorded_from/recorded_to are when dondoc learnt of the change that opened
-- and the one that closed the row (the events' own times): the rows valid at T on that axis are what
-- dondoc showed at T (as_recorded). NULL means "the same as the effective time", as for every fact
-- recorded as it happened, so existing rows need no rewrite and most rows carry nothing extra.
ALTER TABLE task_history
    ADD COLUMN recorded_from timestamptz,
    ADD COLUMN recorded_to   timestamptz;

-- Facts recorded after they took effect: "điều chỉnh sau ngày chốt số liệu" notes look for those whose
-- effective time falls in a month that had closed when they were recorded.
-- Both ends, so either bound can lead: an old month has few rows effective before it, a recent one few
-- rows recorded after it. Only late-recorded rows are in them (a backfill, not the daily flow).
CREATE INDEX task_history_recorded_late ON task_history (valid_from) INCLUDE (recorded_from)
    WHERE recorded_from IS NOT NULL;
CREATE INDEX task_history_recorded_after ON task_history (recorded_from) INCLUDE (valid_from)
    WHERE recorded_from IS NOT NULL;

-- The tasks' read model says when the document assigned the task (assigned_at, assigned_on: effective)
-- and when dondoc learnt it.
ALTER TABLE tasks ADD COLUMN recorded_at timestamptz;

-- The tasks made for a Danh mục row's second, third… lead agency (#8b, #8c): a document's tasks less these
-- are the rows it lists (services/reporting/queries/ledger.py, whose predicate this must equal).
CREATE INDEX tasks_extra_leads ON tasks (document) WHERE parent_task_id IS NULL AND code ~ '#[0-9]+([b-z]|[a-z]{2,})$';
