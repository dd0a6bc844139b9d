DROP TABLE audit_chains;
DROP TRIGGER audit_events_no_delete;
DROP TRIGGER audit_events_no_update;
DROP TABLE audit_events;
DROP TABLE user_schemes;
DROP TABLE user_districts;
DROP TABLE users;
DROP TABLE districts;
