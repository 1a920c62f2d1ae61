"""The jail role's metrics writer (roles/jail/files/meshmonitor-fail2ban-metrics): what it reads of
fail2ban and the firewall, and the text node_exporter's textfile collector gets."""
import importlib.machinery
import importlib.util
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOADER = importlib.machinery.SourceFileLoader("meshmonitor_fail2ban_metrics", str(ROOT / "roles/jail/files/meshmonitor-fail2ban-metrics"))
metrics = importlib.util.module_from_spec(importlib.util.spec_from_loader(LOADER.name, LOADER))
LOADER.exec_module(metrics)

RECORD = {"jails": {"main": "meshmonitor", "permanent": "meshmonitor-permanent"}, "firewall": "nftables",
          "logpath": "/nonexistent/access.log", "metrics_file": "/tmp/x.prom",
          "firewall_labels": {"main": "meshmonitor", "permanent": "meshmonitor-perm", "recidive": "meshmonitor-rep"},
          "hook_labels": {"forward": "fwd", "input": "in"},
          "ban_paths": [{"hook": "forward", "ports": [3001, 8080], "protocols": ["tcp"]}]}

# What `nft -j list ruleset` gives for two of the jail's forward rules (one IPv4, one IPv6), one of its
# input rules (the same set, another path) and one of the origin lock's, which is not a ban path.
NFT = {"nftables": [
    {"metainfo": {"version": "1.1.3"}},
    {"rule": {"family": "inet", "table": "f2b-meshmonitor", "chain": "forward", "handle": 4, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [3001, 8080]}}},
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@addr-set-meshmonitor"}},
        {"counter": {"packets": 7, "bytes": 420}}, {"drop": None}]}},
    {"rule": {"family": "inet", "table": "f2b-meshmonitor", "chain": "forward", "handle": 5, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": "@addr6-set-meshmonitor"}},
        {"counter": {"packets": 1, "bytes": 80}}, {"drop": None}]}},
    {"rule": {"family": "inet", "table": "f2b-meshmonitor", "chain": "input", "handle": 7, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@addr-set-meshmonitor"}},
        {"counter": {"packets": 30, "bytes": 1800}}, {"drop": None}]}},
    {"rule": {"family": "inet", "table": "f2b-meshmonitor", "chain": "forward", "handle": 9, "expr": [
        {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@addr-set-meshmonitor-cf-fwd"}},
        {"counter": {"packets": 99, "bytes": 9900}}, {"drop": None}]}},
]}

IPTABLES_SAVE = """*filter
:f2b-meshmonitor-fwd - [0:0]
[3:180] -A f2b-meshmonitor-fwd -s 198.51.100.7/32 -j DROP
[2:120] -A f2b-meshmonitor-fwd -s 198.51.100.8/32 -j DROP
[40:4000] -A f2b-meshmonitor-fwd -j RETURN
[5:300] -A DOCKER-USER -p tcp -m conntrack --ctorigdstport 8080 -j f2b-meshmonitor-fwd
COMMIT
"""


def test_every_jail_of_a_record_on_every_ban_path():
    assert metrics.ban_paths(RECORD) == [("meshmonitor", "forward", "meshmonitor", "meshmonitor-fwd"),
                                         ("meshmonitor-permanent", "forward", "meshmonitor-perm", "meshmonitor-perm-fwd")]


def test_nftables_drops_are_summed_per_path_across_families_and_the_lock_is_not_a_ban():
    drops = metrics.nft_drops(NFT)
    assert drops == {("f2b-meshmonitor", "forward", "meshmonitor"): [8, 500], ("f2b-meshmonitor", "input", "meshmonitor"): [30, 1800]}
    assert metrics.path_drops(RECORD, nft=drops) == [("meshmonitor", "forward", 8, 500), ("meshmonitor-permanent", "forward", 0, 0)]


def test_iptables_drops_count_only_the_drop_rules_of_the_ban_chain():
    drops = metrics.iptables_drops(IPTABLES_SAVE)
    assert drops == {"f2b-meshmonitor-fwd": [5, 300]}
    record = dict(RECORD, firewall="iptables")
    assert metrics.path_drops(record, iptables=dict(drops, **{"6:f2b-meshmonitor-fwd": [1, 80]}))[0] == ("meshmonitor", "forward", 6, 380)


def test_status_short_gives_the_four_counts():
    answer = [("Filter", [("Currently failed", 2), ("Total failed", 17), ("File list", ["/x"])]),
              ("Actions", [("Currently banned", 1), ("Total banned", 3)])]
    assert metrics.status_counts(answer) == {"failed_current": 2, "failed_total": 17, "banned_current": 1, "banned_total": 3}


def test_the_text_names_metrics_as_the_common_exporter_does(monkeypatch):
    answers = {("status",): [("Number of jail", 1), ("Jail list", "meshmonitor")],
               ("status", "meshmonitor", "short"): [("Filter", [("Currently failed", 0), ("Total failed", 5)]),
                                                    ("Actions", [("Currently banned", 1), ("Total banned", 1)])],
               ("get", "meshmonitor", "bantime"): 3600, ("get", "meshmonitor", "findtime"): 600, ("get", "meshmonitor", "maxretry"): 5}
    monkeypatch.setattr(metrics, "fail2ban", lambda command: answers[tuple(command)])
    monkeypatch.setattr(metrics, "run", lambda argv: json.dumps(NFT))
    text = metrics.collect([RECORD], 1000.0)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    for expected in ('f2b_up 1', 'f2b_jail_banned_current{jail="meshmonitor"} 1', 'f2b_jail_failed_total{jail="meshmonitor"} 5',
                     'f2b_jail_config_fail_max{jail="meshmonitor"} 5',
                     'meshmonitor_fail2ban_dropped_packets_total{jail="meshmonitor",path="forward"} 8',
                     'meshmonitor_fail2ban_dropped_bytes_total{jail="meshmonitor-permanent",path="forward"} 0',
                     'meshmonitor_fail2ban_metrics_time_seconds 1000.0'):
        assert expected in lines
    assert "# TYPE f2b_jail_banned_total counter" in text


def test_fail2ban_down_is_a_zero_not_a_missing_file(monkeypatch):
    def down(command):
        raise OSError("no socket")
    monkeypatch.setattr(metrics, "fail2ban", down)
    monkeypatch.setattr(metrics, "run", lambda argv: "")
    text = metrics.collect([], 1000.0)
    assert "f2b_up 0" in text.splitlines()


def test_the_file_is_replaced_whole(tmp_path):
    target = tmp_path / "meshmonitor-fail2ban.prom"
    target.write_text("old")
    metrics.write_atomically(str(target), "f2b_up 1\n")
    assert target.read_text() == "f2b_up 1\n" and oct(target.stat().st_mode & 0o777) == "0o644"
    assert [path.name for path in tmp_path.iterdir()] == ["meshmonitor-fail2ban.prom"]
