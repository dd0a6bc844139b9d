#!/usr/bin/env bash
# The loopback demonstration (issue 13 item 6; CI runs it, run it by hand the same way):
# a PostgreSQL 15 primary and a streaming replica of its own (pg_basebackup -R), three
# `sahulat serve` instances (DATABASE_URL = the primary, DATABASE_REPLICA_URL = the replica),
# nginx in front with the repository's deploy/nginx/ files, and a steady load of reads and
# registrations through nginx (deploy/demo/load.py) while it
#   1. kill -9's one instance and restarts it: 0 failed reads, every acknowledged
#      registration stored exactly once, no duplicates;
#   2. restarts the three in turn with SIGTERM: 0 errors and no client retry;
#   3. pauses WAL replay on the replica: the lag shows in every instance's metrics within two
#      scrapes, reads go to the primary with 0 errors, and back when replay resumes;
#   4. stops the replica: reads fall back to the primary, 0 failures;
# then measures registration throughput through nginx with three instances and with one.
# Prints the figures per phase and exits non-zero when any check fails.
#
# Loopback only; everything it starts (two clusters, three instances, nginx, the load) is
# stopped and its temporary directory removed on exit, also on failure or interruption; the
# whole run is killed after DEMO_TIMEOUT seconds (default 420). The machine's own PostgreSQL
# (5432) is never touched.
#
# Needs root (the clusters run as the user postgres, nginx's workers as nobody), the
# PostgreSQL 15 server binaries, nginx (installed with apt when missing), python3 and curl.
# Environment: DEMO_BIN (default target/debug/sahulat; build it first:
# `cargo build --bin sahulat`), DEMO_PG_PORT (default 5460; the replica on the next port),
# DEMO_HTTP_PORT (default 18460: nginx; the instances on the next three ports, their metrics
# on 19461-19463, the one-instance nginx server on 18469), DEMO_TP_CLIENTS (8) and
# DEMO_TP_SECONDS (4) for the throughput rounds, DEMO_KEEP=1 keeps the temporary directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${DEMO_UNDER_TIMEOUT:-}" ]; then
  # timeout signals the demo's whole process group, so the trap below still cleans up.
  DEMO_UNDER_TIMEOUT=1 exec timeout -k 15 "${DEMO_TIMEOUT:-420}" "$0" "$@"
fi
started=$SECONDS
BIN=${DEMO_BIN:-target/debug/sahulat}
PGBIN=/usr/lib/postgresql/15/bin
PG_PRIMARY=${DEMO_PG_PORT:-5460}
PG_REPLICA=$((PG_PRIMARY + 1))
HTTP=${DEMO_HTTP_PORT:-18460}
HTTP_ONE=$((HTTP + 9))
PORTS=($((HTTP + 1)) $((HTTP + 2)) $((HTTP + 3)))
METRICS=($((HTTP + 1001)) $((HTTP + 1002)) $((HTTP + 1003)))
TP_CLIENTS=${DEMO_TP_CLIENTS:-8}
TP_SECONDS=${DEMO_TP_SECONDS:-4}

say() { printf '[%3d s] %s\n' "$((SECONDS - started))" "$*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || fail "run as root (the clusters run as the user postgres)"
[ -x "$BIN" ] || fail "no $BIN: build it first (cargo build --bin sahulat) or set DEMO_BIN"
BIN=$(realpath "$BIN")
[ -x "$PGBIN/initdb" ] || fail "no PostgreSQL 15 server binaries in $PGBIN"
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  say "installing nginx"
  apt-get update -qq
  # policy-rc.d / no PID 1 systemd: the package's own service is not started here.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for port in "$PG_PRIMARY" "$PG_REPLICA" "$HTTP" "$HTTP_ONE" "${PORTS[@]}" "${METRICS[@]}"; do
  # SO_REUSEADDR as the servers set it: a port left in TIME_WAIT by a previous run is free.
  python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null ||
    fail "port $port on 127.0.0.1 is taken (set DEMO_PG_PORT / DEMO_HTTP_PORT)"
done

work=$(mktemp -d /tmp/sahulat-demo.XXXXXX)
chmod 0755 "$work"
pids=("" "" "")
nginx_pid=
load_pid=
clusters=()
as_pg() { runuser -u postgres -- "$@"; }
cleanup() {
  local rc=$?
  set +e
  # The shell's "Killed" notices of the jobs stopped here go nowhere; the report goes to 3.
  exec 3>&2 2>/dev/null
  [ -n "$load_pid" ] && kill -9 "$load_pid" 2>/dev/null
  for pid in "${pids[@]}"; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  done
  if [ -n "$nginx_pid" ]; then
    kill -QUIT "$nginx_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$nginx_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$nginx_pid" 2>/dev/null
  fi
  for d in "${clusters[@]}"; do
    [ -f "$d/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1
  done
  wait
  if [ "$rc" -ne 0 ]; then
    for f in "$work"/instance-*.log "$work"/nginx/*error.log "$work"/pg/*.log; do
      [ -s "$f" ] || continue
      echo "--- last lines of ${f#"$work"/}" >&3
      tail -n 15 "$f" >&3
    done
    echo "demo FAILED (exit $rc) after $((SECONDS - started)) s" >&3
  fi
  if [ -n "${DEMO_KEEP:-}" ]; then echo "kept $work" >&3; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# === PostgreSQL: a primary and a streaming replica =====================================
mkdir -p "$work/pg"
chown postgres:postgres "$work/pg"
primary="$work/pg/primary"
replica="$work/pg/replica"
as_pg "$PGBIN/initdb" -D "$primary" -A trust -U postgres -E UTF8 --no-sync >/dev/null
# initdb's pg_hba.conf with -A trust already lets 127.0.0.1 connect for replication.
cat >>"$primary/postgresql.conf" <<EOF
port = $PG_PRIMARY
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work/pg'
wal_level = replica
max_wal_senders = 4
shared_buffers = 64MB
EOF
clusters+=("$primary")
as_pg "$PGBIN/pg_ctl" -D "$primary" -l "$work/pg/primary.log" -w -t 60 start >/dev/null
PRIMARY_URL="postgres://postgres@127.0.0.1:$PG_PRIMARY/sahulat?sslmode=disable"
REPLICA_URL="postgres://postgres@127.0.0.1:$PG_REPLICA/sahulat?sslmode=disable"
psql "postgres://postgres@127.0.0.1:$PG_PRIMARY/postgres" -XqAt -c "CREATE DATABASE sahulat" >/dev/null
as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PRIMARY" -U postgres -D "$replica" -R -X stream -c fast
# The copy carries the primary's postgresql.conf: the later lines win.
cat >>"$replica/postgresql.conf" <<EOF
port = $PG_REPLICA
hot_standby = on
hot_standby_feedback = on
EOF
clusters+=("$replica")
as_pg "$PGBIN/pg_ctl" -D "$replica" -l "$work/pg/replica.log" -w -t 60 start >/dev/null
streaming() {
  psql "$REPLICA_URL" -XqAt -c "SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')" 2>/dev/null | grep -q t
}
for _ in $(seq 1 100); do streaming && break; sleep 0.2; done
streaming || fail "the replica is not streaming from the primary"
say "PostgreSQL 15: primary on 127.0.0.1:$PG_PRIMARY, streaming replica on 127.0.0.1:$PG_REPLICA (pg_basebackup -R)"

# === sahulat: migrate, a clerk, three instances ========================================
export DATABASE_URL=$PRIMARY_URL
export DATABASE_REPLICA_URL=$REPLICA_URL
SAHULAT_JWT_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
SAHULAT_AUDIT_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
export SAHULAT_JWT_SECRET SAHULAT_AUDIT_KEY
export SAHULAT_RULES_DIR=$PWD/rules
export SAHULAT_LOG=warn
export SAHULAT_LOG_FORMAT=text
export SAHULAT_MIGRATE_ON_START=false
export SAHULAT_DB_POOL_SIZE=8
export SAHULAT_LOGIN_PER_ADDRESS_PER_MINUTE=100000
unset SAHULAT_CONFIG SAHULAT_BIND SAHULAT_METRICS_BIND
DEMO_PASSWORD="demo clerk $(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export DEMO_PASSWORD
"$BIN" migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; fail "sahulat migrate"; }
printf '%s\n' "$DEMO_PASSWORD" | "$BIN" user add --username demo-clerk --role clerk --district swat >/dev/null

start_instance() { # index 0..2
  local i=$1
  SAHULAT_BIND=127.0.0.1:${PORTS[$i]} SAHULAT_METRICS_BIND=127.0.0.1:${METRICS[$i]} \
    "$BIN" serve >>"$work/instance-$((i + 1)).log" 2>&1 &
  pids[i]=$!
}
wait_ready() { # index 0..2 → seconds it took
  local i=$1 t0=$SECONDS
  for _ in $(seq 1 300); do
    if curl -sf -o /dev/null -m 1 "http://127.0.0.1:${PORTS[$i]}/readyz"; then
      echo $((SECONDS - t0))
      return 0
    fi
    kill -0 "${pids[$i]}" 2>/dev/null || fail "instance $((i + 1)) exited"
    sleep 0.1
  done
  fail "instance $((i + 1)) not ready in 30 s"
}
# API requests instance i has answered (from its metrics; /readyz and /metrics not counted).
served() {
  curl -sf -m 1 "http://127.0.0.1:${METRICS[$1]}/metrics" 2>/dev/null |
    awk '/^sahulat_http_request_duration_seconds_count\{route="\/api/ { n += $NF } END { print n + 0 }'
}
# Until nginx sends instance i traffic again (after its passive health check's fail_timeout).
wait_in_rotation() {
  local i=$1 before
  before=$(served "$i")
  for _ in $(seq 1 300); do
    [ "$(served "$i")" -ge $((before + 5)) ] && return 0
    sleep 0.1
  done
  fail "nginx sent instance $((i + 1)) no traffic within 30 s of its restart"
}
for i in 0 1 2; do start_instance "$i"; done
for i in 0 1 2; do wait_ready "$i" >/dev/null; done
say "three instances on 127.0.0.1:${PORTS[0]}-${PORTS[2]} (metrics on ${METRICS[0]}-${METRICS[2]}), ready"

# === nginx: the repository's files, pointed at the demo's instances ====================
# compose.conf is the plain-HTTP site (upstream app1..app3, listen 8080); its copy names the
# instances' loopback ports and the demo's port, and every log goes to the temporary
# directory. A second server on HTTP_ONE proxies to instance 1 alone with the same
# locations (the throughput comparison).
ng="$work/nginx"
mkdir -p "$ng/sahulat" "$ng/tmp"
for f in common.conf locations.conf compose.conf; do
  sed -e "s|/var/log/nginx/|$ng/|g" \
    -e "s/server app1:8080/server 127.0.0.1:${PORTS[0]}/" \
    -e "s/server app2:8080/server 127.0.0.1:${PORTS[1]}/" \
    -e "s/server app3:8080/server 127.0.0.1:${PORTS[2]}/" \
    -e "s/listen 8080;/listen 127.0.0.1:$HTTP;/" \
    "deploy/nginx/$f" >"$ng/sahulat/$f"
done
grep -q "server 127.0.0.1:${PORTS[2]} " "$ng/sahulat/compose.conf" || fail "deploy/nginx/compose.conf no longer names app1..app3:8080"
sed -e 's/sahulat_app/sahulat_one/g' "$ng/sahulat/locations.conf" >"$ng/sahulat/locations-one.conf"
upstream_line=$(grep -m1 'server app1:8080' deploy/nginx/compose.conf | sed "s/app1:8080/127.0.0.1:${PORTS[0]}/")
keepalive_line=$(grep -m1 'keepalive ' deploy/nginx/compose.conf)
keepalive_timeout_line=$(grep -m1 'keepalive_timeout ' deploy/nginx/compose.conf)
cat >"$ng/nginx.conf" <<EOF
# Generated by deploy/demo/run.sh from deploy/nginx/{common,locations,compose}.conf.
user nobody nogroup;
worker_processes 2;
pid $ng/nginx.pid;
error_log $ng/error.log;
events { worker_connections 1024; }
http {
  access_log $ng/access.log;
  client_body_temp_path $ng/tmp/body;
  proxy_temp_path $ng/tmp/proxy;
  fastcgi_temp_path $ng/tmp/fastcgi;
  uwsgi_temp_path $ng/tmp/uwsgi;
  scgi_temp_path $ng/tmp/scgi;
  include sahulat/compose.conf;
  upstream sahulat_one {
$upstream_line
$keepalive_line
$keepalive_timeout_line
  }
  server {
    listen 127.0.0.1:$HTTP_ONE;
    server_name _;
    include sahulat/locations-one.conf;
  }
}
EOF
"$NGINX" -t -q -p "$ng/" -e "$ng/error.log" -c "$ng/nginx.conf" || fail "nginx -t on the demo's configuration"
"$NGINX" -p "$ng/" -e "$ng/error.log" -c "$ng/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null -m 1 "http://127.0.0.1:$HTTP/readyz" && break; sleep 0.1; done
curl -sf -o /dev/null -m 1 "http://127.0.0.1:$HTTP/readyz" || fail "nginx does not answer on 127.0.0.1:$HTTP"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/metrics")" = 404 ] || fail "nginx serves /metrics"
say "nginx $("$NGINX" -v 2>&1 | sed 's/.*\///') on 127.0.0.1:$HTTP (three instances) and 127.0.0.1:$HTTP_ONE (instance 1 alone)"

# === the load, and the phases ==========================================================
control="$work/control"
phase() {
  echo "$1" >"$control.tmp" && mv "$control.tmp" "$control"
  say "phase $1${2:+: $2}"
}
phase 0-warm-up "readers and writers through nginx"
python3 deploy/demo/load.py run --url "http://127.0.0.1:$HTTP" --username demo-clerk \
  --metrics "${METRICS[@]}" --database "$PRIMARY_URL" --control "$control" \
  --ready "$work/load.ready" --summary "$work/summary.json" --events "$work/events" --logs "$work" &
load_pid=$!
for _ in $(seq 1 300); do [ -f "$work/load.ready" ] && break; kill -0 "$load_pid" 2>/dev/null || break; sleep 0.1; done
[ -f "$work/load.ready" ] || fail "the load did not start"
sleep 6

phase 1-kill-9 "kill -9 instance 2 under load, restart it"
sleep 2
kill -9 "${pids[1]}"
wait "${pids[1]}" 2>/dev/null || true
sleep 3
start_instance 1
ready=$(wait_ready 1)
say "  instance 2 restarted, ready in $ready s"
wait_in_rotation 1
say "  instance 2 back in nginx's rotation"
sleep 2

# Each instance drains for SAHULAT_SHUTDOWN_DRAIN_SECS (default 5 s) before it stops accepting.
phase 2-sigterm-rolling "SIGTERM each instance in turn, restart, wait until nginx uses it again"
for i in 0 1 2; do
  t0=$(date +%s.%N)
  kill -TERM "${pids[$i]}"
  code=0
  wait "${pids[$i]}" 2>/dev/null || code=$?
  [ "$code" -eq 0 ] || fail "instance $((i + 1)) exited with status $code after SIGTERM (a graceful stop exits 0)"
  stopped=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  start_instance "$i"
  ready=$(wait_ready "$i")
  wait_in_rotation "$i"
  say "  instance $((i + 1)): drained and exited in $stopped s (status $code), ready in $ready s, back in rotation"
done
sleep 2

psql "$REPLICA_URL" -XqAt -c "SELECT pg_wal_replay_pause()" >/dev/null
phase 3-paused "pg_wal_replay_pause() on the replica"
sleep 8
psql "$REPLICA_URL" -XqAt -c "SELECT pg_wal_replay_resume()" >/dev/null
phase 3-resumed "pg_wal_replay_resume()"
sleep 8

# The end of what the resume checks look at, noted before the replica is stopped: phase 4 is
# marked only once pg_ctl has returned, and a scrape or read in between may already find an
# instance that has seen the replica go (usable 0, reads on the primary).
echo "replica-stopping $(date +%s.%N)" >>"$work/events"
as_pg "$PGBIN/pg_ctl" -D "$replica" -m fast -w stop >/dev/null
phase 4-replica-stopped "pg_ctl stop -m fast on the replica"
sleep 6

phase stop
status=0
wait "$load_pid" || status=$?
load_pid=

# === throughput: nginx with three instances, and with one ==============================
# Registrations in one district queue on that district's household-number counter and its
# audit chain (row locks held until commit), whatever the number of instances; a province
# registers in many districts at once. So: one district, and twelve taken in turn (a clerk
# assigned to all twelve). Two rounds each, alternating 3, 1, 3, 1, so neither side gets
# all the warm caches or all the larger tables; every registration with an Idempotency-Key.
echo
say "throughput: $TP_CLIENTS clients registering for $TP_SECONDS s per round (load stopped, replica down)"
districts=$(psql "$PRIMARY_URL" -XqAt -c "SELECT string_agg(code, ',' ORDER BY code) FROM (SELECT code FROM districts WHERE active ORDER BY code LIMIT 12) d")
district_args=()
for d in ${districts//,/ }; do district_args+=(--district "$d"); done
printf '%s\n' "$DEMO_PASSWORD" | "$BIN" user add --username demo-clerk-12 --role clerk "${district_args[@]}" >/dev/null
postmaster=$(head -n1 "$primary/postmaster.pid")
instances=$(IFS=,; echo "${pids[*]}")
tp=()
series=1
for spread in swat "$districts"; do
  user=demo-clerk
  [ "$spread" = swat ] || user=demo-clerk-12
  for round in 1 2; do
    for url in "http://127.0.0.1:$HTTP" "http://127.0.0.1:$HTTP_ONE"; do
      out=$(python3 deploy/demo/load.py throughput --url "$url" --username "$user" --district "$spread" \
        --clients "$TP_CLIENTS" --seconds "$TP_SECONDS" --series "$series" \
        --cpu "sahulat=$instances" --cpu "postgres=$postmaster+" --cpu "nginx=$nginx_pid+") || status=1
      series=$((series + 1))
      tp+=("$out")
    done
  done
done
python3 - "${tp[@]}" <<'EOF'
import json, os, sys
rounds = [json.loads(x) for x in sys.argv[1:]]
rate = lambda runs: sum(r["registrations"] for r in runs) / sum(r["seconds"] for r in runs)
for spread in (rounds[:4], rounds[4:]):
    three, one = spread[0::2], spread[1::2]
    print(f"  {spread[0]['districts']} district(s):")
    for label, runs in (("nginx -> 3 instances", three), ("nginx -> 1 instance", one)):
        for r in runs:
            cpu = ", ".join(f"{k} {v:.1f}" for k, v in r["cpu_seconds"].items())
            print(f"    {label:<21} {r['registrations']:>4} in {r['seconds']:>4.1f} s = {r['per_second']:>5.1f}/s"
                  f"   p50 {r['p50_ms']:>5.0f} ms   p99 {r['p99_ms']:>5.0f} ms   errors {r['errors']}   CPU s: {cpu}")
    print(f"    three instances {rate(three):.1f}/s, one instance {rate(one):.1f}/s: {rate(three) / max(rate(one), 0.1):.2f}x")
with open("/proc/loadavg") as f:
    print(f"  (this machine: {len(os.sched_getaffinity(0))} CPUs, load average {' '.join(f.read().split()[:3])})")
EOF

echo
if [ "$status" -eq 0 ]; then
  say "demo passed"
else
  say "demo FAILED (see the checks above)"
fi
exit "$status"
