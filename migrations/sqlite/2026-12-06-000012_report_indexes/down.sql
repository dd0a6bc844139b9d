DROP INDEX referrals_referred;
CREATE INDEX referrals_referred ON referrals (referred_at, id);
DROP INDEX referrals_household;
CREATE INDEX referrals_household ON referrals (household_id, id);
