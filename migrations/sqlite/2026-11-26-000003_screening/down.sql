DROP TABLE decision_changes;
DROP TABLE screenings;
DROP TABLE household_decisions;
