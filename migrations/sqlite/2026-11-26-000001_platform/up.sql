-- Platform: district reference data, users and their assignments, the audit trail.
-- Keep this file and its PostgreSQL twin in step: same tables, same columns, same order.

CREATE TABLE districts (
    code TEXT PRIMARY KEY NOT NULL CHECK (length(code) BETWEEN 2 AND 40),
    name TEXT NOT NULL,
    division TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT 1
);

INSERT INTO districts (code, name, division) VALUES
    ('bannu', 'Bannu', 'Bannu'),
    ('lakki-marwat', 'Lakki Marwat', 'Bannu'),
    ('north-waziristan', 'North Waziristan', 'Bannu'),
    ('dera-ismail-khan', 'Dera Ismail Khan', 'Dera Ismail Khan'),
    ('tank', 'Tank', 'Dera Ismail Khan'),
    ('upper-south-waziristan', 'Upper South Waziristan', 'Dera Ismail Khan'),
    ('lower-south-waziristan', 'Lower South Waziristan', 'Dera Ismail Khan'),
    ('abbottabad', 'Abbottabad', 'Hazara'),
    ('battagram', 'Battagram', 'Hazara'),
    ('haripur', 'Haripur', 'Hazara'),
    ('kolai-palas', 'Kolai-Palas', 'Hazara'),
    ('lower-kohistan', 'Lower Kohistan', 'Hazara'),
    ('upper-kohistan', 'Upper Kohistan', 'Hazara'),
    ('mansehra', 'Mansehra', 'Hazara'),
    ('torghar', 'Torghar', 'Hazara'),
    ('hangu', 'Hangu', 'Kohat'),
    ('karak', 'Karak', 'Kohat'),
    ('kohat', 'Kohat', 'Kohat'),
    ('kurram', 'Kurram', 'Kohat'),
    ('orakzai', 'Orakzai', 'Kohat'),
    ('bajaur', 'Bajaur', 'Malakand'),
    ('buner', 'Buner', 'Malakand'),
    ('lower-chitral', 'Lower Chitral', 'Malakand'),
    ('upper-chitral', 'Upper Chitral', 'Malakand'),
    ('lower-dir', 'Lower Dir', 'Malakand'),
    ('upper-dir', 'Upper Dir', 'Malakand'),
    ('malakand', 'Malakand', 'Malakand'),
    ('shangla', 'Shangla', 'Malakand'),
    ('swat', 'Swat', 'Malakand'),
    ('mardan', 'Mardan', 'Mardan'),
    ('swabi', 'Swabi', 'Mardan'),
    ('charsadda', 'Charsadda', 'Peshawar'),
    ('khyber', 'Khyber', 'Peshawar'),
    ('mohmand', 'Mohmand', 'Peshawar'),
    ('nowshera', 'Nowshera', 'Peshawar'),
    ('peshawar', 'Peshawar', 'Peshawar');

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('clerk', 'scheme_admin', 'auditor', 'admin')),
    password_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    tokens_valid_after TIMESTAMP NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE user_districts (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    district_code TEXT NOT NULL REFERENCES districts (code),
    PRIMARY KEY (user_id, district_code)
);

CREATE TABLE user_schemes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scheme_id TEXT NOT NULL,
    PRIMARY KEY (user_id, scheme_id)
);

-- Append-only, hash-chained trail. Events form several chains (one per district, one per
-- acting user for events without a district) so that writers in different districts do
-- not queue behind one lock. Within a chain, seq is gapless, assigned from audit_chains
-- inside the writing transaction; mac = HMAC-SHA256(key, prev_mac | canonical event).
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    chain_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor_user_id TEXT,
    actor_username TEXT,
    actor_role TEXT,
    action TEXT NOT NULL,
    object_type TEXT,
    object_id TEXT,
    district_code TEXT,
    request_id TEXT,
    client_addr TEXT,
    outcome TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_mac TEXT NOT NULL,
    mac TEXT NOT NULL,
    UNIQUE (chain_id, seq)
);
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, id);
CREATE INDEX audit_events_object ON audit_events (object_type, object_id, id);
CREATE INDEX audit_events_occurred ON audit_events (occurred_at);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;

-- The chain heads: one row per chain, updated in the same transaction as every event of
-- the chain. Its row lock orders the chain's concurrent writers on PostgreSQL.
CREATE TABLE audit_chains (
    chain_id TEXT PRIMARY KEY NOT NULL,
    last_seq BIGINT NOT NULL,
    last_mac TEXT NOT NULL
);
