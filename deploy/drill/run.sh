#!/usr/bin/env bash
# The backup and restore drill (CI runs it; run it by hand the same way: deploy/drill/run.sh).
#
#   1. SQLite: synthetic households, a second process writing, `sahulat backup` while it
#      writes (repeated, up to 5 times, until a commit lands during one); each copy is
#      checked on its own terms (a snapshot: every household has its
#      members, its change row and its audit event; `sahulat audit verify` passes), and a
#      second backup after the writer stopped equals the live database (every table's count,
#      every audit chain head). Restore: the file copied into place.
#   2. PostgreSQL, logical: a database on the local cluster (127.0.0.1:5432, trust), pg_dump
#      -Fc, pg_restore into a fresh database, the same comparison, audit verify.
#   3. PostgreSQL, point in time: a cluster of the drill's own on a free loopback port with
#      a WAL archive, a base backup (pg_basebackup), writes, a named restore point
#      'drill-marker', more writes; the base backup is restored with restore_command and
#      recovery_target_name and must hold exactly what was there at the marker.
#
# Prints a summary with the time each restore took. Loopback only; everything it makes
# (files, databases, the cluster) is removed on exit, also on failure or interruption; the
# whole drill is killed after DRILL_TIMEOUT seconds (default 600).
#
# Environment: DRILL_BIN (the binary; default target/debug/sahulat, built first),
# DRILL_HOUSEHOLDS (default 3000), DRILL_PG_URL (the maintenance database of the local
# cluster; default postgres://postgres@127.0.0.1:5432/postgres). Needs sqlite3 and the
# PostgreSQL server binaries (installed with apt when missing and run as root); the drill's
# own cluster runs as the user postgres when started by root.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${DRILL_UNDER_TIMEOUT:-}" ]; then
  # timeout signals the drill's whole process group, so the trap below still cleans up.
  DRILL_UNDER_TIMEOUT=1 exec timeout -k 15 "${DRILL_TIMEOUT:-600}" "$0" "$@"
fi
started=$SECONDS
BIN=${DRILL_BIN:-target/debug/sahulat}
HOUSEHOLDS=${DRILL_HOUSEHOLDS:-3000}
PG_ADMIN=${DRILL_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}

missing=()
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
PGBIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)
if [ -z "${DRILL_BIN:-}" ]; then
  cargo build -q --bin sahulat # a no-op when it is current
fi
BIN=$(realpath "$BIN")

work=$(mktemp -d /tmp/sahulat-drill.XXXXXX)
chmod 0755 "$work"
suffix="$(date +%s)_$$"
pg_dbs=()
pitr_data=()
writer=
cleanup() {
  local rc=$?
  set +e
  [ -n "$writer" ] && kill "$writer" 2>/dev/null && wait "$writer" 2>/dev/null
  for d in "${pitr_data[@]}"; do
    [ -f "$d/postmaster.pid" ] && as_postgres "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1
  done
  for db in "${pg_dbs[@]}"; do
    psql "$PG_ADMIN" -XqAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  done
  rm -rf "$work"
  [ "$rc" -eq 0 ] || echo "drill FAILED (exit $rc) after $((SECONDS - started)) s" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# Seconds since the epoch, with milliseconds, and a difference of two of them.
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# The drill's own keys: audit verify must use the key the events were written with.
SAHULAT_AUDIT_KEY="drill-audit-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
SAHULAT_JWT_SECRET="drill-jwt-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export SAHULAT_AUDIT_KEY SAHULAT_JWT_SECRET
export SAHULAT_RULES_DIR="$PWD/rules"
export SAHULAT_LOG=warn
export SAHULAT_BIND=127.0.0.1:0
sahulat() { "$BIN" "$@"; }
quiet() { "$BIN" "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log" >&2; fail "sahulat $*"; }; }

verify() { # DATABASE_URL → "ok: N events in M chain(s) verified"
  local out
  out=$(DATABASE_URL=$1 sahulat audit verify 2>&1) || fail "audit verify on $1: $out"
  [[ $out == ok:* ]] || fail "audit verify on $1: $out"
  echo "$out"
}

# --- what is compared: every table's row count, every audit chain's head --------------
# sqlite3 has no busy timeout of its own: a reader can meet a writer's checkpoint.
sqlite_q() { sqlite3 -bail -batch -readonly -cmd '.timeout 10000' -separator ' ' "$1" "$2"; }
sqlite_state() { # FILE → "table count" lines, then "chain seq mac" lines
  local q
  q=$(sqlite_q "$1" "SELECT group_concat(printf('SELECT %Q, count(*) FROM \"%w\"', name, name), ' UNION ALL ')
                     FROM (SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name)")
  sqlite_q "$1" "$q ORDER BY 1"
  sqlite_q "$1" "SELECT 'chain', chain_id, last_seq, last_mac FROM audit_chains ORDER BY chain_id"
}
pg_q() { psql "$1" -XqAt -v ON_ERROR_STOP=1 -F ' ' -c "$2"; }
pg_state() { # URL → the same lines as sqlite_state
  pg_q "$1" "SELECT table_name, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I',
               table_schema, table_name), false, true, '')))[1]::text
             FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
  pg_q "$1" "SELECT 'chain', chain_id, last_seq, last_mac FROM audit_chains ORDER BY chain_id"
}
same_state() { # label, expected file, actual file
  if ! diff -u "$2" "$3" >"$work/diff.txt"; then
    cat "$work/diff.txt" >&2
    fail "$1: the restored database differs (table counts or audit chain heads above)"
  fi
  echo "  $1: $(grep -vc '^chain ' "$2") table counts and $(grep -c '^chain ' "$2") audit chain heads identical"
}
households_in() { grep '^households ' "$1" | cut -d' ' -f2; }

# A snapshot is consistent: every household has members, its create change and its
# create event, and nothing points at a household that is not there.
sqlite_consistent() {
  local bad
  bad=$(sqlite_q "$1" "
    SELECT 'households without members', count(*) FROM households h
      WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.household_id = h.id)
    UNION ALL SELECT 'members without a household', count(*) FROM members m
      WHERE NOT EXISTS (SELECT 1 FROM households h WHERE h.id = m.household_id)
    UNION ALL SELECT 'households without their create change', count(*) FROM households h
      WHERE NOT EXISTS (SELECT 1 FROM household_changes c WHERE c.household_id = h.id AND c.change_type = 'create')
    UNION ALL SELECT 'create events without their household', count(*) FROM audit_events e
      WHERE e.action = 'household_create' AND NOT EXISTS (SELECT 1 FROM households h WHERE h.id = e.object_id)
    UNION ALL SELECT 'households without their create event', (SELECT count(*) FROM households)
      - (SELECT count(*) FROM audit_events WHERE action = 'household_create')
    UNION ALL SELECT 'chains whose head is not their last event', count(*) FROM audit_chains c
      WHERE c.last_seq <> (SELECT count(*) FROM audit_events e WHERE e.chain_id = c.chain_id)
         OR c.last_mac <> coalesce((SELECT e.mac FROM audit_events e WHERE e.chain_id = c.chain_id
                                    AND e.seq = c.last_seq), '0000000000000000000000000000000000000000000000000000000000000000')")
  if grep -v ' 0$' <<<"$bad" >&2; then
    fail "the backup taken during writes is not a consistent snapshot"
  fi
}

summary=()
row() { summary+=("$(printf '%-34s %10s %10s   %s' "$@")"); }

# === 1. SQLite ========================================================================
echo "== 1. SQLite: sahulat backup during concurrent writes =="
t=$(now)
live="$work/live.db"
export DATABASE_URL="sqlite://$live"
quiet migrate
quiet demo-data --households "$HOUSEHOLDS" --seed 1
initial=$(sqlite_q "$live" "SELECT count(*) FROM households")
echo "  $initial households loaded in $(since "$t") s"

# The writer: a second process storing 200 households per transaction, again and again,
# until told to stop (between runs, so it never dies mid-transaction).
(
  seed=100
  while [ ! -e "$work/stop" ]; do
    "$BIN" demo-data --households 200 --seed "$seed" >/dev/null 2>&1 || exit 1
    seed=$((seed + 1))
  done
) &
writer=$!
for _ in $(seq 1 300); do
  [ "$(sqlite_q "$live" "SELECT count(*) FROM households")" -gt "$initial" ] && break
  sleep 0.1
done
[ "$(sqlite_q "$live" "SELECT count(*) FROM households")" -gt "$initial" ] || fail "the writer stored nothing in 30 s"
# Backups until one overlaps a commit of the writer (the live count moved while it ran);
# every copy must be a consistent snapshot between the counts before and after it.
for attempt in 1 2 3 4 5; do
  copy="$work/during-$attempt.db"
  before=$(sqlite_q "$live" "SELECT count(*) FROM households")
  t=$(now)
  sahulat backup "$copy" | sed 's/^/  /'
  backup_s=$(since "$t")
  after=$(sqlite_q "$live" "SELECT count(*) FROM households")
  in_copy=$(sqlite_q "$copy" "SELECT count(*) FROM households")
  echo "  households: $before in the live database as the backup began, $in_copy in the copy, $after as it ended"
  [ "$in_copy" -ge "$before" ] && [ "$in_copy" -le "$after" ] || fail "the copy's $in_copy households are outside [$before, $after]"
  sqlite_consistent "$copy"
  [ "$after" -gt "$before" ] && break
done
[ "$after" -gt "$before" ] || fail "the writer committed nothing during any of 5 backups: the drill proved nothing"
# The writer goes on after the snapshot.
for _ in $(seq 1 300); do
  [ "$(sqlite_q "$live" "SELECT count(*) FROM households")" -gt "$in_copy" ] && break
  sleep 0.1
done
touch "$work/stop"
wait "$writer" || fail "the writer failed"
writer=
total=$(sqlite_q "$live" "SELECT count(*) FROM households")
echo "  $total households when the writer stopped"
[ "$total" -gt "$in_copy" ] || fail "the writer wrote nothing after the snapshot"
[ "$(sqlite_q "$copy" "SELECT count(*) FROM audit_events WHERE action = 'database_backup'")" = "$attempt" ] ||
  fail "the copy does not hold its own database_backup event (and those of the backups before it)"
echo "  the copies are consistent snapshots (members, changes, events, chain heads); $(verify "sqlite://$copy")"

# With the writer stopped, a second backup holds exactly what the live database holds.
sahulat backup "$work/final.db" | sed 's/^/  /'
if sahulat backup "$work/final.db" >/dev/null 2>&1; then fail "a second backup to the same file was not refused"; fi
sqlite_state "$live" >"$work/sqlite.expected"
t=$(now)
cp "$work/final.db" "$work/restored.db"
DATABASE_URL="sqlite://$work/restored.db" quiet migrate
sqlite_restore_s=$(since "$t")
sqlite_state "$work/restored.db" >"$work/sqlite.actual"
same_state "SQLite" "$work/sqlite.expected" "$work/sqlite.actual"
echo "  restored: $(verify "sqlite://$work/restored.db")"
row "SQLite backup during writes" "$backup_s s" "$in_copy" "a consistent snapshot, audit verify ok"
row "SQLite restore (copy into place)" "$sqlite_restore_s s" "$(households_in "$work/sqlite.actual")" "counts and chain heads identical, audit verify ok"

# === 2. PostgreSQL: pg_dump / pg_restore ===============================================
echo "== 2. PostgreSQL: pg_dump -Fc, pg_restore into a fresh database =="
pg_q "$PG_ADMIN" "SELECT 1" >/dev/null || fail "no PostgreSQL at $PG_ADMIN"
base_url=${PG_ADMIN%/*}
src_db="sahulat_drill_${suffix}_src"
dst_db="sahulat_drill_${suffix}_restored"
pg_dbs+=("$src_db" "$dst_db")
pg_q "$PG_ADMIN" "CREATE DATABASE $src_db" >/dev/null
export DATABASE_URL="$base_url/$src_db?sslmode=disable"
t=$(now)
quiet migrate
quiet demo-data --households "$HOUSEHOLDS" --seed 1
echo "  $HOUSEHOLDS households loaded in $(since "$t") s"
pg_state "$DATABASE_URL" >"$work/dump.expected"
t=$(now)
pg_dump -Fc -d "$DATABASE_URL" -f "$work/sahulat.dump"
dump_s=$(since "$t")
echo "  pg_dump -Fc: $(du -k "$work/sahulat.dump" | cut -f1) kB in $dump_s s"
pg_q "$PG_ADMIN" "CREATE DATABASE $dst_db" >/dev/null
restored_url="$base_url/$dst_db?sslmode=disable"
t=$(now)
pg_restore --no-owner --exit-on-error -j 2 -d "$restored_url" "$work/sahulat.dump"
dump_restore_s=$(since "$t")
pg_state "$restored_url" >"$work/dump.actual"
same_state "pg_restore" "$work/dump.expected" "$work/dump.actual"
echo "  restored: $(verify "$restored_url")"
row "PostgreSQL pg_dump -Fc" "$dump_s s" "$(households_in "$work/dump.expected")" ""
row "PostgreSQL pg_restore" "$dump_restore_s s" "$(households_in "$work/dump.actual")" "counts and chain heads identical, audit verify ok"

# === 3. PostgreSQL: point-in-time restore to a named restore point =====================
echo "== 3. PostgreSQL: base backup + WAL archive, restore to 'drill-marker' =="
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pitr="$work/pitr"
mkdir -p "$pitr/archive"
[ "$(id -u)" -ne 0 ] || chown -R postgres:postgres "$pitr"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# 1 MB WAL segments: the archive copies whole segments, and 16 MB ones made this the
# drill's largest directory (slow to copy and to remove on a busy disk).
as_postgres "$PGBIN/initdb" -D "$pitr/data" -A trust -U postgres -E UTF8 --no-sync --wal-segsize=1 >/dev/null
cat >>"$pitr/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$pitr'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $pitr/archive/%f && cp %p $pitr/archive/%f'
EOF
pitr_data+=("$pitr/data")
as_postgres "$PGBIN/pg_ctl" -D "$pitr/data" -l "$pitr/primary.log" -w -t 60 start >/dev/null
pitr_url="postgres://postgres@127.0.0.1:$port"
pg_q "$pitr_url/postgres" "CREATE DATABASE drill" >/dev/null
export DATABASE_URL="$pitr_url/drill?sslmode=disable"
t=$(now)
quiet migrate
quiet demo-data --households "$HOUSEHOLDS" --seed 1
as_postgres "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$pitr/base" -c fast -X stream
base_s=$(since "$t")
echo "  $HOUSEHOLDS households and a base backup in $base_s s"
# After the base backup: replayed from the archive on restore.
quiet demo-data --households 1000 --seed 2
pg_state "$DATABASE_URL" >"$work/pitr.expected"
pg_q "$DATABASE_URL" "SELECT pg_create_restore_point('drill-marker')" >/dev/null
# After the marker: must not be in the restored database.
quiet demo-data --households 500 --seed 3
pg_state "$DATABASE_URL" >"$work/pitr.later"
segment=$(pg_q "$DATABASE_URL" "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 300); do
  [ -f "$pitr/archive/$segment" ] && break
  sleep 0.1
done
[ -f "$pitr/archive/$segment" ] || fail "WAL segment $segment was not archived in 30 s"
echo "  restore point set at $(households_in "$work/pitr.expected") households; $(households_in "$work/pitr.later") at the end; WAL archived up to $segment"
as_postgres "$PGBIN/pg_ctl" -D "$pitr/data" -m fast -w stop >/dev/null

t=$(now)
as_postgres cp -a "$pitr/base" "$pitr/restored"
cat >>"$pitr/restored/postgresql.auto.conf" <<EOF
restore_command = 'cp $pitr/archive/%f %p'
recovery_target_name = 'drill-marker'
recovery_target_action = 'promote'
archive_mode = off
EOF
as_postgres touch "$pitr/restored/recovery.signal"
pitr_data+=("$pitr/restored")
as_postgres "$PGBIN/pg_ctl" -D "$pitr/restored" -l "$pitr/restored.log" -w -t 120 start >/dev/null
for _ in $(seq 1 1200); do
  [ "$(pg_q "$pitr_url/postgres" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break
  sleep 0.1
done
[ "$(pg_q "$pitr_url/postgres" "SELECT pg_is_in_recovery()")" = f ] || fail "the restored cluster did not promote in 120 s"
pitr_s=$(since "$t")
grep -q 'recovery stopping at restore point "drill-marker"' "$pitr/restored.log" ||
  fail "the server log does not show recovery stopping at drill-marker"
pg_state "$DATABASE_URL" >"$work/pitr.actual"
if diff -q "$work/pitr.later" "$work/pitr.actual" >/dev/null; then fail "the restore holds the writes after the marker"; fi
same_state "point-in-time restore" "$work/pitr.expected" "$work/pitr.actual"
echo "  restored: $(verify "$DATABASE_URL")"
row "PostgreSQL base backup (+load)" "$base_s s" "$HOUSEHOLDS" ""
row "PostgreSQL PITR to drill-marker" "$pitr_s s" "$(households_in "$work/pitr.actual")" "not the $(households_in "$work/pitr.later") after it; chain heads identical, audit verify ok"

echo
echo "== summary (restore times include starting the database; $HOUSEHOLDS synthetic households) =="
printf '%-34s %10s %10s   %s\n' "step" "time" "households" "checked"
printf '%s\n' "${summary[@]}"
echo "drill passed in $((SECONDS - started)) s"
