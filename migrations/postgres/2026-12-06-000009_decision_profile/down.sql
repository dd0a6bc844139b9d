ALTER TABLE household_decisions DROP COLUMN profile;
