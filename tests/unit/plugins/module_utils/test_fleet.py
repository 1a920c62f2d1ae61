# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.fleet import decisions_by_host, posting_host, set_elements


def test_the_elements_of_a_set_are_counted():
    listing = {"nftables": [{"metainfo": {}}, {"set": {"name": "addr-set-fleet", "elem": [
        {"elem": {"val": "198.51.100.7", "timeout": 600, "expires": 590}}, {"elem": {"val": "203.0.113.9", "timeout": 60}}]}}]}
    assert set_elements(json.dumps(listing)) == 2
    assert set_elements(json.dumps({"nftables": [{"set": {"name": "addr6-set-fleet"}}]})) == 0


def test_the_posting_host_is_read_from_the_scenario():
    assert posting_host("meshmonitor/mesh-1/meshmonitor") == "mesh-1"
    assert posting_host("meshmonitor/a/b/c") == "a/b"
    assert posting_host("crowdsecurity/ssh-bf") is None
    assert posting_host(None) is None


def test_decisions_count_per_host_only_this_fleets_origin_and_each_address_once():
    def decision(value, scenario, origin="meshmonitor-fail2ban"):
        return {"value": value, "scenario": scenario, "origin": origin, "type": "ban"}
    alerts = [{"decisions": [decision("198.51.100.7", "meshmonitor/h1/mm"), decision("198.51.100.7", "meshmonitor/h1/mm-recidive"),
                             decision("203.0.113.9", "meshmonitor/h1/mm")]},
              {"decisions": [decision("2001:db8::", "meshmonitor/h2/mm")]},
              {"decisions": [decision("192.0.2.1", "manual 'ban' from 'x'", origin="cscli")]},
              {"decisions": None}]
    assert decisions_by_host(json.dumps(alerts)) == {"h1": 2, "h2": 1}
    assert decisions_by_host("null") == {}
