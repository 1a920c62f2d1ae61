# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.meshmonitor.fail2ban.plugins.filter.uncovered import FilterModule, uncovered


def test_the_addresses_no_entry_covers_stay_in_their_order():
    assert uncovered(["198.51.100.9", "192.0.2.7", "2001:db8::5", "2001:db9::1"],
                     ["127.0.0.0/8", "198.51.100.0/24", "2001:db8::/32", "example.org"]) == ["192.0.2.7", "2001:db9::1"]
    assert uncovered([], ["127.0.0.0/8"]) == []
    assert FilterModule().filters() == {"uncovered": uncovered}
