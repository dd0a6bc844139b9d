#!/usr/bin/env bash
# Citus against a single PostgreSQL, the same figures in the same run, one after the other:
#   1. registration throughput and latency at 8 and at 50 clients (benches/registry.rs, each in
#      a fresh database; on the coordinator with BENCH_SHARD_COUNT shards per table);
#   2. search by ID number, p99 over 2,000 lookups from one client, on a filled registry;
#   3. `sahulat screen --all` on the same registry, twice, with wall time and peak memory:
#      on a registry never screened the first run writes every decision and the second finds
#      nothing changed; on one screened before, both find nothing changed.
#
#   benches/scripts/citus-compare.sh PG_DB_URL CITUS_DB_URL [REGISTRATIONS]
#   PARTS=registration benches/scripts/citus-compare.sh …   # only some parts
#
# PARTS is a comma-separated list of `registration`, `search` and `screen` (default: all
# three). The registration part needs no filled registry: it registers into fresh
# databases beside PG_DB_URL and CITUS_DB_URL.
# PG_DB_URL and CITUS_DB_URL name databases `sahulat demo-data` filled (the same
# --households and --seed on both), the second on a Citus coordinator; their maintenance
# databases (`postgres` on the same servers) are used for the registration runs. Uses the
# release build (`cargo build --release --bin sahulat` and `cargo bench` build it). Nothing
# else should run on the machine while it measures.
set -euo pipefail
cd "$(dirname "$0")/../.."
pg=${1:?PG_DB_URL}; citus=${2:?CITUS_DB_URL}; registrations=${3:-3000}
parts=",${PARTS:-registration,search,screen},"
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
trap '[ -z "$server" ] || kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

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
