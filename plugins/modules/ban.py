#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ban
short_description: Ban or unban addresses in a fail2ban jail
version_added: 0.1.0
author: meshmonitor.fail2ban contributors (@meshmonitor-fail2ban)
description:
  - Makes one or more addresses banned (O(state=present)) or not banned (O(state=absent)) in a running
    fail2ban jail, through C(fail2ban-client). It is idempotent, changed only when the jail's ban list changed.
  - Addresses are checked before anything is sent; fail2ban itself would accept a host name or a typo.
    C(::ffff:a.b.c.d) is treated as C(a.b.c.d), as fail2ban does.
  - By default an address that the jail's C(ignoreip) covers is not banned but reported in RV(covered_by_ignoreip), so a
    fleet-wide ban can never lock out a host's own whitelist (the operator, a proxy).
  - A ban made here lasts the jail's C(bantime), or until the time O(until) gives, and is kept by fail2ban's database
    across restarts.
options:
  jail:
    description: Name of the jail, as in C(fail2ban-client status).
    type: str
    default: meshmonitor
  ip:
    description:
      - One address or a list of IPv4/IPv6 addresses.
      - Required unless O(until) gives the addresses.
    type: list
    elements: str
    aliases: [ips, address]
  until:
    description:
      - Ban each address of this mapping until the time it gives, in seconds since the epoch (V(-1) for good), instead
        of for the jail's C(bantime). Addresses whose time has passed are skipped and listed in RV(expired).
      - A list of such mappings (one per host, say) is merged first, each address keeping its latest end.
      - Meant for bans copied from another host (see the C(meshmonitor.fail2ban.sync_bans) playbook), so a copy ends when
        its origin does. The jail must not use C(bantime.increment); the jail's C(bantime) is changed at run time.
      - An address already banned (here or in O(also_banned_in)) is left as it is, so repeated runs settle.
    type: raw
  also_banned_in:
    description:
      - Other jails whose bans count as banned here with O(until), such as the jail the bans came from.
      - Jails that are not running are ignored.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) bans the addresses, V(absent) lifts their bans.
      - The jail role's jails ban IPv6 per /64, listed as the network's address; V(absent) with any address of it lifts
        that ban.
    type: str
    choices: [present, absent]
    default: present
  respect_ignoreip:
    description: Skip addresses the jail's C(ignoreip) covers instead of banning them.
    type: bool
    default: true
  exclusive:
    description:
      - With O(state=present), also lift every ban of the jail that O(ip) does not list, so the jail's ban list
        becomes exactly O(ip) (less what C(ignoreip) covers). Removing one address from the list lifts exactly
        that ban.
    type: bool
    default: false
requirements:
  - fail2ban running on the target, and root (C(become)) to reach its socket.
attributes:
  check_mode:
    description: Reports what would change without banning or unbanning.
    support: full
  diff_mode:
    description: Shows the jail's ban list before and after.
    support: full
notes:
  - The jail must be running; an unknown jail fails with a message that names it.
seealso:
  - module: meshmonitor.fail2ban.jail_info
"""

EXAMPLES = r"""
- name: Ban an attacker on every MeshMonitor host
  meshmonitor.fail2ban.ban:
    ip: 203.0.113.7
  become: true

- name: Permanent bans are exactly this list
  meshmonitor.fail2ban.ban:
    jail: meshmonitor-permanent
    ip: [203.0.113.7, 198.51.100.9]
    exclusive: true
  become: true

- name: Copy bans from elsewhere, each ending when its origin's does
  meshmonitor.fail2ban.ban:
    jail: meshmonitor-sync
    until: {203.0.113.7: 1795000000, "2001:db8::7": 1795003600}
    also_banned_in: [meshmonitor, meshmonitor-recidive, meshmonitor-permanent]
  become: true

- name: Lift two bans
  meshmonitor.fail2ban.ban:
    jail: meshmonitor
    ip: [203.0.113.7, "2001:db8::7"]
    state: absent
  become: true
"""

RETURN = r"""
banned:
  description: The jail's banned addresses after the change (in check mode, as they would be).
  returned: success
  type: list
  elements: str
  sample: [203.0.113.7]
added:
  description: Addresses newly banned.
  returned: success
  type: list
  elements: str
removed:
  description: Addresses whose ban was lifted.
  returned: success
  type: list
  elements: str
bantimes:
  description: With O(until), the seconds each newly banned address was banned for (V(-1) for good).
  returned: success
  type: dict
  sample: {203.0.113.7: 3412}
expired:
  description: With O(until), addresses not banned because their time had passed.
  returned: success
  type: list
  elements: str
covered_by_ignoreip:
  description: Addresses not banned because the jail's C(ignoreip) covers them, with the covering entry.
  returned: success
  type: list
  elements: dict
  sample: [{ip: 10.0.0.5, ignoreip: 10.0.0.0/8}]
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.fail2ban import (
    Fail2banClient, Fail2banError, merge_ban_ends, normalize_addresses, plan_bans, plan_timed_bans)


def ban_list_diff(jail, before, after):
    """The jail's ban list before and after, as Ansible's --diff shows it."""
    return {"before": "".join(ip + "\n" for ip in sorted(before)),
            "after": "".join(ip + "\n" for ip in sorted(after)),
            "before_header": "jail %s: banned" % jail, "after_header": "jail %s: banned" % jail}


def run_timed(module, client):
    """until: ban each address for the time it has left, unless it is banned here or in also_banned_in."""
    params = module.params
    try:
        # Each address as fail2ban stores it; the latest end wins when two spellings meet.
        mappings = params["until"] if isinstance(params["until"], list) else [params["until"]]
        if not all(isinstance(mapping, dict) for mapping in mappings):
            raise ValueError("a mapping, or a list of mappings, is needed")
        until = merge_ban_ends([{normalize_addresses([ip])[0]: int(end)}
                                for mapping in mappings for ip, end in mapping.items()])
    except (TypeError, ValueError) as exc:
        module.fail_json(msg="until: %s (addresses mapped to seconds since the epoch, or -1)" % exc)
    addresses = list(until)
    jail = params["jail"]
    try:
        before = client.banned(jail)
        running = client.jails()
        elsewhere = [ip for other in params["also_banned_in"] if other in running for ip in client.banned(other)]
        ignoreip = client.ignoreip(jail) if params["respect_ignoreip"] else []
        by_bantime, skipped, expired = plan_timed_bans(until, before + elsewhere, time.time(), ignoreip)
        bantimes = dict((ip, seconds) for seconds, ips in by_bantime.items() for ip in ips)
        if not module.check_mode:
            for seconds, ips in sorted(by_bantime.items()):
                client.ban_for(jail, ips, seconds)
        added = sorted(bantimes, key=addresses.index)
        after = client.banned(jail) if added and not module.check_mode else before + added
    except Fail2banError as exc:
        module.fail_json(msg=str(exc))
    return {"changed": bool(added), "banned": after, "added": added, "removed": [], "bantimes": bantimes,
            "expired": expired, "covered_by_ignoreip": skipped}, before


def run_module(module, client):
    params = module.params
    if params["until"] is not None:
        result, before = run_timed(module, client)
        if module._diff:
            result["diff"] = ban_list_diff(params["jail"], before, result["banned"])
        module.exit_json(**result)
    try:
        wanted = normalize_addresses(params["ip"])
    except ValueError as exc:
        module.fail_json(msg="ip: %s" % exc)
    jail, state = params["jail"], params["state"]
    try:
        before = client.banned(jail)
        ignoreip = client.ignoreip(jail) if state == "present" and params["respect_ignoreip"] else []
        added, removed, skipped = plan_bans(wanted, before, state, ignoreip, params["exclusive"])
        if not module.check_mode:
            if added:
                client.ban(jail, added)
            if removed:
                client.unban(jail, removed)
        after = client.banned(jail) if (added or removed) and not module.check_mode else (
            [ip for ip in before if ip not in removed] + added)
    except Fail2banError as exc:
        module.fail_json(msg=str(exc))
    result = {
        "changed": bool(added or removed),
        "banned": after,
        "added": added,
        "removed": removed,
        "covered_by_ignoreip": skipped,
    }
    if module._diff:
        result["diff"] = ban_list_diff(jail, before, after)
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec={
            "jail": {"type": "str", "default": "meshmonitor"},
            "ip": {"type": "list", "elements": "str", "aliases": ["ips", "address"]},
            "until": {"type": "raw"},
            "also_banned_in": {"type": "list", "elements": "str", "default": []},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "respect_ignoreip": {"type": "bool", "default": True},
            "exclusive": {"type": "bool", "default": False},
        },
        required_one_of=[("ip", "until")],
        mutually_exclusive=[("ip", "until")],
        required_if=[("state", "absent", ("ip",))],
        supports_check_mode=True,
    )
    run_module(module, Fail2banClient(module))


if __name__ == "__main__":
    main()
