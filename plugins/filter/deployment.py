# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: deployment
short_description: Find the MeshMonitor jail the jail role recorded on a host
version_added: 0.2.0
author: meshmonitor.fail2ban contributors
description:
  - The jail role records what it deployed as an Ansible local fact (a JSON file in C(/etc/ansible/facts.d), one per
    jail) holding the fail2ban jails it runs, the filter, the log, the topology, the firewall and the ban paths. The
    operations playbooks read that record instead of guessing names.
  - Returns the record of the jail named O(jail); without O(jail), the only one on the host.
  - Fails with a message saying what to do when the host has no record, has no jail of that name, or has several
    and O(jail) is not given.
positional: _input, jail
options:
  _input:
    description: The host's C(ansible_local) facts (gather them with C(gather_subset=[local])).
    type: dict
    required: true
  jail:
    description: The jail's name (the jail role's C(jail_name)). V(None) or empty picks the only one.
    type: str
"""

EXAMPLES = r"""
- name: Read the host's local facts
  ansible.builtin.setup:
    gather_subset: ['!all', '!min', local]

- name: Unban in every jail of the deployment that holds bans of its own
  meshmonitor.fail2ban.ban:
    jail: "{{ item }}"
    ip: 203.0.113.7
    state: absent
  loop: "{{ (ansible_local | meshmonitor.fail2ban.deployment(jail | default(none))).jails | dict2items | map(attribute='value') }}"
"""

RETURN = r"""
_value:
  description: The record the jail role wrote for that jail.
  type: dict
  contains:
    jail:
      description: The jail's name (C(jail_name)).
      type: str
    jails:
      description: The fail2ban jails of the deployment by their part (C(main), C(recidive), C(permanent), C(sync)); a part
        switched off is absent.
      type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.deployment import (
    DeploymentError, recorded_deployments, select_deployment)


def deployment(local_facts, jail=None):
    try:
        return select_deployment(local_facts, jail)
    except DeploymentError as exc:
        raise AnsibleFilterError("deployment: %s" % exc)


def deployments(local_facts):
    return recorded_deployments(local_facts)


class FilterModule(object):
    def filters(self):
        # deployments (every record, for uninstall) is documented in deployments.yml.
        return {"deployment": deployment, "deployments": deployments}
