-- The task's classification from TaskAssigned, for the access rule (services/runtime/access.py): a secret
-- (mật) task is shown only to the agencies involved. NULL (a task read before this column, until
-- `dondoc replay progress`) is unknown, and unknown is secret.
ALTER TABLE tasks ADD COLUMN classification text;
