# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parsers fed with fail2ban-client output captured from fail2ban 1.1.0 (Debian 13)."""

from __future__ import annotations

import calendar

import pytest

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.fail2ban import (
    Fail2banClient, Fail2banError, ban_end_epoch, covering_entry, merge_ban_ends, normalize_addresses,
    parse_bans_with_time, parse_jail_list, parse_literal_list, parse_status, parse_tree_list, plan_bans,
    plan_timed_bans)

STATUS = """Status for the jail: meshmonitor
|- Filter
|  |- Currently failed:\t2
|  |- Total failed:\t17
|  `- File list:\t/opt/meshmonitor/logs/access.log
`- Actions
   |- Currently banned:\t2
   |- Total banned:\t3
   `- Banned IP list:\t203.0.113.7 2001:db8::7
"""
JAILS = "Status\n|- Number of jail:\t2\n`- Jail list:\tmeshmonitor, sshd\n"
IGNOREIP = "These IP addresses/networks are ignored:\n|- 127.0.0.0/8\n|- 172.30.80.30\n`- ::1\n"
WITH_TIME = ("192.0.2.7 \t2026-11-25 15:32:40 + 3600 = 2026-11-25 16:32:40\n"
             "198.51.100.0 \t2026-11-25 15:32:40 + -1 = 9999-12-31 23:59:59\n")


def test_status_counters_and_lists():
    assert parse_status(STATUS) == {
        "currently_failed": 2, "total_failed": 17, "currently_banned": 2, "total_banned": 3,
        "banned": ["203.0.113.7", "2001:db8::7"], "files": ["/opt/meshmonitor/logs/access.log"]}


def test_status_with_nobody_banned():
    info = parse_status(STATUS.replace("203.0.113.7 2001:db8::7", ""))
    assert info["banned"] == []


def test_jail_list():
    assert parse_jail_list(JAILS) == ["meshmonitor", "sshd"]
    assert parse_jail_list("Status\n|- Number of jail:\t0\n`- Jail list:\t\n") == []


def test_literal_list():
    assert parse_literal_list("['1.2.3.4', '::1']\n") == ["1.2.3.4", "::1"]
    assert parse_literal_list("[]") == []
    assert parse_literal_list("") == []
    with pytest.raises(ValueError):
        parse_literal_list("{'a': 1}")


def test_tree_list():
    assert parse_tree_list(IGNOREIP) == ["127.0.0.0/8", "172.30.80.30", "::1"]
    assert parse_tree_list("These IP addresses/networks are ignored:\n") == []


def test_bans_with_time():
    assert parse_bans_with_time(WITH_TIME) == [
        {"ip": "192.0.2.7", "start": "2026-11-25 15:32:40", "bantime": 3600, "end": "2026-11-25 16:32:40"},
        {"ip": "198.51.100.0", "start": "2026-11-25 15:32:40", "bantime": -1, "end": "9999-12-31 23:59:59"}]


def test_normalize_maps_and_deduplicates():
    assert normalize_addresses(["::ffff:1.2.3.4", "1.2.3.4", " 2001:DB8::1 "]) == ["1.2.3.4", "2001:db8::1"]


def test_normalize_names_every_bad_entry():
    with pytest.raises(ValueError, match=r"'example\.org', '1\.2\.3\.4/24'"):
        normalize_addresses(["1.2.3.4", "example.org", "1.2.3.4/24"])


def test_covering_entry_by_family_skipping_names():
    ignore = ["host.example", "10.0.0.0/8", "::1", "192.0.2.5"]
    assert covering_entry("10.1.2.3", ignore) == "10.0.0.0/8"
    assert covering_entry("192.0.2.5", ignore) == "192.0.2.5"
    assert covering_entry("::1", ignore) == "::1"
    assert covering_entry("11.0.0.1", ignore) is None


def test_plan_present_skips_banned_and_ignored():
    to_ban, to_unban, skipped = plan_bans(["1.1.1.1", "10.0.0.5", "2.2.2.2"], ["2.2.2.2"], "present", ["10.0.0.0/8"])
    assert to_ban == ["1.1.1.1"] and to_unban == []
    assert skipped == [{"ip": "10.0.0.5", "ignoreip": "10.0.0.0/8"}]


def test_plan_absent_only_banned():
    assert plan_bans(["1.1.1.1", "2.2.2.2"], ["2.2.2.2"], "absent") == ([], ["2.2.2.2"], [])


def test_plan_absent_lifts_the_ban_of_an_ipv6_address_s_64():
    # The jail role's action bans IPv6 per /64: the jail lists the network's address.
    assert plan_bans(["2001:db8:1:2::66", "2001:db8:9::1"], ["2001:db8:1:2::", "192.0.2.1"], "absent") == (
        [], ["2001:db8:1:2::"], [])
    assert plan_bans(["2001:db8:1:2::66"], ["2001:db8:1:2::66", "2001:db8:1:2::"], "absent")[1] == [
        "2001:db8:1:2::66", "2001:db8:1:2::"]


def test_plan_exclusive_unbans_only_what_is_not_wanted():
    assert plan_bans(["11.2.3.45"], ["1.2.3.4", "11.2.3.45"], "present", exclusive=True) == ([], ["1.2.3.4"], [])


class FakeModule:
    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def get_bin_path(self, name, required=False):
        return "/usr/bin/" + name

    def run_command(self, args):
        self.calls.append(args)
        return self.answers[tuple(args[1:])]


def test_client_runs_argument_lists():
    module = FakeModule({("get", "meshmonitor", "banned"): (0, "['1.2.3.4']\n", "")})
    assert Fail2banClient(module).banned("meshmonitor") == ["1.2.3.4"]
    assert module.calls == [["/usr/bin/fail2ban-client", "get", "meshmonitor", "banned"]]


def test_client_names_an_unknown_jail():
    err = "ERROR   NOK: ('nosuch',)\nSorry but the jail 'nosuch' does not exist\n"
    module = FakeModule({("get", "nosuch", "banned"): (255, "", err)})
    with pytest.raises(Fail2banError, match="no jail named 'nosuch'"):
        Fail2banClient(module).banned("nosuch")


def test_client_reports_other_failures():
    module = FakeModule({("status",): (255, "", "Failed to access socket path: /var/run/fail2ban/fail2ban.sock")})
    with pytest.raises(Fail2banError, match="socket path"):
        Fail2banClient(module).jails()


def test_ban_end_in_epoch_seconds_read_as_local_time():
    bans = parse_bans_with_time(WITH_TIME)
    utc = calendar.timegm
    assert ban_end_epoch(bans[0], mktime=utc) == utc((2026, 11, 25, 16, 32, 40, 0, 0, 0))
    assert ban_end_epoch(bans[1], mktime=utc) == -1


def test_merge_keeps_each_address_latest_end_and_permanent_wins():
    assert merge_ban_ends([{"192.0.2.1": 100, "192.0.2.2": -1}, {"192.0.2.1": 300, "192.0.2.2": 500},
                           {"192.0.2.3": 7}]) == {"192.0.2.1": 300, "192.0.2.2": -1, "192.0.2.3": 7}


def test_plan_timed_bans_groups_by_time_left_in_address_order():
    by_bantime, skipped, expired = plan_timed_bans(
        {"2001:db8::1": 1600, "192.0.2.10": 1600, "192.0.2.9": 1100, "192.0.2.8": -1, "192.0.2.7": 1001,
         "192.0.2.6": 5000}, banned=["192.0.2.6"], now=1000.0)
    assert by_bantime == {600: ["192.0.2.10", "2001:db8::1"], 100: ["192.0.2.9"], -1: ["192.0.2.8"]}
    assert expired == ["192.0.2.7"] and skipped == []


def test_a_ban_that_ended_a_second_ago_is_not_copied_for_good():
    # end - now == -1 is fail2ban's "permanent": such a ban has ended, whatever the arithmetic says.
    by_bantime, dummy, expired = plan_timed_bans({"192.0.2.7": 999, "192.0.2.8": -1}, banned=[], now=1000.0)
    assert by_bantime == {-1: ["192.0.2.8"]} and expired == ["192.0.2.7"]
