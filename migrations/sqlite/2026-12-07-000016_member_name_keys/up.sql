-- The same-name search of a registration reads this table instead of joining members with
-- households: one row per current member, written in the member's transaction. See the
-- PostgreSQL twin for why (on Citus it is distributed by `name_group`). Keep this file and
-- its twin for the other database in step.
--
-- `name_group` is the text after the key's last `|` (the father/husband part), or the whole
-- key when that is empty, as `registry::repo::name_group` computes it. SQLite has no regular
-- expressions: rtrim() with every character of the key except `|` strips the key back to
-- its last `|`, and the rest is the part after it.
CREATE TABLE member_name_keys (
    name_group TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    household_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    household_number TEXT NOT NULL,
    PRIMARY KEY (name_group, member_id)
);
CREATE INDEX member_name_keys_key ON member_name_keys (dedup_key);

INSERT INTO member_name_keys (name_group, dedup_key, household_id, member_id, household_number)
SELECT COALESCE(NULLIF(substr(m.dedup_key, length(rtrim(m.dedup_key, replace(m.dedup_key, '|', ''))) + 1), ''),
                m.dedup_key),
       m.dedup_key, m.household_id, m.id, h.household_number
FROM members m JOIN households h ON h.id = m.household_id
WHERE m.status = 'current';
