# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where bans must hook, from docker inspect output captured in the lab (Docker 26, Debian 13)."""

from __future__ import annotations

import pytest

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.exposure import (
    ExposureError, check_hooked, check_paths, docker_nat_ports, host_network_containers, listen_families,
    parse_firewall_rules, plan_exposure, port_bindings, publisher_of, reachable_families, relayed_bindings, relayed_text,
    started_actions, tcp_listeners)

# A proxy container publishing 80 -> 8080/tcp and 443 -> 8443/tcp+udp, and MeshMonitor on loopback.
PROXY = {"Name": "/edge-proxy", "State": {"Running": True},
         "HostConfig": {"NetworkMode": "bridge", "PortBindings": {
             "8080/tcp": [{"HostIp": "", "HostPort": "80"}], "8443/tcp": [{"HostIp": "", "HostPort": "443"}],
             "8443/udp": [{"HostIp": "", "HostPort": "443"}]}},
         "NetworkSettings": {"Ports": {
             "3001/tcp": None, "8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "80"}],
             "8443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "443"}],
             "8443/udp": [{"HostIp": "0.0.0.0", "HostPort": "443"}]}}}
MESHMONITOR = {"Name": "/meshmonitor-meshmonitor-1", "State": {"Running": True},
               "HostConfig": {"NetworkMode": "meshmonitor_default",
                              "PortBindings": {"3001/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}},
               "NetworkSettings": {"Ports": {"3001/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}}}
# Stopped: its configured bindings count, since it publishes them again when it starts.
STOPPED_CADDY = {"Name": "/caddy", "State": {"Running": False},
                 "HostConfig": {"NetworkMode": "bridge", "PortBindings": {
                     "443/tcp": [{"HostIp": "", "HostPort": "443"}, {"HostIp": "::", "HostPort": "443"}],
                     "443/udp": [{"HostIp": "", "HostPort": "443"}]}},
                 "NetworkSettings": {"Ports": {}}}
HOST_NETWORK = {"Name": "/traefik", "State": {"Running": True},
                "HostConfig": {"NetworkMode": "host", "PortBindings": {}}, "NetworkSettings": {"Ports": {}}}


def test_bindings_map_host_ports_to_container_ports():
    assert port_bindings([PROXY]) == [
        {"container": "edge-proxy", "host_ip": "0.0.0.0", "host_port": 80, "port": 8080, "protocol": "tcp"},
        {"container": "edge-proxy", "host_ip": "0.0.0.0", "host_port": 443, "port": 8443, "protocol": "tcp"},
        {"container": "edge-proxy", "host_ip": "0.0.0.0", "host_port": 443, "port": 8443, "protocol": "udp"}]


def test_stopped_container_counts_with_its_configured_ports():
    assert {(b["host_port"], b["protocol"], b["host_ip"]) for b in port_bindings([STOPPED_CADDY])} == {
        (443, "tcp", ""), (443, "tcp", "::"), (443, "udp", "")}


def test_ephemeral_and_unpublished_ports_are_skipped():
    container = {"Name": "/x", "State": {"Running": False},
                 "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": ""}], "81/tcp": None}}}
    assert port_bindings([container]) == []


def test_docker_topology_hooks_meshmonitor_only():
    plan = plan_exposure(port_bindings([PROXY, MESHMONITOR]), False, [80, 443], [8080], 3001)
    assert plan["kind"] == "docker"
    assert plan["paths"] == [{"hook": "forward", "ports": [3001, 8080], "protocols": ["tcp"]},
                             {"hook": "input", "ports": [8080], "protocols": ["tcp"]}]


# The proxy's container ports (8080, 8443) are not in the paths: on forward its host ports are
# matched as the client sent them, whatever container publishes them.
PROXY_PATHS = [{"hook": "forward", "ports": [80, 443, 3001, 8080], "protocols": ["tcp", "udp"]},
               {"hook": "input", "ports": [80, 443, 8080], "protocols": ["tcp", "udp"]}]


def test_proxy_container_is_reported_and_the_proxy_ports_hooked_for_tcp_and_udp():
    plan = plan_exposure(port_bindings([PROXY, MESHMONITOR]), True, [80, 443], [8080], 3001)
    assert plan["kind"] == "proxy-container"
    assert plan["publishers"] == ["edge-proxy"]
    assert plan["paths"] == PROXY_PATHS
    assert plan["summary"].startswith(
        "proxy container edge-proxy publishes 80/tcp -> 8080, 443/tcp -> 8443, 443/udp -> 8443; bans hooked on forward")


def test_proxy_on_the_host_is_hooked_on_input():
    plan = plan_exposure(port_bindings([MESHMONITOR]), True, [80, 443], [8080], 3001,
                         host_network_containers([MESHMONITOR, HOST_NETWORK]))
    assert plan["kind"] == "proxy-host"
    assert plan["paths"][1] == {"hook": "input", "ports": [80, 443, 8080], "protocols": ["tcp", "udp"]}
    assert "host-network container (traefik)" in plan["summary"]


def test_two_proxy_containers_are_both_reported():
    plan = plan_exposure(port_bindings([PROXY, dict(STOPPED_CADDY, Name="/other")]), True, [443], [8080], 3001)
    assert plan["publishers"] == ["edge-proxy", "other"]
    assert plan["paths"][0]["ports"] == [443, 3001, 8080]


def test_paths_do_not_depend_on_what_publishes_the_ports_now():
    # A proxy started after the jail, re-created on other container ports, or none yet: the same rules.
    moved = dict(PROXY, NetworkSettings={"Ports": {"9443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "443"}]}})
    plans = [plan_exposure(port_bindings(containers), True, [80, 443], [8080], 3001)
             for containers in ([MESHMONITOR], [PROXY, MESHMONITOR], [moved, MESHMONITOR])]
    assert [plan["paths"] for plan in plans] == [PROXY_PATHS] * 3
    assert [plan["kind"] for plan in plans] == ["proxy-host", "proxy-container", "proxy-container"]
    assert "443/tcp -> 9443" in plans[2]["summary"]


def test_explicit_paths_are_normalised():
    assert check_paths([{"hook": "forward", "ports": ["443", 443, 80], "protocols": ["udp", "tcp"]}]) == [
        {"hook": "forward", "ports": [80, 443], "protocols": ["tcp", "udp"]}]


@pytest.mark.parametrize("paths, words", [
    ([], "is empty"),
    ("forward", "must be a list"),
    ([{"hook": "output", "ports": [80]}], "jail_ban_paths[0]: hook must be forward"),
    ([{"hook": "input", "ports": []}], "jail_ban_paths[0]: ports must be"),
    ([{"hook": "input", "ports": [70000]}], "ports must be"),
    ([{"hook": "input", "ports": [80], "protocols": ["sctp"]}], "protocols must list tcp"),
    ([{"hook": "input", "ports": [80]}, {"hook": "input", "ports": [443]}], "jail_ban_paths[1]: one entry per hook"),
])
def test_bad_explicit_paths_are_refused_naming_the_entry(paths, words):
    with pytest.raises(ExposureError, match=None) as error:
        check_paths(paths)
    assert words in str(error.value)


NFT = """table inet f2b-meshmonitor {
\tset addr-set-meshmonitor {
\t\ttype ipv4_addr
\t}
\tchain forward {
\t\ttype filter hook forward priority filter - 1; policy accept;
\t\ttcp dport { 80, 443, 3001, 8080 } ip saddr @addr-set-meshmonitor drop
\t\tmeta l4proto tcp ct original proto-dst { 80, 443, 3001, 8080 } ip saddr @addr-set-meshmonitor drop
\t\tudp dport { 80, 443, 3001, 8080 } ip saddr @addr-set-meshmonitor drop
\t\tmeta l4proto udp ct original proto-dst { 80, 443 } ip saddr @addr-set-meshmonitor drop
\t\ttcp dport { 80, 443, 3001, 8080 } ip6 saddr @addr6-set-meshmonitor drop
\t}
\tchain input {
\t\ttype filter hook input priority filter - 1; policy accept;
\t\ttcp dport 8080 ip saddr @addr-set-meshmonitor counter packets 12 bytes 720 drop
\t}
}
"""
IPTABLES = """-N DOCKER-USER
-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 8080 -j f2b-meshmonitor-fwd
-A DOCKER-USER -p tcp -m multiport --dports 3001 -j f2b-meshmonitor-fwd
-A DOCKER-USER -j RETURN
-P INPUT ACCEPT
-A INPUT -p tcp -m multiport --dports 8080 -j f2b-meshmonitor-in
-A INPUT -p tcp -m multiport --dports 8080 -j f2b-meshmonitor-perm-in
"""


def test_nft_rules_are_read():
    rules = parse_firewall_rules("nftables", NFT)
    assert rules[0] == {"action": "meshmonitor-fwd", "protocol": "tcp", "ports": [80, 443, 3001, 8080], "original": False,
                        "chain": "", "allow_only": False, "family": "ipv4"}
    assert rules[1] == dict(rules[0], original=True)
    # Rules since 0.3.0 count what they drop (the metrics); those of 0.2.0 did not: both are read.
    assert rules[4]["family"] == "ipv6"
    assert rules[5] == {"action": "meshmonitor-in", "protocol": "tcp", "ports": [8080], "original": False, "chain": "",
                        "allow_only": False, "family": "ipv4"}
    assert len(rules) == 6


def test_nft_ipv6_rules_on_the_64_sparing_ignoreip_are_read():
    # nft 1.0.6 and 1.1 print an IPv6 ban rule so: the source's /64 looked up, ignoreip spared.
    listing = """table inet f2b-meshmonitor {
\tchain input {
\t\ttcp dport 8080 ip6 saddr != { 2001:db8::/48, fd00::30 } ip6 saddr & ffff:ffff:ffff:ffff:: == @addr6-set-meshmonitor counter packets 0 bytes 0 drop
\t\tudp dport 8080 ip6 saddr != fd00::30 ip6 saddr & ffff:ffff:ffff:ffff:: == @addr6-set-meshmonitor counter packets 0 bytes 0 drop
\t\ttcp dport 8081 ip6 saddr & ffff:ffff:ffff:ffff:: == @addr6-set-meshmonitor counter packets 0 bytes 0 drop
\t}
}
"""
    rules = parse_firewall_rules("nftables", listing)
    assert [(r["action"], r["protocol"], r["ports"], r["family"], r["allow_only"]) for r in rules] == [
        ("meshmonitor-in", "tcp", [8080], "ipv6", False), ("meshmonitor-in", "udp", [8080], "ipv6", False),
        ("meshmonitor-in", "tcp", [8081], "ipv6", False)]


def test_iptables_rules_are_read():
    rules = parse_firewall_rules("iptables", IPTABLES)
    assert [(r["chain"], r["action"], r["ports"], r["original"]) for r in rules] == [
        ("DOCKER-USER", "meshmonitor-fwd", [8080], True), ("DOCKER-USER", "meshmonitor-fwd", [3001], False),
        ("INPUT", "meshmonitor-in", [8080], False), ("INPUT", "meshmonitor-perm-in", [8080], False)]
    # iptables -S lists one family: ip6tables' rules are read as IPv6.
    assert {rule["family"] for rule in parse_firewall_rules("iptables", IPTABLES, "ipv6")} == {"ipv6"}


def test_hooked_names_what_is_missing():
    forward, inputs = check_hooked(PROXY_PATHS, parse_firewall_rules("nftables", NFT),
                                   {"forward": "meshmonitor-fwd", "input": "meshmonitor-in"}, ("ipv4",))
    # On forward a port counts only when matched as it arrives and as the client sent it.
    assert forward["ok"] is False
    assert forward["detail"].endswith("(tcp+udp; IPv4); missing IPv4 udp 3001,8080 as sent")
    assert inputs["ok"] is False
    assert inputs["detail"].endswith("missing IPv4 tcp 80,443; IPv4 udp 80,443,8080")


def test_started_actions_are_read_from_sets_and_chains():
    # The jail's set serves each of its paths.
    assert started_actions("nftables", NFT) == {("ipv4", "meshmonitor"), ("ipv4", "meshmonitor-fwd"), ("ipv4", "meshmonitor-in")}
    assert started_actions("iptables", "-N f2b-meshmonitor-in\n-N DOCKER-USER\n", "ipv6") == {("ipv6", "meshmonitor-in")}


def test_both_families_are_checked():
    forward = check_hooked(PROXY_PATHS[:1], parse_firewall_rules("nftables", NFT), {"forward": "meshmonitor-fwd"})[0]
    # The IPv6 rules hold only tcp as it arrives: the rest is missing for IPv6.
    assert forward["families"] == ["ipv4", "ipv6"]
    assert forward["detail"].endswith("missing IPv4 udp 3001,8080 as sent; IPv6 tcp 80,443,3001,8080 as sent; "
                                      "IPv6 udp 80,443,3001,8080; IPv6 udp 80,443,3001,8080 as sent")


def test_iptables_port_ranges_are_read_as_their_ports():
    rules = parse_firewall_rules("iptables", "-A DOCKER-USER -p udp -m conntrack --ctorigdstport 442:444 -j f2b-m-fwd\n")
    assert rules[0]["ports"] == [442, 443, 444] and rules[0]["original"]


def test_nothing_hooked_when_the_jump_is_gone():
    rules = parse_firewall_rules("iptables", "-N DOCKER-USER\n-A DOCKER-USER -j RETURN\n")
    assert not check_hooked([{"hook": "forward", "ports": [3001], "protocols": ["tcp"]}], rules,
                            {"forward": "meshmonitor-fwd"})[0]["ok"]


# The origin lock's tables (jail_cloudflare_origin_lock), as nft lists them (Debian 13), and its
# iptables jumps (iptables -S).
NFT_LOCK = """table ip f2b-meshmonitor-cf-fwd {
\tset addr-set-meshmonitor-cf-fwd {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 127.0.0.0/8, 172.18.0.1,
\t\t\t     172.30.81.40/29 }
\t}
\tchain forward {
\t\ttype filter hook forward priority filter - 1; policy accept;
\t\tct direction original ct status dnat tcp dport { 80, 443, 3001, 8080 } ip saddr != @addr-set-meshmonitor-cf-fwd drop
\t\tct direction original ct status dnat meta l4proto tcp ct original proto-dst { 80, 443, 3001, 8080 } ip saddr != @addr-set-meshmonitor-cf-fwd drop
\t\tct direction original ct status dnat udp dport { 80, 443, 3001, 8080 } ip saddr != @addr-set-meshmonitor-cf-fwd drop
\t\tct direction original ct status dnat meta l4proto udp ct original proto-dst { 80, 443, 3001, 8080 } ip saddr != @addr-set-meshmonitor-cf-fwd drop
\t}
}
table ip f2b-meshmonitor-cf-in {
\tchain input {
\t\ttype filter hook input priority filter - 1; policy accept;
\t\tiifname != "lo" tcp dport { 80, 443, 8080 } ip saddr != @addr-set-meshmonitor-cf-in drop
\t}
}
"""
IPTABLES_LOCK = """-N DOCKER-USER
-A DOCKER-USER -p tcp -m conntrack --ctstate DNAT --ctdir ORIGINAL -m multiport --dports 3001,8080 -j f2b-meshmonitor-cf-fwd
-A DOCKER-USER -p tcp -m conntrack --ctstate DNAT --ctdir ORIGINAL -m conntrack --ctorigdstport 8080 -j f2b-meshmonitor-cf-fwd
-A DOCKER-USER -p tcp -m multiport --dports 3001,8080 -j f2b-meshmonitor-fwd
-P INPUT ACCEPT
-A INPUT ! -i lo -p udp -m multiport --dports 80,443 -j f2b-meshmonitor-cf-in
"""


@pytest.mark.parametrize("firewall, text, expected", [
    ("nftables", NFT_LOCK, [("meshmonitor-cf-fwd", "tcp", [80, 443, 3001, 8080], True),
                            ("meshmonitor-cf-fwd", "tcp", [80, 443, 3001, 8080], True),
                            ("meshmonitor-cf-fwd", "udp", [80, 443, 3001, 8080], True),
                            ("meshmonitor-cf-fwd", "udp", [80, 443, 3001, 8080], True),
                            ("meshmonitor-cf-in", "tcp", [80, 443, 8080], True)]),
    ("iptables", IPTABLES_LOCK, [("meshmonitor-cf-fwd", "tcp", [3001, 8080], True),
                                 ("meshmonitor-cf-fwd", "tcp", [8080], True),
                                 ("meshmonitor-fwd", "tcp", [3001, 8080], False),
                                 ("meshmonitor-cf-in", "udp", [80, 443], True)]),
])
def test_origin_lock_rules_are_read_apart_from_bans(firewall, text, expected):
    rules = parse_firewall_rules(firewall, text)
    assert [(r["action"], r["protocol"], r["ports"], r["allow_only"]) for r in rules] == expected


def test_origin_lock_checked_on_each_path():
    forward, inputs = check_hooked(PROXY_PATHS, parse_firewall_rules("nftables", NFT_LOCK),
                                   {"forward": "meshmonitor-cf-fwd", "input": "meshmonitor-cf-in"}, ("ipv4",))
    assert forward["ok"] is True
    assert inputs["detail"].endswith("missing IPv4 udp 80,443,8080")


# From the stand-in's network namespace (Node listening with no host: on ::, dual stack). The IPv4
# table holds Docker's embedded DNS resolver only.
TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when
   0: 00000000000000000000000000000000:0BB9 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000
   1: 0000000000000000FFFF00000100007F:0BB9 0000000000000000FFFF00000100007F:AAA0 06 00000000:00000000 03:000012DC
"""
TCP_DNS_ONLY = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0B00007F:82FB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4625077 1
"""
# IPv6 off in the kernel: Node falls back to 0.0.0.0.
TCP_IPV4_ONLY = TCP_DNS_ONLY + "   1: 00000000:0BB9 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000\n"


def test_dual_stack_listener_logs_mapped_ipv4():
    assert listen_families(TCP_DNS_ONLY, TCP6, 3001) == ["ipv6"]


def test_ipv4_only_listener_is_seen():
    assert listen_families(TCP_IPV4_ONLY, "", 3001) == ["ipv4"]
    assert listen_families(TCP_IPV4_ONLY, "", 8080) == []


def test_meshmonitor_container_is_the_publisher_of_its_port():
    assert publisher_of([PROXY, MESHMONITOR], [8080], 3001) is MESHMONITOR
    assert publisher_of([PROXY], [8080], 3001) is None


def test_nft_1_0_6_prints_original_ports_in_hexadecimal():
    # Debian 12's nft lists "ct original proto-dst { 3001, 8080 }" as below: the same ports.
    line = ("meta l4proto tcp ct original proto-dst { 0xbb9 [invalid type], 0x1f90 [invalid type] } "
            "ip saddr @addr-set-meshmonitor counter packets 0 bytes 0 drop")
    single = "meta l4proto udp ct original proto-dst 0x1bb [invalid type] ip saddr @addr-set-meshmonitor drop"
    rules = parse_firewall_rules("nftables", line + "\n" + single)
    assert [(r["protocol"], r["ports"], r["original"]) for r in rules] == [("tcp", [3001, 8080], True), ("udp", [443], True)]


NAT_DOCKER = """-N DOCKER
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i br-1a2b3c4d5e6f -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:3001
-A DOCKER -d 127.0.0.1/32 ! -i br-1a2b3c4d5e6f -p udp -m udp --dport 443 -j DNAT --to-destination 172.18.0.3:9443
"""
IF_INET6_LOCAL = """00000000000000000000000000000001 01 80 10 80       lo
fe800000000000000000000000000001 02 40 20 80     eth0
fd3000800000000000000000000000a1 05 40 00 80 br-1a2b3c4d5e6f
"""
IF_INET6_GLOBAL = IF_INET6_LOCAL + "20010db8000000000000000000000010 02 40 00 00     eth0\n"
TCP_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
TCP_8080 = TCP_HEADER + "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
TCP6_8080 = TCP_HEADER + "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 0 0 0 0 0 1\n"


def binding(host_ip, host_port=8080, protocol="tcp"):
    return {"container": "mm", "host_ip": host_ip, "host_port": host_port, "port": 3001, "protocol": protocol}


def test_docker_nat_ports_are_read_per_protocol():
    assert docker_nat_ports(NAT_DOCKER) == {("tcp", 8080), ("udp", 443)}
    assert docker_nat_ports("") == set()


def test_ipv6_is_reachable_only_with_a_global_address_off_docker_bridges():
    assert reachable_families(IF_INET6_LOCAL) == ("ipv4",)
    assert reachable_families(IF_INET6_GLOBAL) == ("ipv4", "ipv6")


def test_a_port_docker_nats_is_not_relayed():
    listening = tcp_listeners(TCP_8080, TCP6_8080)
    assert listening == {"ipv4": {8080}, "ipv6": {8080}}
    nat = {"ipv4": docker_nat_ports(NAT_DOCKER), "ipv6": set()}
    # Docker 20.10 publishes "8080:3001" on 0.0.0.0 and ::; without ip6tables its userland proxy serves IPv6 clients.
    both = [binding("0.0.0.0"), binding("::"), binding("127.0.0.1")]
    assert relayed_bindings(both, nat, ("ipv4", "ipv6"), listening) == [
        dict(binding("::"), family="ipv6", detail="mm [::]:8080/tcp (IPv6)")]
    # No IPv6 address clients could reach: nobody is relayed.
    assert relayed_bindings(both, nat, ("ipv4",), listening) == []


def test_flushed_nat_rules_relay_every_client():
    listening = tcp_listeners(TCP_8080, "")
    relayed = relayed_bindings([binding("")], {}, ("ipv4", "ipv6"), listening)
    # Nothing listens on IPv6 (userland proxy off there): those clients are not served at all.
    assert relayed == [dict(binding(""), family="ipv4", detail="mm *:8080/tcp (IPv4)")]
    assert relayed_text(relayed) == "mm *:8080/tcp (IPv4)"


def test_udp_bindings_need_no_listener_to_be_relayed():
    assert relayed_bindings([binding("0.0.0.0", 443, "udp")], {"ipv4": set()}, ("ipv4",), {}) == [
        dict(binding("0.0.0.0", 443, "udp"), family="ipv4", detail="mm 0.0.0.0:443/udp (IPv4)")]
