#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: exposure_info
short_description: Find how MeshMonitor is exposed on a host, and where a ban must drop packets
version_added: 0.2.0
author: meshmonitor.fail2ban contributors (@meshmonitor-fail2ban)
description:
  - Reads the host's containers (C(docker inspect)) and finds which of them publishes the reverse proxy's ports,
    with the container port and protocol behind each published port. Read-only.
  - Docker-published traffic is DNAT'ed and crosses the forward path with the container's port as destination;
    a proxy on the host (or in host networking), or a client relayed by Docker's userland proxy, arrives on INPUT
    at the host port. The answer is one path per hook with the ports and protocols a ban must drop there.
  - Behind a proxy its ports are dropped for TCP and UDP (HTTP/3). MeshMonitor's own ports are always covered.
options:
  behind_proxy:
    description: Whether clients reach MeshMonitor through a reverse proxy (its ports are then covered too).
    type: bool
    default: false
  proxy_ports:
    description: Host ports the reverse proxy receives clients on.
    type: list
    elements: int
    default: [80, 443]
  published_ports:
    description: Host ports MeshMonitor itself is published on.
    type: list
    elements: int
    default: [8080]
  container_port:
    description: MeshMonitor's port inside its container.
    type: int
    default: 3001
  paths:
    description:
      - Explicit ban paths for setups the search cannot see (a proxy published by another tool, a port forward).
        Each V(hook) (V(forward) or V(input)) with V(ports) and V(protocols) (V(tcp), V(udp)); one entry per hook.
      - Empty means found from the host.
    type: list
    elements: dict
    default: []
  jail:
    description:
      - With O(firewall), also check that this jail's bans are hooked on every path (C(hooked) in the result).
        Its actions are named C(<jail>-fwd) (forward) and C(<jail>-in) (input), as the jail role names them.
    type: str
  firewall:
    description: The firewall the jail's bans go to, read to fill C(hooked).
    type: str
    choices: [nftables, iptables]
  origin_lock:
    description:
      - With O(jail) and O(firewall), also check the lock that keeps all but Cloudflare out (the jail role's
        C(jail_cloudflare_origin_lock)) on every path (C(origin_locked) in the result). Its actions are named
        C(<jail>-cf-fwd) and C(<jail>-cf-in).
    type: bool
    default: false
requirements:
  - The C(docker) command, to see containers (without it, no container is found).
attributes:
  check_mode:
    description: Read-only, so it runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
seealso:
  - module: meshmonitor.fail2ban.jail_info
"""

EXAMPLES = r"""
- name: Find where bans must hook behind a reverse proxy
  meshmonitor.fail2ban.exposure_info:
    behind_proxy: true
    proxy_ports: [80, 443]
  become: true
  register: exposure

- name: Say it
  ansible.builtin.debug:
    msg: "{{ exposure.summary }}"
"""

RETURN = r"""
kind:
  description: V(docker) (MeshMonitor published by Docker, no proxy), V(proxy-container) (a container publishes the
    proxy's ports), V(proxy-host) (no container does, so the proxy runs on the host or in host networking) or
    V(explicit) (O(paths) given).
  returned: success
  type: str
  sample: proxy-container
publishers:
  description: Containers publishing the proxy's ports.
  returned: success
  type: list
  elements: str
  sample: [edge-proxy]
paths:
  description: Where a ban drops packets, one entry per hook.
  returned: success
  type: list
  elements: dict
  sample: [{hook: forward, ports: [3001, 80, 443], protocols: [tcp, udp]}, {hook: input, ports: [80, 443, 8080], protocols: [tcp, udp]}]
bindings:
  description: Every port the host's containers publish (container, host_ip, host_port, port, protocol).
  returned: success
  type: list
  elements: dict
app_listen:
  description:
    - The container publishing O(published_ports) from O(container_port) (MeshMonitor), the address families its
      socket listens on, and C(logs_mapped_ipv4), whether IPv4 clients reach it through an IPv6 socket and so are
      logged as C(::ffff:a.b.c.d). A host whose kernel has IPv6 off listens on IPv4 only and logs C(a.b.c.d).
    - Empty when no such running container is found.
  returned: success
  type: dict
  sample: {container: meshmonitor-meshmonitor-1, families: [ipv6], logs_mapped_ipv4: true}
hooked:
  description: With O(jail) and O(firewall), one entry per path with V(ok) (every port dropped for every protocol
    there) and a V(detail) naming what is missing.
  returned: when O(jail) and O(firewall) are given
  type: list
  elements: dict
  sample: [{hook: forward, ports: [3001], protocols: [tcp], ok: true, detail: "forward: meshmonitor-fwd 3001 (tcp)"}]
origin_locked:
  description: With O(origin_lock), one entry per path as in RV(hooked), for the lock's rules (only the listed sources
    get through to every port there).
  returned: when O(jail), O(firewall) and O(origin_lock) are given
  type: list
  elements: dict
  sample: [{hook: forward, ports: [3001, 8080], protocols: [tcp, udp], ok: true, detail: "forward: meshmonitor-cf-fwd 3001,8080 (tcp+udp)"}]
summary:
  description: One line for people, such as the doctor prints.
  returned: success
  type: str
  sample: "proxy container edge-proxy publishes 443/tcp, 443/udp; bans hooked on forward to 443 (tcp+udp); input to 443 (tcp+udp)"
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.exposure import (
    HOOK_LABELS, ORIGIN_LOCK_LABEL, ExposureError, check_hooked, check_paths, host_network_containers, listen_families, parse_firewall_rules,
    paths_text, plan_exposure, port_bindings, publisher_of)

# iptables chains fail2ban's jumps sit in, per hook: Docker's hook for forwarded traffic, and INPUT.
IPTABLES_CHAINS = {"forward": "DOCKER-USER", "input": "INPUT"}


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


def read_rules(module, jail, firewall, origin_lock=False):
    """fail2ban's jump rules for the jail (and its origin lock's IPv4 rules), as the firewall holds them now."""
    if firewall == "nftables":
        commands = [["nft", "list", "table", "inet", "f2b-" + jail]]
        if origin_lock:
            commands += [["nft", "list", "table", "ip", "f2b-%s-%s-%s" % (jail, ORIGIN_LOCK_LABEL, label)]
                         for label in HOOK_LABELS.values()]
    else:
        commands = [["iptables", "-w", "-S", chain] for chain in IPTABLES_CHAINS.values()]
    text = ""
    for command in commands:
        binary = module.get_bin_path(command[0])
        if binary:
            text += module.run_command([binary] + command[1:])[1]
    return parse_firewall_rules(firewall, text)


def read_app_listen(module, containers, published_ports, container_port):
    """Which families MeshMonitor's socket listens on, read from its network namespace."""
    container = publisher_of(containers, published_ports, container_port)
    pid = ((container or {}).get("State") or {}).get("Pid") or 0
    if not pid:
        return {}
    texts = []
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as proc:
                texts.append(proc.read())
        except (IOError, OSError):
            texts.append("")
    families = listen_families(texts[0], texts[1], container_port)
    return {"container": container["Name"].lstrip("/"), "families": families, "logs_mapped_ipv4": "ipv6" in families}


def run_module(module):
    params = module.params
    containers = read_containers(module)
    bindings = port_bindings(containers)
    if params["paths"]:
        try:
            paths = check_paths(params["paths"])
        except ExposureError as exc:
            module.fail_json(msg=str(exc))
        plan = {"kind": "explicit", "publishers": [], "paths": paths,
                "summary": "ban paths given explicitly (jail_ban_paths): bans hooked on " + paths_text(paths)}
    else:
        plan = plan_exposure(bindings, params["behind_proxy"], params["proxy_ports"], params["published_ports"],
                             params["container_port"], host_network_containers(containers))
    plan["app_listen"] = read_app_listen(module, containers, params["published_ports"], params["container_port"])
    if params["jail"] and params["firewall"]:
        rules = read_rules(module, params["jail"], params["firewall"], params["origin_lock"])
        plan["hooked"] = check_hooked(plan["paths"], [rule for rule in rules if not rule["allow_only"]],
                                      {hook: "%s-%s" % (params["jail"], label) for hook, label in HOOK_LABELS.items()})
        if params["origin_lock"]:
            plan["origin_locked"] = check_hooked(
                plan["paths"], [rule for rule in rules if rule["allow_only"]],
                {hook: "%s-%s-%s" % (params["jail"], ORIGIN_LOCK_LABEL, label) for hook, label in HOOK_LABELS.items()})
    module.exit_json(changed=False, bindings=bindings, **plan)


def main():
    module = AnsibleModule(
        argument_spec={
            "behind_proxy": {"type": "bool", "default": False},
            "proxy_ports": {"type": "list", "elements": "int", "default": [80, 443]},
            "published_ports": {"type": "list", "elements": "int", "default": [8080]},
            "container_port": {"type": "int", "default": 3001},
            "paths": {"type": "list", "elements": "dict", "default": []},
            "jail": {"type": "str"},
            "firewall": {"type": "str", "choices": ["nftables", "iptables"]},
            "origin_lock": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
