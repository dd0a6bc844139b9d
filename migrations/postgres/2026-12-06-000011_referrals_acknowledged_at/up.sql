-- When a referral was acknowledged, kept on the referral itself (set in the same transaction
-- as the ledger's `acknowledged` step), so the referral funnel's time to acknowledgement needs
-- no pass over the ledger. Filled here from the ledger for referrals made before (a referral
-- is acknowledged at most once); on a large registry that takes longer than the service's
-- statement time-out, which is lifted for this migration's transaction only.
SET LOCAL statement_timeout = 0;
ALTER TABLE referrals ADD COLUMN acknowledged_at TIMESTAMP;
UPDATE referrals r SET acknowledged_at = e.occurred_at
FROM referral_events e
WHERE e.referral_id = r.id AND e.to_status = 'acknowledged';
