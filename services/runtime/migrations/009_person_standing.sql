-- Each person's standing in the directory (PersonChanged on dondoc.directory, services/runtime/revocations.py):
-- their agency now and whether they are still active. A signed-in person's access token is refused on the
-- next request once they left, were disabled or moved to another agency, before the token expires.
CREATE TABLE IF NOT EXISTS person_standing (
    person_id  text PRIMARY KEY,
    agency_id  text NOT NULL,
    active     boolean NOT NULL,
    version    int NOT NULL
);
