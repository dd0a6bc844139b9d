-- Household registry: households, members, the per-district household number counter,
-- the change history and idempotency records.
-- Keep this file and its PostgreSQL twin in step.

CREATE TABLE household_counters (
    district_code TEXT PRIMARY KEY NOT NULL REFERENCES districts (code),
    last_value BIGINT NOT NULL
);
INSERT INTO household_counters (district_code, last_value) SELECT code, 0 FROM districts;

CREATE TABLE households (
    id TEXT PRIMARY KEY NOT NULL,
    household_number TEXT NOT NULL UNIQUE,
    district_code TEXT NOT NULL REFERENCES districts (code),
    tehsil TEXT,
    union_council TEXT,
    village TEXT,
    address TEXT,
    area_type TEXT CHECK (area_type IN ('urban', 'rural')),
    phone TEXT,
    monthly_income_pkr BIGINT CHECK (monthly_income_pkr >= 0),
    pmt_score DOUBLE PRECISION CHECK (pmt_score >= 0 AND pmt_score <= 100),
    land_acres DOUBLE PRECISION CHECK (land_acres >= 0),
    livestock_heads INTEGER CHECK (livestock_heads >= 0),
    house_ownership TEXT CHECK (house_ownership IN ('owned', 'rented', 'rent_free')),
    rooms INTEGER CHECK (rooms BETWEEN 1 AND 50),
    owns_vehicle BOOLEAN,
    import_hash TEXT UNIQUE,
    version BIGINT NOT NULL,
    registered_by TEXT NOT NULL,
    registered_office TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX households_district ON households (district_code, id);

CREATE TABLE members (
    id TEXT PRIMARY KEY NOT NULL,
    household_id TEXT NOT NULL REFERENCES households (id),
    status TEXT NOT NULL CHECK (status IN ('current', 'removed')),
    removal_reason TEXT CHECK (removal_reason IN ('deceased', 'moved_out', 'married_out', 'data_error')),
    removed_at TIMESTAMP,
    full_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    father_or_husband_name TEXT,
    relation_to_head TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('male', 'female', 'transgender')),
    date_of_birth DATE NOT NULL,
    id_type TEXT NOT NULL CHECK (id_type IN ('cnic', 'b_form', 'none')),
    id_number TEXT,
    marital_status TEXT,
    religion TEXT,
    disability TEXT,
    disability_certificate BOOLEAN,
    chronic_illness BOOLEAN,
    is_pregnant BOOLEAN,
    is_lactating BOOLEAN,
    is_orphan BOOLEAN,
    school_enrolled BOOLEAN,
    school_level TEXT,
    attendance_pct INTEGER CHECK (attendance_pct BETWEEN 0 AND 100),
    employment TEXT,
    monthly_income_pkr BIGINT CHECK (monthly_income_pkr >= 0),
    govt_employee BOOLEAN,
    taxpayer BOOLEAN,
    eobi_registered BOOLEAN,
    eobi_contribution_years INTEGER CHECK (eobi_contribution_years BETWEEN 0 AND 60),
    essi_registered BOOLEAN,
    dedup_key TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX members_household ON members (household_id);
-- A person is registered once: an ID number is unique among current members.
CREATE UNIQUE INDEX members_current_id_number ON members (id_number)
    WHERE id_number IS NOT NULL AND status = 'current';
CREATE INDEX members_name_key ON members (name_key);
CREATE INDEX members_dedup_key ON members (dedup_key);

-- Every change keeps the previous values: who, when, what changed.
CREATE TABLE household_changes (
    id TEXT PRIMARY KEY NOT NULL,
    household_id TEXT NOT NULL REFERENCES households (id),
    member_id TEXT,
    version BIGINT NOT NULL,
    change_type TEXT NOT NULL,
    changes TEXT NOT NULL,
    reason TEXT,
    changed_by TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL
);
CREATE INDEX household_changes_household ON household_changes (household_id, changed_at);

-- A retried POST with the same key returns the first answer and creates nothing.
CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_headers TEXT NOT NULL,
    response_body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);
