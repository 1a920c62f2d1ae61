#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: jail_info
short_description: Read fail2ban's jails, their counters and current bans
version_added: 0.1.0
author: meshmonitor.fail2ban contributors (@meshmonitor-fail2ban)
description:
  - Returns, for each running fail2ban jail (or the ones named), the failure and ban counters, the
    banned addresses with their ban start, length and end as fail2ban knows them (the end also in seconds since the
    epoch, C(end_epoch), V(-1) for a permanent ban), the files it watches and its C(ignoreip), as structured data.
    Read-only.
  - Uses C(fail2ban-client); lists come from its machine-readable output (Python literals).
options:
  jail:
    description: Jails to report on. Empty means every running jail.
    type: list
    elements: str
    default: []
requirements:
  - fail2ban running on the target, and root (C(become)) to reach its socket.
extends_documentation_fragment:
  - meshmonitor.fail2ban.attributes.read_only
seealso:
  - module: meshmonitor.fail2ban.ban
"""

EXAMPLES = r"""
- name: Read the MeshMonitor jail
  meshmonitor.fail2ban.jail_info:
    jail: meshmonitor
  become: true
  register: f2b

- name: Show who is banned
  ansible.builtin.debug:
    msg: "{{ f2b.jails.meshmonitor.banned }}"
"""

RETURN = r"""
jails:
  description: One entry per jail, by name.
  returned: success
  type: dict
  sample:
    meshmonitor:
      currently_failed: 2
      total_failed: 17
      currently_banned: 1
      total_banned: 3
      banned: [203.0.113.7]
      bans: [{ip: 203.0.113.7, start: "2026-11-25 15:32:40", bantime: 3600, end: "2026-11-25 16:32:40",
              end_epoch: 1795000000}]
      files: [/opt/meshmonitor/logs/access.log]
      ignoreip: [127.0.0.0/8, "::1"]
version:
  description: fail2ban's version.
  returned: success
  type: str
  sample: 1.1.0
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.fail2ban import (
    Fail2banClient, Fail2banError, ban_end_epoch)


def run_module(module, client):
    try:
        names = module.params["jail"] or client.jails()
        jails = {}
        for name in names:
            info = client.status(name)
            info["banned"] = client.banned(name)
            info["bans"] = [dict(ban, end_epoch=ban_end_epoch(ban)) for ban in client.bans_with_time(name)]
            info["ignoreip"] = client.ignoreip(name)
            jails[name] = info
        version = client.run("--version").strip().split()[-1].lstrip("v")
    except Fail2banError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, jails=jails, version=version)


def main():
    module = AnsibleModule(
        argument_spec={"jail": {"type": "list", "elements": "str", "default": []}},
        supports_check_mode=True,
    )
    run_module(module, Fail2banClient(module))


if __name__ == "__main__":
    main()
