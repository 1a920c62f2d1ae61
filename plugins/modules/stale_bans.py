#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: stale_bans
short_description: Remove the firewall rules and sets of MeshMonitor jails and origin locks no longer in use
version_added: 0.3.0
author: meshmonitor.fail2ban contributors (@meshmonitor-fail2ban)
description:
  - The collection's ban action keeps its rules and sets, with the bans in them, when fail2ban stops, so
    that a restart lets no banned address through; so does the origin lock. A jail removed, turned off, moved
    to the other firewall, a ban path no longer in use, or the lock turned off would leave them dropping
    packets for good; this module removes them.
  - "Objects, as the action names them: the nftables table C(inet f2b-<jail>); with iptables, the jail's ipset
    sets C(f2b-<label>) and C(f2b6-<label>), and per ban path C(<label>-<hook label>) the chain C(f2b-<name>) in
    iptables and ip6tables, with every rule jumping to it. The origin lock's, per path: the nftables tables
    C(ip f2b-<name>) and C(ip6 f2b-<name>), or the iptables chain C(f2b-<name>) in both families."
  - Only objects of the jails named in O(jails) are touched; a firewall tool the host lacks is skipped.
options:
  jails:
    description: Every jail of the deployment, in use or not, with the label its ban paths are named after, and its origin lock.
    type: list
    elements: dict
    required: true
    suboptions:
      jail:
        description: The fail2ban jail (not for a lock).
        type: str
      label:
        description: Its ban paths' label (a lock's, for a lock).
        type: str
        required: true
      lock:
        description: This entry is the origin lock.
        type: bool
        default: false
  keep:
    description: The jails in use, and the label of the lock if it is, whose objects stay. Empty removes every object of O(jails).
    type: list
    elements: str
    default: []
  firewall:
    description: The firewall the jails in O(keep) use; their objects in the other one go.
    type: str
    choices: [nftables, iptables]
    default: nftables
  hooks:
    description: The hooks of the ban paths in use (V(forward), V(input)); with iptables, the chains and sets of other hooks go.
    type: list
    elements: str
    default: [forward, input]
attributes:
  check_mode:
    description: Reports what it would remove without removing it.
    support: full
  diff_mode:
    description: Nothing to show beyond RV(removed).
    support: none
notes:
  - Run after fail2ban has restarted with the new configuration, so that no running action makes them again.
seealso:
  - module: meshmonitor.fail2ban.doctor
"""

EXAMPLES = r"""
- name: Remove the bans of the MeshMonitor jail after turning it off
  meshmonitor.fail2ban.stale_bans:
    jails:
      - {jail: meshmonitor, label: meshmonitor}
      - {jail: meshmonitor-recidive, label: meshmonitor-rep}
      - {label: meshmonitor-cf, lock: true}
    keep: []
  become: true
"""

RETURN = r"""
removed:
  description: What was removed (in check mode, what would be).
  returned: always
  type: dict
  sample:
    tables: [inet f2b-meshmonitor-recidive]
    chains: []
    ipsets: []
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.ban_objects import (
    IPTABLES_COMMANDS, ipset_names, iptables_chains, iptables_removal, nft_tables, stale, wanted_objects)


def _read(module, command):
    """(binary, output) of command, (None, "") where the host lacks it or it fails."""
    binary = module.get_bin_path(command[0])
    if not binary:
        return None, ""
    rc, out, dummy = module.run_command([binary] + command[1:])
    return (binary, out) if rc == 0 else (None, "")


def _run(module, command):
    rc, out, err = module.run_command(command)
    if rc != 0:
        module.fail_json(msg="%s failed: %s" % (" ".join(command), err.strip()))


def run_module(module):
    params = module.params
    everything, kept = wanted_objects(params["jails"], set(params["keep"]), params["firewall"], set(params["hooks"]))
    nft, tables = _read(module, ["nft", "list", "tables"])
    iptables = [_read(module, [command, "-w", "-S"]) for command in IPTABLES_COMMANDS]
    ipset, sets = _read(module, ["ipset", "list", "-n"])
    present = {"tables": nft_tables(tables), "ipsets": ipset_names(sets),
               "chains": set().union(*(iptables_chains(listing) for dummy, listing in iptables))}
    removed = stale(everything, kept, present)
    if not module.check_mode:
        for table in removed["tables"]:
            _run(module, [nft, "delete", "table"] + table.split())
        # Rules before chains, chains before the sets they match.
        for binary, listing in iptables:
            for arguments in iptables_removal(listing, removed["chains"]) if binary else []:
                _run(module, [binary, "-w"] + arguments)
        for name in removed["ipsets"]:
            _run(module, [ipset, "destroy", name])
    module.exit_json(changed=any(removed.values()), removed=removed)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            jails=dict(type="list", elements="dict", required=True,
                       options=dict(jail=dict(type="str"), label=dict(type="str", required=True),
                                    lock=dict(type="bool", default=False))),
            keep=dict(type="list", elements="str", default=[]),
            firewall=dict(type="str", choices=["nftables", "iptables"], default="nftables"),
            hooks=dict(type="list", elements="str", default=["forward", "input"]),
        ),
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
