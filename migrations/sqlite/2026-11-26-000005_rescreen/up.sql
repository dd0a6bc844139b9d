-- Re-screening runs: progress and summary, so an interrupted run resumes where it stopped.
-- Keep this file and its twin for the other database in step.

CREATE TABLE rescreen_runs (
    id TEXT PRIMARY KEY NOT NULL,
    rules_version TEXT NOT NULL,
    as_of DATE NOT NULL,
    district_code TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'done')),
    last_household_id TEXT,
    processed BIGINT NOT NULL,
    written BIGINT NOT NULL,
    summary TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX rescreen_runs_status ON rescreen_runs (status, rules_version, as_of);
