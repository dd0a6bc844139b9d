-- When a referral was acknowledged, kept on the referral itself (set in the same transaction
-- as the ledger's `acknowledged` step), so the referral funnel's time to acknowledgement needs
-- no pass over the ledger. Filled here from the ledger for referrals made before.
ALTER TABLE referrals ADD COLUMN acknowledged_at TIMESTAMP;
UPDATE referrals SET acknowledged_at = (
    SELECT MIN(e.occurred_at) FROM referral_events e
    WHERE e.referral_id = referrals.id AND e.to_status = 'acknowledged'
)
WHERE EXISTS (
    SELECT 1 FROM referral_events e WHERE e.referral_id = referrals.id AND e.to_status = 'acknowledged'
);
