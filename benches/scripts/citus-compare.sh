#!/usr/bin/env bash
# Citus against a single PostgreSQL, the same figures in the same run, one after the other:
#   1. registration throughput and latency at 8 and at 50 clients (benches/registry.rs, each in
#      a fresh database; on the coordinator with BENCH_SHARD_COUNT shards per table);
#   2. search by ID number, p99 over 2,000 lookups from one client, on a filled registry;
#   3. `sahulat screen --all` on the same registry, twice, with wall time and peak memory:
#      on a registry never screened the first run writes every decision and the second finds
#      nothing changed; on one screened before, both find nothing changed.
#   4. the floor: the database alone (pgbench, no service), transactions shaped like a
#      registration's writes, on one node and across two, so the service's share of the
#      registration figures can be told from the cluster's.
#
#   benches/scripts/citus-compare.sh PG_DB_URL CITUS_DB_URL [REGISTRATIONS]
#   PARTS=registration benches/scripts/citus-compare.sh …   # only some parts
#
# PARTS is a comma-separated list of `registration`, `search`, `screen` and `floor`
# (default: all four). The registration and floor parts need no filled registry: they work
# in fresh databases beside PG_DB_URL and CITUS_DB_URL.
# PG_DB_URL and CITUS_DB_URL name databases `sahulat demo-data` filled (the same
# --households and --seed on both), the second on a Citus coordinator; their maintenance
# databases (`postgres` on the same servers) are used for the registration runs. Uses the
# release build (`cargo build --release --bin sahulat` and `cargo bench` build it). Nothing
# else should run on the machine while it measures.
set -euo pipefail
cd "$(dirname "$0")/../.."
pg=${1:?PG_DB_URL}; citus=${2:?CITUS_DB_URL}; registrations=${3:-3000}
parts=",${PARTS:-registration,search,screen,floor},"
part() { [[ $parts == *",$1,"* ]]; }
as_of=${AS_OF:-2026-12-01}
bin=target/release/sahulat
cargo build -q --release --bin sahulat
maintenance() { echo "${1%/*}/postgres"; }
export SAHULAT_JWT_SECRET=compare-jwt-secret-0123456789abcdef0123456789
export SAHULAT_AUDIT_KEY=compare-audit-key-0123456789abcdef0123456789
export SAHULAT_METRICS_BIND=off SAHULAT_LOG=warn
work=$(mktemp -d /tmp/sahulat-compare.XXXXXX)
server=
floor=sahulat_floor_$$
floor_made=()   # names (pg, citus) of the backends where the floor part made its database
drop_floor() {
  local name url m
  for name in "${floor_made[@]}"; do
    url=$pg; [ "$name" = citus ] && url=$citus
    m=$(maintenance "$url")
    if [ "$name" = citus ]; then
      psql "$m" -qAt -c "SET citus.enable_create_database_propagation = on" -c "DROP DATABASE IF EXISTS $floor WITH (FORCE)" >/dev/null || true
    else
      psql "$m" -qAtc "DROP DATABASE IF EXISTS $floor WITH (FORCE)" >/dev/null || true
    fi
  done
  floor_made=()
}
trap '[ -z "$server" ] || kill "$server" 2>/dev/null || true; drop_floor; rm -rf "$work"' EXIT

if part registration; then
echo "== registration (POST /api/v1/households, $registrations households per run)"
for clients in 8 50; do
  for name in pg citus; do
    url=$pg; [ "$name" = citus ] && url=$citus
    printf '%-5s %2d clients: ' "$name" "$clients"
    BENCH_DATABASE_URL=$(maintenance "$url") BENCH_SHARD_COUNT=${BENCH_SHARD_COUNT:-8} \
      cargo bench -q --bench registry -- registration --households "$registrations" --clients "$clients" 2>/dev/null |
      grep '^POST'
  done
done

fi

if part search; then
echo "== search by ID number (2,000 lookups, one client, IDs of one district)"
port=18470
for name in pg citus; do
  url=$pg; [ "$name" = citus ] && url=$citus
  user="compare-$name-$$"
  printf '%s\n' 'compare password 1' | DATABASE_URL=$url $bin user add --username "$user" --role clerk --district peshawar >/dev/null
  psql "$url" -qAtc "SELECT m.id_number FROM members m JOIN households h ON h.id = m.household_id
      WHERE h.district_code = 'peshawar' AND m.status = 'current' AND m.id_number IS NOT NULL
      ORDER BY md5(m.id) LIMIT 5000" >"$work/ids.txt"
  DATABASE_URL=$url SAHULAT_BIND=127.0.0.1:$port $bin serve >"$work/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
  printf '%-5s ' "$name"
  python3 benches/scripts/search_by_id.py 127.0.0.1 "$port" "$user" 'compare password 1' "$work/ids.txt" 2000
  kill "$server"; wait "$server" 2>/dev/null || true; server=
  # The clerk stays in the database (users are never deleted: the audit trail names them),
  # disabled so it cannot log in again.
  psql "$url" -qAtc "UPDATE users SET active = false WHERE username = '$user'"
done

fi

if part screen; then
echo "== sahulat screen --all --as-of $as_of"
for run in first again; do
  for name in pg citus; do
    url=$pg; [ "$name" = citus ] && url=$citus
    printf '%-5s %-5s ' "$name" "$run"
    DATABASE_URL=$url /usr/bin/time -f '%e s wall, peak RSS %M KB' $bin screen --all --as-of "$as_of" 2>&1 >/dev/null | tail -n1
  done
done
fi

if part floor; then
echo "== the floor: the database alone, pgbench -M extended, 8 clients, 10 s per figure"
pgbench=${PGBENCH:-$(ls /usr/lib/postgresql/*/bin/pgbench | tail -n1)}
# A household (its row and three members' rows, distributed by the household), three ID
# number claims (distributed by the number, one shard per worker) and a per-district
# counter (a plain table of the coordinator), shaped as registration writes them.
schema="CREATE TABLE h (id bigint PRIMARY KEY, v text);
  CREATE TABLE m (hid bigint, id int, v text, PRIMARY KEY (hid, id));
  CREATE TABLE c (id bigint PRIMARY KEY, hid bigint);
  CREATE TABLE counters (id int PRIMARY KEY, n bigint);
  INSERT INTO counters SELECT g, 0 FROM generate_series(1, 40) g;"
cat >"$work/one-node.sql" <<'SQL'
\set a random(1, 4000000000)
\set d random(1, 40)
BEGIN;
UPDATE counters SET n = n + 1 WHERE id = :d;
INSERT INTO h VALUES (:a, 'household') ON CONFLICT DO NOTHING;
INSERT INTO m VALUES (:a, 1, 'member one'), (:a, 2, 'member two'), (:a, 3, 'member three') ON CONFLICT DO NOTHING;
COMMIT;
SQL
{ sed '$d' "$work/one-node.sql"
  echo 'INSERT INTO c VALUES (:a::bigint * 3 + 1, :a), (:a::bigint * 3 + 2, :a), (:a::bigint * 3 + 3, :a) ON CONFLICT DO NOTHING;'
  echo 'COMMIT;'; } >"$work/two-nodes.sql"
for name in pg citus; do
  url=$pg; [ "$name" = citus ] && url=$citus
  m=$(maintenance "$url")
  if [ "$name" = citus ]; then
    # As `sahulat::db::citus::create_database` does: the database and the extension on
    # every node, then the coordinator's list of workers.
    psql "$m" -qAt -c "SET citus.enable_create_database_propagation = on" -c "CREATE DATABASE $floor" >/dev/null
    floor_made+=(citus)
    nodes=$(psql "$m" -qAtF' ' -c "SELECT nodename, nodeport, groupid FROM pg_dist_node WHERE noderole = 'primary' AND isactive ORDER BY groupid")
    # Each node with the coordinator URL's user (and password), as create_database does.
    base=${url%/*}; who=; [[ $base == *@* ]] && who=${base#*://} && who="${who%@*}@"
    while read -r host port group; do
      psql "postgres://$who$host:$port/$floor" -qAtc "CREATE EXTENSION IF NOT EXISTS citus" >/dev/null
    done <<<"$nodes"
    while read -r host port group; do
      if [ "$group" = 0 ]; then q="SELECT citus_set_coordinator_host('$host', $port)"; else q="SELECT citus_add_node('$host', $port)"; fi
      psql "${url%/*}/$floor" -qAtc "$q" >/dev/null
    done <<<"$nodes"
    psql "${url%/*}/$floor" -qAt -c "$schema" -c "SET citus.shard_count = ${BENCH_SHARD_COUNT:-8}" \
      -c "SELECT create_distributed_table('h', 'id')" \
      -c "SELECT create_distributed_table('m', 'hid', colocate_with => 'h')" \
      -c "SET citus.shard_count = $(echo "$nodes" | awk '$3 != 0' | wc -l)" \
      -c "SELECT create_distributed_table('c', 'id', colocate_with => 'none')" >/dev/null
  else
    psql "$m" -qAtc "CREATE DATABASE $floor" >/dev/null
    floor_made+=(pg)
    psql "${url%/*}/$floor" -qAt -c "$schema" >/dev/null
  fi
done
declare -A tps
for shape in one-node two-nodes; do
  for name in pg citus; do
    url=$pg; [ "$name" = citus ] && url=$citus
    # pgbench exits non-zero when a client aborts (its tps would then be of a partial run).
    if ! "$pgbench" "${url%/*}/$floor" -n -M extended -c 8 -j 2 -T 10 -f "$work/$shape.sql" >"$work/pgbench.out" 2>&1; then
      echo "pgbench failed on $name ($shape):" >&2; tail -n 5 "$work/pgbench.out" >&2; exit 1
    fi
    tps[$name]=$(awk '/^tps/ {printf "%.0f", $3}' "$work/pgbench.out")
  done
  printf '%-9s single PostgreSQL %6s/s  Citus %6s/s  ratio %s\n' "$shape" "${tps[pg]}" "${tps[citus]}" \
    "$(awk -v a="${tps[pg]}" -v b="${tps[citus]}" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }')"
done
drop_floor
fi
