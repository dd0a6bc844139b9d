-- A member's name in Urdu script beside the name of record (optional), and its search key
-- (the same normalisation as `name_key`), so a name search matches either script.
-- Keep this file and its SQLite twin in step. The key has the "C" collation, as `name_key`
-- does, so prefix ranges use the index. Most members have no Urdu name: the index is
-- partial, and a range condition on the key (`>=`, `<`) implies `IS NOT NULL`, so the name
-- search still uses it.

ALTER TABLE members ADD COLUMN full_name_ur TEXT;
ALTER TABLE members ADD COLUMN name_key_ur TEXT COLLATE "C";
CREATE INDEX members_name_key_ur ON members (name_key_ur) WHERE name_key_ur IS NOT NULL;
