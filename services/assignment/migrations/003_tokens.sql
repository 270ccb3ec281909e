-- Agency API tokens: only their SHA-256 is stored. A token is honoured by the assignment service only
-- if it is recorded here and not revoked, so a leaked token can be cut off without a new secret.
-- Its token_id is also the key id of the agency's intake signing key (events/intake.py).
CREATE TABLE agency_tokens (
    token_id    text PRIMARY KEY,
    agency_id   text NOT NULL REFERENCES agencies (agency_id),
    token_hash  text NOT NULL UNIQUE,
    label       text NOT NULL DEFAULT '',
    issued_at   timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX agency_tokens_agency ON agency_tokens (agency_id);
