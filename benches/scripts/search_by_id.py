#!/usr/bin/env python3
"""Search-by-ID latency against a running sahulat: N random lookups from one keep-alive client.

    search_by_id.py HOST PORT USERNAME PASSWORD IDS_FILE N

IDS_FILE holds one ID number per line, sampled from the database (see README, Benchmarks).
"""
import http.client, json, random, sys, time
host, port, user, password, ids_file, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
ids = [l.strip() for l in open(ids_file) if l.strip()]
random.seed(42)
conn = http.client.HTTPConnection(host, port)
conn.request("POST", "/api/v1/auth/login", json.dumps({"username": user, "password": password}), {"content-type": "application/json"})
token = json.loads(conn.getresponse().read())["access_token"]
lat, errors, found = [], 0, 0
for i in range(n):
    idn = random.choice(ids)
    t = time.perf_counter()
    conn.request("GET", "/api/v1/households?id_number=" + idn, headers={"authorization": "Bearer " + token})
    r = conn.getresponse(); body = r.read()
    lat.append((time.perf_counter() - t) * 1000)
    if r.status != 200: errors += 1
    elif json.loads(body)["items"]: found += 1
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"{n} lookups, {found} found, {errors} errors: p50 {q(0.5):.2f} ms, p95 {q(0.95):.2f} ms, p99 {q(0.99):.2f} ms, max {lat[-1]:.2f} ms")
