#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_info
short_description: Read the fleet's shared bans on a host, or on the fleet's LAPI
version_added: 0.1.0
author: meshmonitor.fail2ban contributors (@meshmonitor-fail2ban)
description:
  - For a host of a fleet (the jail role's O(meshmonitor.fail2ban.jail#role:main:jail_fleet_enabled)), the number of
    addresses its CrowdSec bouncer has put in the fleet's nftables sets (table C(mm-fleet)), that is the fleet's bans
    it drops.
  - With O(lapi=true), run on the LAPI's host, the number of addresses each host of the fleet has a decision for
    (posted by the jail role's fleet action), read with C(cscli decisions list --origin meshmonitor-fail2ban).
  - Read-only.
options:
  lapi:
    description: Read the LAPI's decisions (on the LAPI's host) instead of the host's sets.
    type: bool
    default: false
requirements:
  - nft on the host; cscli on the LAPI's host; root (C(become)).
extends_documentation_fragment:
  - meshmonitor.fail2ban.attributes.read_only
seealso:
  - module: meshmonitor.fail2ban.jail_info
"""

EXAMPLES = r"""
- name: Count the fleet's bans this host drops
  meshmonitor.fail2ban.fleet_info:
  become: true
  register: fleet

- name: Count each host's decisions on the LAPI
  meshmonitor.fail2ban.fleet_info:
    lapi: true
  delegate_to: mesh-1
  run_once: true
  become: true
  register: lapi
"""

RETURN = r"""
enforced:
  description: Addresses in the fleet's sets on this host (both families); V(null) when the host has no fleet table.
  returned: when O(lapi) is false
  type: int
  sample: 12
posted:
  description: Per host, the addresses it has a decision of the fleet's origin for on the LAPI.
  returned: when O(lapi) is true
  type: dict
  sample: {mesh-1: 10, mesh-2: 2}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.fleet import (
    FLEET_ORIGIN, FLEET_SETS, FLEET_TABLE, decisions_by_host, set_elements)


def enforced(module):
    total = 0
    for name in sorted(FLEET_SETS.values()):
        code, out, err = module.run_command(["nft", "-j", "list", "set", "inet", FLEET_TABLE, name])
        if code:
            return None
        total += set_elements(out)
    return total


def main():
    module = AnsibleModule(argument_spec={"lapi": {"type": "bool", "default": False}}, supports_check_mode=True)
    if not module.params["lapi"]:
        module.exit_json(changed=False, enforced=enforced(module))
    # cscli lists only its own and CrowdSec's origins unless asked for another.
    code, out, err = module.run_command(["cscli", "decisions", "list", "-o", "json", "-l", "0", "--origin", FLEET_ORIGIN])
    if code:
        module.fail_json(msg="cscli decisions list failed: %s" % (err or out).strip())
    module.exit_json(changed=False, posted=decisions_by_host(out))


if __name__ == "__main__":
    main()
