-- Referrals of a household to schemes, and the ledger of every transition.
-- Keep this file and its twin for the other database in step.

CREATE TABLE referrals (
    id TEXT PRIMARY KEY NOT NULL,
    referral_number TEXT NOT NULL UNIQUE,
    household_id TEXT NOT NULL REFERENCES households (id),
    district_code TEXT NOT NULL REFERENCES districts (code),
    scheme_id TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('referred', 'acknowledged', 'enrolled', 'rejected', 'withdrawn', 'expired')),
    eligibility TEXT NOT NULL CHECK (eligibility IN ('eligible', 'not_eligible', 'undetermined')),
    override_reason TEXT,
    rules_version TEXT NOT NULL,
    referred_by TEXT NOT NULL,
    referred_at TIMESTAMP NOT NULL,
    acknowledge_by DATE NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- One open referral per household and scheme.
CREATE UNIQUE INDEX referrals_open ON referrals (household_id, scheme_id)
    WHERE status IN ('referred', 'acknowledged');
CREATE INDEX referrals_household ON referrals (household_id, id);
CREATE INDEX referrals_scheme ON referrals (scheme_id, status, id);

-- Immutable: every transition, who made it and why.
CREATE TABLE referral_events (
    id TEXT PRIMARY KEY NOT NULL,
    referral_id TEXT NOT NULL REFERENCES referrals (id),
    from_status TEXT,
    to_status TEXT NOT NULL,
    reason TEXT,
    actor TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX referral_events_referral ON referral_events (referral_id, id);
CREATE FUNCTION referral_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'referral_events is append-only';
END;
$$;
CREATE TRIGGER referral_events_no_update BEFORE UPDATE ON referral_events
FOR EACH ROW EXECUTE FUNCTION referral_events_append_only();
CREATE TRIGGER referral_events_no_delete BEFORE DELETE ON referral_events
FOR EACH ROW EXECUTE FUNCTION referral_events_append_only();
