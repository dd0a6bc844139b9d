-- Shapes the schema so it runs on a Citus cluster as well as on one PostgreSQL (and keeps
-- the SQLite twin's tables in step). Keep this file and its twin for the other database in
-- step.
--
-- On Citus, a household and everything about it live on one node: `households` is
-- distributed by `id`, and its members, changes, decisions, screenings, decision changes,
-- referrals and referral events by `household_id`, co-located with it. A distributed table's
-- primary and unique keys must contain its distribution column, and a foreign key between
-- distributed tables must include it, so those keys become (household_id, id) here, on plain
-- PostgreSQL too: one schema, one code path. Lookups by id alone keep an index of their own.

-- A national ID number is unique among current members. A distributed table cannot enforce
-- that on a column other than its distribution column, so the claim lives in a table keyed
-- by the number itself (distributed by it on Citus), written in the member's transaction.
CREATE TABLE id_number_claims (
    id_number TEXT PRIMARY KEY NOT NULL,
    household_id TEXT NOT NULL,
    member_id TEXT NOT NULL
);
CREATE INDEX id_number_claims_member ON id_number_claims (member_id);
INSERT INTO id_number_claims (id_number, household_id, member_id)
SELECT id_number, household_id, id FROM members WHERE id_number IS NOT NULL AND status = 'current';

-- Referral events carry their household, so the ledger is co-located with its referral.
ALTER TABLE referral_events ADD COLUMN household_id TEXT;
ALTER TABLE referral_events DISABLE TRIGGER referral_events_no_update;
UPDATE referral_events e SET household_id = r.household_id FROM referrals r WHERE r.id = e.referral_id;
ALTER TABLE referral_events ENABLE TRIGGER referral_events_no_update;
ALTER TABLE referral_events ALTER COLUMN household_id SET NOT NULL;
ALTER TABLE referral_events DROP CONSTRAINT referral_events_referral_id_fkey;

ALTER TABLE members DROP CONSTRAINT members_pkey, ADD PRIMARY KEY (household_id, id);
CREATE INDEX members_id ON members (id);
ALTER TABLE household_changes DROP CONSTRAINT household_changes_pkey, ADD PRIMARY KEY (household_id, id);
ALTER TABLE screenings DROP CONSTRAINT screenings_pkey, ADD PRIMARY KEY (household_id, id);
CREATE INDEX screenings_id ON screenings (id);
ALTER TABLE decision_changes DROP CONSTRAINT decision_changes_pkey, ADD PRIMARY KEY (household_id, id);
ALTER TABLE referrals DROP CONSTRAINT referrals_pkey, ADD PRIMARY KEY (household_id, id);
CREATE INDEX referrals_id ON referrals (id);
ALTER TABLE referral_events DROP CONSTRAINT referral_events_pkey, ADD PRIMARY KEY (household_id, id);
ALTER TABLE referral_events ADD CONSTRAINT referral_events_referral_fkey
    FOREIGN KEY (household_id, referral_id) REFERENCES referrals (household_id, id);

-- On a Citus coordinator (the extension is installed in this database and the workers are
-- added), distribute the tables. Uniqueness Citus cannot enforce across nodes is kept
-- otherwise: an ID number by id_number_claims; household and referral numbers are unique by
-- construction (a per-district counter, a random id); an import's hash is looked up before
-- the household is written. On one PostgreSQL these unique indexes stay.
DO $citus$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        DROP INDEX members_current_id_number;
        ALTER TABLE households DROP CONSTRAINT households_household_number_key;
        CREATE INDEX households_number ON households (household_number);
        ALTER TABLE households DROP CONSTRAINT households_import_hash_key;
        CREATE INDEX households_import_hash ON households (import_hash);
        ALTER TABLE referrals DROP CONSTRAINT referrals_referral_number_key;
        CREATE INDEX referrals_number ON referrals (referral_number);
        -- The append-only trigger on referral_events only raises: safe on every shard.
        SET LOCAL citus.enable_unsafe_triggers = on;
        -- Citus checks foreign keys table by table as it distributes them: drop the ones
        -- among these tables, distribute, and add them back.
        ALTER TABLE households DROP CONSTRAINT households_district_code_fkey;
        ALTER TABLE members DROP CONSTRAINT members_household_id_fkey;
        ALTER TABLE household_changes DROP CONSTRAINT household_changes_household_id_fkey;
        ALTER TABLE household_decisions DROP CONSTRAINT household_decisions_household_id_fkey;
        ALTER TABLE screenings DROP CONSTRAINT screenings_household_id_fkey;
        ALTER TABLE decision_changes DROP CONSTRAINT decision_changes_household_id_fkey;
        ALTER TABLE referrals DROP CONSTRAINT referrals_household_id_fkey;
        ALTER TABLE referrals DROP CONSTRAINT referrals_district_code_fkey;
        ALTER TABLE referral_events DROP CONSTRAINT referral_events_referral_fkey;
        PERFORM create_reference_table('districts');
        PERFORM create_distributed_table('households', 'id');
        PERFORM create_distributed_table('members', 'household_id', colocate_with => 'households');
        PERFORM create_distributed_table('household_changes', 'household_id', colocate_with => 'households');
        PERFORM create_distributed_table('household_decisions', 'household_id', colocate_with => 'households');
        PERFORM create_distributed_table('screenings', 'household_id', colocate_with => 'households');
        PERFORM create_distributed_table('decision_changes', 'household_id', colocate_with => 'households');
        PERFORM create_distributed_table('referrals', 'household_id', colocate_with => 'households');
        PERFORM create_distributed_table('referral_events', 'household_id', colocate_with => 'households');
        PERFORM create_distributed_table('id_number_claims', 'id_number', colocate_with => 'none');
        ALTER TABLE households ADD CONSTRAINT households_district_code_fkey
            FOREIGN KEY (district_code) REFERENCES districts (code);
        ALTER TABLE members ADD CONSTRAINT members_household_id_fkey
            FOREIGN KEY (household_id) REFERENCES households (id);
        ALTER TABLE household_changes ADD CONSTRAINT household_changes_household_id_fkey
            FOREIGN KEY (household_id) REFERENCES households (id);
        ALTER TABLE household_decisions ADD CONSTRAINT household_decisions_household_id_fkey
            FOREIGN KEY (household_id) REFERENCES households (id);
        ALTER TABLE screenings ADD CONSTRAINT screenings_household_id_fkey
            FOREIGN KEY (household_id) REFERENCES households (id);
        ALTER TABLE decision_changes ADD CONSTRAINT decision_changes_household_id_fkey
            FOREIGN KEY (household_id) REFERENCES households (id);
        ALTER TABLE referrals ADD CONSTRAINT referrals_household_id_fkey
            FOREIGN KEY (household_id) REFERENCES households (id);
        ALTER TABLE referrals ADD CONSTRAINT referrals_district_code_fkey
            FOREIGN KEY (district_code) REFERENCES districts (code);
        ALTER TABLE referral_events ADD CONSTRAINT referral_events_referral_fkey
            FOREIGN KEY (household_id, referral_id) REFERENCES referrals (household_id, id);
    END IF;
END
$citus$;
