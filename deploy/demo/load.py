#!/usr/bin/env python3
"""The load and the checks of the loopback demonstration (deploy/demo/run.sh).

Python 3 standard library only. Two commands:

  load.py run ...         a steady load of reads and registrations through nginx, and a
                          scraper of every instance's /metrics, until the control file says
                          `stop`; then the checks (the database is read with psql) and the
                          figures per phase. Exit 0 when every check passed, 1 otherwise.
  load.py throughput ...  registrations as fast as N clients can, for S seconds, through one
                          URL; prints one JSON line (count, rate, p50/p99, errors).

The phases are set by run.sh writing a phase name to the control file (one line); every
request is counted in the phase it started in, every scrape and phase change is kept with its
time, so the checks look at what happened after each mark.

Registrations: each carries a fresh Idempotency-Key; on a network error or a 502/503/504 the
client retries once with the same key and body, and counts it. During the SIGTERM rolling
restart (phase 2) one such retry fails the run: nothing should need it there. Reads never
retry: 0 failed reads means 0.
Reads only name households acknowledged READ_AFTER seconds ago or more (another client's
write may take up to the search threshold to reach the replica; that is the documented
contract, not a failure). A search by ID number must find exactly the acknowledged household.

Nothing personal is printed: the demo's ID numbers are synthetic, and none is written out.
"""

import argparse
import datetime
import http.client
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid

READ_AFTER = 4.0  # seconds: the search threshold (2 s, the default) + the monitor's period + margin
RETRYABLE = {502, 503, 504}
# Seconds after pg_wal_replay_resume() within which every instance's metrics must show the
# replica usable again: its monitor probes each second (MONITOR_INTERVAL in src/db/replica.rs)
# and the scraper scrapes each second, so two or three probe intervals, plus margin for a
# machine whose load average is above 10.
RESUMED_WITHIN = 5.0


def now():
    return time.monotonic()


class Conn:
    """One keep-alive HTTP connection to host:port (reopened after an error)."""

    def __init__(self, host, port, timeout=30.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.c = None

    def request(self, method, path, body=None, headers=None):
        if self.c is None:
            self.c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.c.request(method, path, body=body, headers=headers or {})
            r = self.c.getresponse()
            data = r.read()
            if r.will_close:
                self.close()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        except Exception:
            self.close()
            raise

    def close(self):
        if self.c is not None:
            try:
                self.c.close()
            except Exception:
                pass
            self.c = None


def split_url(url):
    m = re.match(r"^http://([^/:]+):(\d+)/?$", url)
    if not m:
        raise SystemExit(f"not an http://host:port URL: {url}")
    return m.group(1), int(m.group(2))


def login(url, username, password):
    host, port = split_url(url)
    c = Conn(host, port)
    body = json.dumps({"username": username, "password": password})
    for _ in range(20):
        try:
            status, _, data = c.request("POST", "/api/v1/auth/login", body, {"content-type": "application/json"})
            if status == 200:
                return json.loads(data)["access_token"]
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"cannot log in through {url}")


def id_number(series, n):
    """A synthetic CNIC: province digit 3, the series (0-99: one per process, so processes
    never collide), n, and an even last digit (a woman)."""
    d = f"3{series:02d}{n:09d}{(n * 2) % 10}"
    return f"{d[:5]}-{d[5:12]}-{d[12]}", d


def household(district, idn, n):
    return {
        "district": district,
        "pmt_score": 15 + n % 20,
        "owns_vehicle": False,
        "monthly_income_pkr": 9000 + (n % 50) * 100,
        "members": [
            {
                "full_name": f"Demo Head {n}",
                "relation_to_head": "head",
                "sex": "female",
                "date_of_birth": "1984-05-0%d" % (1 + n % 9),
                "id_type": "cnic",
                "id_number": idn,
                "marital_status": "widowed",
                "religion": "muslim",
                "disability": "none",
                "govt_employee": False,
                "taxpayer": False,
                "employment": "homemaker",
            }
        ],
    }


class Ids:
    """Unique ID numbers for one process (a series of its own)."""

    def __init__(self, series):
        self.series, self.n, self.lock = series, 0, threading.Lock()

    def next(self):
        with self.lock:
            self.n += 1
            return self.n


def register(conn, token, district, ids, retry=True):
    """One registration with an Idempotency-Key and at most one retry. Returns a dict."""
    n = ids.next()
    dashed, digits = id_number(ids.series, n)
    key = str(uuid.uuid4())
    body = json.dumps(household(district, dashed, n))
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {token}",
        "idempotency-key": key,
    }
    out = {"key": key, "digits": digits, "attempts": 0, "retried": False, "status": None,
           "household_id": None, "household_number": None, "replayed": False, "error": None}
    started = now()
    for attempt in (1, 2):
        out["attempts"] = attempt
        try:
            status, hdrs, data = conn.request("POST", "/api/v1/households", body, headers)
        except (OSError, http.client.HTTPException) as e:
            status, hdrs, data = None, {}, b""
            out["error"] = f"network: {type(e).__name__}"
        out["status"] = status
        if status == 201:
            h = json.loads(data)
            out.update(household_id=h["id"], household_number=h["household_number"], error=None,
                       replayed=hdrs.get("idempotent-replayed") == "true")
            break
        if status is not None:
            out["error"] = f"http {status}"
        if not retry or attempt == 2 or not (status is None or status in RETRYABLE):
            break
        out["retried"] = True
        out["retry_cause"] = out["error"]
        conn.close()
    out["latency"] = now() - started
    return out


# --- metrics -------------------------------------------------------------------------

METRIC = re.compile(r'^(sahulat_replica_(?:lag_seconds|lag_bytes|usable)|sahulat_replica_fallbacks_total)'
                    r'(\{[^}]*\})? (\S+)$')


def parse_metrics(text):
    out = {"fallbacks": {}}
    for line in text.splitlines():
        m = METRIC.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        if name == "sahulat_replica_fallbacks_total":
            reason = re.search(r'reason="([^"]*)"', labels).group(1)
            out["fallbacks"][reason] = value
        else:
            out[name.replace("sahulat_replica_", "")] = value
    return out


def scrape(port):
    """One instance's replica metrics, with `at` (when the answer came) and `lines` (the
    sahulat_replica_* lines as served): (metrics, None), or (None, why) when no attempt was
    answered. On a loaded machine an instance may take longer than the first attempt's 1 s
    to answer; a missing scrape proves nothing either way, so it is tried once more (2 s)."""
    why = None
    for timeout in (1.0, 2.0):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            c.request("GET", "/metrics")
            r = c.getresponse()
            text = r.read().decode()
            c.close()
        except (OSError, http.client.HTTPException) as e:
            why = f"{type(e).__name__} after {timeout:g} s"
            continue
        if r.status != 200:
            why = f"http {r.status}"
            continue
        m = parse_metrics(text)
        m["at"] = now()
        m["lines"] = [line for line in text.splitlines() if line.startswith("sahulat_replica_")]
        return m, None
    return None, why


# --- the run ---------------------------------------------------------------------------

class Run:
    def __init__(self, args):
        self.args = args
        self.host, self.port = split_url(args.url)
        self.lock = threading.Lock()
        self.phase = "start"
        self.marks = [(now(), "start")]  # (time, phase)
        self.wall = [time.time()]  # the wall-clock time of each mark (nginx's log has that)
        self.stop = threading.Event()
        self.reads = []  # (t_start, phase, op, ok, served, detail)
        self.writes = []  # dicts from register() + t, phase
        self.acked = []  # (t_ack, household_id, household_number, dashed id)
        self.scrapes = []  # (t, [metrics or None per instance])
        self.scrape_errors = []  # (t, instance index, why) of the scrapes that got no answer
        self.ids = Ids(0)
        self.token = None

    def set_phase(self, name):
        with self.lock:
            if name != self.phase:
                self.phase = name
                self.marks.append((now(), name))
                self.wall.append(time.time())

    def control(self):
        last = None
        while not self.stop.is_set():
            try:
                with open(self.args.control) as f:
                    name = f.read().strip()
            except OSError:
                name = last
            if name and name != last:
                last = name
                if name == "stop":
                    self.stop.set()
                    break
                self.set_phase(name)
            time.sleep(0.02)

    def visible(self):
        """Households acknowledged at least READ_AFTER seconds ago."""
        limit = now() - READ_AFTER
        with self.lock:
            # acked is in time order: a bisection over the acknowledgement times.
            lo, hi = 0, len(self.acked)
            while lo < hi:
                mid = (lo + hi) // 2
                if self.acked[mid][0] <= limit:
                    lo = mid + 1
                else:
                    hi = mid
            return self.acked[random.randrange(lo)] if lo else None

    def writer(self):
        conn = Conn(self.host, self.port)
        while not self.stop.is_set():
            phase = self.phase
            t = now()
            try:
                r = register(conn, self.token, self.args.district, self.ids)
            except Exception as e:  # a bad answer is a failed registration, never a dead writer
                r = {"key": None, "digits": "", "attempts": 1, "retried": False, "status": None,
                     "household_id": None, "household_number": None, "replayed": False,
                     "error": f"client: {type(e).__name__}", "latency": now() - t}
                conn.close()
            r["t"], r["phase"] = t, phase
            with self.lock:
                self.writes.append(r)
                if r["household_id"]:
                    self.acked.append((now(), r["household_id"], r["household_number"], r["digits"]))
            time.sleep(self.args.write_pause)

    def reader(self, seed):
        rnd = random.Random(seed)
        conn = Conn(self.host, self.port)
        auth = {"authorization": f"Bearer {self.token}"}
        while not self.stop.is_set():
            target = self.visible()
            if target is None:
                time.sleep(0.05)
                continue
            _, hid, number, digits = target
            op = rnd.choice(("get", "search_id", "search_number"))
            if op == "get":
                path = f"/api/v1/households/{hid}"
            elif op == "search_id":
                path = f"/api/v1/households?id_number={digits}"
            else:
                path = f"/api/v1/households?household_number={number}"
            phase, t = self.phase, now()
            ok, served, detail = False, None, None
            try:
                status, hdrs, data = conn.request("GET", path, headers=auth)
                served = hdrs.get("x-sahulat-read")
                if status != 200:
                    detail = f"http {status}"
                else:
                    body = json.loads(data)
                    found = [body["id"]] if op == "get" else [h["id"] for h in body["items"]]
                    ok = found == [hid]
                    if not ok:
                        detail = f"{len(found)} found, expected exactly the household"
            except (OSError, http.client.HTTPException) as e:
                detail = f"network: {type(e).__name__}"
            except (ValueError, KeyError, TypeError) as e:
                detail = f"bad answer: {type(e).__name__}"
            with self.lock:
                self.reads.append((t, phase, op, ok, served, detail, now() - t))
            time.sleep(self.args.read_pause)

    def scraper(self):
        ports = self.args.metrics
        while not self.stop.is_set():
            t = now()
            got, errors = [], []
            for i, p in enumerate(ports):
                m, why = scrape(p)
                got.append(m)
                if m is None:
                    errors.append((now(), i, why))
            with self.lock:
                self.scrapes.append((t, got))
                self.scrape_errors += errors
            self.stop.wait(max(0.0, self.args.scrape_interval - (now() - t)))

    def go(self):
        self.token = login(self.args.url, self.args.username, self.args.password)
        threads = [threading.Thread(target=self.control, daemon=True),
                   threading.Thread(target=self.scraper, daemon=True)]
        threads += [threading.Thread(target=self.writer, daemon=True) for _ in range(self.args.writers)]
        threads += [threading.Thread(target=self.reader, args=(i,), daemon=True) for i in range(self.args.readers)]
        for t in threads:
            t.start()
        with open(self.args.ready, "w") as f:
            f.write("ready\n")
        self.stop.wait()
        for t in threads:
            t.join(timeout=40)
        self.marks.append((now(), "stop"))
        self.wall.append(time.time())
        return Report(self).check()


# --- the checks and figures ------------------------------------------------------------

def pct(values, q):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


class Report:
    def __init__(self, run):
        self.r = run
        self.failures = []
        self.lines = []

    def fail(self, text):
        self.failures.append(text)
        self.lines.append(f"  FAIL: {text}")

    def ok(self, text):
        self.lines.append(f"  ok:   {text}")

    def window(self, name):
        """(start, end) of the first time phase `name` was set."""
        marks = self.r.marks
        for i, (t, p) in enumerate(marks):
            if p == name:
                return t, marks[i + 1][0] if i + 1 < len(marks) else now()
        return None

    def fallback_delta(self, t0, t1):
        """Fallbacks by reason summed over the instances between two times (counter resets
        of a restarted instance counted from zero)."""
        total = {}
        n = len(self.r.args.metrics)
        for i in range(n):
            prev = None
            for t, got in self.r.scrapes:
                m = got[i]
                if m is None:
                    continue
                cur = m["fallbacks"]
                if t < t0:
                    prev = cur
                    continue
                if t > t1:
                    break
                if prev is not None:
                    for reason, v in cur.items():
                        before = prev.get(reason, 0.0)
                        d = v - before if v >= before else v
                        total[reason] = total.get(reason, 0.0) + d
                else:
                    for reason, v in cur.items():
                        total[reason] = total.get(reason, 0.0)
                prev = cur
        return {k: int(v) for k, v in sorted(total.items()) if v}

    def lag_max(self, t0, t1):
        lag_s, lag_b = 0.0, 0.0
        for t, got in self.r.scrapes:
            if t0 <= t <= t1:
                for m in got:
                    if m is not None:
                        lag_s = max(lag_s, m.get("lag_seconds", 0.0))
                        lag_b = max(lag_b, m.get("lag_bytes", 0.0))
        return lag_s, lag_b

    def phase_rows(self):
        r = self.r
        names = []
        for _, p in r.marks:
            if p not in names and p not in ("start", "stop"):
                names.append(p)
        rows = []
        for p in names:
            t0, t1 = self.window(p)
            reads = [x for x in r.reads if x[1] == p]
            writes = [w for w in r.writes if w["phase"] == p]
            rows.append({
                "phase": p,
                "seconds": t1 - t0,
                "reads": len(reads),
                "read_errors": sum(1 for x in reads if not x[3]),
                "replica": sum(1 for x in reads if x[4] == "replica"),
                "primary": sum(1 for x in reads if x[4] == "primary"),
                "read_p99_ms": 1000 * pct([x[6] for x in reads], 0.99),
                "writes": len(writes),
                "acked": sum(1 for w in writes if w["household_id"]),
                "write_errors": sum(1 for w in writes if not w["household_id"]),
                "retries": sum(1 for w in writes if w["retried"]),
                "replayed": sum(1 for w in writes if w["replayed"]),
                "write_p99_ms": 1000 * pct([w["latency"] for w in writes], 0.99),
                "lag": self.lag_max(t0, t1),
                "fallbacks": self.fallback_delta(t0, t1),
                "nginx_retried": self.nginx_retried(p),
            })
        return rows

    def nginx_retried(self, phase, sent=None):
        """Requests nginx passed to a second instance in this phase (its access log lists
        every instance tried: up=A, B us=502, 200 ub=0, 1069), by wall-clock second. With
        `sent`, only those whose failed first try had been sent (ub > 0) with that method."""
        d = self.r.args.logs
        if not d:
            return 0
        if not hasattr(self, "_retried"):
            self._retried = []  # (time, method, bytes sent on the first try)
            stamp = re.compile(r'\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d)\] "(\S+) .* us=\S+, \S+(?: ub=(\d+),)?')
            try:
                with open(os.path.join(d, "nginx", "sahulat.log")) as f:
                    for line in f:
                        m = stamp.search(line)
                        if m:
                            self._retried.append((datetime.datetime.fromisoformat(m.group(1)).timestamp(),
                                                  m.group(2), int(m.group(3) or 0)))
            except OSError:
                pass
        names = [p for _, p in self.r.marks]
        i = names.index(phase)
        t0 = int(self.r.wall[i])
        t1 = int(self.r.wall[i + 1]) if i + 1 < len(self.r.wall) else time.time()
        # Second resolution: a second shared by two phases counts in the later one.
        return sum(1 for t, method, first in self._retried
                   if (t0 < t <= t1 or (i == 1 and t == t0)) and (sent is None or (first > 0 and method == sent)))

    def check_phases(self, rows):
        by = {row["phase"]: row for row in rows}
        r = self.r
        for name in ("0-warm-up", "1-kill-9", "2-sigterm-rolling"):
            if name not in by:
                self.fail(f"phase {name} did not run")
        for row in rows:
            name = row["phase"]
            if row["reads"] == 0:
                self.fail(f"{name}: no reads at all (the load did not run)")
            if row["read_errors"]:
                details = sorted({x[5] for x in r.reads if x[1] == name and not x[3]})
                self.fail(f"{name}: {row['read_errors']} failed reads ({'; '.join(details[:4])})")
            if row["write_errors"]:
                lost = {w["error"] or "?" for w in r.writes if w["phase"] == name and not w["household_id"]}
                self.fail(f"{name}: {row['write_errors']} registrations not acknowledged, even after the retry "
                          f"({'; '.join(sorted(lost)[:4])})")
            if name.startswith("2") and row["retries"]:
                # The rolling restart needs no client retry: a stopping instance drains first
                # (SIGTERM, SAHULAT_SHUTDOWN_DRAIN_SECS) and nginx passes a registration with its
                # Idempotency-Key on to another instance when it met one anyway (deploy/README.md).
                why = {w.get("retry_cause") or "?" for w in r.writes if w["phase"] == name and w["retried"]}
                self.fail(f"{name}: {row['retries']} registrations needed a client retry during the SIGTERM "
                          f"rolling restart ({'; '.join(sorted(why)[:4])})")
            if name.startswith(("1", "2")) and not row["read_errors"] and not row["write_errors"] \
                    and not (name.startswith("2") and row["retries"]):
                retries = f"{row['retries']} after a client retry"
                sent = {m: self.nginx_retried(name, sent=m) for m in ("GET", "POST")}
                self.ok(f"{name}: {row['reads']} reads, 0 failed; {row['writes']} registrations, all acknowledged "
                        f"({retries}); nginx passed {row['nginx_retried']} requests on to another instance, "
                        f"{sent['GET']} GETs and {sent['POST']} POSTs of them after the first instance had them")
        self.check_pause(by)
        self.check_stopped(by)

    def check_pause(self, by):
        r = self.r
        paused = self.window("3-paused")
        resumed = self.window("3-resumed")
        if not paused or not resumed:
            self.fail("the pause/resume phases did not run")
            return
        t0, t1 = paused
        n = len(r.args.metrics)
        # Lag in the metrics within two scrapes: the first or second scrape after the pause
        # shows every instance with WAL waiting (lag_bytes > 0) and not usable.
        after = [(t, got) for t, got in r.scrapes if t0 <= t <= t1]
        seen_at = None
        for i, (t, got) in enumerate(after[:2]):
            if all(m is not None and m.get("lag_bytes", 0) > 0 and m.get("usable", 1) == 0 for m in got):
                # Known once the last instance has answered, not when the sweep began: on a
                # loaded machine the answers may come a second or more after that.
                seen_at = (i + 1, max(m["at"] for m in got) - t0)
                break
        if seen_at:
            self.ok(f"replay paused: every instance's metrics showed the lag (lag_bytes > 0, usable 0) "
                    f"in scrape {seen_at[0]} after the pause (all answered {seen_at[1]:.1f} s after it)")
            detected = t0 + seen_at[1]
        else:
            shown = [[(m or {}).get("lag_bytes"), (m or {}).get("usable")] for _, got in after[:2] for m in got]
            self.fail(f"the lag did not show in the metrics within two scrapes after the pause ({shown})")
            detected = t0 + 2 * r.args.scrape_interval
        # Reads move to the primary once every instance knows (its monitor runs each second).
        late = [x for x in r.reads if x[1] == "3-paused" and x[0] >= detected + 1.0]
        on_replica = sum(1 for x in late if x[4] == "replica")
        if not late:
            self.fail("no reads while the replica was paused")
        elif on_replica:
            when = ", ".join(f"{x[0] - t0:.2f}" for x in late if x[4] == "replica")
            self.fail(f"{on_replica} of {len(late)} reads went to the paused replica after its lag was known "
                      f"({detected - t0:.2f} s after the pause; those reads began {when} s after it)"
                      + self.replica_metrics(t0 - 1.0, t1, t0, "pause", "the resume"))
        else:
            self.ok(f"while paused: {len(late)} reads after the lag was known, all answered by the primary")
        lagfb = by["3-paused"]["fallbacks"].get("lag", 0)
        if lagfb > 0:
            self.ok(f"while paused: sahulat_replica_fallbacks_total{{reason=\"lag\"}} rose by {lagfb}")
        else:
            self.fail("while paused: sahulat_replica_fallbacks_total{reason=\"lag\"} did not rise")
        # Back to the replica once replay resumes. run.sh stops the replica after this phase
        # and marks phase 4 only once pg_ctl has returned, so the last moments of the phase may
        # already see the replica going down: the checks end where run.sh noted (--events) that
        # it was about to stop it.
        u0, u1 = resumed
        end = u1
        if r.args.events:
            end = self.event("replica-stopping")
            if end is None or not u0 < end <= u1:
                self.fail(f"run.sh noted no replica-stopping time within phase 3-resumed in {r.args.events}")
                return
        back = [x for x in r.reads if x[1] == "3-resumed" and x[4] == "replica"]
        if back:
            first = min(x[0] for x in back) - u0
            tail = [x for x in r.reads if x[1] == "3-resumed" and end - 2.0 <= x[0] <= end]
            share = sum(1 for x in tail if x[4] == "replica") / max(1, len(tail))
            if share >= 0.9:
                self.ok(f"after resume: reads back on the replica {first:.1f} s later; "
                        f"{100 * share:.0f}% of the last 2 s on the replica")
            else:
                self.fail(f"after resume: only {100 * share:.0f}% of the reads in the last 2 s on the replica")
        else:
            self.fail("after resume: no read went back to the replica")
        # Every instance's metrics show the replica usable again once its monitor has probed
        # after the resume (within RESUMED_WITHIN), and in every scrape after that until the
        # replica is stopped, the last of them in the final 3 s: not one lucky sample, and not
        # a sample taken while the replica was already being stopped.
        problems, within = [], []
        for i in range(len(r.args.metrics)):
            seen = [got[i] for _, got in r.scrapes if got[i] is not None and u0 <= got[i]["at"] <= end]
            first = next((m for m in seen if m.get("usable") == 1), None)
            if first is None or first["at"] - u0 > RESUMED_WITHIN:
                problems.append(f"instance {i + 1}: sahulat_replica_usable not 1 within {RESUMED_WITHIN:g} s "
                                f"of the resume")
            elif any(m.get("usable") != 1 for m in seen if m["at"] >= first["at"]):
                problems.append(f"instance {i + 1}: sahulat_replica_usable 0 again before the replica was stopped")
            elif seen[-1]["at"] < end - 3.0:
                problems.append(f"instance {i + 1}: no answered scrape in the last 3 s before the replica was stopped")
            else:
                within.append((first["at"] - u0, sum(1 for m in seen if m["at"] >= first["at"])))
        if problems:
            self.fail("after resume: " + "; ".join(problems)
                      + self.replica_metrics(u0 - 1.0, end, u0, "resume", "the replica's stop began"))
        else:
            # The scrapes left out: answered after the stop began, before phase 4 was marked.
            gap = [m for _, got in r.scrapes for m in got if m is not None and end < m["at"] <= u1]
            self.ok("after resume: sahulat_replica_usable 1 on every instance "
                    f"({', '.join(f'{t:.1f}' for t, _ in within)} s after the resume, within {RESUMED_WITHIN:g} s) "
                    f"and in every scrape after that until the replica's stop began "
                    f"({', '.join(str(n) for _, n in within)} scrapes); phase 4 was marked {u1 - end:.1f} s after "
                    f"the stop began, {len(gap)} instance scrapes in between left out "
                    f"({sum(1 for m in gap if m.get('usable') != 1)} with usable 0)")

    def event(self, name):
        """When run.sh noted `name` in the --events file (a line `NAME UNIX_TIME`), on this
        process's monotonic clock; None when it did not."""
        r = self.r
        offset = r.wall[0] - r.marks[0][0]
        try:
            with open(r.args.events) as f:
                for line in f:
                    got, _, wall = line.strip().partition(" ")
                    if got == name:
                        return float(wall) - offset
        except (OSError, ValueError):
            pass
        return None

    def replica_metrics(self, t0, end, zero, zero_name, end_name):
        """Every instance's scrapes between t0 and a second after `end` (times from `zero`,
        when they were answered), and the sahulat_replica_* lines of its last answered scrape
        before `end`: what a failed replica check prints, so it can be read without a rerun."""
        r = self.r
        out = []
        for i, port in enumerate(r.args.metrics):
            out.append(f"\n    instance {i + 1} (metrics port {port}), seconds from the {zero_name} "
                       f"({end_name} at {end - zero:+.1f}):")
            points = [(m["at"], f"usable={m.get('usable', -1):g} lag_bytes={m.get('lag_bytes', -1):.0f} "
                                f"lag_seconds={m.get('lag_seconds', -1):.2f}")
                      for _, got in r.scrapes for m in [got[i]] if m is not None and t0 <= m["at"] <= end + 1.0]
            points += [(t, f"no answer ({why})") for t, j, why in r.scrape_errors if j == i and t0 <= t <= end + 1.0]
            out += [f"\n      {t - zero:+5.1f} {text}" for t, text in sorted(points)]
            last = [m for _, got in r.scrapes for m in [got[i]] if m is not None and m["at"] <= end]
            if last:
                out += [f"\n      last before {end - zero:+.1f}: {line}" for line in last[-1]["lines"]]
        return "".join(out)

    def check_stopped(self, by):
        r = self.r
        w = self.window("4-replica-stopped")
        if not w:
            self.fail("the replica-stopped phase did not run")
            return
        t0, _ = w
        reads = [x for x in r.reads if x[1] == "4-replica-stopped"]
        late = [x for x in reads if x[0] >= t0 + 2.0]
        on_replica = sum(1 for x in late if x[4] == "replica")
        if not reads:
            self.fail("no reads with the replica stopped")
        elif on_replica:
            self.fail(f"{on_replica} reads answered by the stopped replica")
        else:
            fb = by["4-replica-stopped"]["fallbacks"]
            self.ok(f"replica stopped: {len(reads)} reads, all answered (by the primary after it went down; "
                    f"fallbacks {fb or '{}'})")

    def check_database(self):
        """Every acknowledged registration stored exactly once; no ID number stored twice;
        nothing stored for a key that does not match its acknowledgement."""
        r = self.r
        url = r.args.database

        def q(sql):
            out = subprocess.run(["psql", url, "-XqAt", "-v", "ON_ERROR_STOP=1", "-F", "\t", "-c", sql],
                                 check=True, capture_output=True, text=True).stdout
            return [line.split("\t") for line in out.splitlines() if line]

        households = {row[0] for row in q("SELECT id FROM households")}
        members = q("SELECT id_number, household_id FROM members WHERE id_number IS NOT NULL")
        per_number = {}
        for number, hid in members:
            per_number.setdefault(number, []).append(hid)
        keys = {}
        for key, status, body in q("SELECT idempotency_key, status_code, response_body FROM idempotency_keys"):
            try:
                keys[key] = (int(status), json.loads(body)["id"])
            except (ValueError, KeyError, TypeError):
                keys[key] = (int(status), None)
        acked = [w for w in r.writes if w["household_id"]]
        attempted = r.writes
        missing = [w for w in acked if w["household_id"] not in households]
        wrong = [w for w in acked if per_number.get(w["digits"]) != [w["household_id"]]]
        keyed = [w for w in acked if keys.get(w["key"], (0, None))[1] != w["household_id"]]
        dupes = [n for n, hs in per_number.items() if len(hs) > 1]
        # Unacknowledged attempts: stored at most once (their key's answer names it, if any).
        unacked_stored = 0
        for w in attempted:
            if w["household_id"]:
                continue
            stored = per_number.get(w["digits"], [])
            if len(stored) > 1:
                dupes.append(w["digits"])
            if stored:
                unacked_stored += 1
        ours = sum(1 for w in attempted if w["digits"] in per_number)
        if missing:
            self.fail(f"{len(missing)} acknowledged households are not in the primary's database")
        if wrong:
            self.fail(f"{len(wrong)} acknowledged ID numbers are not stored exactly once, in the acknowledged household")
        if keyed:
            self.fail(f"{len(keyed)} acknowledged registrations whose Idempotency-Key does not name their household")
        if dupes:
            self.fail(f"{len(set(dupes))} ID numbers stored in more than one household")
        if not (missing or wrong or keyed or dupes):
            self.ok(f"database: {len(acked)} acknowledged registrations, each stored exactly once under its key "
                    f"(one household, one member row with its ID number); {len(households)} households in all, "
                    f"no ID number twice")
        return {"acknowledged": len(acked), "attempted": len(attempted), "stored_of_attempted": ours,
                "unacknowledged_but_stored": unacked_stored, "households_in_db": len(households)}

    def check_logs(self):
        """No ID number in the instances' logs or nginx's (the load's are all synthetic,
        dashed or not)."""
        d = self.r.args.logs
        if not d:
            return
        numbers = set()
        for w in self.r.writes:
            if not w["digits"]:
                continue
            numbers.add(w["digits"])
            numbers.add(f"{w['digits'][:5]}-{w['digits'][5:12]}-{w['digits'][12]}")
        found = re.compile(r"\d{5}-?\d{7}-?\d")
        files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.startswith("instance-"))
        files += sorted(os.path.join(d, "nginx", f) for f in os.listdir(os.path.join(d, "nginx")) if f.endswith(".log"))
        for path in files:
            try:
                with open(path, errors="replace") as f:
                    hits = sum(1 for line in f for m in found.findall(line) if m in numbers)
            except OSError:
                continue
            name = os.path.relpath(path, d)
            lines = sum(1 for _ in open(path, errors="replace"))
            if hits:
                self.fail(f"{name}: {hits} ID numbers in the log")
            else:
                self.ok(f"{name}: no ID number in {lines} lines")

    def check(self):
        rows = self.phase_rows()
        self.check_phases(rows)
        db = self.check_database()
        self.check_logs()
        r = self.r
        total_reads = len(r.reads)
        total_read_errors = sum(1 for x in r.reads if not x[3])
        print()
        print("== figures per phase (reads: search by ID number, by household number, GET household; "
              "writes: registrations with an Idempotency-Key)")
        head = (f"{'phase':<20}{'secs':>5}{'reads':>7}{'err':>5}{'replica':>8}{'primary':>8}{'p99ms':>7}"
                f"{'writes':>8}{'acked':>6}{'err':>5}{'retry':>6}{'replay':>7}{'p99ms':>7}"
                f"{'lag s':>7}{'lag bytes':>11}{'ngx2nd':>7}  fallbacks")
        print(head)
        for row in rows:
            fb = ",".join(f"{k}={v}" for k, v in row["fallbacks"].items()) or "-"
            print(f"{row['phase']:<20}{row['seconds']:>5.0f}{row['reads']:>7}{row['read_errors']:>5}"
                  f"{row['replica']:>8}{row['primary']:>8}{row['read_p99_ms']:>7.0f}"
                  f"{row['writes']:>8}{row['acked']:>6}{row['write_errors']:>5}{row['retries']:>6}"
                  f"{row['replayed']:>7}{row['write_p99_ms']:>7.0f}{row['lag'][0]:>7.2f}{row['lag'][1]:>11.0f}"
                  f"{row['nginx_retried']:>7}  {fb}")
        print(f"{'all':<20}{'':>5}{total_reads:>7}{total_read_errors:>5}"
              f"{sum(x['replica'] for x in rows):>8}{sum(x['primary'] for x in rows):>8}{'':>7}"
              f"{len(r.writes):>8}{db['acknowledged']:>6}{sum(x['write_errors'] for x in rows):>5}"
              f"{sum(x['retries'] for x in rows):>6}{sum(x['replayed'] for x in rows):>7}")
        print(f"stored: {db['acknowledged']} acknowledged of {db['attempted']} attempted registrations; "
              f"{db['unacknowledged_but_stored']} unacknowledged but stored once; "
              f"{db['households_in_db']} households in the primary's database; "
              f"{len(r.scrapes)} scrapes of {len(r.args.metrics)} instances every {r.args.scrape_interval:g} s")
        print()
        print("== checks")
        for line in self.lines:
            print(line)
        summary = {"reads": total_reads, "read_errors": total_read_errors, "writes": len(r.writes), **db,
                   "failures": self.failures, "phases": [{k: v for k, v in row.items()} for row in rows]}
        with open(r.args.summary, "w") as f:
            json.dump(summary, f, indent=1)
        return 0 if not self.failures else 1


def cpu_seconds(spec):
    """CPU seconds (user + system) used so far by a group `PID,PID+,...`: a PID with `+`
    counts its children too, those alive and those it has reaped (PostgreSQL's backends,
    nginx's workers)."""
    tick = os.sysconf("SC_CLK_TCK")

    def stat(pid):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields  # fields[0] is the state (field 3 of stat)

    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents.setdefault(int(stat(entry)[1]), []).append(int(entry))
            except (OSError, IndexError):
                pass
    total = 0
    for item in spec.split(","):
        if not item:
            continue
        pid, children = int(item.rstrip("+")), item.endswith("+")
        try:
            f = stat(pid)
            total += int(f[11]) + int(f[12]) + (int(f[13]) + int(f[14]) if children else 0)
            for child in parents.get(pid, []) if children else []:
                c = stat(child)
                total += int(c[11]) + int(c[12])
        except (OSError, IndexError):
            pass
    return total / tick


def throughput(args):
    host, port = split_url(args.url)
    groups = [g.split("=", 1) for g in args.cpu]
    cpu_before = {name: cpu_seconds(spec) for name, spec in groups}
    own_before = sum(os.times()[:2])
    token = login(args.url, args.username, args.password)
    ids = Ids(args.series)
    results, lock = [], threading.Lock()
    deadline = now() + args.seconds

    districts = args.district.split(",")
    turn = iter(range(10**9))

    def client():
        conn = Conn(host, port)
        while now() < deadline:
            r = register(conn, token, districts[next(turn) % len(districts)], ids, retry=True)
            with lock:
                results.append(r)

    started = now()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = now() - started
    cpu = {name: round(cpu_seconds(spec) - cpu_before[name], 1) for name, spec in groups}
    cpu["client"] = round(sum(os.times()[:2]) - own_before, 1)
    ok = [r for r in results if r["household_id"]]
    lat = [r["latency"] for r in ok]
    print(json.dumps({"clients": args.clients, "districts": len(districts), "seconds": round(elapsed, 2), "registrations": len(ok),
                      "per_second": round(len(ok) / elapsed, 1), "p50_ms": round(1000 * pct(lat, 0.5), 1),
                      "p99_ms": round(1000 * pct(lat, 0.99), 1),
                      "errors": len(results) - len(ok), "retries": sum(1 for r in results if r["retried"]),
                      "cpu_seconds": cpu}))
    return 0 if len(ok) == len(results) and ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("run", "throughput"):
        s = sub.add_parser(name)
        s.add_argument("--url", required=True, help="nginx, http://127.0.0.1:PORT")
        s.add_argument("--username", required=True)
        s.add_argument("--password", default=os.environ.get("DEMO_PASSWORD"))
        s.add_argument("--district", default="swat", help="throughput: a comma-separated list, taken in turn")
    run = sub.choices["run"]
    run.add_argument("--metrics", type=int, nargs="+", required=True, help="the instances' metrics ports")
    run.add_argument("--database", required=True, help="the primary's URL, for psql")
    run.add_argument("--control", required=True)
    run.add_argument("--ready", required=True)
    run.add_argument("--summary", required=True)
    run.add_argument("--events", help="a file of `NAME UNIX_TIME` lines run.sh writes (replica-stopping: "
                     "the end of what the resume checks look at)")
    run.add_argument("--logs", help="the demo's directory: instance-*.log, nginx/*.log (nginx/sahulat.log the access log)")
    run.add_argument("--readers", type=int, default=4)
    run.add_argument("--writers", type=int, default=3)
    run.add_argument("--read-pause", type=float, default=0.01)
    run.add_argument("--write-pause", type=float, default=0.05)
    run.add_argument("--scrape-interval", type=float, default=1.0)
    tp = sub.choices["throughput"]
    tp.add_argument("--clients", type=int, default=8)
    tp.add_argument("--seconds", type=float, default=5.0)
    tp.add_argument("--series", type=int, required=True, choices=range(1, 100), metavar="1-99",
                    help="this run's series of ID numbers (the load's is 0)")
    tp.add_argument("--cpu", action="append", default=[], metavar="NAME=PID,PID+",
                    help="report the CPU seconds a group of processes used (PID+: with its children)")
    args = p.parse_args()
    if not args.password:
        raise SystemExit("the password: --password or DEMO_PASSWORD")
    if args.cmd == "run":
        return Run(args).go()
    return throughput(args)


if __name__ == "__main__":
    sys.exit(main())
