# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.variables import refused_variables

DOCUMENTED = ["meshmonitor_published_port", "jail_maxretry", "app_image"]
REMOVED = {"app_trust_proxy": "renamed meshmonitor_trust_proxy in 0.2.0"}


def test_documented_and_foreign_names_pass():
    assert refused_variables(["jail_maxretry", "app_image", "ansible_host", "lab_hosts", "__jail_presets"], DOCUMENTED) == []


def test_misspelt_name_gets_the_closest_documented_one():
    assert refused_variables(["meshmonitor_pubished_port"], DOCUMENTED, REMOVED) == [
        "meshmonitor_pubished_port: no role of meshmonitor.fail2ban reads it (did you mean meshmonitor_published_port?)"]


def test_internal_name_of_an_earlier_release_gets_no_hint():
    # jail_filter_file was a role variable that outranked the inventory: refused, nothing close.
    assert refused_variables(["jail_filter_file"], DOCUMENTED) == [
        "jail_filter_file: no role of meshmonitor.fail2ban reads it"]


def test_removed_name_says_what_to_set_and_all_are_sorted():
    assert refused_variables(["jail_x", "app_trust_proxy", "jail_x"], DOCUMENTED, REMOVED) == [
        "app_trust_proxy is renamed meshmonitor_trust_proxy in 0.2.0",
        "jail_x: no role of meshmonitor.fail2ban reads it"]
