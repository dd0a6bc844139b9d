#!/usr/bin/env python3
"""CPU time used while a command runs, by PostgreSQL server and by other program.

    benches/scripts/cpu-by-server.py OPS -- COMMAND [ARG...]

Runs COMMAND and prints, for each PostgreSQL server (named by its data directory) and each
other program that used CPU meanwhile, the seconds of user and system time it used and
those seconds per operation (OPS: how many operations COMMAND performs, e.g. the
registrations of a bench run). The command's own time, with its children's, is the line
`command`. A server's time is its postmaster's and every backend's, including backends
that ended during the run. Reads /proc only (Linux); counts at the kernel's clock tick
(usually 10 ms), so use runs of several seconds. A program that starts and ends during
the run without being COMMAND's child or a server's backend is not seen. Used for the
registration figures in deploy/CITUS.md ("The floor").
"""
import os
import subprocess
import sys

HZ = os.sysconf("SC_CLK_TCK")


def processes():
    """pid -> (parent pid, own ticks, ended children's ticks, command line)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        out[int(pid)] = (int(fields[1]), utime + stime, cutime + cstime, cmd)
    return out


def server_name(cmd):
    """A postmaster's data directory (`-D DIR`, or `config_file=` as Debian starts it),
    None for any other program. Backends are not postmasters: they retitle themselves."""
    words = cmd.split()
    if not words or not words[0].endswith("/postgres"):
        return None
    for i, word in enumerate(words):
        if word == "-D" and i + 1 < len(words):
            return words[i + 1]
        if word.startswith("config_file="):
            return word[len("config_file=") :]
    return words[0]


def snapshot(own_pid):
    procs = processes()
    servers = {pid: server_name(p[3]) for pid, p in procs.items()}
    servers = {pid: name for pid, name in servers.items() if name}
    ticks = {}
    for pid, (ppid, own, ended, cmd) in procs.items():
        if pid == own_pid:
            continue
        if pid in servers:
            key, t = "postgres " + servers[pid], own + ended
        elif ppid in servers:
            key, t = "postgres " + servers[ppid], own
        else:
            key, t = os.path.basename(cmd.split(" ")[0]) or f"[{pid}]", own + ended
        ticks[key] = ticks.get(key, 0) + t
    return ticks


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    ops = float(sys.argv[1])
    before = snapshot(os.getpid())
    child_before = os.times()
    code = subprocess.call(sys.argv[3:])
    child_after = os.times()
    after = snapshot(os.getpid())
    rows = [(after[k] - before.get(k, 0), k) for k in after]
    rows = [(t / HZ, k) for t, k in rows if t > 0]
    command = (child_after.children_user + child_after.children_system) - (
        child_before.children_user + child_before.children_system
    )
    rows.append((command, "command"))
    rows.sort(reverse=True)
    total = sum(t for t, _ in rows)
    for t, k in rows:
        if t >= 0.05:
            print(f"{t:8.2f} s {1000 * t / ops:8.3f} ms/op  {k}")
    print(f"{total:8.2f} s {1000 * total / ops:8.3f} ms/op  all")
    sys.exit(code)


if __name__ == "__main__":
    main()
