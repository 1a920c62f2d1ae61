# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet's shared bans (jail_fleet_enabled): what a host enforces and what the LAPI holds.

The names are those of the jail role's fleet action (roles/jail/files/action.d/meshmonitor-fleet.py)
and its bouncer configuration: table inet mm-fleet with one set per family, decisions of origin
meshmonitor-fail2ban whose scenario is meshmonitor/<host>/<jail>.
"""

from __future__ import annotations

import json

FLEET_TABLE = "mm-fleet"
FLEET_SETS = {"ipv4": "addr-set-fleet", "ipv6": "addr6-set-fleet"}
FLEET_ORIGIN = "meshmonitor-fail2ban"
SCENARIO_PREFIX = "meshmonitor/"


def set_elements(listing):
    """`nft -j list set` output -> the number of elements in the set."""
    count = 0
    for item in json.loads(listing).get("nftables", []):
        count += len(item.get("set", {}).get("elem", []))
    return count


def posting_host(scenario):
    """The host that posted a decision, from its scenario (meshmonitor/<host>/<jail>), or None."""
    if not scenario or not scenario.startswith(SCENARIO_PREFIX):
        return None
    parts = scenario[len(SCENARIO_PREFIX):].rsplit("/", 1)
    return parts[0] if len(parts) == 2 and parts[0] else None


def decisions_by_host(alerts):
    """`cscli decisions list -o json --origin ...` output (alerts, each with its decisions; null when none) ->
    {host: number of distinct addresses it has a decision of this fleet's origin for}."""
    addresses = {}
    for alert in json.loads(alerts) or []:
        for decision in alert.get("decisions") or []:
            host = posting_host(decision.get("scenario"))
            if decision.get("origin") == FLEET_ORIGIN and host is not None:
                addresses.setdefault(host, set()).add(decision.get("value"))
    return dict((host, len(values)) for host, values in addresses.items())
