#!/usr/bin/env bash
# CI: the Prometheus metrics of a real `sahulat serve` pass `promtool check metrics` (the
# exposition format and promtool's lint of names, units and help texts), and carry no ID
# number, name or token. Starts the service on SQLite in a temporary directory with
# SAHULAT_METRICS_BIND on a free loopback port, makes a few requests (logins, a registration,
# searches by ID number, name and household number, a screening, a 404), scrapes /metrics
# and stops the service.
# Needs target/debug/sahulat (built here if missing) and promtool (Debian package
# `prometheus`, installed here if missing: about 19 MB to download, no service started).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

if ! command -v promtool >/dev/null; then
  echo "installing promtool (Debian package prometheus)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool --version 2>&1 | head -n1
bin=${METRICS_BIN:-target/debug/sahulat}
[ -x "$bin" ] || cargo build -q --bin sahulat

work=$(mktemp -d)
service_pid=
cleanup() {
  if [ -n "$service_pid" ]; then
    kill "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
metrics_port=$(free_port)
while [ "$metrics_port" = "$port" ]; do metrics_port=$(free_port); done
export DATABASE_URL=sqlite://$work/sahulat.db
export SAHULAT_BIND=127.0.0.1:$port
export SAHULAT_METRICS_BIND=127.0.0.1:$metrics_port
export SAHULAT_RULES_DIR=$PWD/rules
export SAHULAT_JWT_SECRET=metrics-run-jwt-secret-0123456789abcdef0123
export SAHULAT_AUDIT_KEY=metrics-run-audit-key-0123456789abcdef01234
export SAHULAT_LOG=warn
api=http://127.0.0.1:$port
password="metrics run password 1"

$bin migrate >/dev/null
echo "$password" | $bin user add --username metrics-admin --role admin >/dev/null
echo "$password" | $bin user add --username metrics-clerk --role clerk --district swat >/dev/null
$bin serve >"$work/service.log" 2>&1 &
service_pid=$!
for _ in $(seq 1 100); do
  curl -sf "$api/readyz" >/dev/null && break
  sleep 0.1
done
curl -sf "$api/readyz" >/dev/null || { echo "the service did not come up:"; cat "$work/service.log"; exit 1; }

token() {
  curl -sf -X POST "$api/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
admin=$(token metrics-admin)
clerk=$(token metrics-clerk)
# A failed login (401) and a path no route matches (404).
curl -s -o /dev/null -X POST "$api/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"username":"metrics-clerk","password":"not the password at all"}'
curl -s -o /dev/null "$api/api/v1/nowhere/15602-1234567-2" -H "Authorization: Bearer $clerk"
household='{"district":"swat","pmt_score":20,"owns_vehicle":false,"monthly_income_pkr":12000,"members":[
  {"full_name":"Zarina Bibi","relation_to_head":"head","sex":"female","date_of_birth":"1985-03-01",
   "id_type":"cnic","id_number":"15602-1234567-2","marital_status":"widowed","religion":"muslim",
   "disability":"none","govt_employee":false,"taxpayer":false,"employment":"homemaker"}]}'
created=$(curl -sf -X POST "$api/api/v1/households" -H "Authorization: Bearer $clerk" \
  -H 'content-type: application/json' -d "$household")
id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$created")
number=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["household_number"])' "$created")
for query in "id_number=15602-1234567-2" "name=Zarina" "household_number=$number"; do
  curl -sf -o /dev/null "$api/api/v1/households?$query" -H "Authorization: Bearer $clerk"
done
curl -sf -o /dev/null "$api/api/v1/households/$id" -H "Authorization: Bearer $clerk"
curl -sf -o /dev/null -X POST "$api/api/v1/households/$id/screenings" -H "Authorization: Bearer $clerk" || true
curl -sf -o /dev/null "$api/api/v1/schemes?limit=100" -H "Authorization: Bearer $admin"

curl -sf "http://127.0.0.1:$metrics_port/metrics" >"$work/metrics.txt"
status=0
echo "== promtool check metrics"
if promtool check metrics <"$work/metrics.txt"; then
  echo "promtool: ok"
else
  echo "promtool: FAILED"
  status=1
fi
# The API's own address does not serve the metrics.
on_api=$(curl -s -o /dev/null -w '%{http_code}' "$api/metrics")
if [ "$on_api" = 200 ]; then
  echo "FAILED: $api/metrics answered 200"
  status=1
fi
# Nothing a client sent about a person, and no token.
for secret in "15602-1234567-2" "1560212345672" "Zarina" "metrics-clerk" "metrics-admin" "$id" "$number" \
              "$clerk" "${clerk:0:24}" "$admin" "$password" "nowhere"; do
  if grep -qF -- "$secret" "$work/metrics.txt"; then
    echo "FAILED: the metrics hold ${secret:0:12}…"
    status=1
  fi
done
grep -q 'sahulat_http_request_duration_seconds_count{route="/api/v1/households/{id}",method="GET",status="200"} 1' \
  "$work/metrics.txt" || { echo "FAILED: no households/{id} series"; status=1; }

families=$(grep -c '^# TYPE ' "$work/metrics.txt")
samples=$(grep -vc '^#' "$work/metrics.txt")
routes=$(grep -o 'route="[^"]*"' "$work/metrics.txt" | sort -u | wc -l)
echo "scraped $(wc -c <"$work/metrics.txt") bytes: $families families, $samples samples, $routes route patterns"
echo "metrics.sh: $((SECONDS - started)) s, status $status"
exit $status
