# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.fail2ban import Fail2banClient
from ansible_collections.meshmonitor.fail2ban.plugins.modules import jail_info

ANSWERS = {
    ("status",): "Status\n|- Number of jail:\t2\n`- Jail list:\tmeshmonitor, sshd\n",
    ("status", "meshmonitor"): ("Status for the jail: meshmonitor\n|- Filter\n|  |- Currently failed:\t1\n"
                                "|  |- Total failed:\t6\n|  `- File list:\t/opt/meshmonitor/logs/access.log\n"
                                "`- Actions\n   |- Currently banned:\t1\n   |- Total banned:\t1\n"
                                "   `- Banned IP list:\t192.0.2.7\n"),
    ("status", "sshd"): ("Status for the jail: sshd\n|- Filter\n|  |- Currently failed:\t0\n|  |- Total failed:\t0\n"
                         "|  `- Journal matches:\t_SYSTEMD_UNIT=sshd.service + _COMM=sshd\n`- Actions\n"
                         "   |- Currently banned:\t0\n   |- Total banned:\t0\n   `- Banned IP list:\t\n"),
    ("get", "meshmonitor", "banned"): "['192.0.2.7']\n",
    ("get", "sshd", "banned"): "[]\n",
    ("get", "meshmonitor", "banip", "--with-time"): "192.0.2.7 \t2026-11-25 15:32:40 + 3600 = 2026-11-25 16:32:40\n",
    ("get", "sshd", "banip", "--with-time"): "\n",
    ("get", "meshmonitor", "ignoreip"): "These IP addresses/networks are ignored:\n|- 127.0.0.0/8\n`- ::1\n",
    ("get", "sshd", "ignoreip"): "These IP addresses/networks are ignored:\n",
    ("--version",): "Fail2Ban v1.1.0\n",
}


class Done(Exception):
    pass


class FakeModule:
    check_mode = False

    def __init__(self, jails):
        self.params = {"jail": jails}

    def get_bin_path(self, name, required=False):
        return name

    def run_command(self, args):
        return 0, ANSWERS[tuple(args[1:])], ""

    def exit_json(self, **result):
        raise Done(result)

    def fail_json(self, **result):
        raise Done(result)


def info(jails):
    module = FakeModule(jails)
    with pytest.raises(Done) as outcome:
        jail_info.run_module(module, Fail2banClient(module))
    return outcome.value.args[0]


def test_every_running_jail_by_default():
    result = info([])
    assert sorted(result["jails"]) == ["meshmonitor", "sshd"] and result["version"] == "1.1.0"
    assert not result["changed"]
    mesh = result["jails"]["meshmonitor"]
    assert (mesh["currently_failed"], mesh["total_failed"], mesh["currently_banned"], mesh["total_banned"]) == (1, 6, 1, 1)
    assert mesh["banned"] == ["192.0.2.7"] and mesh["bans"][0]["end"] == "2026-11-25 16:32:40"
    assert mesh["ignoreip"] == ["127.0.0.0/8", "::1"] and mesh["files"] == ["/opt/meshmonitor/logs/access.log"]
    assert result["jails"]["sshd"]["banned"] == [] and result["jails"]["sshd"]["bans"] == []


def test_named_jail_only():
    assert list(info(["meshmonitor"])["jails"]) == ["meshmonitor"]
