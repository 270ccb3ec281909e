-- Tasks a reorganisation moved (TaskTransferred), so reports and the dashboard can say which agencies the
-- new structure merged and from which day the old structure no longer holds (services/reporting/transfers.py).
CREATE TABLE transfers (
    task_id            text NOT NULL,
    reorganisation_id  text NOT NULL,
    role               text NOT NULL,
    from_agency_id     text NOT NULL,
    to_agency_id       text NOT NULL,
    decision_number    text NOT NULL,
    decision_issued_on date NOT NULL,
    decision_issuer    text NOT NULL,
    effective_on       date NOT NULL,
    PRIMARY KEY (task_id, reorganisation_id, role, from_agency_id)
);
CREATE INDEX transfers_decision ON transfers (effective_on, reorganisation_id);
