-- The W3C traceparent current where a timer was scheduled (the event or request that planned it): its firing
-- continues that trace, so a TaskOverdue or a reminder is found in the trace of the task's assignment.
ALTER TABLE timers ADD COLUMN IF NOT EXISTS traceparent text;
