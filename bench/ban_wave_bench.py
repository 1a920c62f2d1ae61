"""A botnet wave against fail2ban: N addresses each failing maxretry times at once, then a restart.

Runs fail2ban itself (Debian's, installed into a throwaway container of the lab's target image) on a
log file, with the bans of one jail on two paths (forward and input), as the jail role writes it,
for each firewall:
  - baseline: fail2ban's own command action (nftables, or iptables-multiport), once per path (what
    the role used before);
  - ours: the collection's action, roles/jail/files/action.d/meshmonitor-firewall.py;
  - floor: one `nft -f` (or `ipset restore`) adding the same addresses to a fresh set.
For each: the seconds until every address is banned (and the curve, drawn into bench/ban_wave.png);
across `fail2ban-client restart`, how often a banned address was not banned (sampled in a loop) and
what a real client among the banned addresses (a second container, its address one of the wave's)
got from a port the bans drop, connecting every 50 ms; the seconds until all are back. Then, with
ours alone, BENCH_WAVE_BIG addresses, and a legit client's connection time (p99) with that many
bans against an empty set. Ratios are against the baseline of the same run. Run through
`make bench`; not a timed test. BENCH_WAVE=10000 by default; BENCH_WAVE_BIG=100000 (either 0: skipped).
"""
import ipaddress
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.environ.get("BENCH_IMAGE", "mmf2b-lab/target:trixie")
CONTAINER = "mmf2b-bench-wave"
CLIENTS = {"banned": "mmf2b-bench-banned", "legit": "mmf2b-bench-legit"}
NETWORK, SUBNET = "mmf2b-bench", "10.77.0.0/16"
SERVER, LEGIT = "10.77.255.254", "10.77.255.1"
# The wave's addresses start at the bench network (the banned client is one of them); the big wave
# is off the network.
WAVE_FIRST, BIG_FIRST = int(ipaddress.ip_address("10.77.0.0")), int(ipaddress.ip_address("10.100.0.0"))
WAVE = int(os.environ.get("BENCH_WAVE", "10000"))
BIG = int(os.environ.get("BENCH_WAVE_BIG", "100000"))
MAXRETRY = 5
PORT = 8080
PATHS = "forward:t-fwd:3001,%d:tcp input:t-in:%d:tcp" % (PORT, PORT)
# Per firewall and variant: the jail's action, how to count the input path's bans, how to test one.
VARIANTS = {
    ("nftables", "baseline"): {
        "action": "nftables[type=multiport, actname=t-fwd, name=t-fwd, chain=forward, chain_hook=forward, port=\"3001,%d\", "
                  "blocktype=drop, actionstart_on_demand=false]\n"
                  "         nftables[type=multiport, actname=t-in, name=t-in, chain=input, chain_hook=input, port=\"%d\", "
                  "blocktype=drop, actionstart_on_demand=false]" % (PORT, PORT),
        "count": "nft list set inet f2b-table addr-set-t-in 2>/dev/null | tr ',{}' '\\n\\n\\n' | grep -c '^[[:space:]]*10\\.'",
        "test": "nft get element inet f2b-table addr-set-t-in '{ %s }'",
        "label": "fail2ban's nftables action, per path (baseline)"},
    ("nftables", "ours"): {
        "action": "meshmonitor-firewall.py[firewall=nftables, label=t, paths=\"%s\"]" % PATHS,
        "count": "nft list set inet f2b-t addr-set-t 2>/dev/null | tr ',{}' '\\n\\n\\n' | grep -c '^[[:space:]]*10\\.'",
        "test": "nft get element inet f2b-t addr-set-t '{ %s }'",
        "empty": "nft flush set inet f2b-t addr-set-t",
        "label": "meshmonitor-firewall.py, nftables"},
    ("iptables", "baseline"): {
        "action": "iptables[type=multiport, name=t-fwd, chain=FORWARD, port=\"3001,%d\", protocol=tcp, blocktype=DROP, "
                  "actionstart_on_demand=false]\n"
                  "         iptables[type=multiport, name=t-in, chain=INPUT, port=\"%d\", protocol=tcp, blocktype=DROP, "
                  "actionstart_on_demand=false]" % (PORT, PORT),
        "count": "iptables -w -S f2b-t-in 2>/dev/null | grep -c -- '-s 10\\.'",
        "test": "iptables -w -C f2b-t-in -s %s/32 -j DROP",
        "label": "fail2ban's iptables-multiport action, per path (baseline)"},
    ("iptables", "ours"): {
        "action": "meshmonitor-firewall.py[firewall=iptables, label=t, paths=\"%s\"]" % PATHS,
        "count": "ipset list -t f2b-t 2>/dev/null | sed -n 's/^Number of entries: //p'",
        "test": "ipset test f2b-t %s",
        "empty": "ipset flush f2b-t",
        "label": "meshmonitor-firewall.py, iptables on ipset"},
}
# fail2ban's iptables action at one rule per address slows with every rule: it is stopped there.
TIMEOUT = {"baseline": 600, "ours": 300}

# Connects to host:port every 50 ms until the stop file exists; prints what the connections got.
PROBE = r"""
import json, os, socket, sys, time
host, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
got = {"answered": 0, "dropped": 0, "refused": 0}
while not os.path.exists(stop):
    s = socket.socket()
    s.settimeout(0.3)
    try:
        s.connect((host, port))
        got["answered"] += 1
    except socket.timeout:
        got["dropped"] += 1
    except OSError:
        got["refused"] += 1
    finally:
        s.close()
    time.sleep(0.05)
print(json.dumps(got))
"""
# n requests (connect, GET, first byte) to host:port: their p50 and p99 in ms.
LATENCY = r"""
import json, socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
times = []
for i in range(n):
    start = time.perf_counter()
    s = socket.create_connection((host, port), timeout=2)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    s.recv(1)
    s.close()
    times.append((time.perf_counter() - start) * 1000)
times.sort()
print(json.dumps({"p50": times[n // 2], "p99": times[int(n * 0.99)]}))
"""


def sh(*args, check=True, **kwargs):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kwargs).stdout


def inside(script, check=True, container=CONTAINER):
    return sh("docker", "exec", container, "sh", "-c", script, check=check)


def cleanup():
    for name in [CONTAINER] + list(CLIENTS.values()):
        sh("docker", "rm", "-f", name, check=False)
    sh("docker", "network", "rm", NETWORK, check=False)


def setup():
    cleanup()
    sh("docker", "network", "create", "--subnet", SUBNET, "--label", "io.meshmonitor-fail2ban.lab=1", NETWORK)
    banned_client = addresses(max(WAVE, 1), WAVE_FIRST)[WAVE // 2]
    for name, ip, caps in ((CONTAINER, SERVER, ["--cap-add", "NET_ADMIN"]), (CLIENTS["banned"], banned_client, []),
                           (CLIENTS["legit"], LEGIT, [])):
        sh("docker", "run", "-d", "--name", name, "--label", "io.meshmonitor-fail2ban.lab=1", "--network", NETWORK,
           "--ip", ip, *caps, "--entrypoint", "sleep", IMAGE, "infinity")
    inside("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fail2ban ipset iptables >/dev/null")
    sh("docker", "cp", os.path.join(ROOT, "roles/jail/files/action.d/meshmonitor-firewall.py"),
       CONTAINER + ":/etc/fail2ban/action.d/")
    inside("printf '[Definition]\\nfailregex = ^<HOST> fail$\\ndatepattern = {NONE}\\n' > /etc/fail2ban/filter.d/t.conf")
    inside("cd /tmp && (python3 -m http.server %d >/dev/null 2>&1 &)" % PORT)
    for name in CLIENTS.values():
        sh("docker", "exec", "-i", name, "sh", "-c", "cat > /tmp/probe.py", input=PROBE)
        sh("docker", "exec", "-i", name, "sh", "-c", "cat > /tmp/latency.py", input=LATENCY)
    return inside("fail2ban-client --version").strip(), banned_client


def configure(firewall, variant):
    inside("fail2ban-client stop >/dev/null 2>&1; nft flush ruleset; ipset destroy 2>/dev/null; "
           "rm -f /var/lib/fail2ban/fail2ban.sqlite3; : > /tmp/t.log")
    inside("cat > /etc/fail2ban/jail.d/t.local <<'EOF'\n[DEFAULT]\nallowipv6 = yes\n[sshd]\nenabled = false\n"
           "[t]\nenabled = true\nfilter = t\nlogpath = /tmp/t.log\nbackend = polling\nmaxretry = %d\nfindtime = 3600\n"
           "bantime = 86400\naction = %s\nEOF\nfail2ban-client -x start >/dev/null" % (MAXRETRY, VARIANTS[firewall, variant]["action"]))
    time.sleep(2)


def addresses(count, first):
    return [str(ipaddress.ip_address(first + 1 + n)) for n in range(count)]


def banned(firewall, variant):
    return int(inside(VARIANTS[firewall, variant]["count"], check=False).strip() or 0)


def wave(firewall, variant, count, first, timeout):
    lines = "".join("%s fail\n" % ip for ip in addresses(count, first)) * MAXRETRY
    sh("docker", "exec", "-i", CONTAINER, "sh", "-c", "cat > /tmp/wave", input=lines)
    start = time.time()
    inside("cat /tmp/wave >> /tmp/t.log")
    curve = [(0.0, 0)]
    while time.time() - start < timeout:
        n = banned(firewall, variant)
        curve.append((time.time() - start, n))
        if n >= count:
            break
        time.sleep(0.25)
    return curve


def restart(firewall, variant, count, watch, timeout):
    """Across a restart: samples of watch's ban (missing, total), what the banned client got, and
    the seconds until all are back (None: not within timeout)."""
    test = VARIANTS[firewall, variant]["test"] % watch
    inside("(while :; do if %s >/dev/null 2>&1; then echo 1; else echo 0; fi; done) > /tmp/samples 2>&1 & echo $! > /tmp/sampler"
           % test)
    client = CLIENTS["banned"]
    inside("rm -f /tmp/stop; (python3 /tmp/probe.py %s %d /tmp/stop > /tmp/probe.json &)" % (SERVER, PORT), container=client)
    time.sleep(1)
    start = time.time()
    inside("fail2ban-client restart >/dev/null")
    back = None
    while time.time() - start < timeout:
        if banned(firewall, variant) >= count:
            back = time.time() - start
            break
        time.sleep(0.25)
    time.sleep(1)
    inside("touch /tmp/stop; sleep 1; cat /tmp/probe.json", container=client)
    got = json.loads(inside("cat /tmp/probe.json", container=client) or "{}")
    inside("kill $(cat /tmp/sampler)", check=False)
    samples = inside("cat /tmp/samples").split()
    return {"missing": samples.count("0"), "samples": len(samples), "client": got, "back": back}


def floor(firewall, count, first):
    if firewall == "nftables":
        inside("nft flush ruleset; nft add table inet floor; nft add set inet floor s '{ type ipv4_addr; flags timeout; }'")
        script, command = "add element inet floor s { %s }\n" % ", ".join(addresses(count, first)), "nft -f /tmp/floor"
    else:
        inside("ipset destroy 2>/dev/null; ipset create floor hash:ip timeout 0 maxelem 1048576")
        script, command = "".join("add floor %s timeout 86400\n" % ip for ip in addresses(count, first)), "ipset restore < /tmp/floor"
    sh("docker", "exec", "-i", CONTAINER, "sh", "-c", "cat > /tmp/floor", input=script)
    start = time.time()
    inside(command)
    return time.time() - start


def p99(requests=2000):
    """The legit client's p99 (ms) over requests requests."""
    return json.loads(inside("python3 /tmp/latency.py %s %d %d" % (SERVER, PORT, requests), container=CLIENTS["legit"]))["p99"]


def fill_script(firewall, ips):
    if firewall == "nftables":
        return "add element inet f2b-t addr-set-t { %s }\n" % ", ".join(ips)
    return "".join("add f2b-t %s timeout 0\n" % ip for ip in ips)


def paired_latency(firewall, rounds=5):
    """(empty, full): the legit client's p99 (ms, the median of rounds runs each) with the jail's sets
    empty and with the big wave's addresses in them. fail2ban is stopped first (its action leaves the
    rules and sets), and the runs alternate, the set emptied and filled again in between, so both are
    measured in the same state of the machine."""
    inside("fail2ban-client stop >/dev/null")
    sh("docker", "exec", "-i", CONTAINER, "sh", "-c", "cat > /tmp/big", input=fill_script(firewall, addresses(BIG, BIG_FIRST)))
    fill = "nft -f /tmp/big" if firewall == "nftables" else "ipset -exist restore < /tmp/big"
    empty, full = [], []
    for dummy in range(rounds):
        inside(VARIANTS[firewall, "ours"]["empty"])
        empty.append(p99())
        inside(fill)
        full.append(p99())
    return sorted(empty)[rounds // 2], sorted(full)[rounds // 2]


def draw(curves, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib missing: no %s)" % path)
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, curve in curves.items():
        ax.plot([point[0] for point in curve], [point[1] for point in curve], label=label)
    ax.set_xlabel("seconds after the failures were written")
    ax.set_ylabel("addresses banned")
    ax.set_title("%d addresses, %d failures each" % (WAVE, MAXRETRY))
    ax.set_xlim(left=0)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def seconds(value, limit):
    return "%.1f" % value if value is not None else "> %d" % limit


def ratio(value, baseline):
    return "%.1fx" % (baseline / value) if value and baseline else "-"


def run_firewall(firewall, watch, curves):
    results = {}
    for variant in ("baseline", "ours"):
        configure(firewall, variant)
        curve = wave(firewall, variant, WAVE, WAVE_FIRST, TIMEOUT[variant])
        curves[VARIANTS[firewall, variant]["label"]] = curve
        done = curve[-1][0] if curve[-1][1] >= WAVE else None
        results[variant] = {"wave": done, "reached": curve[-1][1],
                            "restart": restart(firewall, variant, WAVE, watch, TIMEOUT[variant]) if done else None}
    results["floor"] = floor(firewall, WAVE, WAVE_FIRST)
    base = results["baseline"]
    print("\n### %s\n" % firewall)
    print("| %d addresses | all banned (s) | speed-up vs baseline | during the restart: samples the watched ban was missing "
          "| the banned client: answered / dropped / refused | all back after the restart (s) | speed-up vs baseline |" % WAVE)
    print("|---|---:|---:|---:|---:|---:|---:|")
    for variant in ("baseline", "ours"):
        r = results[variant]
        wave_text = seconds(r["wave"], TIMEOUT[variant]) + ("" if r["wave"] else " (%d banned by then)" % r["reached"])
        if r["restart"]:
            rs = r["restart"]
            client = rs["client"]
            print("| %s | %s | %s | %d of %d | %s / %s / %s | %s | %s |" % (
                VARIANTS[firewall, variant]["label"], wave_text, ratio(r["wave"], base["wave"]), rs["missing"], rs["samples"],
                client.get("answered"), client.get("dropped"), client.get("refused"), seconds(rs["back"], TIMEOUT[variant]),
                ratio(rs["back"], (base["restart"] or {}).get("back"))))
        else:
            print("| %s | %s | %s | not run | | | |" % (VARIANTS[firewall, variant]["label"], wave_text, ratio(r["wave"], base["wave"])))
    tool = "`nft -f`" if firewall == "nftables" else "`ipset restore`"
    print("| one %s of the same addresses (floor) | %.2f | %s | | | | |" % (tool, results["floor"], ratio(results["floor"], base["wave"])))
    ours = results["ours"]
    print("\n%s: %d addresses banned within 10 s: %s; the banned client answered 0 times during the restart: %s; "
          "all back within 10 s: %s" % (
              firewall, WAVE, "yes" if ours["wave"] and ours["wave"] <= 10 else "no",
              "yes" if ours["restart"] and ours["restart"]["client"].get("answered") == 0 else "no",
              "yes" if ours["restart"] and ours["restart"]["back"] is not None and ours["restart"]["back"] <= 10 else "no"))


def run_big(firewall):
    configure(firewall, "ours")
    curve = wave(firewall, "ours", BIG, BIG_FIRST, 1200)
    done = curve[-1][0] if curve[-1][1] >= BIG else None
    empty, full = paired_latency(firewall)
    print("| %s | %s | %s | %.2f | %.2f | %.2fx |" % (
        VARIANTS[firewall, "ours"]["label"], seconds(done, 1200), "%.0f" % (BIG / done) if done else "-",
        empty, full, full / empty))


def main():
    version, watch = setup()
    print("## Ban wave and restart (bench/ban_wave_bench.py)\n")
    print("Machine: %s, %d cores; %s in a container of %s; nft %s; ipset %s. The banned client is %s, one of "
          "the wave's addresses; it connects to a port the bans drop (input path) every 50 ms." % (
              platform.machine(), os.cpu_count(), version, IMAGE, inside("nft --version").split()[1],
              inside("ipset --version").split()[1].rstrip(","), watch))
    curves = {}
    for firewall in ("nftables", "iptables") if WAVE else ():
        run_firewall(firewall, watch, curves)
    if BIG:
        print("\n### %d addresses, ours alone\n" % BIG)
        print("A legit client's request time (connect, GET, first byte) through the input path, with the jail's set "
              "empty (baseline) and with every address in it: after the wave fail2ban is stopped (the sets stay), then "
              "5 runs of 2000 requests each way, alternating, the set emptied and refilled in between; the median p99.\n")
        print("| action | all banned (s) | addresses/s | legit p99, empty set (ms) | legit p99, %d bans (ms) | ratio |" % BIG)
        print("|---|---:|---:|---:|---:|---:|")
        for firewall in ("nftables", "iptables"):
            run_big(firewall)
    if curves:
        draw(curves, os.path.join(ROOT, "bench", "ban_wave.png"))
    cleanup()


if __name__ == "__main__":
    sys.exit(main())
