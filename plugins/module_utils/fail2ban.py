# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Talking to fail2ban through fail2ban-client: the parsers are pure functions, the client a thin wrapper.

fail2ban-client prints Python literals for lists (``get JAIL banned``, ``banned``) and an indented tree
for ``status``; both are parsed here so the modules can return structured data.
"""

from __future__ import annotations

import ast
import ipaddress
import re
import time

UNKNOWN_JAIL = re.compile(r"jail '([^']*)' does not exist")
STATUS_FIELD = re.compile(r"^[\s|`-]*([A-Za-z][A-Za-z ]*):\s*(.*)$")
BAN_WITH_TIME = re.compile(
    r"^(?P<ip>\S+)\s+(?P<start>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \+ (?P<bantime>-?\d+) = (?P<end>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")
# The jail role's ban action counts and bans IPv6 per network of this prefix (IPV6_PREFIX in
# roles/jail/files/action.d/meshmonitor-firewall.py): a jail's ban of an attacker's IPv6 address is
# listed as its network's address.
IPV6_PREFIX = 64
COUNTERS = {
    "Currently failed": "currently_failed",
    "Total failed": "total_failed",
    "Currently banned": "currently_banned",
    "Total banned": "total_banned",
}


class Fail2banError(Exception):
    """fail2ban-client failed; the message says why in words a user can act on."""


def parse_literal_list(text):
    """``['1.2.3.4', '::1']`` (fail2ban-client's list output) -> a list of strings."""
    text = text.strip()
    if not text:
        return []
    value = ast.literal_eval(text)
    if not isinstance(value, (list, tuple)):
        raise ValueError("expected a list, got %r" % (text,))
    return [str(item) for item in value]


def parse_status(text):
    """The tree printed by ``fail2ban-client status JAIL`` -> counters, banned addresses and files."""
    info = {"currently_failed": 0, "total_failed": 0, "currently_banned": 0, "total_banned": 0,
            "banned": [], "files": []}
    for line in text.splitlines():
        match = STATUS_FIELD.match(line)
        if not match:
            continue
        field, value = match.group(1).strip(), match.group(2).strip()
        if field in COUNTERS:
            info[COUNTERS[field]] = int(value)
        elif field == "Banned IP list":
            info["banned"] = value.split()
        elif field == "File list":
            info["files"] = value.split()
    return info


def parse_jail_list(text):
    """``fail2ban-client status`` -> the jail names, in fail2ban's order."""
    for line in text.splitlines():
        match = STATUS_FIELD.match(line)
        if match and match.group(1).strip() == "Jail list":
            return [name.strip() for name in match.group(2).split(",") if name.strip()]
    return []


def parse_tree_list(text):
    """``get JAIL ignoreip`` (a header, then one ``|-`` entry per line) -> the entries."""
    return [line.lstrip("|`- \t").strip() for line in text.splitlines()[1:] if line.lstrip("|`- \t").strip()]


def parse_bans_with_time(text):
    """``get JAIL banip --with-time`` -> [{ip, start, bantime, end}]; times as fail2ban prints them (local)."""
    bans = []
    for line in text.splitlines():
        match = BAN_WITH_TIME.match(line.strip())
        if match:
            bans.append({"ip": match.group("ip"), "start": match.group("start"),
                         "bantime": int(match.group("bantime")), "end": match.group("end")})
    return bans


def ban_end_epoch(ban, mktime=time.mktime):
    """When a ban from parse_bans_with_time ends, in seconds since the epoch; -1 for a permanent ban.

    fail2ban prints the start in the host's local time, which mktime reads (on the host itself).
    """
    if ban["bantime"] == -1:
        return -1
    return int(mktime(time.strptime(ban["start"], "%Y-%m-%d %H:%M:%S"))) + ban["bantime"]


def merge_ban_ends(ends_per_host):
    """{ip: end} maps from several hosts -> one map with each address's latest end (-1, permanent, wins)."""
    merged = {}
    for ends in ends_per_host:
        for ip, end in ends.items():
            end = int(end)
            if ip not in merged or end == -1 or (merged[ip] != -1 and end > merged[ip]):
                merged[ip] = end
    return merged


def plan_timed_bans(until, banned, now, ignoreip=None, minimum=2):
    """Which addresses to ban for how long so each ban ends when until says: (by_bantime, skipped, expired).

    until: {ip: end in seconds since the epoch, or -1 for permanent}. Addresses already banned (in
    banned, any jail that keeps them out) are left alone, so repeated runs settle; those ignoreip covers
    are skipped (with the covering entry); those with less than minimum seconds left are expired.
    by_bantime: {seconds: [ips]}, each address under the time it has left (-1: permanent), in address order.
    """
    banned_set = set(banned)
    by_bantime, skipped, expired = {}, [], []
    for ip in sorted(until, key=lambda text: (ipaddress.ip_address(text).version, ipaddress.ip_address(text))):
        if ip in banned_set:
            continue
        entry = covering_entry(ip, ignoreip or [])
        if entry is not None:
            skipped.append({"ip": ip, "ignoreip": entry})
            continue
        end = int(until[ip])
        # A ban that ended a second ago has -1 left, which fail2ban would read as "for good".
        left = -1 if end == -1 else end - int(now)
        if end != -1 and left < minimum:
            expired.append(ip)
            continue
        by_bantime.setdefault(left, []).append(ip)
    return by_bantime, skipped, expired


def normalize_addresses(values):
    """Addresses as fail2ban stores them (``::ffff:a.b.c.d`` -> ``a.b.c.d``), in order, without repeats.

    Raises ValueError naming every entry that is not a single IPv4 or IPv6 address: fail2ban itself
    would accept a host name or a typo and "ban" it.
    """
    result, bad = [], []
    for value in values:
        text = str(value).strip()
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            bad.append(text)
            continue
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        if str(address) not in result:
            result.append(str(address))
    if bad:
        raise ValueError("not an IP address: %s" % ", ".join(repr(item) for item in bad))
    return result


def covering_entry(address, ignoreip):
    """The ignoreip entry (address or network) that covers address, or None. Names are skipped."""
    ip = ipaddress.ip_address(address)
    for entry in ignoreip:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if network.version == ip.version and ip in network:
            return entry
    return None


def ban_ids(address):
    """The entries of a jail's ban list that a ban of address can be: the address, and for IPv6 its
    network's address (see IPV6_PREFIX)."""
    ip = ipaddress.ip_address(address)
    if ip.version == 4 or ip.ipv4_mapped:
        return [address]
    network = str(ipaddress.ip_network("%s/%d" % (ip, IPV6_PREFIX), strict=False).network_address)
    return [address] if network == address else [address, network]


def plan_bans(wanted, banned, state, ignoreip=None, exclusive=False):
    """What to send to fail2ban: (to_ban, to_unban, skipped), each in the order of wanted (or banned).

    state present: ban the wanted addresses not yet banned, minus those ignoreip covers (skipped, with
    the entry that covers them); with exclusive, also unban every banned address not wanted.
    state absent: unban the wanted addresses currently banned, an IPv6 one also as its network.
    """
    banned_set = set(banned)
    if state == "absent":
        found = [entry for ip in wanted for entry in ban_ids(ip) if entry in banned_set]
        return [], sorted(set(found), key=found.index), []
    to_ban, skipped = [], []
    for ip in wanted:
        if ip in banned_set:
            continue
        entry = covering_entry(ip, ignoreip or [])
        if entry is None:
            to_ban.append(ip)
        else:
            skipped.append({"ip": ip, "ignoreip": entry})
    to_unban = [ip for ip in banned if ip not in wanted] if exclusive else []
    return to_ban, to_unban, skipped


class Fail2banClient:
    """Runs fail2ban-client through an AnsibleModule (run_command: no shell, arguments as a list)."""

    def __init__(self, module, binary=None):
        self.module = module
        self.binary = binary or module.get_bin_path("fail2ban-client", required=True)

    def run(self, *args):
        rc, out, err = self.module.run_command([self.binary] + list(args))
        if rc != 0:
            unknown = UNKNOWN_JAIL.search(err + out)
            if unknown:
                raise Fail2banError("fail2ban has no jail named %r (is the jail enabled and fail2ban running?)"
                                    % unknown.group(1))
            raise Fail2banError("fail2ban-client %s failed (rc=%d): %s" % (" ".join(args), rc, (err or out).strip()))
        return out

    def jails(self):
        return parse_jail_list(self.run("status"))

    def banned(self, jail):
        return parse_literal_list(self.run("get", jail, "banned"))

    def ignoreip(self, jail):
        return parse_tree_list(self.run("get", jail, "ignoreip"))

    def status(self, jail):
        return parse_status(self.run("status", jail))

    def bans_with_time(self, jail):
        return parse_bans_with_time(self.run("get", jail, "banip", "--with-time"))

    def ban(self, jail, addresses):
        self.run("set", jail, "banip", *addresses)

    def ban_for(self, jail, addresses, seconds):
        """Ban addresses for seconds (-1: for good) in a jail without bantime.increment.

        fail2ban-client has no per-ban duration. A ban made while the jail's bantime is N lasts N, but
        only as long as the jail's bantime stays N: a ticket without a duration of its own is measured
        against the current one. Banning the same addresses a second time, a moment later, makes
        fail2ban prolong each ticket to end N seconds after that moment, and writes N (plus that moment)
        into the ticket itself: later bantime changes no longer touch it.
        """
        self.run("set", jail, "bantime", str(seconds))
        self.run("set", jail, "banip", *addresses)
        if seconds != -1:
            self.run("set", jail, "banip", *addresses)

    def unban(self, jail, addresses):
        self.run("set", jail, "unbanip", *addresses)
