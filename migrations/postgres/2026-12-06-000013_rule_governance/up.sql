-- Rule governance: the rules in force live in the database (every instance reads them there),
-- with every activated version of every scheme, the proposals that change them, the impact
-- reports approvers sign, the approvals and other decisions, and freeze periods.
-- Keep this file and its twin for the other database in step.

-- Every version of every scheme's file, as activated. `body` is NULL when the scheme was
-- retired by that version.
CREATE TABLE rule_versions (
    id TEXT PRIMARY KEY NOT NULL,
    scheme_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    body TEXT,
    sha256 TEXT NOT NULL,
    proposal_id TEXT,
    summary TEXT NOT NULL,
    proposed_by TEXT,
    approved_by TEXT,
    activated_by TEXT NOT NULL,
    effective_from DATE NOT NULL,
    activated_at TIMESTAMP NOT NULL,
    UNIQUE (scheme_id, seq)
);

-- The rules in force: one row per scheme, naming its current version.
CREATE TABLE rule_files (
    scheme_id TEXT PRIMARY KEY NOT NULL,
    version_id TEXT NOT NULL REFERENCES rule_versions (id)
);

-- One row: bumped by every change of the rules in force, which instances poll.
CREATE TABLE rule_state (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    generation BIGINT NOT NULL,
    rules_version TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL
);

CREATE TABLE rule_proposals (
    id TEXT PRIMARY KEY NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'active', 'rejected', 'withdrawn')),
    summary TEXT NOT NULL,
    effective_from DATE NOT NULL,
    schemes TEXT NOT NULL,
    files TEXT NOT NULL,
    retire TEXT NOT NULL,
    base_rules_version TEXT NOT NULL,
    rollback_of TEXT,
    author_id TEXT NOT NULL,
    author TEXT NOT NULL,
    approved_report_id TEXT,
    activation_claimed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    activated_at TIMESTAMP
);
CREATE INDEX rule_proposals_status ON rule_proposals (status, effective_from);

CREATE TABLE impact_reports (
    id TEXT PRIMARY KEY NOT NULL,
    proposal_id TEXT NOT NULL REFERENCES rule_proposals (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('review', 'activation')),
    as_of DATE NOT NULL,
    district_code TEXT,
    rules_before TEXT NOT NULL,
    rules_after TEXT NOT NULL,
    before_versions TEXT NOT NULL,
    computed_by TEXT NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX impact_reports_proposal ON impact_reports (proposal_id, computed_at);

-- Every household whose decision on a scheme differs between the two rule sets.
CREATE TABLE impact_changes (
    report_id TEXT NOT NULL,
    household_id TEXT NOT NULL,
    scheme_id TEXT NOT NULL,
    change TEXT NOT NULL,
    before_status TEXT NOT NULL,
    after_status TEXT NOT NULL,
    PRIMARY KEY (report_id, household_id, scheme_id)
);

CREATE TABLE rule_decisions (
    id TEXT PRIMARY KEY NOT NULL,
    proposal_id TEXT NOT NULL REFERENCES rule_proposals (id),
    kind TEXT NOT NULL CHECK (kind IN ('approval', 'rejection', 'withdrawal', 'hold', 'activation')),
    user_id TEXT,
    username TEXT,
    comment TEXT,
    impact_report_id TEXT,
    activation_report_id TEXT,
    decided_at TIMESTAMP NOT NULL
);
CREATE INDEX rule_decisions_proposal ON rule_decisions (proposal_id, decided_at);

CREATE TABLE rule_freezes (
    id TEXT PRIMARY KEY NOT NULL,
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    lifted_by TEXT,
    lifted_at TIMESTAMP
);
