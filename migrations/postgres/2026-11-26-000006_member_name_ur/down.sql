DROP INDEX members_name_key_ur;
ALTER TABLE members DROP COLUMN name_key_ur;
ALTER TABLE members DROP COLUMN full_name_ur;
