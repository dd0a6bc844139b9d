#!/usr/bin/env bash
# CI: the streaming-replica tests (tests/api/replica.rs) against a real replica of the local
# PostgreSQL 15 (127.0.0.1:5432), built by .ci/replica.sh on 127.0.0.1:5442 and removed at
# the end. Prints what it ran and its own time.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
trap '.ci/replica.sh stop || true' EXIT
REPLICA_URL=$(.ci/replica.sh start)
echo "replica: $REPLICA_URL (up after $((SECONDS - started)) s)"
psql "$REPLICA_URL" -qtAc "SELECT 'in recovery: ' || pg_is_in_recovery()"
TEST_DATABASE_URL="$PG_URL" TEST_REPLICA_URL="$REPLICA_URL" \
  cargo test --test api replica:: -- --nocapture 2>&1 | tee /tmp/sahulat-replica-tests.log |
  grep -E '^test |test result|reads with an unreachable|panicked'
grep -q 'test result: ok. 6 passed' /tmp/sahulat-replica-tests.log
echo "replica tests: done in $((SECONDS - started)) s"
