#!/usr/bin/env bash
# Citus: builds and installs the extension when absent (from ../shared/vendor/citus), starts a
# coordinator and two workers on loopback (ports 9700-9702, data in a temp dir), runs the API
# test suite against the coordinator, then the reliability gate on Citus clusters of its own.
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

# The reliability gate: each test starts a coordinator with two workers of its own (copies of
# one initdb, so the crash test can stop its coordinator); TEST_DATABASE_URL is only the switch.
t=$SECONDS
SAHULAT_RELIABILITY_CITUS_WORKERS=2 TEST_DATABASE_URL=citus cargo test --test reliability -- --nocapture
echo "citus: reliability gate took $((SECONDS - t)) s"
echo "citus: total $((SECONDS - start)) s"
