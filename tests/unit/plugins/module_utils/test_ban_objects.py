# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.ban_objects import (
    iptables_removal, nft_tables, stale, wanted_objects)

JAILS = [{"jail": "mm", "label": "mm"}, {"jail": "mm-recidive", "label": "mm-rep"}]


def test_a_jail_turned_off_loses_its_table_and_the_others_keep_theirs():
    everything, kept = wanted_objects(JAILS, {"mm"}, "nftables", {"forward"})
    present = {"tables": {"inet f2b-mm", "inet f2b-mm-recidive", "inet f2b-sshd"}, "chains": set(), "ipsets": set()}
    assert stale(everything, kept, present) == {"tables": ["inet f2b-mm-recidive"], "chains": [], "ipsets": []}


def test_iptables_keeps_the_paths_in_use_and_drops_the_nftables_tables():
    everything, kept = wanted_objects(JAILS, {"mm", "mm-recidive"}, "iptables", {"forward"})
    present = {"tables": {"inet f2b-mm"}, "chains": {"f2b-mm-fwd", "f2b-mm-in", "f2b-other-fwd", "DOCKER-USER"},
               "ipsets": {"f2b-mm", "f2b6-mm", "f2b-mm-rep", "f2b-other"}}
    # The sets are the jail's, for every path: they stay while the jail runs.
    assert stale(everything, kept, present) == {"tables": ["inet f2b-mm"], "chains": ["f2b-mm-in"], "ipsets": []}


def test_nothing_kept_removes_every_object_of_the_deployment_only():
    everything, kept = wanted_objects(JAILS, set(), "iptables", {"forward", "input"})
    present = {"tables": {"inet f2b-mm", "inet f2b-mmx"}, "chains": {"f2b-mm-rep-fwd"}, "ipsets": {"f2b6-mm-rep", "f2b-mmx"}}
    assert stale(everything, kept, present) == {"tables": ["inet f2b-mm"], "chains": ["f2b-mm-rep-fwd"], "ipsets": ["f2b6-mm-rep"]}


def test_the_tables_listing_is_read():
    assert nft_tables("table inet f2b-mm\ntable ip6 f2b-mm-cf-fwd\n") == {"inet f2b-mm", "ip6 f2b-mm-cf-fwd"}


def test_the_origin_lock_stays_on_its_paths_and_goes_when_turned_off():
    lock = [{"label": "mm-cf", "lock": True}]
    present = {"tables": {"ip f2b-mm-cf-fwd", "ip6 f2b-mm-cf-fwd", "ip f2b-mm-cf-in"}, "chains": {"f2b-mm-cf-fwd"}, "ipsets": set()}
    everything, kept = wanted_objects(lock, {"mm-cf"}, "nftables", {"forward"})
    assert stale(everything, kept, present) == {"tables": ["ip f2b-mm-cf-in"], "chains": ["f2b-mm-cf-fwd"], "ipsets": []}
    everything, kept = wanted_objects(lock, set(), "nftables", {"forward"})
    assert stale(everything, kept, present)["tables"] == ["ip f2b-mm-cf-fwd", "ip f2b-mm-cf-in", "ip6 f2b-mm-cf-fwd"]


def test_a_chain_goes_after_every_jump_to_it():
    listing = ("-P INPUT ACCEPT\n-N DOCKER-USER\n-N f2b-mm-fwd\n-N f2b-mm-in\n"
               "-A INPUT -p tcp -m multiport --dports 8080 -j f2b-mm-in\n"
               "-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 8080 -j f2b-mm-fwd\n"
               "-A DOCKER-USER -j RETURN\n"
               "-A f2b-mm-fwd -m set --match-set f2b-mm-fwd src -j DROP\n-A f2b-mm-fwd -j RETURN\n")
    assert iptables_removal(listing, ["f2b-mm-fwd", "f2b-gone"]) == [
        ["-D", "DOCKER-USER", "-p", "tcp", "-m", "conntrack", "--ctorigdstport", "8080", "-j", "f2b-mm-fwd"],
        ["-F", "f2b-mm-fwd"], ["-X", "f2b-mm-fwd"]]
