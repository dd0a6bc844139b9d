DROP TABLE rule_freezes;
DROP TABLE rule_decisions;
DROP TABLE impact_changes;
DROP TABLE impact_reports;
DROP TABLE rule_proposals;
DROP TABLE rule_state;
DROP TABLE rule_files;
DROP TABLE rule_versions;
