-- A move of the agency tree (services/reporting/directory_store.py) takes its tasks' history out of the journal
-- under the old tree and puts the same rows back under the new one. The whole tree's rows ('t') and the
-- documents' ('d') do not depend on the tree, so the take-out and the put-back cancel there row for row: they
-- were written twice for nothing, about half of such a move's journal writes (docs/performance.md, "Round 5").
-- p_tree_only leaves them out; the journal comes out the same. The body is migrations/003's but for that.
--
-- journal_add (migrations/006) calls journal_add_now(p_plus, p_minus): the default keeps every kind.

DROP FUNCTION journal_add_now(task_history[], task_history[]);

CREATE FUNCTION journal_add_now(p_plus task_history[], p_minus task_history[], p_tree_only boolean DEFAULT false)
    RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    live_until date;
BEGIN
    -- Shared: handlers run side by side; live_roll takes it exclusively to move live_day.
    PERFORM pg_advisory_xact_lock_shared(hashtext(current_schema() || '.live')::bigint);
    SELECT day INTO live_until FROM live_day;
    WITH signed AS (
        SELECT h.*, 1 AS sign FROM unnest(p_plus) h
        UNION ALL
        SELECT h.*, -1 FROM unnest(p_minus) h
    ),
    iv AS (
        SELECT h.bucket, h.due, h.key_task, h.lead_agency_id AS lead, h.document, h.delegated, h.parent_lead, h.sign,
               (h.valid_from AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS d0,
               CASE WHEN h.valid_to <> 'infinity' THEN (h.valid_to AT TIME ZONE 'Asia/Ho_Chi_Minh')::date END AS d1
        FROM signed h
        WHERE NOT h.secret
    ),
    moves AS (
        -- enters its state the day it opens, leaves the state it has the day it closes …
        SELECT lead, document, delegated, parent_lead, key_task, d0 AS day, state_at(bucket, due, d0) AS state,
               sign AS n
        FROM iv
        UNION ALL
        SELECT lead, document, delegated, parent_lead, key_task, d1, state_at(bucket, due, d1), -sign
        FROM iv WHERE d1 IS NOT NULL
        UNION ALL
        -- … and, unfinished, crosses into overdue and each ageing band on the days it falls due for them.
        SELECT iv.lead, iv.document, iv.delegated, iv.parent_lead, iv.key_task, b.day, s.state, s.n * iv.sign
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
        -- Neither the whole tree's rows nor a document's depend on the agency tree: a move of it leaves them be.
        SELECT 't'::text AS kind, ''::text AS scope, key_task, day, state, n FROM grouped WHERE NOT delegated AND NOT p_tree_only
        UNION ALL
        SELECT 'd', document, key_task, day, state, n FROM grouped WHERE NOT delegated AND NOT p_tree_only
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
               coalesce(sum(n) FILTER (WHERE state = 0), 0) AS c0,
               coalesce(sum(n) FILTER (WHERE state = 1), 0) AS c1,
               coalesce(sum(n) FILTER (WHERE state = 2), 0) AS c2,
               coalesce(sum(n) FILTER (WHERE state = 3), 0) AS c3,
               coalesce(sum(n) FILTER (WHERE state = 4), 0) AS c4,
               coalesce(sum(n) FILTER (WHERE state = 5), 0) AS c5,
               coalesce(sum(n) FILTER (WHERE state = 6), 0) AS c6,
               coalesce(sum(n) FILTER (WHERE state = 7), 0) AS c7,
               coalesce(sum(n) FILTER (WHERE state = 8), 0) AS c8,
               coalesce(sum(n) FILTER (WHERE state = 9), 0) AS c9,
               coalesce(sum(n) FILTER (WHERE state = 10), 0) AS c10
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

DROP FUNCTION journal_apply(text[], int);

CREATE FUNCTION journal_apply(p_tasks text[], p_sign int, p_tree_only boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    touched task_history[];
BEGIN
    IF journal_deferred() THEN
        RETURN;  -- a rebuild sums the journal once, after the feed (migrations/006)
    END IF;
    touched := array(SELECT h FROM task_history h WHERE p_tasks IS NULL OR h.task_id = ANY (p_tasks));
    IF p_sign > 0 THEN
        PERFORM journal_add_now(touched, '{}', p_tree_only);
    ELSE
        PERFORM journal_add_now('{}', touched, p_tree_only);
    END IF;
END
$fn$;

-- Every batch updates thousands of journal rows in place (counters only, no indexed column): room left on each
-- page keeps the new row version there (a HOT update), instead of a new entry in both of the journal's indexes
-- for each of the ~20 % that found their page full (docs/performance.md, "Round 5"). Pages written from now on.
ALTER TABLE journal SET (fillfactor = 70);
