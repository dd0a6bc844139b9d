-- The referral funnel reads the referrals made in a date range, in the order they were made.
CREATE INDEX referrals_referred ON referrals (referred_at, id);
