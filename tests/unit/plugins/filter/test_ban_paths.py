# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.meshmonitor.fail2ban.plugins.filter.ban_paths import FilterModule, ban_paths


def test_registered_under_its_name():
    assert FilterModule().filters() == {"ban_paths": ban_paths}


def test_normalised_one_entry_per_hook():
    paths = [{"hook": "forward", "ports": [8443, 8080, 8080], "protocols": ["udp", "tcp"]}, {"hook": "input", "ports": [80]}]
    assert ban_paths(paths) == [{"hook": "forward", "ports": [8080, 8443], "protocols": ["tcp", "udp"]},
                                {"hook": "input", "ports": [80], "protocols": ["tcp"]}]


@pytest.mark.parametrize("paths, message", [
    ([{"hook": "forward", "ports": [0]}], r"^ban_paths: jail_ban_paths\[0\]: ports must be"),
    ([{"hook": "input", "ports": [80]}, {"hook": "input", "ports": [443]}], r"^ban_paths: jail_ban_paths\[1\]: one entry per hook"),
    ([{"hook": "prerouting", "ports": [443]}], r"^ban_paths: jail_ban_paths\[0\]: hook must be"),
    ([], r"^ban_paths: jail_ban_paths is empty"),
])
def test_the_first_bad_entry_is_named(paths, message):
    with pytest.raises(AnsibleFilterError, match=message):
        ban_paths(paths)


def test_the_label_names_the_list():
    with pytest.raises(AnsibleFilterError, match=r"^ban_paths: my_paths\[0\]"):
        ban_paths([{"hook": "forward", "ports": [70000]}], "my_paths")
