-- pgbench reference for the registration benchmark: one transaction writing the same rows
-- as POST /api/v1/households for a household of seven (household, 7 members, history entry,
-- audit event with its district chain-head update, district counter), with the same indexes.
-- Chain heads must exist (run one registration per district first, or the bench below).
-- Run against a database migrated by `sahulat migrate`:
--   pgbench -n -c 50 -j 2 -T 30 -f benches/pgbench-registration.sql postgres://…/db
\set d random(1, 36)
\set n random(1, 999999999)
BEGIN;
UPDATE household_counters SET last_value = last_value + 1
  WHERE district_code = (SELECT code FROM districts ORDER BY code OFFSET :d - 1 LIMIT 1) RETURNING last_value;
INSERT INTO households (id, household_number, district_code, village, phone, monthly_income_pkr, pmt_score, rooms,
    version, registered_by, registered_office, created_at, updated_at)
  SELECT gen_random_uuid()::text, 'PGB-' || gen_random_uuid()::text, code, 'Kalam', '03001234567', 18000, 14.25, 2,
    1, 'bench', code, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc'
  FROM districts ORDER BY code OFFSET :d - 1 LIMIT 1
  RETURNING id \gset h_
INSERT INTO members (id, household_id, status, full_name, name_key, relation_to_head, sex, date_of_birth, id_type,
    id_number, religion, disability, employment, dedup_key, created_at, updated_at)
  SELECT gen_random_uuid()::text, ':h_id', 'current', 'Member ' || g, 'member ' || g,
    CASE WHEN g = 1 THEN 'head' ELSE 'son' END, 'male', DATE '1990-01-01' + g, 'cnic',
    (1000000000000 + (CAST(:n AS bigint) * 8 + g) % 999999999999)::text || '', 'muslim', 'none', 'unemployed',
    'member ' || g || '|1990-01-01|', now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc'
  FROM generate_series(1, 7) AS g;
INSERT INTO household_changes (id, household_id, version, change_type, changes, changed_by, changed_at)
  VALUES (gen_random_uuid()::text, ':h_id', 1, 'create', '{}', 'bench', now() AT TIME ZONE 'utc');
UPDATE audit_chains SET last_seq = last_seq + 1
  WHERE chain_id = (SELECT 'district:' || code FROM districts ORDER BY code OFFSET :d - 1 LIMIT 1)
  RETURNING last_seq, last_mac \gset a_
INSERT INTO audit_events (id, chain_id, seq, occurred_at, actor_user_id, actor_username, actor_role, action, object_type, object_id,
    district_code, request_id, client_addr, outcome, details, prev_mac, mac)
  VALUES (gen_random_uuid()::text, (SELECT 'district:' || code FROM districts ORDER BY code OFFSET :d - 1 LIMIT 1),
    :a_last_seq, now() AT TIME ZONE 'utc', 'u', 'bench', 'clerk', 'household_create', 'household', ':h_id',
    'swat', 'r', '127.0.0.1', 'success', '{"members":7}', ':a_last_mac', md5(':a_last_mac' || ':h_id') || md5(':h_id'));
UPDATE audit_chains SET last_mac = md5(':h_id') || md5(':a_last_mac')
  WHERE chain_id = (SELECT 'district:' || code FROM districts ORDER BY code OFFSET :d - 1 LIMIT 1);
COMMIT;
