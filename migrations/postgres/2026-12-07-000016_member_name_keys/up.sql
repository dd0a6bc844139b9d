-- The same-name search of a registration (each new member without an ID number against
-- every current member with the same name, date of birth and father/husband name, the
-- member's `dedup_key`) reads this table instead of joining members with households. Keep
-- this file and its twin for the other database in step.
--
-- One row per current member, written in the member's transaction (registration, a member
-- added, a name, date of birth or father/husband name edited, a member removed), with the
-- household's number so the search needs no join. On Citus the table is distributed by
-- `name_group`: the father/husband part of the key (the text after its last `|`), or the
-- whole key when that part is empty. Equal keys have equal groups, so the search finds
-- every match; and a household's members mostly share one or two groups (the spouse and
-- children name the head), so a registration writes its keys to one or two shards and its
-- search reads one, where a search of `members` by key asks every shard. The group is
-- computed by the service (`registry::repo::name_group`) and by the backfill below: the two
-- must agree.
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
SELECT COALESCE(NULLIF(substring(m.dedup_key FROM '[^|]*$'), ''), m.dedup_key),
       m.dedup_key, m.household_id, m.id, h.household_number
FROM members m JOIN households h ON h.id = m.household_id
WHERE m.status = 'current';

-- On a Citus coordinator: distributed by the group (its rows move to the workers here).
DO $citus$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        PERFORM create_distributed_table('member_name_keys', 'name_group', colocate_with => 'none');
    END IF;
END
$citus$;
