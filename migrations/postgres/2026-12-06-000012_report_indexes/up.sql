-- The monitoring reports read referrals from these two indexes alone (index-only scans), in
-- the order they walk them: by household for coverage and gaps, by date for the funnel. A
-- referral's row is written again at every change of status, so the table itself is in no
-- useful order and reading the rows meant a random page read per referral.
-- Keep this file and its twin for the other database in step.
DROP INDEX referrals_household;
CREATE INDEX referrals_household ON referrals (household_id, id)
    INCLUDE (referred_at, scheme_id, status, acknowledge_by);
DROP INDEX referrals_referred;
CREATE INDEX referrals_referred ON referrals (referred_at, id)
    INCLUDE (scheme_id, district_code, status, acknowledge_by, acknowledged_at);
