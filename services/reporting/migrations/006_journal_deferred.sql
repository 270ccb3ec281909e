-- A rebuild (`dondoc replay reporting`) writes the journal once, after the whole log, instead of with every
-- batch (services/reporting/replay_policy.py): the journal and live are a function of the history rows and
-- the agency tree (adapters.py's invariant), so summing the final history once under the final tree gives
-- the rows every batch's take-out and put-back would have left, at a fraction of the cost.
--
-- The replay's feeding connections set dondoc.journal_deferred = 'on' (services/runtime/replay/shadow.py);
-- every other connection, the live service's included, leaves it unset and writes the journal as before.
CREATE FUNCTION journal_deferred() RETURNS boolean LANGUAGE sql STABLE AS $fn$
    SELECT coalesce(current_setting('dondoc.journal_deferred', true), '') = 'on'
$fn$;

ALTER FUNCTION journal_add(task_history[], task_history[]) RENAME TO journal_add_now;

CREATE FUNCTION journal_add(p_plus task_history[], p_minus task_history[]) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT journal_deferred() THEN
        PERFORM journal_add_now(p_plus, p_minus);
    END IF;
END
$fn$;
