-- Agencies no longer active (abolished or merged: AgencyChanged with active = false on dondoc.directory,
-- services/runtime/revocations.py). Their tokens and intake keys are refused like revoked ones, by every
-- service that checks them by itself; an agency made active again leaves the table.
CREATE TABLE IF NOT EXISTS inactive_agencies (
    agency_id  text PRIMARY KEY
);
