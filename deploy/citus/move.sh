#!/usr/bin/env bash
# Moves a province's registry from one PostgreSQL database to a Citus cluster (see
# deploy/CITUS.md, "Moving a province from one PostgreSQL to Citus"):
#
#   deploy/citus/move.sh SOURCE_URL TARGET_URL
#
# SOURCE_URL is the province's database (nothing may write to it while this runs: stop the
# instances first). TARGET_URL is an empty database on the Citus coordinator with the citus
# extension in it on every node and the workers added (deploy/CITUS.md, "Setting up a database
# on a cluster"). The script
#   1. runs `sahulat migrate` on the target, which creates the tables already distributed
#      (households by id, their members, decisions, screenings, referrals and ledgers
#      co-located, districts a reference table);
#   2. checks that both databases are at the same migration;
#   3. copies the data: `pg_dump --data-only` of the source, `pg_restore` into the target
#      (rows of a distributed table are routed to their worker by the coordinator as they
#      arrive), after emptying the tables the migrations seed (districts, counters);
#   4. compares the row count of every table and runs `sahulat audit verify` on the target.
# It prints the time of each step and exits non-zero when a check fails. The target's
# `SAHULAT_AUDIT_KEY` must be the source's (the chains are verified with it).
#
# The restore runs in one job, in the dump's order, which puts a table's rows after the rows
# they refer to (the foreign keys already stand on the target); the coordinator spreads each
# table's rows over the workers as they arrive.
#
# Settings: MOVE_BIN (default target/release/sahulat, else target/debug/sahulat), MOVE_DIR
# (where the dump is written; default a temporary directory, removed at the end).
set -euo pipefail
source_url=${1:?SOURCE_URL}
target_url=${2:?TARGET_URL}
cd "$(dirname "$0")/../.."
bin=${MOVE_BIN:-}
if [ -z "$bin" ]; then
  bin=target/release/sahulat
  [ -x "$bin" ] || bin=target/debug/sahulat
fi
[ -x "$bin" ] || { echo "no sahulat binary at $bin: build it or set MOVE_BIN" >&2; exit 2; }
work=${MOVE_DIR:-$(mktemp -d /tmp/sahulat-move.XXXXXX)}
[ -n "${MOVE_DIR:-}" ] || trap 'rm -rf "$work"' EXIT
started=$SECONDS
step() { printf '%s (%d s)\n' "$*" "$((SECONDS - started))"; }
q() { psql "$1" -qAtX -v ON_ERROR_STOP=1 -c "$2"; }

# The target: a Citus coordinator with workers, and empty.
[ "$(q "$target_url" "SELECT count(*) FROM pg_extension WHERE extname = 'citus'")" = 1 ] ||
  { echo "the target has no citus extension: set the database up first (deploy/CITUS.md)" >&2; exit 1; }
workers=$(q "$target_url" "SELECT count(*) FROM pg_dist_node WHERE groupid <> 0 AND noderole = 'primary' AND isactive")
[ "$workers" -ge 1 ] || { echo "the target's coordinator has no workers" >&2; exit 1; }
if [ "$(q "$target_url" "SELECT to_regclass('public.households') IS NOT NULL")" = t ] &&
  [ "$(q "$target_url" 'SELECT EXISTS (SELECT 1 FROM households)')" = t ]; then
  echo "the target already holds households: it must be empty" >&2
  exit 1
fi
step "target: Citus with $workers workers, empty"

DATABASE_URL=$target_url "$bin" migrate >/dev/null
source_version=$(q "$source_url" 'SELECT max(version) FROM __diesel_schema_migrations')
target_version=$(q "$target_url" 'SELECT max(version) FROM __diesel_schema_migrations')
if [ "$source_version" != "$target_version" ]; then
  echo "the source is at migration $source_version, the target at $target_version:" >&2
  echo "run \`sahulat migrate\` on the source first (same binary)" >&2
  exit 1
fi
distributed=$(q "$target_url" "SELECT count(*) FROM pg_dist_partition WHERE partmethod = 'h'")
step "migrated the target to $target_version ($distributed distributed tables)"

# Tables the migrations seed are emptied: the source's rows replace them.
q "$target_url" 'SET client_min_messages = warning; TRUNCATE districts, household_counters CASCADE' >/dev/null
pg_dump "$source_url" -Fc --data-only --exclude-table-data=__diesel_schema_migrations -f "$work/data.dump"
step "dumped the source ($(du -h "$work/data.dump" | cut -f1))"
pg_restore -d "$target_url" --data-only --exit-on-error "$work/data.dump"
step "restored into the target"

# Every table, counted on both sides.
tables=$(q "$source_url" "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
failed=0
for t in $tables; do
  a=$(q "$source_url" "SELECT count(*) FROM \"$t\"")
  b=$(q "$target_url" "SELECT count(*) FROM \"$t\"")
  if [ "$a" != "$b" ]; then
    echo "MISMATCH $t: source $a, target $b" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1
households=$(q "$target_url" 'SELECT count(*) FROM households')
members=$(q "$target_url" 'SELECT count(*) FROM members')
step "row counts equal in all $(echo "$tables" | wc -w) tables ($households households, $members members)"
DATABASE_URL=$target_url "$bin" audit verify
step "audit verify passed on the target: moved"
