-- Referrals past their acknowledgement deadline are found and expired before the referral
-- log is read (the scheme administrators' inbox must not offer what can no longer be acknowledged).
CREATE INDEX referrals_due ON referrals (status, acknowledge_by);
