#!/usr/bin/env bash
# A real streaming replica of the machine's PostgreSQL 15 (127.0.0.1:5432) for the replica
# tests: `start` takes a base backup (pg_basebackup -R, so it starts as a hot standby that
# streams from the primary), starts it on a loopback port and prints its URL; `stop` stops it
# and removes its directory; `status` prints the URL when it runs.
#
# The primary needs wal_level=replica (the default) and a `replication` line for 127.0.0.1 in
# pg_hba.conf: added here once (idempotently) and the primary reloaded. Runs as root (CI) and
# starts the cluster as the postgres user. No replication slot is created, so a stopped or
# forgotten replica never makes the shared primary keep WAL.
#
# Settings: SAHULAT_REPLICA_PORT (default 5442), SAHULAT_REPLICA_DIR (default
# /tmp/sahulat-replica), PRIMARY_HOST/PRIMARY_PORT (127.0.0.1/5432).
set -euo pipefail
PORT=${SAHULAT_REPLICA_PORT:-5442}
DIR=${SAHULAT_REPLICA_DIR:-/tmp/sahulat-replica}
PRIMARY_HOST=${PRIMARY_HOST:-127.0.0.1}
PRIMARY_PORT=${PRIMARY_PORT:-5432}
BIN=/usr/lib/postgresql/15/bin
HBA=${PRIMARY_HBA:-/etc/postgresql/15/main/pg_hba.conf}
as_pg() { runuser -u postgres -- "$@"; }
url() { echo "postgres://postgres@127.0.0.1:${PORT}/postgres?sslmode=disable"; }

case "${1:-}" in
start)
  started=$SECONDS
  if [ -f "$DIR/data/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    echo "replica already running" >&2
    url
    exit 0
  fi
  # The replication line, once. "host all" does not cover replication connections.
  line="host replication all 127.0.0.1/32 trust"
  if ! grep -Eq '^[[:space:]]*host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$HBA"; then
    echo "adding to $HBA: $line" >&2
    printf '# sahulat .ci/replica.sh: streaming replica tests on loopback\n%s\n' "$line" >>"$HBA"
    psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -qtAc 'SELECT pg_reload_conf()' >/dev/null
    sleep 1
  fi
  level=$(psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -qtAc 'SHOW wal_level')
  if [ "$level" = minimal ]; then
    echo "the primary has wal_level=minimal: set wal_level=replica and restart it" >&2
    exit 1
  fi
  rm -rf "$DIR"
  mkdir -p "$DIR"
  chown postgres:postgres "$DIR"
  as_pg "$BIN/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -D "$DIR/data" -R -X stream -c fast >&2
  # Debian keeps the primary's postgresql.conf and pg_hba.conf in /etc, so the copy has
  # neither: write its own. A hot standby needs these limits at least as high as the
  # primary's, so they are copied from it.
  limits=$(psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres -qtAc \
    "SELECT string_agg(name || ' = ' || setting, E'\\n') FROM pg_settings WHERE name IN
       ('max_connections','max_worker_processes','max_wal_senders','max_prepared_transactions',
        'max_locks_per_transaction')")
  cat >"$DIR/data/postgresql.conf" <<CONF
port = ${PORT}
listen_addresses = '127.0.0.1'
unix_socket_directories = '${DIR}'
ssl = off
hot_standby = on
# Long reads (exports) are not cancelled by recovery conflicts.
hot_standby_feedback = on
shared_buffers = 64MB
${limits}
CONF
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$DIR/data/pg_hba.conf"
  chown postgres:postgres "$DIR/data/postgresql.conf" "$DIR/data/pg_hba.conf"
  as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 start >&2
  for _ in $(seq 1 30); do
    # In recovery is not enough: the tests need the WAL receiver streaming (it may start a
    # few seconds after the standby accepts connections).
    if psql "$(url)" -qtAc "SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')" 2>/dev/null | grep -q t; then
      echo "replica streaming on 127.0.0.1:${PORT} (started in $((SECONDS - started)) s)" >&2
      url
      exit 0
    fi
    sleep 1
  done
  echo "the replica did not come up; its log:" >&2
  tail -n 30 "$DIR/log" >&2 || true
  exit 1
  ;;
stop)
  if [ -d "$DIR/data" ]; then
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >&2 || true
  fi
  rm -rf "$DIR"
  echo "replica stopped" >&2
  ;;
status)
  as_pg "$BIN/pg_ctl" -D "$DIR/data" status >&2
  url
  ;;
*)
  echo "usage: $0 start|stop|status" >&2
  exit 2
  ;;
esac
