DROP TABLE idempotency_keys;
DROP TABLE household_changes;
DROP TABLE members;
DROP TABLE households;
DROP TABLE household_counters;
