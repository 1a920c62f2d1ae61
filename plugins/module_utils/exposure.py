# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How MeshMonitor is exposed on a host, and so where a ban must drop packets: pure functions.

Docker publishes a port by DNAT: the client's packets cross the forward path with the
container's own port as destination and never reach INPUT. A connection relayed by Docker's
userland proxy, or received by a reverse proxy on the host (or in host networking), arrives on
INPUT at the host's port. So a ban hooks on both, whatever publishes the ports now: on INPUT to
the host ports clients use; on forward to those ports as the client sent them (conntrack's
original destination) and as they arrive (MeshMonitor's container port however it is
published). A proxy started after the jail, or a container re-published on another port, is
covered without a new rule.
"""

from __future__ import annotations

import ipaddress
import re

HOOKS = ("forward", "input")
# The jail role names each ban action <label>-<hook label> (__jail_hook_labels, the same values).
HOOK_LABELS = {"forward": "fwd", "input": "in"}
# The jail role names the origin lock's actions <jail>-cf-<hook label> (jail_cloudflare_origin_lock).
ORIGIN_LOCK_LABEL = "cf"
PROTOCOLS = ("tcp", "udp")
# A ban is dropped for both address families: fail2ban starts each action for IPv4 and IPv6.
FAMILIES = ("ipv4", "ipv6")
FAMILY_NAMES = {"ipv4": "IPv4", "ipv6": "IPv6"}
# HTTP/3 (QUIC) comes over UDP to the same port as HTTPS: a proxy's ports are dropped for both.
PROXY_PROTOCOLS = ["tcp", "udp"]


class ExposureError(ValueError):
    """A ban path given by the user cannot work; the message names what is wrong."""


def _port(value):
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        return None
    return int(text)


def port_bindings(containers):
    """``docker inspect`` output (a list of containers) -> one dict per published host port.

    Each binding: container (name), host_ip, host_port, port (the container's), protocol.
    A running container's actual bindings are used; a stopped one's configured bindings
    (it publishes them again when it starts). Ephemeral host ports that are not bound are skipped.
    """
    bindings = []
    for container in containers or []:
        name = (container.get("Name") or container.get("Id", "?")[:12]).lstrip("/")
        running = (container.get("State") or {}).get("Running", False)
        ports = (container.get("NetworkSettings") or {}).get("Ports") if running else None
        if not ports:
            ports = (container.get("HostConfig") or {}).get("PortBindings") or {}
        for key, hosts in sorted(ports.items()):
            port, dummy, protocol = key.partition("/")
            for host in hosts or []:
                host_port = _port(host.get("HostPort", ""))
                if host_port is None or _port(port) is None:
                    continue
                binding = {"container": name, "host_ip": host.get("HostIp") or "", "host_port": host_port,
                           "port": int(port), "protocol": protocol or "tcp"}
                if binding not in bindings:
                    bindings.append(binding)
    return bindings


def publisher_of(containers, host_ports, container_port):
    """The container publishing one of host_ports from container_port (MeshMonitor's), or None."""
    for container in containers or []:
        for binding in port_bindings([container]):
            if binding["host_port"] in host_ports and binding["port"] == container_port:
                return container
    return None


# Docker publishes a port with a DNAT rule in its nat chain DOCKER, one per family, such as
# "-A DOCKER ! -i br-1a2b -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:3001": the
# client reaches the container with its own address. A published port without one (Docker's iptables
# or ip6tables option off, an IPv6 client of a container without IPv6, the rules flushed) is served
# by Docker's userland proxy, which connects to the container from the network's gateway: every
# client is then logged as the gateway, which the jail never bans.
DOCKER_DNAT = re.compile(r"^-A DOCKER .*-p (?P<protocol>tcp|udp) .*--dport (?P<port>\d+) .*-j DNAT ")


def docker_nat_ports(text):
    """iptables -t nat -S DOCKER output -> {(protocol, host port)} Docker NATs to a container."""
    return {(match.group("protocol"), int(match.group("port")))
            for match in (DOCKER_DNAT.match(line.strip() + " ") for line in (text or "").splitlines()) if match}


def binding_families(host_ip):
    """The families a published binding takes clients from: none on a loopback address (local clients only)."""
    if not host_ip:
        return FAMILIES
    try:
        address = ipaddress.ip_address(host_ip)
    except ValueError:
        return ()
    if address.is_loopback:
        return ()
    return (FAMILIES[0],) if address.version == 4 else (FAMILIES[1],)


def reachable_families(if_inet6):
    """/proc/net/if_inet6 -> the families clients can reach the host on: IPv4, and IPv6 where an interface
    other than Docker's bridges has a global (or unique local) address."""
    for line in (if_inet6 or "").splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[3] == "00" and not fields[5].startswith(("docker", "br-", "veth")):
            return FAMILIES
    return FAMILIES[:1]


def tcp_listeners(tcp, tcp6):
    """/proc/net/tcp and tcp6 -> {family: ports listened on}."""
    listening = {}
    for family, text in zip(FAMILIES, (tcp, tcp6)):
        ports = listening.setdefault(family, set())
        for line in (text or "").splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return listening


def relayed_bindings(bindings, nat_ports, reachable, listening):
    """The bindings whose clients Docker's userland proxy relays, one per family: [dict(binding, family, detail)].

    nat_ports: {family: docker_nat_ports(...)}; reachable: the families clients reach the host on;
    listening: the host's tcp_listeners (a TCP port nobody listens on is not served at all: no
    userland proxy there)."""
    relayed = []
    for binding in bindings:
        for family in binding_families(binding["host_ip"]):
            if family not in reachable or (binding["protocol"], binding["host_port"]) in nat_ports.get(family, set()):
                continue
            if binding["protocol"] == "tcp" and binding["host_port"] not in listening.get(family, set()):
                continue
            host = "[%s]" % binding["host_ip"] if ":" in binding["host_ip"] else (binding["host_ip"] or "*")
            relayed.append(dict(binding, family=family, detail="%s %s:%d/%s (%s)" % (
                binding["container"], host, binding["host_port"], binding["protocol"], FAMILY_NAMES[family])))
    return relayed


def relayed_text(relayed):
    """People's words for relayed_bindings' answer: "mm [::]:8080/tcp (IPv6), ..."."""
    return ", ".join(binding["detail"] for binding in relayed)


def listen_families(tcp, tcp6, port):
    """/proc/<pid>/net/tcp and tcp6 -> the families a socket listens on for port: ipv4, ipv6.

    A socket listening on IPv6 takes IPv4 clients too (Node sets no IPV6_V6ONLY), which it then
    sees, and MeshMonitor logs, as ::ffff:a.b.c.d; one listening on IPv4 only logs a.b.c.d.
    """
    listening = tcp_listeners(tcp, tcp6)
    return [family for family in FAMILIES if port in listening[family]]


def host_network_containers(containers):
    """Names of the containers in the host's network namespace (their ports arrive on INPUT)."""
    return sorted((c.get("Name") or "").lstrip("/") for c in containers or []
                  if (c.get("HostConfig") or {}).get("NetworkMode") == "host")


def check_paths(paths, label="jail_ban_paths"):
    """A user's explicit ban paths -> normalised; ExposureError names the first bad entry."""
    normal = []
    if not isinstance(paths, list):
        raise ExposureError("%s must be a list of {hook, ports, protocols}, not %r" % (label, paths))
    for index, path in enumerate(paths):
        where = "%s[%d]" % (label, index)
        if not isinstance(path, dict) or path.get("hook") not in HOOKS:
            raise ExposureError("%s: hook must be forward (Docker-published or -proxied traffic) or input "
                                "(a service on the host), in %r" % (where, path))
        ports = path.get("ports")
        if not isinstance(ports, list) or not ports or any(_port(p) is None for p in ports):
            raise ExposureError("%s: ports must be a non-empty list of port numbers 1-65535, not %r" % (where, ports))
        protocols = path.get("protocols", ["tcp"])
        if not isinstance(protocols, list) or not protocols or set(protocols) - set(PROTOCOLS):
            raise ExposureError("%s: protocols must list tcp and/or udp, not %r" % (where, protocols))
        if any(p["hook"] == path["hook"] for p in normal):
            raise ExposureError("%s: one entry per hook; %s is given twice" % (where, path["hook"]))
        normal.append({"hook": path["hook"], "ports": sorted({_port(p) for p in ports}),
                       "protocols": [p for p in PROTOCOLS if p in protocols]})
    if not normal:
        raise ExposureError("%s is empty: a jail whose bans drop nothing is not protection" % label)
    return normal


def _add(paths, hook, ports, protocols):
    for path in paths:
        if path["hook"] == hook:
            path["ports"] = sorted(set(path["ports"]) | set(ports))
            path["protocols"] = [p for p in PROTOCOLS if p in path["protocols"] or p in protocols]
            return
    paths.append({"hook": hook, "ports": sorted(set(ports)), "protocols": [p for p in PROTOCOLS if p in protocols]})


def _ports_text(bindings):
    return ", ".join("%d/%s%s" % (b["host_port"], b["protocol"], "" if b["port"] == b["host_port"] else " -> %d" % b["port"])
                     for b in sorted(bindings, key=lambda b: (b["host_port"], b["protocol"], b["port"])))


def paths_text(paths):
    return "; ".join("%s to %s (%s)" % (p["hook"], ",".join(map(str, p["ports"])), "+".join(p["protocols"])) for p in paths)


def plan_exposure(bindings, behind_proxy, proxy_ports, published_ports, container_port, host_network=None):
    """Where bans must hook, and what publishes the ports now (for people; the paths do not depend on it).

    MeshMonitor's ports are always covered: INPUT on its published ports, forward to its container
    port and to its published ports as the client sent them. Behind a proxy, the proxy's ports too,
    for TCP and UDP, on INPUT and (as the client sent them) on forward: whether the proxy runs on the
    host, in host networking or in a container, started before the jail or after it.

    Returns: kind (docker, proxy-host or proxy-container), publishers (container names), paths
    (one per hook: {hook, ports, protocols}) and summary (one line for people).
    """
    proxy_ports = sorted({_port(p) for p in proxy_ports or []} - {None})
    published_ports = sorted({_port(p) for p in published_ports or []} - {None})
    paths = []
    _add(paths, "forward", [int(container_port)] + published_ports, ["tcp"])
    _add(paths, "input", published_ports, ["tcp"])
    if not behind_proxy:
        summary = "MeshMonitor published by Docker on %s; bans hooked on %s" % (
            ",".join(map(str, published_ports)), paths_text(paths))
        return {"kind": "docker", "publishers": [], "paths": paths, "summary": summary}
    _add(paths, "forward", proxy_ports, PROXY_PROTOCOLS)
    _add(paths, "input", proxy_ports, PROXY_PROTOCOLS)
    proxied = [b for b in bindings if b["host_port"] in proxy_ports]
    publishers = sorted({b["container"] for b in proxied})
    if publishers:
        found = "; ".join("proxy container %s publishes %s" % (
            name, _ports_text([b for b in proxied if b["container"] == name])) for name in publishers)
        kind = "proxy-container"
    else:
        where = ("the host or a host-network container (%s)" % ", ".join(host_network)) if host_network else "the host"
        found = "proxy on %s listens on %s" % (where, ",".join(map(str, proxy_ports)))
        kind = "proxy-host"
    return {"kind": kind, "publishers": publishers, "paths": paths,
            "summary": "%s; bans hooked on %s" % (found, paths_text(paths))}


# What the firewall holds: the jail's nftables action writes, in the jail's table, in the chain of
# each path's hook, one rule per protocol such as "tcp dport { 80, 443 } ip saddr @addr-set-meshmonitor
# counter packets 0 bytes 0 drop" (the jail's set, read by every path: the chain names the path; in IPv6
# "ip6 saddr != { <ignoreip> } ip6 saddr & ffff:ffff:ffff:ffff:: == @addr6-set-..."), and on the forward
# hook one more with the original destination, "meta l4proto tcp ct original proto-dst { 80, 443 } ...";
# its iptables action one jump per protocol such as "-A INPUT -p tcp -m multiport --dports 80,443 -j
# f2b-meshmonitor-in", and on the forward path one per port and protocol such as "-A DOCKER-USER -p tcp
# -m conntrack --ctorigdstport 80 -j f2b-meshmonitor-fwd". The origin lock's rules have the same shapes,
# with conditions before the ports and, in nftables, "saddr != @set" (every source but the set's):
# parsed with allow_only true.
NFT_RULE = re.compile(r"\b(?P<protocol>tcp|udp) (?P<match>dport|ct original proto-dst) "
                      r"(?:\{ (?P<ports>[^}]*) \}|(?P<port>\d+|0x[0-9a-f]+(?: \[invalid type\])?)) "
                      r"(?:ip6 saddr != (?:\{ [^}]* \}|[0-9a-f:./]+) )?"
                      r"(?P<family>ip6?) saddr (?:& [0-9a-f:]+ (?:== )?)?(?P<negated>!= )?@addr6?-set-(?P<action>\S+) "
                      r"(?:counter packets \d+ bytes \d+ )?drop\b")
IPT_RULE = re.compile(r"^-A (?P<chain>\S+) (?P<before>(?:! )?-i \S+ )?-p (?P<protocol>tcp|udp) "
                      r"(?P<conntrack>-m conntrack --ctstate DNAT --ctdir ORIGINAL )?"
                      r"(?:-m multiport --dports (?P<ports>\S+)|-m conntrack --ctorigdstport (?P<original>\S+)) "
                      r"-j f2b-(?P<action>\S+)$")


def _number(text):
    # nft 1.0.6 (Debian 12) prints the ports of "ct original proto-dst" in hexadecimal, each
    # followed by "[invalid type]": 3001 is "0xbb9 [invalid type]".
    try:
        return int(text, 0)
    except ValueError:
        return None


def _port_list(text):
    ports = []
    for part in re.split(r"[,\s]+", (text or "").replace("[invalid type]", "")):
        low, dummy, high = part.partition(":" if ":" in part else "-")
        first, last = _number(low), _number(high or low)
        if first is not None and last is not None:
            ports.extend(range(first, last + 1))
    return sorted(set(ports))


def parse_firewall_rules(firewall, text, family="ipv4"):
    """nft list table / iptables -S output -> [{action, protocol, ports, original, chain, allow_only, family}] for the
    ban rules and the origin lock's (allow_only); original: matched on the client's destination before Docker's DNAT.
    nft names each rule's family (ip or ip6 saddr); iptables -S text is of one family, given as family."""
    rules = []
    hook = None
    for line in text.splitlines():
        chain = NFT_CHAIN.match(line) if firewall == "nftables" else None
        if chain:
            hook = chain.group("chain")
            continue
        match = (NFT_RULE.search(line) if firewall == "nftables" else IPT_RULE.match(line.strip()))
        if not match:
            continue
        groups = match.groupdict()
        if firewall == "nftables":
            ports = groups["ports"] if groups["ports"] is not None else groups["port"]
            original = groups["match"] != "dport"
            rule_family = "ipv6" if groups["family"] == "ip6" else "ipv4"
        else:
            ports = groups["ports"] if groups["ports"] is not None else groups["original"]
            original = groups["original"] is not None
            rule_family = family
        action = groups["action"]
        if firewall == "nftables" and not groups["negated"] and hook in HOOK_LABELS:
            # A ban rule reads the jail's set (addr-set-<label>), which serves every path: the chain,
            # named after its hook, says which path it is. The lock's sets are per path already.
            action = "%s-%s" % (action, HOOK_LABELS[hook])
        rules.append({"action": action, "protocol": groups["protocol"], "ports": _port_list(ports),
                      "original": original, "chain": groups.get("chain") or "", "family": rule_family,
                      "allow_only": bool(groups.get("negated") or groups.get("before") or groups.get("conntrack"))})
    return rules


NFT_CHAIN = re.compile(r"^\s*chain (?P<chain>\S+) \{")
NFT_SET = re.compile(r"^\s*set addr(?P<six>6?)-set-(?P<action>\S+) \{", re.MULTILINE)
IPT_CHAIN = re.compile(r"^-N f2b-(?P<action>\S+)$", re.MULTILINE)


def started_actions(firewall, text, family="ipv4"):
    """{(family, action)} whose part for that family fail2ban has started: its nftables set (addr-set-<label>,
    addr6-set-<label>, for each path <label>-<hook label>; the lock's addr-set-<action>) or its iptables chain
    (f2b-<action>, in iptables -S text of the given family)."""
    if firewall == "nftables":
        # A jail's set (addr-set-<label>) serves each of its paths (<label>-<hook label>).
        return {("ipv6" if match.group("six") else "ipv4", match.group("action") + suffix) for match in NFT_SET.finditer(text)
                for suffix in [""] + ["-" + label for label in HOOK_LABELS.values()]}
    return {(family, match.group("action")) for match in IPT_CHAIN.finditer(text)}


def check_hooked(paths, rules, action_for_hook, families=FAMILIES, started=None, later_text="at its first %s ban"):
    """Each wanted path -> {hook, ports, protocols, families, ok, detail}: does the action hooked there drop
    every port for every protocol and address family, on forward both as the packet arrives and as the client
    sent it? action_for_hook maps a hook to the action's name. With started (see started_actions), a family
    other than IPv4 is required only once fail2ban has started the action for it (at its start where IPv6 is
    allowed, else at the first ban of that family); later_text says when, for people ("%s" is the family)."""
    results = []
    for path in paths:
        action = action_for_hook[path["hook"]]
        missing = []
        required = [family for family in families if family == FAMILIES[0] or started is None or (family, action) in started]
        later = [FAMILY_NAMES[family] for family in families if family not in required]
        for family in required:
            for protocol in path["protocols"]:
                for original in ((False, True) if path["hook"] == "forward" else (False,)):
                    have = set()
                    for rule in rules:
                        if (rule["action"], rule["protocol"], rule["original"], rule["family"]) == (action, protocol, original, family):
                            have |= set(rule["ports"])
                    lacking = sorted(set(path["ports"]) - have)
                    sent = " as sent" if original else ""
                    if lacking:
                        missing.append("%s %s %s%s" % (FAMILY_NAMES[family], protocol, ",".join(map(str, lacking)), sent))
        detail = "%s: %s %s (%s; %s%s)" % (path["hook"], action, ",".join(map(str, path["ports"])), "+".join(path["protocols"]),
                                           "+".join(FAMILY_NAMES[family] for family in required),
                                           "".join(", %s %s" % (name, later_text.replace("%s", name)) for name in later))
        results.append(dict(path, families=required, ok=not missing,
                            detail=detail + ("" if not missing else "; missing " + "; ".join(missing))))
    return results
