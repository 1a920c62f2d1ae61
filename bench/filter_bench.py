"""Filter scan benchmark: fail2ban-regex over a generated MeshMonitor access log.

Compares, in one run on one file:
  - the guide's filter (bench/guide-filter.conf, the baseline),
  - this collection's filter (roles/jail/files/filter.d/meshmonitor.conf),
  - a raw Python `re` scan of the same file for failed logins (the floor: no fail2ban at all).
Figures are times and ratios to the guide's filter. Run through `make bench`; not a timed test.
"""
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDE = os.path.join(ROOT, "bench", "guide-filter.conf")
OURS = os.path.join(ROOT, "roles", "jail", "files", "filter.d", "meshmonitor.conf")
LINES = int(os.environ.get("BENCH_LINES", "200000"))

ROUTES = [("GET", "/", 200), ("GET", "/api/nodes", 200), ("GET", "/api/auth/status", 200),
          ("GET", "/assets/index.js", 200), ("POST", "/api/auth/logout", 200), ("GET", "/api/messages", 200)]
AGENTS = ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
          'curl/8.5.0', 'python-requests/2.31.0']


# fail2ban as Debian packages it, unpacked by lab/setup.sh (the host's release) and
# lab/unpack-fail2ban.sh (Debian 13's): the two versions users run.
FAIL2BANS = [os.path.join(ROOT, ".venv", "fail2ban"), os.path.join(ROOT, ".cache", "fail2ban-trixie")]


def fail2ban_version(unpacked):
    with open(os.path.join(unpacked, "usr", "lib", "python3", "dist-packages", "fail2ban", "version.py")) as source:
        return re.search(r'^version = "([^"]+)"', source.read(), re.M).group(1)


def fail2ban_regex(unpacked):
    return (["env", "PYTHONPATH=%s/usr/lib/python3/dist-packages" % unpacked, sys.executable,
             os.path.join(unpacked, "usr", "bin", "fail2ban-regex")])


def write_log(path, lines, seed=7):
    """A realistic mix: mostly dashboard traffic, about 1% failed logins, some successes."""
    rng = random.Random(seed)
    start = time.time() - lines
    with open(path, "w") as log:
        for i in range(lines):
            client = "::ffff:203.0.113.%d" % rng.randrange(1, 255)
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(start + i))
            roll = rng.random()
            if roll < 0.01:
                method, path_, status = "POST", "/api/auth/login", rng.choice((401, 401, 401, 403))
            elif roll < 0.012:
                method, path_, status = "POST", "/api/auth/login", 200
            else:
                method, path_, status = rng.choice(ROUTES)
            log.write('%s - - [%s] "%s %s HTTP/1.1" %d %d "https://mesh.example.org/" "%s"\n'
                      % (client, stamp, method, path_, status, rng.randrange(20, 5000), rng.choice(AGENTS)))


def run(unpacked, filter_path, log):
    start = time.perf_counter()
    out = subprocess.run(fail2ban_regex(unpacked) + [log, filter_path], capture_output=True, text=True,
                         check=True, env={**os.environ, "TZ": "UTC"}).stdout
    elapsed = time.perf_counter() - start
    matched = int(re.search(r"Lines: \d+ lines, \d+ ignored, (\d+) matched", out).group(1))
    return elapsed, matched


def raw_scan(log):
    pattern = re.compile(r'^(\S+) .*?"POST /api/auth/login HTTP/[\d.]+" (?:401|403) ')
    start = time.perf_counter()
    with open(log) as lines:
        matched = sum(1 for line in lines if pattern.match(line))
    return time.perf_counter() - start, matched


def main():
    found = [path for path in FAIL2BANS if os.path.isdir(path)]
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "access.log")
        write_log(log, LINES)
        runs = [(fail2ban_version(path), run(path, GUIDE, log), run(path, OURS, log)) for path in found]
        floor = raw_scan(log)
    print("## Filter scan (fail2ban-regex, %d lines, ~1%% failed logins)\n" % LINES)
    print("Machine: %s, %d cores, Python %s\n" % (platform.machine(), os.cpu_count() or 0, platform.python_version()))
    print("| fail2ban | scan | time (s) | matched | speed vs the guide's filter |")
    print("|---|---|---:|---:|---:|")
    for version, guide, ours in runs:
        for name, (elapsed, matched) in (("guide's filter (baseline)", guide), ("meshmonitor.conf", ours),
                                         ("raw Python re (floor)", floor)):
            print("| %s | %s | %.2f | %d | %.1fx |" % (version, name, elapsed, matched, guide[0] / elapsed))
    print()
    for version, guide, ours in runs:
        print("fail2ban %s: at least 10x faster than the guide's filter: %s (%.1fx)"
              % (version, "yes" if guide[0] / ours[0] >= 10 else "NO", guide[0] / ours[0]))
        if ours[1] != guide[1]:
            print("Note: match counts differ (%d vs %d)" % (ours[1], guide[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
