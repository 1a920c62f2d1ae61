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
  - A ban made here lasts the jail's C(bantime) and is kept by fail2ban's database across restarts.
options:
  jail:
    description: Name of the jail, as in C(fail2ban-client status).
    type: str
    default: meshmonitor
  ip:
    description: One address or a list of IPv4/IPv6 addresses.
    type: list
    elements: str
    required: true
    aliases: [ips, address]
  state:
    description: V(present) bans the addresses, V(absent) lifts their bans.
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
covered_by_ignoreip:
  description: Addresses not banned because the jail's C(ignoreip) covers them, with the covering entry.
  returned: success
  type: list
  elements: dict
  sample: [{ip: 10.0.0.5, ignoreip: 10.0.0.0/8}]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.fail2ban import (
    Fail2banClient, Fail2banError, normalize_addresses, plan_bans)


def run_module(module, client):
    params = module.params
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
        result["diff"] = {"before": "".join(ip + "\n" for ip in sorted(before)),
                          "after": "".join(ip + "\n" for ip in sorted(after)),
                          "before_header": "jail %s: banned" % jail, "after_header": "jail %s: banned" % jail}
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec={
            "jail": {"type": "str", "default": "meshmonitor"},
            "ip": {"type": "list", "elements": "str", "required": True, "aliases": ["ips", "address"]},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "respect_ignoreip": {"type": "bool", "default": True},
            "exclusive": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    run_module(module, Fail2banClient(module))


if __name__ == "__main__":
    main()
