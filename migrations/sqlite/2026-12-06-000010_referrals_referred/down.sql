DROP INDEX referrals_referred;
