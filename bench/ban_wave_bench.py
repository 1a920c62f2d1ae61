"""A botnet wave against fail2ban: N addresses each failing maxretry times at once, then a restart.

Runs fail2ban itself (Debian's, installed into a throwaway container of the lab's target image) on a
log file, with the bans of one jail on two paths (forward and input), as the jail role writes it:
  - baseline: fail2ban's own nftables command action, once per path (what the role used before);
  - ours: the collection's action, roles/jail/files/action.d/meshmonitor-firewall.py;
  - floor: one `nft -f` transaction adding the same addresses to a fresh set.
For each: the seconds until every address is in the ban set (and the curve, drawn into
bench/ban_wave.png), and, across `fail2ban-client restart`, how long a banned address was missing from
the set (sampled every few ms: the rule drops exactly the set's addresses) and the seconds until all
are back. Ratios are against the baseline of the same run. Run through `make bench`; not a timed test.
BENCH_WAVE=10000 by default; BENCH_WAVE_BIG=100000 runs ours alone on that many.
"""
import ipaddress
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.environ.get("BENCH_IMAGE", "mmf2b-lab/target:trixie")
CONTAINER = "mmf2b-bench-wave"
WAVE = int(os.environ.get("BENCH_WAVE", "10000"))
BIG = int(os.environ.get("BENCH_WAVE_BIG", "100000"))
MAXRETRY = 5
SET = "addr-set-t-in"
PATHS = "forward:t-fwd:3001,8080:tcp input:t-in:8080:tcp"
ACTIONS = {
    "baseline": "nftables[type=multiport, actname=t-fwd, name=t-fwd, chain=forward, chain_hook=forward, port=\"3001,8080\", "
                "blocktype=drop, actionstart_on_demand=false]\n"
                "         nftables[type=multiport, actname=t-in, name=t-in, chain=input, chain_hook=input, port=\"8080\", "
                "blocktype=drop, actionstart_on_demand=false]",
    "ours": "meshmonitor-firewall.py[firewall=nftables, paths=\"%s\"]" % PATHS,
}
TABLE = {"baseline": "f2b-table", "ours": "f2b-t"}


def sh(*args, check=True, **kwargs):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kwargs).stdout


def inside(script, check=True):
    return sh("docker", "exec", CONTAINER, "sh", "-c", script, check=check)


def setup():
    sh("docker", "rm", "-f", CONTAINER, check=False)
    sh("docker", "run", "-d", "--name", CONTAINER, "--label", "io.meshmonitor-fail2ban.lab=1", "--cap-add", "NET_ADMIN",
       "--entrypoint", "sleep", IMAGE, "infinity")
    inside("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fail2ban >/dev/null")
    sh("docker", "cp", os.path.join(ROOT, "roles/jail/files/action.d/meshmonitor-firewall.py"),
       CONTAINER + ":/etc/fail2ban/action.d/")
    inside("printf '[Definition]\\nfailregex = ^<HOST> fail$\\ndatepattern = {NONE}\\n' > /etc/fail2ban/filter.d/t.conf")
    return inside("fail2ban-client --version").strip()


def configure(variant):
    inside("fail2ban-client stop >/dev/null 2>&1; nft flush ruleset; rm -f /var/lib/fail2ban/fail2ban.sqlite3; : > /tmp/t.log")
    inside("cat > /etc/fail2ban/jail.d/t.local <<'EOF'\n[DEFAULT]\nallowipv6 = yes\n[sshd]\nenabled = false\n"
           "[t]\nenabled = true\nfilter = t\nlogpath = /tmp/t.log\nbackend = polling\nmaxretry = %d\nfindtime = 3600\n"
           "bantime = 86400\naction = %s\nEOF\nfail2ban-client -x start >/dev/null" % (MAXRETRY, ACTIONS[variant]))
    time.sleep(2)


def addresses(count, first=0x0a000000):
    return [str(ipaddress.ip_address(first + 1 + n)) for n in range(count)]


def in_set(variant):
    name = SET if variant == "ours" else "addr-set-t-in"
    out = inside("nft list set inet %s %s 2>/dev/null | tr ',{}' '\\n\\n\\n' | grep -c '^[[:space:]]*10\\.'" % (TABLE[variant], name),
                 check=False)
    return int(out.strip() or 0)


def wave(variant, count, timeout):
    lines = "".join("%s fail\n" % ip for ip in addresses(count)) * MAXRETRY
    sh("docker", "exec", "-i", CONTAINER, "sh", "-c", "cat > /tmp/wave", input=lines)
    start = time.time()
    inside("cat /tmp/wave >> /tmp/t.log")
    curve = [(0.0, 0)]
    while time.time() - start < timeout:
        n = in_set(variant)
        curve.append((time.time() - start, n))
        if n >= count:
            break
        time.sleep(0.25)
    return curve


def restart(variant, count, timeout):
    """Seconds a banned address was out of the set across a restart, and until all are back."""
    watch = addresses(count)[count // 2]
    name = SET if variant == "ours" else "addr-set-t-in"
    inside("(while :; do if nft get element inet %s %s '{ %s }' >/dev/null 2>&1; then echo \"$(date +%%s.%%N) 1\"; "
           "else echo \"$(date +%%s.%%N) 0\"; fi; done) > /tmp/samples 2>&1 & echo $! > /tmp/sampler"
           % (TABLE[variant], name, watch))
    start = time.time()
    inside("fail2ban-client restart >/dev/null")
    back = None
    while time.time() - start < timeout:
        if in_set(variant) >= count:
            back = time.time() - start
            break
        time.sleep(0.25)
    inside("kill $(cat /tmp/sampler)", check=False)
    samples = [line.split() for line in inside("cat /tmp/samples").splitlines() if len(line.split()) == 2]
    missing, last = 0.0, None
    for stamp, present in samples:
        stamp = float(stamp)
        if last is not None and last[1] == "0":
            missing += stamp - last[0]
        last = (stamp, present)
    return missing, sum(1 for sample in samples if sample[1] == "0"), len(samples), back


def floor(count):
    elements = ", ".join(addresses(count))
    inside("nft flush ruleset; nft add table inet floor; nft add set inet floor s '{ type ipv4_addr; flags timeout; }'")
    script = "add element inet floor s { %s }\n" % elements
    sh("docker", "exec", "-i", CONTAINER, "sh", "-c", "cat > /tmp/floor.nft", input=script)
    start = time.time()
    inside("nft -f /tmp/floor.nft")
    return time.time() - start


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
    ax.set_ylabel("addresses banned (in the nftables set)")
    ax.set_title("%d addresses, %d failures each" % (WAVE, MAXRETRY))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    version = setup()
    print("## Ban wave and restart (bench/ban_wave_bench.py)\n")
    print("Machine: %s, %d cores; %s in a container of %s; nft %s\n" % (
        platform.machine(), os.cpu_count(), version, IMAGE, inside("nft --version").split()[1]))
    results, curves = {}, {}
    for variant in ("baseline", "ours"):
        configure(variant)
        curve = wave(variant, WAVE, 900)
        curves["fail2ban's nftables action" if variant == "baseline" else "meshmonitor-firewall.py"] = curve
        results[variant] = {"wave": curve[-1][0] if curve[-1][1] >= WAVE else None, "restart": restart(variant, WAVE, 900)}
    results["floor"] = floor(WAVE)
    base = results["baseline"]

    def ratio(value, baseline):
        return "%.1fx faster" % (baseline / value) if value and baseline else "-"

    print("| %d addresses | all banned (s) | vs baseline | banned address missing during restart (s; samples) "
          "| all back after restart (s) | vs baseline |" % WAVE)
    print("|---|---:|---:|---:|---:|---:|")
    for variant, label in (("baseline", "fail2ban's nftables action, per path (baseline)"), ("ours", "meshmonitor-firewall.py")):
        r = results[variant]
        missing, gone, total, back = r["restart"]
        print("| %s | %s | %s | %.2f (%d of %d) | %s | %s |" % (
            label, "%.1f" % r["wave"] if r["wave"] else "> 900", ratio(r["wave"], base["wave"]), missing, gone, total,
            "%.1f" % back if back else "> 900", ratio(back, base["restart"][3])))
    print("| one `nft -f` of the same addresses (floor) | %.2f | %s | | | |" % (results["floor"], ratio(results["floor"], base["wave"])))
    if BIG:
        configure("ours")
        curve = wave("ours", BIG, 1200)
        done = curve[-1][0] if curve[-1][1] >= BIG else None
        print("\n%d addresses with meshmonitor-firewall.py: all banned in %s s (%s addresses/s)"
              % (BIG, "%.1f" % done if done else "> 1200", "%.0f" % (BIG / done) if done else "-"))
    print("\n%d addresses banned within 10 s: %s; no banned address out of the set during the restart: %s" % (
        WAVE, "yes" if results["ours"]["wave"] and results["ours"]["wave"] <= 10 else "no",
        "yes" if results["ours"]["restart"][1] == 0 else "no"))
    draw(curves, os.path.join(ROOT, "bench", "ban_wave.png"))
    sh("docker", "rm", "-f", CONTAINER, check=False)


if __name__ == "__main__":
    sys.exit(main())
