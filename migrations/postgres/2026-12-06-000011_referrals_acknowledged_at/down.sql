ALTER TABLE referrals DROP COLUMN acknowledged_at;
