DROP TABLE audit_chains;
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
DROP TABLE user_schemes;
DROP TABLE user_districts;
DROP TABLE users;
DROP TABLE districts;
