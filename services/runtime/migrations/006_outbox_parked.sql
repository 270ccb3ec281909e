-- Parked outbox rows: a row Kafka will never take (larger than its topic's max.message.bytes, a topic this
-- service may not write, a topic that cannot be made) is set aside with the reason, so the relay goes on
-- with the rows after it instead of retrying one forever. An operator sees them in /metrics
-- (dondoc_outbox_parked) and with `dondoc kafka parked SERVICE`, and can send one again once the cause is
-- fixed (`--retry ID`).
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS parked_at timestamptz;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS park_reason text;
DROP INDEX IF EXISTS outbox_unpublished;
CREATE INDEX IF NOT EXISTS outbox_to_publish ON outbox (id) WHERE published_at IS NULL AND parked_at IS NULL;
