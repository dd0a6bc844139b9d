-- The monitoring reports read referrals from these two indexes alone (covering indexes), in
-- the order they walk them: by household for coverage and gaps, by date for the funnel. The
-- table is in the order referrals were made, so a range of households meant a random page
-- read per referral.
-- Keep this file and its twin for the other database in step.
DROP INDEX referrals_household;
CREATE INDEX referrals_household ON referrals (household_id, id, referred_at, scheme_id, status, acknowledge_by);
DROP INDEX referrals_referred;
CREATE INDEX referrals_referred ON referrals
    (referred_at, id, scheme_id, district_code, status, acknowledge_by, acknowledged_at);
