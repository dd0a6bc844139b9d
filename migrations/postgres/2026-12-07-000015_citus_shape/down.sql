-- Back to the keys of migration 000014. On a Citus coordinator the tables first become
-- plain tables of the coordinator again (their rows come back from the workers), with the
-- unique indexes Citus could not hold.
DO $citus$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        -- One connection per worker, so the later DDL may follow in the same transaction.
        SET LOCAL citus.multi_shard_modify_mode TO 'sequential';
        PERFORM undistribute_table('id_number_claims');
        PERFORM undistribute_table('households', cascade_via_foreign_keys => true);
        DROP INDEX households_number;
        ALTER TABLE households ADD CONSTRAINT households_household_number_key UNIQUE (household_number);
        DROP INDEX households_import_hash;
        ALTER TABLE households ADD CONSTRAINT households_import_hash_key UNIQUE (import_hash);
        DROP INDEX referrals_number;
        ALTER TABLE referrals ADD CONSTRAINT referrals_referral_number_key UNIQUE (referral_number);
        CREATE UNIQUE INDEX members_current_id_number ON members (id_number)
            WHERE id_number IS NOT NULL AND status = 'current';
    END IF;
END
$citus$;
-- One subcommand per statement: Citus refuses ALTER TABLE with several.
ALTER TABLE referral_events DROP CONSTRAINT referral_events_referral_fkey;
ALTER TABLE referral_events DROP CONSTRAINT referral_events_pkey;
ALTER TABLE referral_events ADD PRIMARY KEY (id);
DROP INDEX referrals_id;
ALTER TABLE referrals DROP CONSTRAINT referrals_pkey;
ALTER TABLE referrals ADD PRIMARY KEY (id);
ALTER TABLE decision_changes DROP CONSTRAINT decision_changes_pkey;
ALTER TABLE decision_changes ADD PRIMARY KEY (id);
DROP INDEX screenings_id;
ALTER TABLE screenings DROP CONSTRAINT screenings_pkey;
ALTER TABLE screenings ADD PRIMARY KEY (id);
ALTER TABLE household_changes DROP CONSTRAINT household_changes_pkey;
ALTER TABLE household_changes ADD PRIMARY KEY (id);
DROP INDEX members_id;
ALTER TABLE members DROP CONSTRAINT members_pkey;
ALTER TABLE members ADD PRIMARY KEY (id);
ALTER TABLE referral_events ADD CONSTRAINT referral_events_referral_id_fkey
    FOREIGN KEY (referral_id) REFERENCES referrals (id);
ALTER TABLE referral_events DROP COLUMN household_id;
DROP TABLE id_number_claims;
