# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.fail2ban import Fail2banError
from ansible_collections.meshmonitor.fail2ban.plugins.modules import ban


class Exit(Exception):
    pass


class Fail(Exception):
    pass


class FakeModule:
    def __init__(self, check_mode=False, diff=False, **params):
        self.params = {"jail": "meshmonitor", "state": "present", "respect_ignoreip": True, "exclusive": False,
                       "ip": None, "until": None, "also_banned_in": []}
        self.params.update(params)
        self.check_mode, self._diff = check_mode, diff

    def exit_json(self, **result):
        raise Exit(result)

    def fail_json(self, **result):
        raise Fail(result)


class FakeJail:
    """An in-memory jail behaving like fail2ban-client's view of one."""

    def __init__(self, banned=(), ignoreip=("127.0.0.0/8", "::1")):
        self.state, self.ignore, self.sent = list(banned), list(ignoreip), []

    def banned(self, jail):
        if jail != "meshmonitor":
            raise Fail2banError("fail2ban has no jail named %r" % jail)
        return list(self.state)

    def ignoreip(self, jail):
        return list(self.ignore)

    def ban(self, jail, addresses):
        self.sent.append(("banip", addresses))
        self.state += addresses

    def unban(self, jail, addresses):
        self.sent.append(("unbanip", addresses))
        self.state = [ip for ip in self.state if ip not in addresses]


def run(fake_jail, **kwargs):
    with pytest.raises((Exit, Fail)) as outcome:
        ban.run_module(FakeModule(**kwargs), fake_jail)
    return outcome.type, outcome.value.args[0]


def test_bans_new_addresses_once():
    jail = FakeJail(banned=["1.1.1.1"])
    kind, result = run(jail, ip=["1.1.1.1", "::ffff:2.2.2.2"])
    assert kind is Exit and result["changed"] and result["added"] == ["2.2.2.2"]
    assert result["banned"] == ["1.1.1.1", "2.2.2.2"] and jail.sent == [("banip", ["2.2.2.2"])]
    kind, result = run(jail, ip=["2.2.2.2"])
    assert not result["changed"] and len(jail.sent) == 1


def test_unban_only_what_is_banned():
    jail = FakeJail(banned=["1.1.1.1", "2.2.2.2"])
    kind, result = run(jail, ip=["2.2.2.2", "3.3.3.3"], state="absent")
    assert result["changed"] and result["removed"] == ["2.2.2.2"] and jail.state == ["1.1.1.1"]
    kind, result = run(jail, ip=["2.2.2.2"], state="absent")
    assert not result["changed"]


def test_ignored_addresses_are_skipped_not_banned():
    jail = FakeJail(ignoreip=["10.0.0.0/8"])
    kind, result = run(jail, ip=["10.9.9.9", "5.5.5.5"])
    assert result["added"] == ["5.5.5.5"]
    assert result["covered_by_ignoreip"] == [{"ip": "10.9.9.9", "ignoreip": "10.0.0.0/8"}]
    kind, result = run(FakeJail(ignoreip=["10.0.0.0/8"]), ip=["10.9.9.9"], respect_ignoreip=False)
    assert result["added"] == ["10.9.9.9"]


def test_check_mode_changes_nothing_and_shows_the_diff():
    jail = FakeJail(banned=["1.1.1.1"])
    kind, result = run(jail, check_mode=True, diff=True, ip=["2.2.2.2"])
    assert result["changed"] and jail.sent == [] and jail.state == ["1.1.1.1"]
    assert result["diff"]["before"] == "1.1.1.1\n" and result["diff"]["after"] == "1.1.1.1\n2.2.2.2\n"


def test_bad_address_fails_before_touching_fail2ban():
    jail = FakeJail()
    kind, result = run(jail, ip=["1.2.3.4", "mesh.example.org"])
    assert kind is Fail and "ip: not an IP address: 'mesh.example.org'" in result["msg"] and jail.sent == []


def test_unknown_jail_is_named():
    kind, result = run(FakeJail(), ip=["1.2.3.4"], jail="meshmon")
    assert kind is Fail and "no jail named 'meshmon'" in result["msg"]


def test_exclusive_lifts_exactly_the_addresses_not_listed():
    # The guide's sed '/1.2.3.4/d' would also drop 11.2.3.45; here only 1.2.3.4 goes.
    jail = FakeJail(banned=["1.2.3.4", "11.2.3.45"])
    kind, result = run(jail, ip=["11.2.3.45"], exclusive=True)
    assert result["changed"] and result["removed"] == ["1.2.3.4"] and result["added"] == []
    assert jail.state == ["11.2.3.45"]
    kind, result = run(jail, ip=["11.2.3.45"], exclusive=True)
    assert not result["changed"]


def test_exclusive_with_an_empty_list_lifts_everything():
    jail = FakeJail(banned=["1.2.3.4"])
    kind, result = run(jail, ip=[], exclusive=True)
    assert result["removed"] == ["1.2.3.4"] and jail.state == []


class FakeFleetHost:
    """Several jails, as fail2ban-client shows them; ban_for records the durations asked for."""

    def __init__(self, jails, ignoreip=("127.0.0.0/8", "::1")):
        self.state, self.ignore, self.sent = {name: list(ips) for name, ips in jails.items()}, list(ignoreip), []

    def jails(self):
        return list(self.state)

    def banned(self, jail):
        if jail not in self.state:
            raise Fail2banError("fail2ban has no jail named %r" % jail)
        return list(self.state[jail])

    def ignoreip(self, jail):
        return list(self.ignore)

    def ban_for(self, jail, addresses, seconds):
        self.sent.append((jail, addresses, seconds))
        self.state[jail] += addresses


NOW = 1_800_000_000


def run_timed(host, monkeypatch, **kwargs):
    monkeypatch.setattr(ban.time, "time", lambda: NOW + 0.4)
    return run(host, jail="meshmonitor-sync", **kwargs)


def test_copies_end_when_their_origin_does(monkeypatch):
    host = FakeFleetHost({"meshmonitor": [], "meshmonitor-sync": []})
    kind, result = run_timed(host, monkeypatch, until={"203.0.113.7": NOW + 600, "198.51.100.9": NOW + 90,
                                                       "::ffff:192.0.2.5": NOW + 600})
    assert kind is Exit and result["changed"]
    assert host.sent == [("meshmonitor-sync", ["198.51.100.9"], 90),
                         ("meshmonitor-sync", ["192.0.2.5", "203.0.113.7"], 600)]
    assert result["bantimes"] == {"198.51.100.9": 90, "192.0.2.5": 600, "203.0.113.7": 600}


def test_repeated_runs_settle(monkeypatch):
    host = FakeFleetHost({"meshmonitor": [], "meshmonitor-sync": []})
    until = {"203.0.113.7": NOW + 600}
    run_timed(host, monkeypatch, until=until)
    kind, result = run_timed(host, monkeypatch, until=until)
    assert kind is Exit and not result["changed"] and result["added"] == []
    assert len(host.sent) == 1


def test_banned_in_another_jail_counts_as_banned(monkeypatch):
    # The host where the ban began, or its repeat-offender jail: no copy over the original.
    host = FakeFleetHost({"meshmonitor": ["203.0.113.7"], "meshmonitor-recidive": ["198.51.100.9"],
                          "meshmonitor-sync": []})
    kind, result = run_timed(host, monkeypatch, until={"203.0.113.7": NOW + 600, "198.51.100.9": NOW + 600},
                             also_banned_in=["meshmonitor", "meshmonitor-recidive", "meshmonitor-permanent"])
    assert kind is Exit and not result["changed"] and host.sent == []


def test_expired_and_whitelisted_are_not_banned(monkeypatch):
    host = FakeFleetHost({"meshmonitor-sync": []}, ignoreip=("127.0.0.0/8", "198.51.100.0/24"))
    kind, result = run_timed(host, monkeypatch, until={"203.0.113.7": NOW - 5, "203.0.113.8": NOW + 1,
                                                       "198.51.100.7": NOW + 600, "192.0.2.1": -1})
    assert kind is Exit
    assert result["expired"] == ["203.0.113.7", "203.0.113.8"]
    assert result["covered_by_ignoreip"] == [{"ip": "198.51.100.7", "ignoreip": "198.51.100.0/24"}]
    assert host.sent == [("meshmonitor-sync", ["192.0.2.1"], -1)]


def test_timed_diff_shows_the_ban_list_before_and_after(monkeypatch):
    host = FakeFleetHost({"meshmonitor-sync": ["198.51.100.9"]})
    kind, result = run_timed(host, monkeypatch, diff=True, until={"203.0.113.7": NOW + 600})
    assert kind is Exit
    assert result["diff"] == {"before": "198.51.100.9\n", "after": "198.51.100.9\n203.0.113.7\n",
                              "before_header": "jail meshmonitor-sync: banned",
                              "after_header": "jail meshmonitor-sync: banned"}


def test_timed_check_mode_bans_nothing(monkeypatch):
    host = FakeFleetHost({"meshmonitor-sync": []})
    kind, result = run_timed(host, monkeypatch, check_mode=True, until={"203.0.113.7": NOW + 600})
    assert kind is Exit and result["changed"] and result["added"] == ["203.0.113.7"] and host.sent == []


def test_lists_of_mappings_merge_to_the_latest_end(monkeypatch):
    host = FakeFleetHost({"meshmonitor-sync": []})
    kind, result = run_timed(host, monkeypatch, until=[{"203.0.113.7": NOW + 60}, {}, {"::ffff:203.0.113.7": NOW + 600}])
    assert kind is Exit and result["bantimes"] == {"203.0.113.7": 600}


@pytest.mark.parametrize("until", [{"203.0.113.7": "soon"}, {"host.example": NOW}, ["203.0.113.7"], "203.0.113.7"])
def test_timed_bad_input_names_the_option(monkeypatch, until):
    kind, result = run_timed(FakeFleetHost({"meshmonitor-sync": []}), monkeypatch, until=until)
    assert kind is Fail and result["msg"].startswith("until:")
