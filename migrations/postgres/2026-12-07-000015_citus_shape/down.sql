-- Back to the keys of migration 000014 (on plain PostgreSQL; a Citus database is not
-- turned back into a single-node one by a migration).
ALTER TABLE referral_events DROP CONSTRAINT referral_events_referral_fkey;
ALTER TABLE referral_events DROP CONSTRAINT referral_events_pkey, ADD PRIMARY KEY (id);
DROP INDEX referrals_id;
ALTER TABLE referrals DROP CONSTRAINT referrals_pkey, ADD PRIMARY KEY (id);
ALTER TABLE decision_changes DROP CONSTRAINT decision_changes_pkey, ADD PRIMARY KEY (id);
DROP INDEX screenings_id;
ALTER TABLE screenings DROP CONSTRAINT screenings_pkey, ADD PRIMARY KEY (id);
ALTER TABLE household_changes DROP CONSTRAINT household_changes_pkey, ADD PRIMARY KEY (id);
DROP INDEX members_id;
ALTER TABLE members DROP CONSTRAINT members_pkey, ADD PRIMARY KEY (id);
ALTER TABLE referral_events ADD CONSTRAINT referral_events_referral_id_fkey
    FOREIGN KEY (referral_id) REFERENCES referrals (id);
ALTER TABLE referral_events DROP COLUMN household_id;
DROP TABLE id_number_claims;
