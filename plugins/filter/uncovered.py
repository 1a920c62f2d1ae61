# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: uncovered
short_description: The addresses an ignoreip list does not cover
version_added: 0.3.0
author: meshmonitor.fail2ban contributors
description:
  - Keeps, in their order, the addresses that no address or network of O(ignoreip) covers; names in O(ignoreip)
    are skipped. fail2ban never bans, and never restores, an address its C(ignoreip) covers.
positional: _input, ignoreip
options:
  _input:
    description: IPv4 and IPv6 addresses.
    type: list
    elements: str
    required: true
  ignoreip:
    description: A C(ignoreip) list, as P(meshmonitor.fail2ban.ignoreip#filter) returns it.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: The banned addresses fail2ban restores after a restart with the new ignoreip
  ansible.builtin.debug:
    msg: "{{ ['192.0.2.7', '198.51.100.9'] | meshmonitor.fail2ban.uncovered(['127.0.0.0/8', '198.51.100.0/24']) }}"
  # => ['192.0.2.7']
"""

RETURN = r"""
_value:
  description: The addresses of O(_input) that no entry of O(ignoreip) covers.
  type: list
  elements: str
"""

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.fail2ban import covering_entry


def uncovered(addresses, ignoreip):
    return [address for address in addresses if covering_entry(address, ignoreip) is None]


class FilterModule(object):
    def filters(self):
        return {"uncovered": uncovered}
