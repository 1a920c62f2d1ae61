# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: refused_variables
short_description: Variables with the roles' prefixes that no role of the collection reads
version_added: 0.3.0
author: meshmonitor.fail2ban contributors
description:
  - Of the variable names given, those starting with C(meshmonitor_), C(app_) or C(jail_) that no role documents
    in its argument_specs, each as a sentence saying why it is refused.
  - A name of an earlier release says what became of it (from O(removed)); any other gets the closest documented
    name as a hint, when there is one.
options:
  _input:
    description: The variable names set for the host, e.g. from C(query('ansible.builtin.varnames', '^(meshmonitor|app|jail)_')).
    type: list
    elements: str
    required: true
  documented:
    description: The names the roles document (their argument_specs options).
    type: list
    elements: str
    required: true
  removed:
    description: Names of earlier releases, each mapped to what became of it.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Refuse what no role reads
  ansible.builtin.assert:
    that: refused == []
    fail_msg: "{{ refused | join('. ') }}"
  vars:
    refused: "{{ ['jail_maxretyr'] | meshmonitor.fail2ban.refused_variables(['jail_maxretry']) }}"
  # refused == ['jail_maxretyr: no role of meshmonitor.fail2ban reads it (did you mean jail_maxretry?)']
"""

RETURN = r"""
_value:
  description: One sentence per refused name, in name order; empty when every name is documented.
  type: list
  elements: str
  sample: ["app_trust_proxy is renamed meshmonitor_trust_proxy in 0.2.0"]
"""

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.variables import refused_variables


class FilterModule(object):
    def filters(self):
        return {"refused_variables": refused_variables}
