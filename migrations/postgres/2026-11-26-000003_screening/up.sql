-- Screening: each household's current decisions (one compact row, kept up to date when the
-- household changes or is screened), the screenings clerks asked for with their full result,
-- and every change of a household's status for a scheme.
-- Keep this file and its twin for the other database in step.

CREATE TABLE household_decisions (
    household_id TEXT PRIMARY KEY NOT NULL REFERENCES households (id),
    household_version BIGINT NOT NULL,
    rules_version TEXT NOT NULL,
    as_of DATE NOT NULL,
    -- Scheme ids, comma-separated; every other active scheme is not eligible.
    eligible TEXT NOT NULL,
    undetermined TEXT NOT NULL,
    decided_at TIMESTAMP NOT NULL
);

CREATE TABLE screenings (
    id TEXT PRIMARY KEY NOT NULL,
    household_id TEXT NOT NULL REFERENCES households (id),
    household_version BIGINT NOT NULL,
    as_of DATE NOT NULL,
    rules_version TEXT NOT NULL,
    result TEXT NOT NULL,
    screened_by TEXT NOT NULL,
    screened_at TIMESTAMP NOT NULL
);
CREATE INDEX screenings_household ON screenings (household_id, screened_at, id);

CREATE TABLE decision_changes (
    id TEXT PRIMARY KEY NOT NULL,
    household_id TEXT NOT NULL REFERENCES households (id),
    scheme_id TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL CHECK (to_status IN ('eligible', 'not_eligible', 'undetermined')),
    rules_version TEXT NOT NULL,
    as_of DATE NOT NULL,
    cause TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL
);
CREATE INDEX decision_changes_household ON decision_changes (household_id, changed_at, id);
