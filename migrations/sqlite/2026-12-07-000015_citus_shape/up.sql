-- The tables and columns the PostgreSQL twin adds so the schema also runs on Citus; SQLite
-- keeps its keys (it never runs distributed). Keep this file and its twin for the other
-- database in step.

-- A national ID number is unique among current members; the claim is written in the
-- member's transaction (on Citus the only place that uniqueness can be enforced).
CREATE TABLE id_number_claims (
    id_number TEXT PRIMARY KEY NOT NULL,
    household_id TEXT NOT NULL,
    member_id TEXT NOT NULL
);
CREATE INDEX id_number_claims_member ON id_number_claims (member_id);
INSERT INTO id_number_claims (id_number, household_id, member_id)
SELECT id_number, household_id, id FROM members WHERE id_number IS NOT NULL AND status = 'current';

-- Referral events carry their household (co-located with the referral on Citus).
ALTER TABLE referral_events ADD COLUMN household_id TEXT NOT NULL DEFAULT '';
DROP TRIGGER referral_events_no_update;
UPDATE referral_events SET household_id = (SELECT r.household_id FROM referrals r WHERE r.id = referral_events.referral_id);
CREATE TRIGGER referral_events_no_update BEFORE UPDATE ON referral_events
BEGIN SELECT RAISE(ABORT, 'referral_events is append-only'); END;
