# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import re
import sys

import pytest

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils import host
from ansible_collections.meshmonitor.fail2ban.plugins.modules import exposure_info


def ipv6_too(text):
    """Each rule of the text followed by its IPv6 twin, as fail2ban's action writes both."""
    return re.sub(r"(\t\t.*) ip saddr (!= )?@addr-set-(.*)\n", lambda m: "%s\t\t%s ip6 saddr %s@addr6-set-%s\n" % (
        m.group(0), m.group(1).strip(), m.group(2) or "", m.group(3)), text)


# The host's /proc files the userland proxy check reads: IPv4 clients only, the proxy listening on 443.
PROC = {"/proc/net/if_inet6": "", "/proc/net/tcp6": "",
        "/proc/net/tcp": "  sl  local_address rem_address   st\n   0: 00000000:01BB 00000000:0000 0A 0 0 0\n"}


# What each port the origin lock opens gives a client without a certificate (host.probe_front_port),
# by port: the proxy's 443 demands the zone's certificate, MeshMonitor's 8080 serves plain HTTP.
FRONT = {443: {"tls": True, "status": None, "location": "", "names": ["CN = zone pulls CA"]},
         8080: {"tls": False, "status": 200, "location": "", "names": None}}


@pytest.fixture(autouse=True)
def dual_stack(monkeypatch):
    monkeypatch.setattr(host, "host_families", lambda: ("ipv4", "ipv6"))
    monkeypatch.setattr(host, "_read_file", PROC.get)
    monkeypatch.setattr(host, "probe_front_port", lambda module, address, port, name: dict(
        FRONT[port], port=port, address=address, name=name))


PROXY = {"Name": "/edge-proxy", "State": {"Running": True},
         "HostConfig": {"NetworkMode": "bridge"},
         "NetworkSettings": {"Ports": {"8443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "443"}],
                                       "8443/udp": [{"HostIp": "0.0.0.0", "HostPort": "443"}]}}}
NFT = ("table inet f2b-meshmonitor {\n\tchain forward {\n"
       "\t\ttcp dport { 443, 3001, 8080 } ip saddr @addr-set-meshmonitor drop\n"
       "\t\tmeta l4proto tcp ct original proto-dst { 443, 3001, 8080 } ip saddr @addr-set-meshmonitor drop\n"
       "\t\tudp dport { 443, 3001, 8080 } ip saddr @addr-set-meshmonitor drop\n"
       "\t\tmeta l4proto udp ct original proto-dst { 443, 3001, 8080 } ip saddr @addr-set-meshmonitor drop\n\t}\n"
       "\tchain input {\n\t\ttcp dport { 443, 8080 } ip saddr @addr-set-meshmonitor drop\n\t}\n}\n")
# The origin lock's tables (both listed at once for brevity; each is its own table on a host).
NFT_LOCK = ("table ip f2b-meshmonitor-cf-fwd {\n\tchain forward {\n"
            "\t\tct direction original ct status dnat tcp dport { 443, 3001, 8080 } ip saddr != @addr-set-meshmonitor-cf-fwd drop\n"
            "\t\tct direction original ct status dnat meta l4proto tcp ct original proto-dst { 443, 3001, 8080 } "
            "ip saddr != @addr-set-meshmonitor-cf-fwd drop\n"
            "\t\tct direction original ct status dnat udp dport { 443, 3001, 8080 } ip saddr != @addr-set-meshmonitor-cf-fwd drop\n"
            "\t\tct direction original ct status dnat meta l4proto udp ct original proto-dst { 443, 3001, 8080 } "
            "ip saddr != @addr-set-meshmonitor-cf-fwd drop\n"
            "\t}\n}\ntable ip f2b-meshmonitor-cf-in {\n\tchain input {\n"
            "\t\tiifname != \"lo\" tcp dport { 443, 8080 } ip saddr != @addr-set-meshmonitor-cf-in drop\n\t}\n}\n")

# Docker's NAT of the proxy's ports (iptables -t nat -S DOCKER).
NAT = ("-N DOCKER\n-A DOCKER ! -i docker0 -p tcp -m tcp --dport 443 -j DNAT --to-destination 172.17.0.2:8443\n"
       "-A DOCKER ! -i docker0 -p udp -m udp --dport 443 -j DNAT --to-destination 172.17.0.2:8443\n")

NFT = ipv6_too(NFT).replace("{\n\tchain forward", "{\n\tset addr-set-meshmonitor {\n\t}\n\tset addr6-set-meshmonitor {\n\t}\n"
                            "\tchain forward", 1)
# The lock's IPv6 tables: the same rules in tables of family ip6.
NFT_LOCK6 = re.sub(r"\bip saddr", "ip6 saddr", NFT_LOCK.replace("table ip ", "table ip6 "))
NFT_LOCK6 = NFT_LOCK6.replace("{\n\tchain forward", "{\n\tset addr6-set-meshmonitor-cf-fwd {\n\t}\n\tchain forward").replace(
    "{\n\tchain input", "{\n\tset addr6-set-meshmonitor-cf-in {\n\t}\n\tchain input")


class Done(Exception):
    pass


class FakeModule:
    check_mode = False

    def __init__(self, params, docker=True):
        self.params = dict({"behind_proxy": False, "proxy_ports": [80, 443], "published_ports": [8080],
                            "container_port": 3001, "paths": [], "jail": None, "firewall": None,
                            "origin_lock": False}, **params)
        self.docker = docker
        self.commands = []
        self.warnings = []

    def get_bin_path(self, name, required=False):
        return None if name == "docker" and not self.docker else "/usr/bin/" + name

    def run_command(self, args):
        self.commands.append(args)
        if args[1:3] == ["ps", "-aq"]:
            return 0, "abc123\n", ""
        if args[1] == "inspect":
            return 0, json.dumps([PROXY]), ""
        if args[2:] == ["-t", "nat", "-S", "DOCKER"]:
            return 0, NAT if args[0].endswith("/iptables") else "", ""
        if args[0].endswith("nft"):
            return 0, {"ip": NFT_LOCK, "ip6": NFT_LOCK6}.get(args[3], NFT), ""
        raise AssertionError(args)

    def warn(self, text):
        self.warnings.append(text)

    def exit_json(self, **result):
        raise Done(result)

    def fail_json(self, **result):
        raise Done(dict(result, failed=True))


def run(params, docker=True):
    module = FakeModule(params, docker)
    with pytest.raises(Done) as outcome:
        exposure_info.run_module(module)
    return outcome.value.args[0]


def test_proxy_container_found_and_hooks_checked():
    result = run({"behind_proxy": True, "proxy_ports": [443], "jail": "meshmonitor", "firewall": "nftables"})
    assert result["kind"] == "proxy-container"
    assert result["paths"][0] == {"hook": "forward", "ports": [443, 3001, 8080], "protocols": ["tcp", "udp"]}
    assert [h["ok"] for h in result["hooked"]] == [True, False]
    assert result["hooked"][1]["detail"].endswith("missing IPv4 udp 443,8080; IPv6 udp 443,8080")


def test_ipv6_is_required_once_fail2ban_started_it(monkeypatch):
    # Before its start for IPv6 (no IPv6 set yet: fail2ban without allowipv6 starts it at the first IPv6 ban).
    monkeypatch.setattr(sys.modules[__name__], "NFT", re.sub(r"\tset addr6-set-meshmonitor \{\n\t\}\n", "", NFT))
    result = run({"behind_proxy": True, "proxy_ports": [443], "jail": "meshmonitor", "firewall": "nftables"})
    assert result["hooked"][0]["ok"] and result["hooked"][0]["families"] == ["ipv4"]
    assert result["hooked"][0]["detail"] == "forward: meshmonitor-fwd 443,3001,8080 (tcp+udp; IPv4, IPv6 at its first IPv6 ban)"


def test_a_path_dropped_for_ipv4_only_is_not_hooked(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "NFT", NFT.replace("tcp dport { 443, 8080 } ip6 saddr", "tcp dport { 443 } ip6 saddr"))
    result = run({"proxy_ports": [443], "jail": "meshmonitor", "firewall": "nftables", "behind_proxy": True})
    assert result["hooked"][1]["detail"].endswith("missing IPv4 udp 443,8080; IPv6 tcp 8080; IPv6 udp 443,8080")


def test_origin_lock_read_from_its_own_tables():
    module = FakeModule({"behind_proxy": True, "proxy_ports": [443], "jail": "meshmonitor", "firewall": "nftables",
                         "origin_lock": True, "public_urls": ["http://192.0.2.1:8080", "https://mesh.example.org/"]})
    with pytest.raises(Done) as outcome:
        exposure_info.run_module(module)
    result = outcome.value.args[0]
    assert ["/usr/bin/nft", "list", "table", "ip", "f2b-meshmonitor-cf-fwd"] in module.commands
    assert ["/usr/bin/nft", "list", "table", "ip6", "f2b-meshmonitor-cf-in"] in module.commands
    # The lock's rules count for the lock, never as bans.
    assert [h["ok"] for h in result["hooked"]] == [True, False]
    assert [h["detail"] for h in result["origin_locked"]] == [
        "forward: meshmonitor-cf-fwd 443,3001,8080 (tcp+udp; IPv4+IPv6)",
        "input: meshmonitor-cf-in 443,8080 (tcp+udp; IPv4+IPv6); missing IPv4 udp 443,8080; IPv6 udp 443,8080"]
    # Each TCP port the lock opens is asked as the host reaches it, with the public URL's name; a port
    # serving a client without a certificate is warned about.
    assert [(item["address"], item["port"], item["name"], item["verdict"]) for item in result["origin_pulls"]] == [
        ("127.0.0.1", 443, "mesh.example.org", "OK"), ("127.0.0.1", 8080, "mesh.example.org", "FAIL")]
    assert module.warnings == ["origin lock (only your Cloudflare zone should pass it): " + result["origin_pulls"][1]["detail"]]
    assert module.warnings[0].startswith("origin lock (only your Cloudflare zone should pass it): 8080/tcp: plain HTTP answered (200)")


def test_the_proxy_is_asked_only_with_the_lock():
    assert "origin_pulls" not in run({"behind_proxy": True, "proxy_ports": [443]})


def test_without_docker_the_proxy_is_on_the_host():
    result = run({"behind_proxy": True}, docker=False)
    assert result["kind"] == "proxy-host"
    assert result["bindings"] == []
    assert "hooked" not in result


def test_explicit_paths_win_and_bad_ones_are_refused():
    result = run({"paths": [{"hook": "input", "ports": [8443], "protocols": ["udp"]}]})
    assert result["kind"] == "explicit"
    assert result["paths"] == [{"hook": "input", "ports": [8443], "protocols": ["udp"]}]
    refused = run({"paths": [{"hook": "prerouting", "ports": [443]}]})
    assert refused["failed"] and refused["msg"].startswith("jail_ban_paths[0]: hook must be forward")


def test_proxy_ports_docker_nats_are_not_relayed():
    assert run({"behind_proxy": True, "proxy_ports": [443]})["relayed"] == []


def test_without_docker_nat_the_proxy_clients_are_relayed(monkeypatch):
    # Docker's rules flushed (or its iptables option off): its userland proxy serves both.
    monkeypatch.setattr(sys.modules[__name__], "NAT", "-N DOCKER\n")
    relayed = run({"behind_proxy": True, "proxy_ports": [443]})["relayed"]
    assert [(b["container"], b["host_port"], b["protocol"], b["family"]) for b in relayed] == [
        ("edge-proxy", 443, "tcp", "ipv4"), ("edge-proxy", 443, "udp", "ipv4")]


def test_the_lock_needs_its_ipv6_part_where_ipv6_clients_reach_the_host(monkeypatch):
    # fail2ban did not start the lock's IPv6 part (allowipv6 auto with iptables, say), and the host has a global
    # IPv6 address: IPv6 clients would go around the lock.
    monkeypatch.setattr(sys.modules[__name__], "NFT_LOCK6", "")
    global_ipv6 = dict(PROC, **{"/proc/net/if_inet6": "20010db8000000000000000000000010 02 40 00 00     eth0\n"})
    monkeypatch.setattr(host, "_read_file", global_ipv6.get)
    result = run({"behind_proxy": True, "proxy_ports": [443], "jail": "meshmonitor", "firewall": "nftables", "origin_lock": True})
    assert not result["origin_locked"][0]["ok"]
    assert result["origin_locked"][0]["detail"].endswith(
        "missing IPv6 tcp 443,3001,8080; IPv6 tcp 443,3001,8080 as sent; IPv6 udp 443,3001,8080; IPv6 udp 443,3001,8080 as sent")
    # Without an IPv6 address clients could reach, the part comes with fail2ban's IPv6 start.
    monkeypatch.setattr(host, "_read_file", PROC.get)
    result = run({"behind_proxy": True, "proxy_ports": [443], "jail": "meshmonitor", "firewall": "nftables", "origin_lock": True})
    assert result["origin_locked"][0]["ok"]
    assert result["origin_locked"][0]["detail"].endswith("(tcp+udp; IPv4, IPv6 not needed: no IPv6 address clients reach)")
