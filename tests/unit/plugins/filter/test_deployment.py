# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.meshmonitor.fail2ban.plugins.filter.deployment import FilterModule, deployment, deployments

GARDEN = {"written_by": "meshmonitor.fail2ban.jail", "jail": "garden", "jails": {"main": "garden"}}
MESH = {"written_by": "meshmonitor.fail2ban.jail", "jail": "meshmonitor", "jails": {"main": "meshmonitor"}}
# Local facts someone else wrote, including one that happens to have a "jail" key.
OTHERS = {"backup": {"last": "2026-11-01"}, "other_tool": {"jail": "meshmonitor"}, "broken": "not json"}


def test_registered_under_their_names():
    assert FilterModule().filters() == {"deployment": deployment, "deployments": deployments}


def test_the_only_record_without_a_name():
    assert deployment(dict(OTHERS, meshmonitor_fail2ban_meshmonitor=MESH)) == MESH
    assert deployment(dict(OTHERS, meshmonitor_fail2ban_meshmonitor=MESH), None) == MESH
    assert deployment(dict(OTHERS, meshmonitor_fail2ban_meshmonitor=MESH), "") == MESH


def test_a_record_by_name_among_several():
    facts = dict(OTHERS, meshmonitor_fail2ban_meshmonitor=MESH, meshmonitor_fail2ban_garden=GARDEN)
    assert deployment(facts, "garden") == GARDEN
    assert deployment(facts, "meshmonitor") == MESH


def test_several_without_a_name_asks_for_one():
    facts = dict(meshmonitor_fail2ban_meshmonitor=MESH, meshmonitor_fail2ban_garden=GARDEN)
    with pytest.raises(AnsibleFilterError, match=r"several MeshMonitor jails \(garden, meshmonitor\): pass -e jail=NAME"):
        deployment(facts)


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(AnsibleFilterError, match="no MeshMonitor jail named mesh2; it has meshmonitor"):
        deployment(dict(meshmonitor_fail2ban_meshmonitor=MESH), "mesh2")


@pytest.mark.parametrize("facts", [None, {}, OTHERS])
def test_no_record_says_how_to_make_one(facts):
    with pytest.raises(AnsibleFilterError, match="no MeshMonitor jail is recorded on this host: deploy it with meshmonitor.fail2ban.site"):
        deployment(facts, "meshmonitor")


def test_every_record_sorted_others_left_out():
    facts = dict(OTHERS, meshmonitor_fail2ban_meshmonitor=MESH, meshmonitor_fail2ban_garden=GARDEN)
    assert deployments(facts) == [GARDEN, MESH]
    assert deployments(OTHERS) == []
    assert deployments(None) == []
