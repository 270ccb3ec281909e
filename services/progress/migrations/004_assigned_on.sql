-- The day a task counts from (its effective assignment day, events/effective.py): a completion is not
-- reported before it. NULL for tasks read before this column existed: nothing to check against.
ALTER TABLE tasks ADD COLUMN assigned_on date;
