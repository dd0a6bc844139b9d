ALTER TABLE household_decisions DROP COLUMN missing;
