#!/usr/bin/env bash
# Citus: builds and installs the extension when absent (from ../shared/vendor/citus), starts a
# coordinator and two workers on loopback (ports 9700-9702, data in a temp dir), runs the API
# test suite and the browser tests against the coordinator, a move rehearsal, then the
# reliability gate on Citus clusters of its own.
# Prints each part's time.
set -euo pipefail
cd "$(dirname "$0")/.."
vendor=../shared/vendor/citus
start=$SECONDS
# The build needs the GSSAPI headers PostgreSQL's server headers include.
dpkg -s libkrb5-dev >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libkrb5-dev >/dev/null
bash "$vendor/build.sh"
echo "citus: build/install took $((SECONDS - start)) s"

dir=$(mktemp -d /tmp/sahulat-citus.XXXXXX)
trap 'bash "$vendor/cluster.sh" stop "$dir" || true; rm -rf "$dir"' EXIT
t=$SECONDS
url=$(bash "$vendor/cluster.sh" start "$dir" 9700 2 | tail -n1)
echo "citus: coordinator and 2 workers up in $((SECONDS - t)) s at $url"
psql "$url" -tAc "SELECT 'citus ' || extversion FROM pg_extension WHERE extname = 'citus'"

t=$SECONDS
TEST_DATABASE_URL="$url" cargo test --test api
echo "citus: API tests took $((SECONDS - t)) s"

# The console in Chromium (tests/ui) against the coordinator: every role's pages, English
# and Urdu, on the distributed schema. SAHULAT_UI_TESTS=required comes from .ci/run.
t=$SECONDS
TEST_DATABASE_URL="$url" cargo test --test ui
echo "citus: browser tests took $((SECONDS - t)) s"

# A province's move from one PostgreSQL to the cluster (deploy/citus/move.sh), on a small
# registry: 2,000 demo households in a database of the machine's PostgreSQL, moved into a new
# database of the coordinator (set up as deploy/CITUS.md says), every table counted and the
# audit chains verified there.
t=$SECONDS
pg=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
node() { echo "postgres://postgres@127.0.0.1:$1/$2"; }
psql "$pg" -qc 'DROP DATABASE IF EXISTS sahulat_move_source' -c 'CREATE DATABASE sahulat_move_source'
source_db=${pg%/postgres}/sahulat_move_source
DATABASE_URL=$source_db target/debug/sahulat migrate >/dev/null
DATABASE_URL=$source_db target/debug/sahulat demo-data --households 2000 --seed 5 2>&1 | grep -v WARN
psql "$url" -qc 'SET citus.enable_create_database_propagation = on' -c 'CREATE DATABASE sahulat_move_target'
for port in 9700 9701 9702; do psql "$(node $port sahulat_move_target)" -qc 'CREATE EXTENSION IF NOT EXISTS citus'; done
psql "$(node 9700 sahulat_move_target)" -qAt -c "SELECT citus_set_coordinator_host('127.0.0.1', 9700)" \
  -c "SELECT citus_add_node('127.0.0.1', 9701)" -c "SELECT citus_add_node('127.0.0.1', 9702)" >/dev/null
psql "$(node 9700 postgres)" -qc 'ALTER DATABASE sahulat_move_target SET citus.shard_count = 4'
MOVE_BIN=target/debug/sahulat deploy/citus/move.sh "$source_db" "$(node 9700 sahulat_move_target)" 2>&1 | grep -v WARN
psql "$pg" -qc 'DROP DATABASE sahulat_move_source'
echo "citus: move rehearsal took $((SECONDS - t)) s"

# The reliability gate: each test starts a coordinator with two workers of its own (copies of
# one initdb, so the crash test can stop its coordinator); TEST_DATABASE_URL is only the switch.
t=$SECONDS
SAHULAT_RELIABILITY_CITUS_WORKERS=2 TEST_DATABASE_URL=citus cargo test --test reliability -- --nocapture
echo "citus: reliability gate took $((SECONDS - t)) s"
echo "citus: total $((SECONDS - start)) s"
