# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The record of a deployment the jail role leaves on the host (an Ansible local fact), read back."""

from __future__ import annotations

# Every record says who wrote it: other local facts on the host are left alone.
RECORD_WRITER = "meshmonitor.fail2ban.jail"


class DeploymentError(Exception):
    pass


def recorded_deployments(local_facts):
    """The records in a host's ansible_local facts, sorted by jail name."""
    records = [value for value in (local_facts or {}).values()
               if isinstance(value, dict) and value.get("written_by") == RECORD_WRITER and value.get("jail")]
    return sorted(records, key=lambda record: record["jail"])


def select_deployment(local_facts, jail=None):
    """The record of the jail named `jail`, or the only one when `jail` is empty."""
    records = recorded_deployments(local_facts)
    names = [record["jail"] for record in records]
    if not records:
        raise DeploymentError(
            "no MeshMonitor jail is recorded on this host: deploy it with meshmonitor.fail2ban.site (or the "
            "meshmonitor.fail2ban.jail role), which records it in /etc/ansible/facts.d")
    if not jail:
        if len(records) > 1:
            raise DeploymentError("this host has several MeshMonitor jails (%s): pass -e jail=NAME" % ", ".join(names))
        return records[0]
    for record in records:
        if record["jail"] == jail:
            return record
    raise DeploymentError("this host has no MeshMonitor jail named %s; it has %s" % (jail, ", ".join(names)))
