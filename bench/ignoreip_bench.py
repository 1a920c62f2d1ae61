"""Benchmark the ignoreip filter plugin on 10,000 and 100,000 entries.

Baseline, measured in the same process: parsing every entry with ipaddress.ip_network and
nothing else, the least any validating implementation must do. The figure that matters is
the ratio; the absolute time is printed for the issue's goal (100,000 entries under 3 s).
Run through `make bench`; not a timed test.
"""
import ipaddress
import os
import platform
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))

from ansible_collections.meshmonitor.fail2ban.plugins.filter.ignoreip import ignoreip  # noqa: E402


def entries(count, seed=1):
    """A realistic mix: IPv4 hosts and networks, IPv6, mapped IPv4, names, duplicates."""
    rng = random.Random(seed)
    made = []
    for i in range(count):
        kind = i % 10
        if kind < 5:
            made.append(str(ipaddress.IPv4Address(rng.getrandbits(32))))
        elif kind < 7:
            prefix = rng.randint(16, 30)
            made.append(str(ipaddress.ip_network((rng.getrandbits(32), prefix), strict=False)))
        elif kind == 7:
            made.append(str(ipaddress.IPv6Address((0x20010db8 << 96) | rng.getrandbits(64))))
        elif kind == 8:
            made.append("::ffff:" + str(ipaddress.IPv4Address(rng.getrandbits(32))))
        else:
            made.append(made[rng.randrange(len(made))] if made else "proxy.example.org")
    return made


def best_of(runs, func, *args):
    best = float("inf")
    for _run in range(runs):
        start = time.perf_counter()
        func(*args)
        best = min(best, time.perf_counter() - start)
    return best


def parse_only(values):
    for value in values:
        ipaddress.ip_network(value, strict=False)


def main():
    rows = []
    for count in (10_000, 100_000):
        values = entries(count)
        baseline = best_of(3, parse_only, values)
        measured = best_of(3, ignoreip, values)
        rows.append((count, baseline, measured))
    print("## ignoreip filter plugin\n")
    print("Machine: %s, %d cores, Python %s\n" % (platform.machine(), os.cpu_count() or 0, platform.python_version()))
    print("| entries | parse-only baseline (s) | ignoreip (s) | ratio to baseline |")
    print("|---:|---:|---:|---:|")
    for count, baseline, measured in rows:
        print("| %d | %.3f | %.3f | %.2fx |" % (count, baseline, measured, measured / baseline))
    goal = rows[-1][2] < 3.0
    print("\n100,000 entries under 3 s: %s" % ("yes" if goal else "NO"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
