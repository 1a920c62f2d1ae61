# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.meshmonitor.fail2ban.plugins.modules import stale_bans

LISTINGS = {
    ("nft", "list", "tables"): "table inet f2b-mm\ntable inet f2b-mm-recidive\n",
    ("iptables", "-w", "-S"): ("-P INPUT ACCEPT\n-N DOCKER-USER\n-N f2b-mm-fwd\n"
                               "-A DOCKER-USER -p tcp -m multiport --dports 3001 -j f2b-mm-fwd\n"
                               "-A f2b-mm-fwd -m set --match-set f2b-mm src -j DROP\n-A f2b-mm-fwd -j RETURN\n"),
    ("ipset", "list", "-n"): "f2b-mm\nf2b6-mm\nf2b-unrelated\n",
}


class Done(Exception):
    pass


class FakeModule:
    def __init__(self, check_mode=False, **params):
        self.check_mode = check_mode
        self.params = dict({"keep": [], "firewall": "nftables", "hooks": ["forward", "input"],
                            "jails": [{"jail": "mm", "label": "mm"}, {"jail": "mm-recidive", "label": "mm-rep"}]}, **params)
        self.changes = []

    def get_bin_path(self, name, required=False):
        # This host has no ip6tables.
        return None if name == "ip6tables" else name

    def run_command(self, args):
        if tuple(args) in LISTINGS:
            return 0, LISTINGS[tuple(args)], ""
        self.changes.append(args)
        return 0, "", ""

    def exit_json(self, **result):
        raise Done(result)

    def fail_json(self, **result):
        raise Done(result)


def run(module):
    with pytest.raises(Done) as outcome:
        stale_bans.run_module(module)
    return outcome.value.args[0]


def test_nftables_kept_for_the_running_jail_and_iptables_objects_removed_in_order():
    module = FakeModule(keep=["mm"])
    result = run(module)
    assert result["changed"]
    assert result["removed"] == {"tables": ["inet f2b-mm-recidive"], "chains": ["f2b-mm-fwd"], "ipsets": ["f2b-mm", "f2b6-mm"]}
    assert module.changes == [
        ["nft", "delete", "table", "inet", "f2b-mm-recidive"],
        ["iptables", "-w", "-D", "DOCKER-USER", "-p", "tcp", "-m", "multiport", "--dports", "3001", "-j", "f2b-mm-fwd"],
        ["iptables", "-w", "-F", "f2b-mm-fwd"], ["iptables", "-w", "-X", "f2b-mm-fwd"],
        ["ipset", "destroy", "f2b-mm"], ["ipset", "destroy", "f2b6-mm"]]


def test_check_mode_says_what_would_go_and_changes_nothing():
    module = FakeModule(check_mode=True)
    result = run(module)
    assert result["removed"]["tables"] == ["inet f2b-mm", "inet f2b-mm-recidive"] and module.changes == []


def test_nothing_to_remove_is_no_change():
    module = FakeModule(keep=["mm", "mm-recidive"], firewall="iptables", hooks=["forward"])
    LISTINGS[("nft", "list", "tables")] = ""
    try:
        result = run(module)
    finally:
        LISTINGS[("nft", "list", "tables")] = "table inet f2b-mm\ntable inet f2b-mm-recidive\n"
    assert not result["changed"] and module.changes == []
