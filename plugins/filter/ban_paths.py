# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: ban_paths
short_description: Check and normalise ban paths given by hand (the jail role's jail_ban_paths)
version_added: 0.2.0
author: meshmonitor.fail2ban contributors
description:
  - Checks each entry the way the C(meshmonitor.fail2ban.exposure_info) module does when it is given O(_input) as its
    C(paths), without asking the host, so a wrong entry is refused before anything changes.
  - Fails naming the first bad entry by its index (C(jail_ban_paths[1]), say) and saying what is wrong with it.
options:
  _input:
    description: A list of paths, each V(hook) (V(forward) or V(input)), V(ports) and V(protocols) (V(tcp), V(udp)).
    type: list
    elements: dict
    required: true
  label:
    description: The name errors give the list.
    type: str
    default: jail_ban_paths
"""

EXAMPLES = r"""
- name: Refuse a bad jail_ban_paths before anything changes
  ansible.builtin.assert:
    that: jail_ban_paths | meshmonitor.fail2ban.ban_paths is sequence
  when: jail_ban_paths | length > 0
"""

RETURN = r"""
_value:
  description: The paths, one per hook, with ports sorted and unique and protocols in the order tcp, udp.
  type: list
  elements: dict
  sample: [{hook: forward, ports: [8080, 8443], protocols: [tcp, udp]}]
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.exposure import ExposureError, check_paths


def ban_paths(paths, label="jail_ban_paths"):
    try:
        return check_paths(paths, label)
    except ExposureError as exc:
        raise AnsibleFilterError("ban_paths: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"ban_paths": ban_paths}
