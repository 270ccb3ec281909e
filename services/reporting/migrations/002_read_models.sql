-- Read models of the reporting service, built only from events (DESIGN §2). How they answer a
-- summary now, as of a past moment, and per agency or document: see services/reporting/queries/__init__.py.

-- 1. The task as it stands now: what it is, who leads it, its deadline in force and original one.
ALTER TABLE tasks
    ADD COLUMN coordinating_agency_ids text[] NOT NULL DEFAULT '{}',
    ADD COLUMN parent_task_id text,
    ADD COLUMN parent_lead_agency_id text,      -- the parent task's lead, once the parent is known
    ADD COLUMN deadline_text text NOT NULL DEFAULT '',
    ADD COLUMN assigned_on date,
    ADD COLUMN bucket text,
    ADD COLUMN completion_confirmed boolean NOT NULL DEFAULT false,
    ADD COLUMN withdrawn_at timestamptz,
    ADD COLUMN updated_at timestamptz;
UPDATE tasks SET assigned_on = (assigned_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date,
                 updated_at = assigned_at,
                 bucket = CASE
                     WHEN status = 'withdrawn' THEN 'withdrawn'
                     WHEN deadline_kind = 'none' THEN CASE WHEN status = 'completed' THEN 'nodl_done' ELSE 'nodl_open' END
                     WHEN status = 'completed' THEN CASE WHEN on_time THEN 'on_time' ELSE 'late' END
                     WHEN percent > 0 THEN 'started'
                     ELSE 'new' END;
ALTER TABLE tasks ALTER COLUMN assigned_on SET NOT NULL, ALTER COLUMN bucket SET NOT NULL,
                  ALTER COLUMN updated_at SET NOT NULL;
-- The live overdue list: unfinished tasks, most overdue first (for a subtree: by its lead agencies).
CREATE INDEX tasks_open_due ON tasks (due, code) WHERE bucket IN ('new', 'started');
CREATE INDEX tasks_open_lead ON tasks (lead_agency_id, due) WHERE bucket IN ('new', 'started');
-- Withdrawn tasks, listed apart, latest first.
CREATE INDEX tasks_withdrawn ON tasks (withdrawn_at) WHERE bucket = 'withdrawn';
CREATE INDEX tasks_withdrawn_lead ON tasks (lead_agency_id, withdrawn_at) WHERE bucket = 'withdrawn';
CREATE INDEX tasks_parent ON tasks (parent_task_id) WHERE parent_task_id IS NOT NULL;
-- Secret tasks are few and always looked up by who is involved.
CREATE INDEX tasks_secret ON tasks (task_id) WHERE classification = 'mat';

-- 2. Each task's history: one row per interval in which its bucket and deadline in force held.
--    The current row has valid_to = 'infinity'. The figures "as of T" are the rows valid at T.
--    Filter columns are copied in so a query never joins back to tasks.
CREATE TABLE task_history (
    task_id         text NOT NULL,
    valid_from      timestamptz NOT NULL,
    valid_to        timestamptz NOT NULL DEFAULT 'infinity',
    bucket          text NOT NULL,
    due             date,                            -- the deadline in force, for an unfinished task
    lead_agency_id  text NOT NULL,
    document        text NOT NULL,
    assigned_on     date NOT NULL,
    key_task        boolean NOT NULL,
    secret          boolean NOT NULL,
    involved        text[] NOT NULL,
    delegated       boolean NOT NULL DEFAULT false,  -- a child task: its parent is counted instead
    parent_lead     text,                            -- in every view that also holds the parent's lead
    PRIMARY KEY (task_id, valid_from)
);
CREATE UNIQUE INDEX task_history_current ON task_history (task_id) WHERE valid_to = 'infinity';
-- "What changed between T and the end of T's day": rows opened then, and rows closed then.
CREATE INDEX task_history_opened ON task_history (valid_from);
CREATE INDEX task_history_closed ON task_history (valid_to) WHERE valid_to <> 'infinity';
-- The overdue list as of a past moment, most overdue first.
CREATE INDEX task_history_open_due ON task_history (due) WHERE bucket IN ('new', 'started');
-- The filters the journal does not cover: a smaller subtree, one agency, a document within a subtree,
-- a period. By lead agency, the rows valid at T are those closed after T: an index-only range read
-- with every column a summary needs (for "now", just the current rows).
CREATE INDEX task_history_lead ON task_history (lead_agency_id, valid_to)
    INCLUDE (valid_from, bucket, due, key_task, secret, delegated, parent_lead, document);
CREATE INDEX task_history_document ON task_history (document, valid_to)
    INCLUDE (valid_from, bucket, due, key_task, secret, delegated, parent_lead, lead_agency_id);
CREATE INDEX task_history_assigned ON task_history (assigned_on);
CREATE INDEX task_history_secret ON task_history USING gin (involved) WHERE secret;
INSERT INTO task_history (task_id, valid_from, bucket, due, lead_agency_id, document, assigned_on, key_task,
                          secret, involved)
SELECT task_id, assigned_at, bucket, CASE WHEN bucket IN ('new', 'started') THEN due END, lead_agency_id,
       document, assigned_on, key_task, classification = 'mat',
       ARRAY[assigning_agency_id, lead_agency_id] || coordinating_agency_ids
FROM tasks;

-- 3. The agency tree, from dondoc.directory, and its closure (every ancestor of every agency,
--    itself included at depth 0): a subtree filter is one indexed lookup. ``depth`` is the agency's
--    own depth (0 for a root): the journal keeps the subtrees of the top two levels (see 4).
CREATE TABLE agencies (
    agency_id    text PRIMARY KEY,
    parent_id    text,
    name         text NOT NULL,
    short_name   text NOT NULL,
    level        text NOT NULL DEFAULT '',
    successor_id text,
    version      int NOT NULL DEFAULT 0,
    known        boolean NOT NULL DEFAULT true,   -- false: only seen as a task's lead so far
    depth        int NOT NULL DEFAULT 0
);
CREATE INDEX agencies_parent ON agencies (parent_id);
CREATE TABLE agency_tree (
    ancestor_id text NOT NULL,
    agency_id   text NOT NULL,
    depth       int NOT NULL,
    PRIMARY KEY (ancestor_id, agency_id)
);
CREATE INDEX agency_tree_agency ON agency_tree (agency_id);
INSERT INTO agencies (agency_id, parent_id, name, short_name, known)
SELECT DISTINCT lead_agency_id, NULL, lead_agency_id, lead_agency_id, false FROM tasks;
INSERT INTO agency_tree SELECT agency_id, agency_id, 0 FROM agencies;

CREATE TABLE people (
    person_id  text PRIMARY KEY,
    agency_id  text NOT NULL,
    full_name  text NOT NULL,
    role       text NOT NULL DEFAULT '',
    title      text NOT NULL DEFAULT '',
    version    int NOT NULL DEFAULT 0
);
CREATE INDEX people_head ON people (agency_id) WHERE role = 'head';

-- 4. The journal: how many tasks entered or left each *state* on each day, per scope.
--
--    A state is a bucket with, for an unfinished task, where its deadline stands that day: within,
--    or overdue by 1–30, 31–90, 91–120 or more than 120 days (the ageing bands). An unfinished task
--    moves between those on fixed days (the day after its deadline, 30 days later, …), known the
--    moment its deadline is: the journal records those moves in advance, so the number of tasks in
--    each state at the end of day D is the sum of the journal up to D. No row depends on the clock.
--
--    Scopes: the whole tree ('t', ''), each source document ('d', number) and the subtree of each
--    agency of the top two levels ('s', agency id: the government, the ministries and provinces;
--    'x' corrects it for the parent's breakdown, see journal_apply); smaller scopes are read from
--    task_history. key_only: the same for key tasks (trọng tâm) alone.
--    Secret tasks are in no scope (they are added per viewer); a delegated child task counts where
--    its parent does not (see adapters.py).
--
--    Every day is also summed into its month and its year (level 'm', 'y'), so a sum up to any day
--    reads at most a few years, eleven months and a month of days per scope.
CREATE TABLE journal (
    kind             text NOT NULL CHECK (kind IN ('t', 'd', 's', 'x')),
    scope            text NOT NULL,
    key_only         boolean NOT NULL,
    level            text NOT NULL CHECK (level IN ('d', 'm', 'y')),
    period           date NOT NULL,                  -- the day, or the first day of the month or year
    new_within       int NOT NULL DEFAULT 0,
    started_within   int NOT NULL DEFAULT 0,
    overdue_1_30     int NOT NULL DEFAULT 0,
    overdue_31_90    int NOT NULL DEFAULT 0,
    overdue_91_120   int NOT NULL DEFAULT 0,
    overdue_over_120 int NOT NULL DEFAULT 0,
    on_time          int NOT NULL DEFAULT 0,
    late             int NOT NULL DEFAULT 0,
    nodl_open        int NOT NULL DEFAULT 0,
    nodl_done        int NOT NULL DEFAULT 0,
    withdrawn        int NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, scope, key_only, level, period)
);
CREATE INDEX journal_days ON journal (period) WHERE level = 'd';

-- 5. The journal summed up to one day (live_day, moved forward by the service every midnight): the
--    figures of every scope today, one row each. A summary for today reads these rows.
CREATE TABLE live (
    kind             text NOT NULL,
    scope            text NOT NULL,
    key_only         boolean NOT NULL,
    new_within       int NOT NULL DEFAULT 0,
    started_within   int NOT NULL DEFAULT 0,
    overdue_1_30     int NOT NULL DEFAULT 0,
    overdue_31_90    int NOT NULL DEFAULT 0,
    overdue_91_120   int NOT NULL DEFAULT 0,
    overdue_over_120 int NOT NULL DEFAULT 0,
    on_time          int NOT NULL DEFAULT 0,
    late             int NOT NULL DEFAULT 0,
    nodl_open        int NOT NULL DEFAULT 0,
    nodl_done        int NOT NULL DEFAULT 0,
    withdrawn        int NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, scope, key_only)
);
-- The documents with the most overdue tasks, then the most assigned: the per-document breakdown of
-- the whole tree reads the first rows of this index (queries.top_documents writes the same order).
CREATE INDEX live_documents_ranked ON live (
    (overdue_1_30 + overdue_31_90 + overdue_91_120 + overdue_over_120) DESC,
    (new_within + started_within + overdue_1_30 + overdue_31_90 + overdue_91_120 + overdue_over_120 + on_time + late) DESC,
    scope) WHERE kind = 'd' AND NOT key_only;
CREATE TABLE live_day (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    day      date            -- NULL: live is empty and must be summed from the journal
);
INSERT INTO live_day (day) VALUES (NULL);

-- The state of a task in one bucket with this deadline in force, on this day (0–10, the columns above).
CREATE FUNCTION state_at(bucket text, due date, day date) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE
        WHEN bucket IN ('new', 'started') THEN
            CASE WHEN due IS NULL OR due >= day THEN CASE WHEN bucket = 'new' THEN 0 ELSE 1 END
                 WHEN day - due <= 30 THEN 2
                 WHEN day - due <= 90 THEN 3
                 WHEN day - due <= 120 THEN 4
                 ELSE 5 END
        WHEN bucket = 'on_time' THEN 6
        WHEN bucket = 'late' THEN 7
        WHEN bucket = 'nodl_open' THEN 8
        WHEN bucket = 'nodl_done' THEN 9
        WHEN bucket = 'withdrawn' THEN 10
    END)::smallint
$$;

-- Add (p_sign = 1) or take out (-1) what these tasks' history rows (all tasks: NULL) put in the
-- journal and in live. A handler takes a task out, changes its history, and puts it back; a change
-- of the agency tree does the same for the tasks it moves. Rows are written in key order, so two
-- transactions never wait for each other's rows in opposite orders.
CREATE FUNCTION journal_apply(p_tasks text[], p_sign int) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    live_until date;
BEGIN
    -- Shared: handlers run side by side; live_roll takes it exclusively to move live_day.
    PERFORM pg_advisory_xact_lock_shared(hashtext(current_schema() || '.live')::bigint);
    SELECT day INTO live_until FROM live_day;
    WITH iv AS (
        SELECT h.bucket, h.due, h.key_task, h.lead_agency_id AS lead, h.document, h.delegated, h.parent_lead,
               (h.valid_from AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS d0,
               CASE WHEN h.valid_to <> 'infinity' THEN (h.valid_to AT TIME ZONE 'Asia/Ho_Chi_Minh')::date END AS d1
        FROM task_history h
        WHERE NOT h.secret AND (p_tasks IS NULL OR h.task_id = ANY (p_tasks))
    ),
    moves AS (
        -- enters its state the day it opens, leaves the state it has the day it closes …
        SELECT lead, document, delegated, parent_lead, key_task, d0 AS day, state_at(bucket, due, d0) AS state,
               1 AS n
        FROM iv
        UNION ALL
        SELECT lead, document, delegated, parent_lead, key_task, d1, state_at(bucket, due, d1), -1
        FROM iv WHERE d1 IS NOT NULL
        UNION ALL
        -- … and, unfinished, crosses into overdue and each ageing band on the days it falls due for them.
        SELECT iv.lead, iv.document, iv.delegated, iv.parent_lead, iv.key_task, b.day, s.state, s.n
        FROM iv
        CROSS JOIN LATERAL (SELECT iv.due + k AS day FROM unnest(ARRAY[1, 31, 91, 121]) AS k) b
        CROSS JOIN LATERAL (VALUES (state_at(iv.bucket, iv.due, b.day), 1),
                                   (state_at(iv.bucket, iv.due, b.day - 1), -1)) AS s(state, n)
        WHERE iv.bucket IN ('new', 'started') AND iv.due IS NOT NULL
          AND b.day > iv.d0 AND (iv.d1 IS NULL OR b.day <= iv.d1)
    ),
    grouped AS (
        SELECT lead, document, delegated, parent_lead, key_task, day, state, sum(n)::int AS n
        FROM moves GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(n) <> 0
    ),
    scoped AS (
        SELECT 't'::text AS kind, ''::text AS scope, key_task, day, state, n FROM grouped WHERE NOT delegated
        UNION ALL
        SELECT 'd', document, key_task, day, state, n FROM grouped WHERE NOT delegated
        UNION ALL
        SELECT 's', t.ancestor_id, g.key_task, g.day, g.state, g.n
        FROM grouped g
        JOIN agency_tree t ON t.agency_id = g.lead
        JOIN agencies a ON a.agency_id = t.ancestor_id AND a.depth <= 1
        WHERE g.parent_lead IS NULL OR NOT EXISTS (
            SELECT 1 FROM agency_tree p WHERE p.agency_id = g.parent_lead AND p.ancestor_id = t.ancestor_id)
        UNION ALL
        -- 'x': what the subtree counts but its row in its parent's breakdown does not — a task delegated
        -- into it from elsewhere in the parent's view (for a root: in the whole tree's), which that view
        -- counts at its parent task. A breakdown row is 's' minus 'x', so the rows add up to the view.
        SELECT 'x', t.ancestor_id, g.key_task, g.day, g.state, g.n
        FROM grouped g
        JOIN agency_tree t ON t.agency_id = g.lead
        JOIN agencies a ON a.agency_id = t.ancestor_id AND a.depth <= 1
        WHERE g.delegated
          AND (g.parent_lead IS NULL OR NOT EXISTS (
              SELECT 1 FROM agency_tree p WHERE p.agency_id = g.parent_lead AND p.ancestor_id = t.ancestor_id))
          AND (a.depth = 0 OR EXISTS (
              SELECT 1 FROM agency_tree p WHERE p.agency_id = g.parent_lead AND p.ancestor_id = a.parent_id))
    ),
    keyed AS (
        SELECT kind, scope, false AS key_only, day, state, n FROM scoped
        UNION ALL
        SELECT kind, scope, true, day, state, n FROM scoped WHERE key_task
    ),
    days AS MATERIALIZED (
        SELECT kind, scope, key_only, day,
               p_sign * coalesce(sum(n) FILTER (WHERE state = 0), 0) AS c0,
               p_sign * coalesce(sum(n) FILTER (WHERE state = 1), 0) AS c1,
               p_sign * coalesce(sum(n) FILTER (WHERE state = 2), 0) AS c2,
               p_sign * coalesce(sum(n) FILTER (WHERE state = 3), 0) AS c3,
               p_sign * coalesce(sum(n) FILTER (WHERE state = 4), 0) AS c4,
               p_sign * coalesce(sum(n) FILTER (WHERE state = 5), 0) AS c5,
               p_sign * coalesce(sum(n) FILTER (WHERE state = 6), 0) AS c6,
               p_sign * coalesce(sum(n) FILTER (WHERE state = 7), 0) AS c7,
               p_sign * coalesce(sum(n) FILTER (WHERE state = 8), 0) AS c8,
               p_sign * coalesce(sum(n) FILTER (WHERE state = 9), 0) AS c9,
               p_sign * coalesce(sum(n) FILTER (WHERE state = 10), 0) AS c10
        FROM keyed GROUP BY 1, 2, 3, 4
    ),
    periods AS (
        SELECT kind, scope, key_only, 'd'::text AS level, day AS period, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10
        FROM days
        UNION ALL
        SELECT kind, scope, key_only, 'm', date_trunc('month', day::timestamp)::date,
               sum(c0), sum(c1), sum(c2), sum(c3), sum(c4), sum(c5), sum(c6), sum(c7), sum(c8), sum(c9), sum(c10)
        FROM days GROUP BY 1, 2, 3, 5
        UNION ALL
        SELECT kind, scope, key_only, 'y', date_trunc('year', day::timestamp)::date,
               sum(c0), sum(c1), sum(c2), sum(c3), sum(c4), sum(c5), sum(c6), sum(c7), sum(c8), sum(c9), sum(c10)
        FROM days GROUP BY 1, 2, 3, 5
    ),
    written AS (
        INSERT INTO journal AS j (kind, scope, key_only, level, period, new_within, started_within, overdue_1_30,
                                  overdue_31_90, overdue_91_120, overdue_over_120, on_time, late, nodl_open,
                                  nodl_done, withdrawn)
        SELECT * FROM periods
        WHERE (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10) <> (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        ORDER BY kind, scope, key_only, level, period
        ON CONFLICT (kind, scope, key_only, level, period) DO UPDATE SET
            new_within = j.new_within + excluded.new_within,
            started_within = j.started_within + excluded.started_within,
            overdue_1_30 = j.overdue_1_30 + excluded.overdue_1_30,
            overdue_31_90 = j.overdue_31_90 + excluded.overdue_31_90,
            overdue_91_120 = j.overdue_91_120 + excluded.overdue_91_120,
            overdue_over_120 = j.overdue_over_120 + excluded.overdue_over_120,
            on_time = j.on_time + excluded.on_time,
            late = j.late + excluded.late,
            nodl_open = j.nodl_open + excluded.nodl_open,
            nodl_done = j.nodl_done + excluded.nodl_done,
            withdrawn = j.withdrawn + excluded.withdrawn
        RETURNING 1
    )
    INSERT INTO live AS l (kind, scope, key_only, new_within, started_within, overdue_1_30, overdue_31_90,
                           overdue_91_120, overdue_over_120, on_time, late, nodl_open, nodl_done, withdrawn)
    SELECT kind, scope, key_only, sum(c0), sum(c1), sum(c2), sum(c3), sum(c4), sum(c5), sum(c6), sum(c7), sum(c8),
           sum(c9), sum(c10)
    FROM days WHERE day <= live_until
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (kind, scope, key_only) DO UPDATE SET
        new_within = l.new_within + excluded.new_within,
        started_within = l.started_within + excluded.started_within,
        overdue_1_30 = l.overdue_1_30 + excluded.overdue_1_30,
        overdue_31_90 = l.overdue_31_90 + excluded.overdue_31_90,
        overdue_91_120 = l.overdue_91_120 + excluded.overdue_91_120,
        overdue_over_120 = l.overdue_over_120 + excluded.overdue_over_120,
        on_time = l.on_time + excluded.on_time,
        late = l.late + excluded.late,
        nodl_open = l.nodl_open + excluded.nodl_open,
        nodl_done = l.nodl_done + excluded.nodl_done,
        withdrawn = l.withdrawn + excluded.withdrawn;
END
$fn$;

-- Move live to the end of p_day: add (or, for a clock set back, take out) the journal's days in
-- between; after a long gap, sum it afresh. Exclusive, so no handler writes live meanwhile.
CREATE FUNCTION live_roll(p_day date) RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
    current_day date;
    direction int;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.live')::bigint);
    SELECT day INTO current_day FROM live_day;
    IF current_day = p_day THEN
        RETURN false;
    END IF;
    IF current_day IS NULL OR abs(p_day - current_day) > 62 THEN
        DELETE FROM live;
        INSERT INTO live (kind, scope, key_only, new_within, started_within, overdue_1_30, overdue_31_90,
                          overdue_91_120, overdue_over_120, on_time, late, nodl_open, nodl_done, withdrawn)
        SELECT kind, scope, key_only, sum(new_within), sum(started_within), sum(overdue_1_30), sum(overdue_31_90),
               sum(overdue_91_120), sum(overdue_over_120), sum(on_time), sum(late), sum(nodl_open), sum(nodl_done),
               sum(withdrawn)
        FROM journal
        WHERE (level = 'y' AND period < date_trunc('year', p_day::timestamp)::date)
           OR (level = 'm' AND period >= date_trunc('year', p_day::timestamp)::date
                           AND period < date_trunc('month', p_day::timestamp)::date)
           OR (level = 'd' AND period >= date_trunc('month', p_day::timestamp)::date AND period <= p_day)
        GROUP BY 1, 2, 3;
    ELSE
        direction := CASE WHEN p_day > current_day THEN 1 ELSE -1 END;
        INSERT INTO live AS l (kind, scope, key_only, new_within, started_within, overdue_1_30, overdue_31_90,
                               overdue_91_120, overdue_over_120, on_time, late, nodl_open, nodl_done, withdrawn)
        SELECT kind, scope, key_only, direction * sum(new_within), direction * sum(started_within),
               direction * sum(overdue_1_30), direction * sum(overdue_31_90), direction * sum(overdue_91_120),
               direction * sum(overdue_over_120), direction * sum(on_time), direction * sum(late),
               direction * sum(nodl_open), direction * sum(nodl_done), direction * sum(withdrawn)
        FROM journal
        WHERE level = 'd' AND period > least(current_day, p_day) AND period <= greatest(current_day, p_day)
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3
        ON CONFLICT (kind, scope, key_only) DO UPDATE SET
            new_within = l.new_within + excluded.new_within,
            started_within = l.started_within + excluded.started_within,
            overdue_1_30 = l.overdue_1_30 + excluded.overdue_1_30,
            overdue_31_90 = l.overdue_31_90 + excluded.overdue_31_90,
            overdue_91_120 = l.overdue_91_120 + excluded.overdue_91_120,
            overdue_over_120 = l.overdue_over_120 + excluded.overdue_over_120,
            on_time = l.on_time + excluded.on_time,
            late = l.late + excluded.late,
            nodl_open = l.nodl_open + excluded.nodl_open,
            nodl_done = l.nodl_done + excluded.nodl_done,
            withdrawn = l.withdrawn + excluded.withdrawn;
    END IF;
    UPDATE live_day SET day = p_day;
    RETURN true;
END
$fn$;

SELECT journal_apply(NULL, 1);

-- 6. Source documents, as TaskAssigned names them.
CREATE TABLE documents (
    number     text PRIMARY KEY,
    issued_on  date,
    issuer     text NOT NULL DEFAULT ''
);
INSERT INTO documents (number) SELECT DISTINCT document FROM tasks;

-- 7. Monthly reports published (ReportPublished), one row per month.
CREATE TABLE published_reports (
    month        text PRIMARY KEY,
    event_id     uuid NOT NULL,
    published_at timestamptz NOT NULL
);
