ALTER TABLE referral_events DROP COLUMN household_id;
DROP TABLE id_number_claims;
