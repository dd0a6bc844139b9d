DROP TABLE referral_events;
DROP TABLE referrals;
DROP FUNCTION referral_events_append_only();
