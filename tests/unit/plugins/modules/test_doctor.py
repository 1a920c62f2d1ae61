# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os
import sys

import pytest

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils import host as host_utils
from ansible_collections.meshmonitor.fail2ban.plugins.modules import doctor

PUBLISHED = {"Name": "/meshmonitor-meshmonitor-1", "State": {"Running": True, "Pid": 0},
             "HostConfig": {"NetworkMode": "meshmonitor_default"},
             "NetworkSettings": {"Ports": {"3001/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}}}
# Docker's NAT of MeshMonitor's published port, and the host listening there (its userland proxy).
NAT = "-N DOCKER\n-A DOCKER ! -i br-1a2b -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:3001\n"
PROC = {"/proc/net/if_inet6": "", "/proc/net/tcp6": "",
        "/proc/net/tcp": "  sl  local_address rem_address   st\n   0: 00000000:1F90 00000000:0000 0A 0 0 0\n"}
# Each jail's table (its actions labelled as the record says), both families.
NFT = ("table inet f2b-{jail} {{\n"
       "\tset addr-set-{label} {{\n\t\ttype ipv4_addr\n\t}}\n\tset addr6-set-{label} {{\n\t\ttype ipv6_addr\n\t}}\n"
       "\tset addr-set-{label} {{\n\t\ttype ipv4_addr\n\t}}\n\tset addr6-set-{label} {{\n\t\ttype ipv6_addr\n\t}}\n"
       "\tchain forward {{\n"
       "\t\ttcp dport {{ 3001, 8080 }} ip saddr @addr-set-{label} drop\n"
       "\t\tmeta l4proto tcp ct original proto-dst {{ 3001, 8080 }} ip saddr @addr-set-{label} drop\n"
       "\t\ttcp dport {{ 3001, 8080 }} ip6 saddr @addr6-set-{label} drop\n"
       "\t\tmeta l4proto tcp ct original proto-dst {{ 3001, 8080 }} ip6 saddr @addr6-set-{label} drop\n\t}}\n"
       "\tchain input {{\n\t\ttcp dport 8080 ip saddr @addr-set-{label} drop\n"
       "\t\ttcp dport 8080 ip6 saddr @addr6-set-{label} drop\n\t}}\n}}\n")
LABELS = {"f2b-garden": "garden", "f2b-garden-sync": "garden-copy"}
LINES = ['::ffff:198.51.100.7 - - [27/Nov/2026:08:00:00 +0000] "POST /api/auth/login HTTP/1.1" 401 31 "-" "curl/8"',
         '::ffff:198.51.100.7 - - [27/Nov/2026:08:00:01 +0000] "POST /api/auth/login HTTP/1.1" 401 31 "-" "curl/8"',
         '::ffff:192.0.2.10 - - [27/Nov/2026:08:00:05 +0000] "GET / HTTP/1.1" 200 512 "-" "Firefox"']
PATHS = [{"hook": "forward", "ports": [3001, 8080], "protocols": ["tcp"]}, {"hook": "input", "ports": [8080], "protocols": ["tcp"]}]


class Done(Exception):
    pass


class FakeModule:
    check_mode = True

    def __init__(self, params, matched=2, fail2ban=True, jails=("garden", "garden-sync"), tables=tuple(LABELS)):
        self.params = dict({"jail": None, "operator_ip": None, "log_max_age": 86400, "tail_lines": 50}, **params)
        self.jails, self.tables = jails, tables
        self.matched = matched
        self.fail2ban = fail2ban
        self.commands = []

    def get_bin_path(self, name, required=False):
        return None if name.startswith("fail2ban") and not self.fail2ban else "/usr/bin/" + name

    def run_command(self, args):
        self.commands.append(args)
        name = os.path.basename(args[0])
        if name == "fail2ban-client" and args[1] == "status" and args[2] in self.jails:
            return 0, "Status for the jail: %s\n`- File list:\t%s\n" % (args[2], self.params["logpath"]), ""
        if name == "fail2ban-client" and args[1] == "status":
            return 255, "", "Sorry but the jail '%s' does not exist" % args[2]
        if name == "fail2ban-client" and args[1:] == ["get", "garden", "ignoreip"]:
            return 0, "These IP addresses/networks are ignored:\n|- 127.0.0.0/8\n`- 192.0.2.0/24\n", ""
        if name == "fail2ban-regex":
            return 0, "Lines: 3 lines, 0 ignored, %d matched, 1 missed\n" % self.matched, ""
        if name == "docker" and args[1:3] == ["ps", "-aq"]:
            return 0, "abc123\n", ""
        if name == "docker" and args[1] == "inspect":
            return 0, json.dumps([PUBLISHED]), ""
        if name in ("iptables", "ip6tables") and args[2:] == ["-t", "nat", "-S", "DOCKER"]:
            return 0, NAT if name == "iptables" else "", ""
        if name == "systemctl" and args[1:] == ["is-enabled", "meshmonitor-fail2ban-bans"]:
            return 0, "enabled\n", ""
        if name == "nft":
            return 0, NFT.format(jail=args[4][4:], label=LABELS[args[4]]) if args[4] in self.tables else "", ""
        raise AssertionError(args)

    def exit_json(self, **result):
        raise Done(result)

    def fail_json(self, **result):
        raise Done(dict(result, failed=True))


@pytest.fixture
def host(tmp_path):
    """A host the jail role deployed jail 'garden' on: its record, its log."""
    facts = tmp_path / "facts.d"
    facts.mkdir()
    log = tmp_path / "access.log"
    log.write_text("\n".join(LINES) + "\n")
    os.utime(str(log), (1795766405 + 1, 1795766405 + 1))
    record = {"written_by": "meshmonitor.fail2ban.jail", "jail": "garden",
              "jails": {"main": "garden", "sync": "garden-sync"},
              "filter": 'meshmonitor[baseurl="", clients=direct, apiauth=off]',
              "failures_pattern": '"POST [^"]*/api/auth/(login/?(\\?[^" ]*)? [^"]*" (401|403|429 13[4-6])) ',
              "logpath": str(log), "topology": "docker", "firewall": "nftables",
              "exposure_inputs": {"behind_proxy": False, "proxy_ports": [80, 443], "published_ports": [8080],
                                  "container_port": 3001, "paths": []},
              "ban_paths": PATHS, "docker_gateways": ["172.18.0.1"], "cloudflare": False, "origin_lock": False,
              "url": "http://127.0.0.1:8080", "public_urls": ["https://mesh.example.org"],
              "firewall_labels": {"main": "garden", "sync": "garden-copy"}, "boot_unit": "meshmonitor-fail2ban-bans"}
    (facts / "meshmonitor_fail2ban_garden.fact").write_text(json.dumps(record))
    (facts / "other.fact").write_text("[section]\nkey=value\n")
    return {"fact_path": str(facts), "logpath": str(log)}


@pytest.fixture(autouse=True)
def dual_stack(monkeypatch):
    monkeypatch.setattr(host_utils, "host_families", lambda: ("ipv4", "ipv6"))
    monkeypatch.setattr(host_utils, "_read_file", PROC.get)


@pytest.fixture(autouse=True)
def meshmonitor(monkeypatch):
    """MeshMonitor's own answers: its admin's password changed, no issue; what was asked is kept."""
    asked = []

    def ask(module, record):
        asked.append((record["url"], record["public_urls"]))
        return {"url": record["url"], "default_password": {"status": 200, "json": {"isDefaultPassword": False}, "error": ""},
                "config": [{"origin": "https://mesh.example.org", "status": 200, "json": {"issues": []}, "error": ""}]}
    monkeypatch.setattr(doctor, "ask_meshmonitor", ask)
    return asked


def run(module):
    with pytest.raises(Done) as outcome:
        doctor.run_module(module)
    return outcome.value.args[0]


def test_a_recorded_jail_is_checked_from_the_record(host, monkeypatch, meshmonitor):
    monkeypatch.setattr(doctor.time, "time", lambda: 1795766405 + 60)
    module = FakeModule(dict(host, operator_ip="::ffff:192.0.2.10"))
    result = run(module)
    assert result["jail"] == "garden" and not result["changed"]
    assert result["failed_checks"] == []
    verdicts = {item["check"]: item["verdict"] for item in result["report"]}
    assert [check for check, verdict in verdicts.items() if verdict != "OK"] == ["TLS in front of MeshMonitor"]
    details = {item["check"]: item["detail"] for item in result["report"]}
    assert details["operator covered by ignoreip"] == "192.0.2.10 is covered by 192.0.2.0/24"
    assert details["filter matches the failures in the log"].startswith("log: 2 failed logins, filter meshmonitor[")
    assert ["/usr/bin/fail2ban-regex", host["logpath"], 'meshmonitor[baseurl="", clients=direct, apiauth=off]'] in module.commands
    assert ["/usr/bin/nft", "list", "table", "inet", "f2b-garden"] in module.commands
    assert ["/usr/bin/nft", "list", "table", "inet", "f2b-garden-sync"] in module.commands
    assert details["jail running"] == "fail2ban runs jails garden, garden-sync"
    assert details["ban chain hooked where the traffic passes"] == (
        "nftables: forward: garden-fwd 3001,8080 (tcp; IPv4+IPv6); input: garden-in 8080 (tcp; IPv4+IPv6) "
        "(checked for jails garden-sync too)")
    assert details["Cloudflare accepts the token"] == "not used (jail_cloudflare_enabled is off)"
    assert meshmonitor == [("http://127.0.0.1:8080", ["https://mesh.example.org"])]
    assert details["default admin password no longer works"] == "MeshMonitor says its admin's password is not the default"


def test_a_stopped_or_unhooked_copy_jail_fails_the_host(host):
    result = run(FakeModule(host, jails=("garden",), tables=("f2b-garden",)))
    assert result["failed_checks"] == ["jail running", "ban chain hooked where the traffic passes"]
    details = {item["check"]: item["detail"] for item in result["report"]}
    assert details["jail running"].startswith("garden-sync: fail2ban has no jail named 'garden-sync'")
    assert "; garden-sync forward: garden-copy-fwd 3001,8080 (tcp; IPv4, IPv6 at its first IPv6 ban); missing IPv4 tcp 3001,8080;" in (
        details["ban chain hooked where the traffic passes"])


def test_filter_and_log_disagreeing_fails_that_check(host):
    result = run(FakeModule(host, matched=1))
    assert result["failed_checks"] == ["filter matches the failures in the log"]


def test_without_fail2ban_the_jail_and_log_checks_fail_and_the_operator_is_unknown(host):
    result = run(FakeModule(dict(host, operator_ip="192.0.2.10"), fail2ban=False))
    verdicts = {item["check"]: item["verdict"] for item in result["report"]}
    assert verdicts["jail running"] == "FAIL" and verdicts["log readable"] == "FAIL"
    assert verdicts["operator covered by ignoreip"] == "WARN"
    assert result["report"][0]["detail"] == "garden: fail2ban is not installed"


def test_no_record_or_a_bad_operator_address_fails_with_a_message(host, tmp_path):
    result = run(FakeModule(dict(host, jail="meshmonitor")))
    assert result["failed"] and result["msg"] == "this host has no MeshMonitor jail named meshmonitor; it has garden"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no MeshMonitor jail is recorded" in run(FakeModule(dict(host, fact_path=str(empty))))["msg"]
    bad = run(FakeModule(dict(host, operator_ip="not-an-address")))
    assert bad["failed"] and bad["msg"].startswith("operator_ip: not an IP address")


def test_what_the_log_guard_moved_aside_is_reported(host):
    moved = host["logpath"] + ".refused-20261204T215202Z"
    os.mkdir(moved)
    result = run(FakeModule(host))
    assert "log never replaced from inside the container" in result["failed_checks"]


def test_docker_nat_flushed_fails_the_host_naming_the_relayed_port(host, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "NAT", "-N DOCKER\n")
    result = run(FakeModule(host))
    assert result["failed_checks"] == ["clients logged as themselves, not as Docker's gateway"]
    assert result["report"][5]["detail"].startswith(
        "Docker's userland proxy relays the clients of meshmonitor-meshmonitor-1 0.0.0.0:8080/tcp (IPv4): Docker has no NAT rule")
