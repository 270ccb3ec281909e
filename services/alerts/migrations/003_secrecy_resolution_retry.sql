-- Secret tasks on external channels, the webhook told of resolution, operators retrying failures.

-- The task's classification (công khai / nội bộ / mật) from TaskAssigned: external channels (webhook,
-- e-mail) carry no content of a secret task. NULL: the task reached this service before the column
-- existed; it is treated as secret (fail closed) until a replay of its TaskAssigned fills it in.
ALTER TABLE tasks ADD COLUMN classification text
    CHECK (classification IN ('cong-khai', 'noi-bo', 'mat'));

-- What a delivery row tells: the alert (or a reminder of it, or a digest of several), or that the alert
-- is over ('resolved': no AlertDelivered, it is not the alert).
ALTER TABLE deliveries ADD COLUMN notice text NOT NULL DEFAULT 'alert'
    CHECK (notice IN ('alert', 'resolved'));

-- Operators list the deliveries that gave up (kept for inspection and retry).
CREATE INDEX deliveries_failed ON deliveries (created_at DESC) WHERE status = 'failed';
