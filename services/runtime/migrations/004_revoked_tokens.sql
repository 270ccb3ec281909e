-- Agency tokens revoked by the assignment service, as read from TokenRevoked on dondoc.directory
-- (services/runtime/revocations.py). Every service that checks a bearer token or an intake signature
-- by itself refuses the ones listed here. Written in the transaction of the event's inbox row.
CREATE TABLE IF NOT EXISTS revoked_tokens (
    token_id    text PRIMARY KEY,
    agency_id   text NOT NULL,
    revoked_at  timestamptz NOT NULL
);
