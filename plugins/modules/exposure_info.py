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
  - The paths do not depend on what publishes the ports now - on INPUT the host ports; on the forward path the same
    ports, matched both as the client sent them (conntrack's original destination) and as they arrive, and
    MeshMonitor's container port. A proxy started later, or a container re-published on other ports, is covered
    by the same rules. What publishes what now is reported beside them (RV(kind), RV(publishers), RV(summary)).
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
      - Also ask, from the host, each TCP port the lock opens (the proxy's, and MeshMonitor's published one unless on
        loopback only) what it gives a client without a certificate (RV(origin_pulls)), and warn unless each demands
        a certificate of a CA other than Cloudflare's shared origin-pull CA or, over plain HTTP, only redirects to
        HTTPS; otherwise any Cloudflare account's zone or Worker passes the lock.
    type: bool
    default: false
  public_urls:
    description: The URLs people open MeshMonitor at; the first host name among them is the name asked for (TLS SNI and
      C(Host)) by O(origin_lock).
    type: list
    elements: str
    default: []
requirements:
  - The C(docker) command, to see containers (without it, no container is found).
extends_documentation_fragment:
  - meshmonitor.fail2ban.attributes.read_only
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
  sample: [{hook: forward, ports: [80, 443, 3001, 8080], protocols: [tcp, udp]}, {hook: input, ports: [80, 443, 8080], protocols: [tcp, udp]}]
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
relayed:
  description:
    - The running bindings of MeshMonitor's port (and, behind a proxy, of the proxy's ports) whose clients Docker's userland
      proxy relays, one entry per address family, each a binding of RV(bindings) with its C(family) and a C(detail) for
      people. Docker has no NAT
      rule for them (its C(iptables) or C(ip6tables) option off, an IPv6 binding of a container without IPv6, its rules
      flushed), so MeshMonitor logs every such client as its network's gateway, which is never banned.
    - A family counts only where clients can reach the host on it (IPv6 with an address of global scope), a TCP port
      only where something on the host listens on it.
  returned: success
  type: list
  elements: dict
  sample: [{container: mm, host_ip: "::", host_port: 8080, port: 3001, protocol: tcp, family: ipv6, detail: "mm [::]:8080/tcp (IPv6)"}]
hooked:
  description: With O(jail) and O(firewall), one entry per path with V(ok) (every port dropped for every protocol
    there) and a V(detail) naming what is missing.
  returned: when O(jail) and O(firewall) are given
  type: list
  elements: dict
  sample: [{hook: forward, ports: [3001, 8080], protocols: [tcp], ok: true, detail: "forward: meshmonitor-fwd 3001,8080 (tcp)"}]
origin_locked:
  description: With O(origin_lock), one entry per path as in RV(hooked), for the lock's rules (only the listed sources
    get through to every port there).
  returned: when O(jail), O(firewall) and O(origin_lock) are given
  type: list
  elements: dict
  sample: [{hook: forward, ports: [3001, 8080], protocols: [tcp, udp], ok: true, detail: "forward: meshmonitor-cf-fwd 3001,8080 (tcp+udp)"}]
origin_pulls:
  description: With O(origin_lock), one entry per port asked, with what a client without a certificate got there
    (C(tls), the HTTP C(status) of C(GET /) or null for no answer, its C(location), the client certificate CA
    C(names) the port sent, or C(error) when nothing answered) and the C(verdict) and C(detail) the doctor gives it.
  returned: when O(origin_lock) is given
  type: list
  elements: dict
  sample: [{port: 443, address: 127.0.0.1, tls: true, status: null, location: "", names: ["CN = zone pulls CA"], verdict: OK,
            detail: "443/tcp: demands a client certificate from CN = zone pulls CA"}]
summary:
  description: One line for people, such as the doctor prints.
  returned: success
  type: str
  sample: "proxy container edge-proxy publishes 443/tcp -> 8443; bans hooked on forward to 443,3001,8080 (tcp+udp); input to 443,8080 (tcp+udp)"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.exposure import ExposureError
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.host import find_exposure
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.origin_pulls import judge_front_port


def run_module(module):
    try:
        result = find_exposure(module, module.params)
    except ExposureError as exc:
        module.fail_json(msg=str(exc))
    for answer in result.get("origin_pulls") or []:
        answer["verdict"], answer["detail"] = judge_front_port(answer)
        if answer["verdict"] != "OK":
            module.warn("origin lock (only your Cloudflare zone should pass it): " + answer["detail"])
    module.exit_json(changed=False, **result)


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
            "public_urls": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
