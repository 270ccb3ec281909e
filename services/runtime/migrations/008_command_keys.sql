-- Clients' idempotency keys (services/runtime/idempotency.py): what each key did, so the same key with
-- the same body answers the first outcome and changes nothing, and with another body is refused (409).
CREATE TABLE IF NOT EXISTS command_keys (
    subject      text NOT NULL,                 -- what the key acts on, e.g. one task by one agency
    key          text NOT NULL,
    fingerprint  text NOT NULL,                 -- SHA-256 of the command type and body
    event        text NOT NULL,                 -- the envelope it emitted (JSON), the answer to a retry
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, key)
);
