DROP INDEX referrals_due;
