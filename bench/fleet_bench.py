"""The fleet through CrowdSec (jail_fleet_enabled): how fast a ban on one host reaches the others.

Four throwaway containers of the lab's target image on one network: the LAPI (Debian's crowdsec, run
as the LAPI alone, plain HTTP here), a posting host (fail2ban on a log file, one jail, maxretry 1) and
two receiving hosts (Debian's crowdsec-firewall-bouncer in set-only mode, filling the fleet table's
sets as the jail role configures it). Two ways of posting, each with its bouncers' poll interval:
  - baseline: what the common recipe does, a fail2ban command action running `cscli decisions add`
    for each ban (the posting host registered as a machine), the bouncers at Debian's default 10 s;
  - ours: the collection's action, roles/jail/files/action.d/meshmonitor-fleet.py (batched posts
    from fail2ban's process), the bouncers at the role's default 1 s.
For each: single bans one at a time (the seconds from the log line until both receivers hold the
address: p50, p95) and a wave of addresses (the seconds until both hold all of them). The baseline's
wave is BENCH_FLEET_BASE addresses (a process per ban), ours BENCH_FLEET_WAVE; the ratio is of the
rates. Run through `make bench`; not a timed test.
"""
import ipaddress
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.environ.get("BENCH_IMAGE", "mmf2b-lab/target:trixie")
NETWORK, SUBNET = "mmf2b-bench-fleet", "10.78.0.0/16"
HOSTS = {"lapi": "10.78.0.2", "poster": "10.78.0.3", "recv1": "10.78.0.4", "recv2": "10.78.0.5"}
RECEIVERS = ("recv1", "recv2")
PORT = 8088
WAVE = int(os.environ.get("BENCH_FLEET_WAVE", "10000"))
BASE_WAVE = int(os.environ.get("BENCH_FLEET_BASE", "300"))
SINGLES = int(os.environ.get("BENCH_FLEET_SINGLES", "20"))
KEY = "0123456789abcdef0123456789abcdef"
PASSWORD = "bench-machine-password-0123456789"


def fleet_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("fleet", os.path.join(ROOT, "roles/jail/files/action.d/meshmonitor-fleet.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FLEET = fleet_module()
VARIANTS = {
    "baseline": {"label": "cscli decisions add per ban, bouncers every 10 s", "frequency": 10,
                 "action": "cs-baseline"},
    "ours": {"label": "meshmonitor-fleet.py, bouncers every 1 s", "frequency": 1,
             "action": "meshmonitor-fleet.py[lapi=\"http://%s:%d\", credentials=/etc/bench/machine.json, host=poster]" % (HOSTS["lapi"], PORT)},
}
BASELINE_ACTION = """[Definition]
actionban = cscli --error decisions add --ip <ip> --duration 3600s --reason bench >/dev/null
actionunban =
"""


def sh(*args, check=True, **kwargs):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kwargs).stdout


def name(host):
    return "mmf2b-bench-fleet-" + host


def inside(host, script, check=True, **kwargs):
    return sh("docker", "exec", "-i", name(host), "bash", "-c", script, check=check, **kwargs)


def cleanup():
    for host in HOSTS:
        sh("docker", "rm", "-f", name(host), check=False)
    sh("docker", "network", "rm", NETWORK, check=False)


INSTALL = ("printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && "
           "mkdir -p /etc/crowdsec && echo '# off' > /etc/crowdsec/online_api_credentials.yaml && "
           "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends %s >/dev/null")


def setup():
    cleanup()
    sh("docker", "network", "create", "--subnet", SUBNET, "--label", "io.meshmonitor-fail2ban.lab=1", NETWORK)
    for host, ip in HOSTS.items():
        sh("docker", "run", "-d", "--name", name(host), "--label", "io.meshmonitor-fail2ban.lab=1", "--network", NETWORK,
           "--ip", ip, "--cap-add", "NET_ADMIN", "--entrypoint", "sleep", IMAGE, "infinity")
    installs = [subprocess.Popen(["docker", "exec", name(host), "bash", "-c", INSTALL % packages], stdout=subprocess.DEVNULL)
                for host, packages in (("lapi", "crowdsec"), ("poster", "crowdsec fail2ban"),
                                       ("recv1", "crowdsec-firewall-bouncer nftables"), ("recv2", "crowdsec-firewall-bouncer nftables"))]
    if any(process.wait() for process in installs):
        raise SystemExit("installing the packages failed")
    inside("lapi", "printf 'api:\\n  server:\\n    listen_uri: 0.0.0.0:%d\\n    online_client:\\n' > /etc/crowdsec/config.yaml.local && "
                   "sed -i 's#^url: .*#url: http://127.0.0.1:%d#' /etc/crowdsec/local_api_credentials.yaml && "
                   "(crowdsec -c /etc/crowdsec/config.yaml -no-cs >/dev/null 2>&1 &) && sleep 3 && "
                   "cscli --error machines add poster --password %s -f /dev/null --force" % (PORT, PORT, PASSWORD))
    for host in RECEIVERS:
        inside("lapi", "cscli --error bouncers add %s -k %s%s >/dev/null" % (host, KEY[:-1], host[-1]))
        table = FLEET.table_script("bench", FLEET.firewall.parse_paths("input:bench-in:8080:tcp"), set(), {"ipv4": [], "ipv6": []})
        inside(host, "nft -f -", input=table)
    # The posting host: a machine login for both variants (the action's file, cscli's credentials).
    inside("poster", "mkdir -p /etc/bench && echo '{\"login\": \"poster\", \"password\": \"%s\"}' > /etc/bench/machine.json && "
                     "printf 'url: http://%s:%d\\nlogin: poster\\npassword: %s\\n' > /etc/crowdsec/local_api_credentials.yaml"
           % (PASSWORD, HOSTS["lapi"], PORT, PASSWORD))
    for path in ("meshmonitor-firewall.py", "meshmonitor-fleet.py"):
        sh("docker", "cp", os.path.join(ROOT, "roles/jail/files/action.d", path), name("poster") + ":/etc/fail2ban/action.d/")
    inside("poster", "cat > /etc/fail2ban/action.d/cs-baseline.conf", input=BASELINE_ACTION)
    inside("poster", "printf '[Definition]\\nfailregex = ^<HOST> fail$\\ndatepattern = {NONE}\\n' > /etc/fail2ban/filter.d/bench.conf")
    return ("crowdsec " + inside("lapi", "dpkg-query -W -f '${Version}' crowdsec"),
            inside("recv1", "dpkg-query -W -f '${Version}' crowdsec-firewall-bouncer"))


def configure(variant):
    """Nothing banned anywhere; fail2ban on the posting host with the variant's action; the bouncers
    polling at the variant's interval."""
    inside("poster", "fail2ban-client stop >/dev/null 2>&1; rm -f /var/lib/fail2ban/fail2ban.sqlite3; : > /tmp/bench.log", check=False)
    inside("lapi", "cscli --error decisions delete --all >/dev/null", check=False)
    for host in RECEIVERS:
        inside(host, "pkill -f '^crowdsec-firewall-bouncer'; sleep 0.5; nft flush set inet mm-fleet addr-set-fleet; "
                     "printf 'mode: nftables\\nupdate_frequency: %ds\\ndaemonize: false\\nlog_mode: file\\nlog_dir: /tmp\\n"
                     "api_url: http://%s:%d/\\napi_key: %s%s\\nsupported_decisions_types: [ban]\\n"
                     "blacklists_ipv4: addr-set-fleet\\nblacklists_ipv6: addr6-set-fleet\\nnftables:\\n"
                     "  ipv4: {enabled: true, set-only: true, table: mm-fleet}\\n  ipv6: {enabled: true, set-only: true, table: mm-fleet}\\n"
                     "prometheus: {enabled: false}\\n' > /tmp/bouncer.yaml && "
                     "(crowdsec-firewall-bouncer -c /tmp/bouncer.yaml >/dev/null 2>&1 &)"
               % (VARIANTS[variant]["frequency"], HOSTS["lapi"], PORT, KEY[:-1], host[-1]), check=False)
    inside("poster", "cat > /etc/fail2ban/jail.d/bench.local <<'EOF'\n[sshd]\nenabled = false\n[bench]\nenabled = true\n"
                     "filter = bench\nlogpath = /tmp/bench.log\nbackend = polling\nmaxretry = 1\nfindtime = 3600\nbantime = 3600\n"
                     "action = %s\nEOF\nfail2ban-client -x start >/dev/null" % VARIANTS[variant]["action"])
    time.sleep(3)


COUNT = ("nft -j list set inet mm-fleet addr-set-fleet | python3 -c 'import json,sys; "
         "print(sum(len(i.get(\"set\", {}).get(\"elem\", [])) for i in json.load(sys.stdin)[\"nftables\"]))'")


def held(host):
    return int(inside(host, COUNT, check=False).strip() or 0)


def has(host, ip):
    return subprocess.run(["docker", "exec", name(host), "nft", "get", "element", "inet", "mm-fleet", "addr-set-fleet", "{ %s }" % ip],
                          capture_output=True, check=False).returncode == 0


def addresses(count, first):
    return [str(ipaddress.ip_address(int(ipaddress.ip_address(first)) + n)) for n in range(count)]


def singles(first, count, timeout):
    """Seconds from each single ban's log line until both receivers hold it."""
    times = []
    for ip in addresses(count, first):
        start = time.time()
        inside("poster", "echo '%s fail' >> /tmp/bench.log" % ip)
        waiting = set(RECEIVERS)
        while waiting and time.time() - start < timeout:
            waiting = set(host for host in waiting if not has(host, ip))
            time.sleep(0.05)
        times.append(time.time() - start if not waiting else None)
    return times


def wave(first, count, timeout):
    """Seconds from the wave's log lines until both receivers hold all of it (None: not within timeout)."""
    lines = "".join("%s fail\n" % ip for ip in addresses(count, first))
    inside("poster", "cat > /tmp/wave", input=lines)
    start = time.time()
    inside("poster", "cat /tmp/wave >> /tmp/bench.log")
    while time.time() - start < timeout:
        if all(held(host) >= count + SINGLES for host in RECEIVERS):
            return time.time() - start
        time.sleep(0.5)
    return None


def percentile(values, fraction):
    ordered = sorted(value for value in values if value is not None)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else None


def show(value):
    return "-" if value is None else "%.2f" % value


def main():
    version, bouncer = setup()
    print("## The fleet through CrowdSec (bench/fleet_bench.py)\n")
    print("Machine: %s, %d cores; %s as the LAPI, crowdsec-firewall-bouncer %s on two receiving hosts, fail2ban "
          "posting from a third; containers of %s on one Docker network.\n" % (platform.machine(), os.cpu_count(), version, bouncer, IMAGE))
    results = {}
    for variant, count in (("baseline", BASE_WAVE), ("ours", WAVE)):
        configure(variant)
        single = singles("10.200.0.1", SINGLES, 30)
        spread = wave("10.201.0.1", count, 1800)
        results[variant] = {"p50": statistics.median([t for t in single if t is not None] or [0]),
                            "p95": percentile(single, 0.95), "lost": single.count(None), "count": count, "wave": spread}
    base, ours = results["baseline"], results["ours"]
    print("| posting | single ban, p50 (s) | p95 (s) | wave | all on both receivers (s) | addresses/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for variant in ("baseline", "ours"):
        item = results[variant]
        rate = item["count"] / item["wave"] if item["wave"] else None
        item["rate"] = rate
        cells = (VARIANTS[variant]["label"], show(item["p50"]), show(item["p95"]), item["count"], show(item["wave"]),
                 "-" if rate is None else "%.0f" % rate)
        print("| %s | %s | %s | %d | %s | %s |" % cells)
    print("\nRatios, ours against the baseline of this run: single-ban p95 %s; wave rate %s." % (
        "%.2fx" % (ours["p95"] / base["p95"]) if ours["p95"] and base["p95"] else "-",
        "%.0fx" % (ours["rate"] / base["rate"]) if ours.get("rate") and base.get("rate") else "-"))
    print("Goal: single-ban p95 <= 3 s: %s; %d addresses on every receiver: %s s." % (
        "yes" if ours["p95"] is not None and ours["p95"] <= 3 else "no", WAVE, show(ours["wave"])))
    cleanup()


if __name__ == "__main__":
    sys.exit(main())
