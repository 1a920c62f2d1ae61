# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import re

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.meshmonitor.fail2ban.plugins.filter.ignoreip import FilterModule, ignoreip


def test_registered_under_its_name():
    assert FilterModule().filters()["ignoreip"] is ignoreip


def test_loopback_added_by_default_and_optional():
    assert ignoreip([]) == ["127.0.0.0/8", "::1"]
    assert ignoreip([], loopback=False) == []


@pytest.mark.parametrize("value", [
    "192.0.2.1 198.51.100.0/24",
    "192.0.2.1,198.51.100.0/24",
    "192.0.2.1,\n 198.51.100.0/24\n",
    ["192.0.2.1", "198.51.100.0/24"],
    ["192.0.2.1 198.51.100.0/24"],
    [None, "", "192.0.2.1", "198.51.100.0/24"],
])
def test_lists_and_pasted_lines(value):
    assert ignoreip(value, loopback=False) == ["192.0.2.1", "198.51.100.0/24"]


def test_none_whitelist_is_empty():
    assert ignoreip(None, loopback=False) == []


def test_extra_lists_merged():
    assert ignoreip(["192.0.2.1"], ["2001:db8::1"], "example.org", None, loopback=False) == [
        "192.0.2.1", "2001:db8::1", "example.org"]


def test_duplicates_removed_and_contained_networks_dropped():
    assert ignoreip(["10.0.0.0/8", "10.1.2.3", "10.0.0.0/8", "10.5.0.0/16"], loopback=False) == ["10.0.0.0/8"]


def test_adjacent_networks_collapsed():
    assert ignoreip(["192.168.1.0/25", "192.168.1.128/25"], loopback=False) == ["192.168.1.0/24"]
    assert ignoreip(["2001:db8::/33", "2001:db8:8000::/33"], loopback=False) == ["2001:db8::/32"]


def test_loopback_covers_localhost_entries():
    assert ignoreip(["127.0.0.1", "127.0.0.1/8", "::1"], strict=False) == ["127.0.0.0/8", "::1"]


def test_order_ipv4_ipv6_names_and_host_without_prefix():
    assert ignoreip(["b.example", "2001:db8::5/128", "a.example", "192.0.2.9/32"], loopback=False) == [
        "192.0.2.9", "2001:db8::5", "a.example", "b.example"]


def test_mapped_ipv4_becomes_ipv4():
    assert ignoreip(["::ffff:192.0.2.7"], loopback=False) == ["192.0.2.7"]
    assert ignoreip(["::ffff:192.0.2.0/120"], loopback=False) == ["192.0.2.0/24"]
    # merged with its plain IPv4 twin
    assert ignoreip(["::ffff:192.0.2.7", "192.0.2.7"], loopback=False) == ["192.0.2.7"]


def test_other_ipv6_left_alone():
    assert ignoreip(["64:ff9b::c000:207"], loopback=False) == ["64:ff9b::c000:207"]


def test_names_kept_lowercase_without_trailing_dot():
    assert ignoreip(["Proxy.Example.ORG."], loopback=False) == ["proxy.example.org"]


@pytest.mark.parametrize("bad", ["300.1.1.1", "192.0.2.1/33", "host!", "-bad.example", "1.2.3", "10.0.0.0/x",
                                 "2001:db8:::1", "exa_mple.org"])
def test_unparseable_entry_named_in_error(bad):
    with pytest.raises(AnsibleFilterError, match="ignoreip: the whitelist entry '%s' is neither" % re.escape(bad)):
        ignoreip([bad])


def test_unparseable_entry_in_extra_list_refused():
    with pytest.raises(AnsibleFilterError, match="999.0.0.1"):
        ignoreip(["192.0.2.1"], ["999.0.0.1"])


def test_host_bits_refused_when_strict():
    with pytest.raises(AnsibleFilterError, match=r"'192\.168\.1\.5/24' has host bits set.*192\.168\.1\.0/24"):
        ignoreip(["192.168.1.5/24"])


def test_host_bits_masked_when_not_strict():
    assert ignoreip(["192.168.1.5/24"], strict=False, loopback=False) == ["192.168.1.0/24"]


@pytest.mark.parametrize("everything", ["0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96"])
def test_whole_family_refused(everything):
    with pytest.raises(AnsibleFilterError, match="switch the jail off"):
        ignoreip(["192.0.2.1", everything])


def test_whole_family_allowed_on_request():
    assert ignoreip(["0.0.0.0/0", "192.0.2.1"], allow_any=True, loopback=False) == ["0.0.0.0/0"]


@pytest.mark.parametrize("bad", [42, {"ip": "192.0.2.1"}, ["192.0.2.1", 7]])
def test_non_string_entries_refused(bad):
    with pytest.raises(AnsibleFilterError, match="ignoreip"):
        ignoreip(bad)


def test_unknown_option_refused():
    with pytest.raises(AnsibleFilterError, match="unknown option"):
        ignoreip([], loopbak=False)


def test_adjacent_hosts_make_the_smallest_networks():
    assert ignoreip(["10.0.0.0", "10.0.0.1"], loopback=False) == ["10.0.0.0/31"]
    # 10.0.0.1-10.0.0.2 is no single network: two hosts stay two entries
    assert ignoreip(["10.0.0.2", "10.0.0.1"], loopback=False) == ["10.0.0.1", "10.0.0.2"]
    assert ignoreip(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.0"], loopback=False) == ["10.0.0.0/30"]


def test_overlapping_and_touching_networks_merge():
    assert ignoreip(["10.0.0.0/25", "10.0.0.64/26", "10.0.0.128/25", "10.0.1.0/24"], loopback=False) == [
        "10.0.0.0/23"]


@pytest.mark.parametrize("halves, family", [
    (["0.0.0.0/1", "128.0.0.0/1"], 4),
    (["::/1", "8000::/1"], 6),
    (["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/1", "10.0.0.0/8"], 4),
])
def test_whole_family_in_pieces_refused_naming_the_pieces(halves, family):
    with pytest.raises(AnsibleFilterError, match="together cover every IPv%d address" % family) as caught:
        ignoreip(halves)
    message = str(caught.value)
    widest = [h for h in halves if h != "10.0.0.0/8"]
    assert all(repr(h) in message for h in widest)
    assert "10.0.0.0/8" not in message


def test_whole_family_in_pieces_allowed_on_request():
    assert ignoreip(["0.0.0.0/1", "128.0.0.0/1"], allow_any=True, loopback=False) == ["0.0.0.0/0"]


def test_nearly_whole_family_accepted():
    assert ignoreip(["0.0.0.0/1", "128.0.0.0/2"], loopback=False) == ["0.0.0.0/1", "128.0.0.0/2"]


@pytest.mark.parametrize("keyword, expected", [
    ("loopback", ["127.0.0.0/8", "::1"]),
    ("LinkLocal", ["169.254.0.0/16", "fe80::/10"]),
    ("uniquelocal", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]),
])
def test_express_range_names_expanded_not_taken_as_hosts(keyword, expected):
    assert ignoreip([keyword], loopback=False) == expected


def test_trust_proxy_value_passed_as_is():
    assert ignoreip("loopback, 203.0.113.0/24", loopback=False) == ["127.0.0.0/8", "203.0.113.0/24", "::1"]


def test_errors_name_the_list_and_the_entry_as_written():
    with pytest.raises(AnsibleFilterError, match=r"meshmonitor_proxy_addresses entry '::ffff:300\.0\.0\.1' is neither"):
        ignoreip(["192.0.2.1"], ["::ffff:300.0.0.1"], labels=["jail_ignoreip", "meshmonitor_proxy_addresses"])
    with pytest.raises(AnsibleFilterError, match=r"jail_ignoreip entry '192\.168\.1\.5/24' has host bits"):
        ignoreip(["192.168.1.5/24"], labels=["jail_ignoreip"])
    with pytest.raises(AnsibleFilterError, match=r"jail_ignoreip entry '::ffff:0\.0\.0\.0/97' and jail_ignoreip "
                                                 r"entry '128\.0\.0\.0/1' together cover"):
        ignoreip(["::ffff:0.0.0.0/97", "128.0.0.0/1"], labels=["jail_ignoreip"])


@pytest.mark.parametrize("family, expected", [
    (4, ["127.0.0.0/8", "173.245.48.0/20"]),
    (6, ["::1", "2400:cb00::/32"]),
])
def test_one_family_without_names(family, expected):
    assert ignoreip(["173.245.48.0/20", "2400:cb00::/32", "proxy.example.org"], family=family) == expected


def test_one_family_still_validates_the_other():
    with pytest.raises(AnsibleFilterError, match=r"jail_cloudflare_ranges entry '2400:cb00::1/32' has host bits"):
        ignoreip(["173.245.48.0/20", "2400:cb00::1/32"], family=4, labels=["jail_cloudflare_ranges"])


def test_family_must_be_4_or_6():
    with pytest.raises(AnsibleFilterError, match="family must be 4 or 6"):
        ignoreip([], family="inet")
