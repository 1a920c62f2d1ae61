# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a host has now, read through an AnsibleModule (run_command, no shell): Docker's containers,
fail2ban's rules in the firewall, MeshMonitor's listening socket, Ansible's local facts. The
modules exposure_info and doctor share these; the judging is in exposure.py and doctor.py."""

from __future__ import annotations

import glob
import json
import os
import re
import socket
import ssl
from urllib.parse import urlsplit

from ansible.module_utils.urls import fetch_url

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.ban_objects import table_name
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.browser import BrowserError, host_text, origin_of
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.doctor import token_verify_url
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.exposure import (
    FAMILIES, HOOK_LABELS, ORIGIN_LOCK_LABEL, check_hooked, check_paths, docker_nat_ports, host_network_containers,
    listen_families, parse_firewall_rules, paths_text, plan_exposure, port_bindings, publisher_of, reachable_families,
    relayed_bindings, started_actions, tcp_listeners)
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.origin_pulls import REFUSED_STATUS, ca_names, front_ports


def read_containers(module):
    """docker inspect of every container, running or not; [] without Docker."""
    docker = module.get_bin_path("docker")
    if not docker:
        return []
    rc, out, err = module.run_command([docker, "ps", "-aq", "--no-trunc"])
    if rc != 0:
        module.fail_json(msg="docker ps failed: %s" % (err.strip() or out.strip()))
    ids = out.split()
    if not ids:
        return []
    rc, out, err = module.run_command([docker, "inspect"] + ids)
    if rc != 0:
        module.fail_json(msg="docker inspect failed: %s" % (err.strip() or out.strip()))
    return json.loads(out)


def host_families():
    """The address families the host's kernel runs: IPv6 only where it is not disabled."""
    return FAMILIES if os.path.exists("/proc/net/if_inet6") else FAMILIES[:1]


def _run_text(module, command):
    binary = module.get_bin_path(command[0])
    return module.run_command([binary] + command[1:])[1] if binary else ""


def read_rules(module, firewall, tables):
    """(rules, started actions) of the given nftables tables ((family, name) pairs), or, with iptables, of both
    families' filter tables, as the firewall holds them now (see parse_firewall_rules and started_actions)."""
    if firewall == "nftables":
        text = "".join(_run_text(module, ["nft", "list", "table", family, name]) for family, name in tables)
        return parse_firewall_rules(firewall, text), started_actions(firewall, text)
    rules, started = [], set()
    for family, binary in (("ipv4", "iptables"), ("ipv6", "ip6tables")):
        text = _run_text(module, [binary, "-w", "-S"])
        rules += parse_firewall_rules(firewall, text, family)
        started |= started_actions(firewall, text, family)
    return rules, started


def _check_jails(module, params, plan, reachable):
    """hooked (every jail's ban actions, on every path) and origin_locked (the lock's, with origin_lock) for plan;
    reachable: the families clients reach the host on (reachable_families)."""
    # jails: [{"jail": fail2ban's jail, "label": its actions' label}]; exposure_info names one jail, labelled by its name.
    jails = params.get("jails") or [{"jail": params["jail"], "label": params["jail"]}]
    lock_label = "%s-%s" % (params["jail"], ORIGIN_LOCK_LABEL)
    tables = [("inet", table_name(item["jail"])) for item in jails]
    if params.get("origin_lock"):
        tables += [(family, "f2b-%s-%s" % (lock_label, label)) for family in ("ip", "ip6") for label in HOOK_LABELS.values()]
    rules, started = read_rules(module, params["firewall"], tables)
    families = host_families()
    plan["hooked"] = []
    for item in jails:
        actions = {hook: "%s-%s" % (item["label"], label) for hook, label in HOOK_LABELS.items()}
        plan["hooked"] += [dict(result, jail=item["jail"]) for result in
                           check_hooked(plan["paths"], [rule for rule in rules if not rule["allow_only"]], actions, families, started)]
    if params.get("origin_lock"):
        lock_actions = {hook: "%s-%s" % (lock_label, label) for hook, label in HOOK_LABELS.items()}
        # The lock has no first ban to wait for: a family clients reach the host on needs its part now.
        lock_started = started | {(family, action) for family in reachable for action in lock_actions.values()}
        plan["origin_locked"] = check_hooked(
            plan["paths"], [rule for rule in rules if rule["allow_only"]], lock_actions, families, lock_started,
            "not needed: no %s address clients reach")


def read_app_listen(publisher, container_port):
    """Which families MeshMonitor's socket (in publisher, its container) listens on, read from its network namespace."""
    pid = ((publisher or {}).get("State") or {}).get("Pid") or 0
    if not pid:
        return {}
    families = listen_families(_read_file("/proc/%d/net/tcp" % pid), _read_file("/proc/%d/net/tcp6" % pid), container_port)
    return {"container": publisher["Name"].lstrip("/"), "families": families, "logs_mapped_ipv4": "ipv6" in families}


def _read_file(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return ""


def find_relayed(module, containers, bindings, params, publisher, reachable):
    """The bindings of MeshMonitor's port (publisher's) and, behind a proxy, of the proxy's ports whose clients
    Docker's userland proxy relays as the network's gateway (see relayed_bindings)."""
    name = ((publisher or {}).get("Name") or "").lstrip("/")
    proxy_ports = params["proxy_ports"] if params["behind_proxy"] else []
    running = {(c.get("Name") or "").lstrip("/") for c in containers if (c.get("State") or {}).get("Running")}
    watched = [b for b in bindings if b["container"] in running and
               ((b["container"] == name and b["port"] == params["container_port"]) or b["host_port"] in proxy_ports)]
    if not watched:
        return []
    nat_ports = {family: docker_nat_ports(_run_text(module, [binary, "-w", "-t", "nat", "-S", "DOCKER"]))
                 for family, binary in zip(FAMILIES, ("iptables", "ip6tables"))}
    listening = tcp_listeners(_read_file("/proc/net/tcp"), _read_file("/proc/net/tcp6"))
    return relayed_bindings(watched, nat_ports, reachable, listening)


def find_exposure(module, params):
    """exposure_info's answer for params (its options): raises ExposureError for bad explicit paths."""
    containers = read_containers(module)
    bindings = port_bindings(containers)
    if params["paths"]:
        paths = check_paths(params["paths"])
        plan = {"kind": "explicit", "publishers": [], "paths": paths,
                "summary": "ban paths given explicitly (jail_ban_paths): bans hooked on " + paths_text(paths)}
    else:
        plan = plan_exposure(bindings, params["behind_proxy"], params["proxy_ports"], params["published_ports"],
                             params["container_port"], host_network_containers(containers))
    publisher = publisher_of(containers, params["published_ports"], params["container_port"])
    reachable = reachable_families(_read_file("/proc/net/if_inet6"))
    plan["app_listen"] = read_app_listen(publisher, params["container_port"])
    plan["relayed"] = find_relayed(module, containers, bindings, params, publisher, reachable)
    if params.get("jail") and params.get("firewall"):
        _check_jails(module, params, plan, reachable)
    if params.get("origin_lock"):
        plan["origin_pulls"] = ask_front_ports(module, params, bindings)
    plan["bindings"] = bindings
    return plan


def _get_json(module, url, headers):
    """{"status": HTTP status (-1: no answer), "json": the body read as JSON or None, "error": why not}."""
    response, info = fetch_url(module, url, headers=headers, method="GET", timeout=5, force=True)
    # On an HTTP error fetch_url has already read the body into info (the response, if any, is then empty).
    body = (response.read() if response else b"") or info.get("body", b"")
    answer = {"status": info.get("status", -1), "json": None, "error": info.get("msg", "")}
    try:
        answer["json"] = json.loads(body)
    except (TypeError, ValueError):
        pass
    return answer


def ask_meshmonitor(module, record):
    """MeshMonitor's own answers, for the doctor: whether its admin still has the default password
    (asked, never tried), and the configuration issues it reports to a browser at each of the URLs
    people open it at (Origin and X-Forwarded-Proto as such a browser and its proxy send them).
    None for a record without MeshMonitor's URL (written by an earlier release)."""
    if not record.get("url"):
        return None
    answers = {"url": record["url"], "default_password": _get_json(module, record["url"] + "/api/auth/check-default-password", {}),
               "config": []}
    for public in record.get("public_urls", []):
        try:
            origin = origin_of(public)
        except BrowserError as exc:
            answers["config"].append({"origin": public, "status": -1, "json": None, "error": str(exc)})
            continue
        headers = {"Origin": origin, "X-Forwarded-Proto": origin.split(":", 1)[0]}
        answers["config"].append(dict(_get_json(module, record["url"] + "/api/auth/check-config-issues", headers), origin=origin))
    return answers


def _http_head(sock, host):
    """(status, Location) of GET / on sock, (None, "") without an HTTP answer."""
    sock.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head = data.partition(b"\r\n\r\n")[0].decode("latin-1")
    status = re.match(r"HTTP/\d(?:\.\d)? (\d{3})", head)
    location = re.search(r"^location:[ \t]*(\S+)", head, re.IGNORECASE | re.MULTILINE)
    return (int(status.group(1)) if status else None), (location.group(1) if location else "")


def probe_front_port(module, address, port, name):
    """What a client without a certificate gets on address:port (one the origin lock lets Cloudflare
    through), for origin_pulls.judge_front_port; name: the public host name (SNI and Host), or ""."""
    answer = {"port": port, "address": address, "tls": False, "status": None, "location": "", "names": None}
    # The address as it stands in a Host header and in openssl's -connect (an IPv6 one in brackets).
    where = host_text(address)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Whose certificate the proxy shows does not matter here, only what it asks of the client.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        raw = socket.create_connection((address, port), timeout=5)
    except OSError as exc:
        answer["error"] = "nothing answers on %s port %d (%s)" % (address, port, exc.strerror or exc)
        return answer
    with raw:
        try:
            tls = context.wrap_socket(raw, server_hostname=name or None)
        except OSError:
            tls = None
        if tls is not None:
            answer["tls"] = True
            # TLS 1.3 ends the handshake before the server reads the client's certificate: a proxy that
            # demands one answers with an alert instead (no answer).
            try:
                answer["status"], answer["location"] = _http_head(tls, name or where)
            except OSError:
                pass
            tls.close()
    if not answer["tls"]:
        # Not TLS, or a TLS 1.2 handshake refused for want of a certificate: plain HTTP tells which.
        try:
            with socket.create_connection((address, port), timeout=5) as plain:
                answer["status"], answer["location"] = _http_head(plain, name or where)
        except OSError:
            pass
        if answer["status"] is None or answer["status"] in REFUSED_STATUS:
            answer.update(tls=True, status=None, location="")
    openssl = module.get_bin_path("openssl")
    if openssl and answer["tls"] and (answer["status"] is None or answer["status"] in REFUSED_STATUS):
        limit = module.get_bin_path("timeout")
        command = ([limit, "10"] if limit else []) + [openssl, "s_client", "-trace", "-connect", "%s:%d" % (where, port)]
        out = module.run_command(command + (["-servername", name] if name else []), data="Q")[1]
        answer["names"] = ca_names(out)
    return answer


def ask_front_ports(module, params, bindings):
    """probe_front_port for each port the origin lock lets Cloudflare through (params: exposure_info's options),
    with the first public URL's host name, if any, as the name asked for."""
    names = [urlsplit(url).hostname or "" for url in params.get("public_urls") or []]
    name = next((host for host in names if host and not re.match(r"^[0-9.]+$|:", host)), "")
    return [probe_front_port(module, address, port, name) for address, port in front_ports(params, bindings)]


def read_header_file(path):
    """Headers from a root-only file of "Name: value" lines (the jail role's token files), never logged."""
    headers = {}
    with open(path) as lines:
        for line in lines:
            name, sep, value = line.partition(":")
            if sep and name.strip():
                headers[name.strip()] = value.strip()
    return headers


def ask_cloudflare(module, record):
    """Cloudflare's answers to the jail's token, for the doctor: its verification endpoint and one page of the zone's
    IP Access Rules (what the blocks need). None while Cloudflare is off; {"error": why} when it cannot be asked."""
    if not record.get("cloudflare"):
        return None
    api_url, header_file = record.get("cloudflare_api_url"), record.get("cloudflare_header_file")
    if not (api_url and header_file):
        return {"error": "the record names no Cloudflare API (written by an earlier release): run site.yml"}
    try:
        headers = read_header_file(header_file)
    except (IOError, OSError) as exc:
        return {"error": "cannot read the token file %s: %s" % (header_file, exc.strerror)}
    verify_url = token_verify_url(api_url)
    return {"verify": _get_json(module, verify_url, headers) if verify_url else {"status": -1, "json": None, "error": "no API base"},
            "rules": _get_json(module, api_url + "?per_page=1", headers)}


def read_local_facts(fact_path):
    """Ansible's local facts from fact_path as setup reads static ones: {file name without .fact: its JSON}.

    Files that are not JSON objects (INI facts, executable facts) are left out: only JSON records matter here.
    """
    facts = {}
    for path in sorted(glob.glob(os.path.join(fact_path, "*.fact"))):
        try:
            with open(path) as handle:
                value = json.load(handle)
        except (IOError, OSError, ValueError):
            continue
        if isinstance(value, dict):
            facts[os.path.basename(path)[:-len(".fact")]] = value
    return facts
