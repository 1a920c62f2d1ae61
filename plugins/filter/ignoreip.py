# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: ignoreip
short_description: Build a safe fail2ban C(ignoreip) list
version_added: 0.1.0
author: meshmonitor.fail2ban contributors
description:
  - Merges a whitelist with any number of extra lists (trusted proxies, the controller's own address, ...)
    into the list of addresses and networks fail2ban must never ban.
  - Accepts IPv4 and IPv6 addresses and networks and DNS names. C(::ffff:a.b.c.d) becomes C(a.b.c.d), as fail2ban
    matches it.
  - Expands the names Express gives address ranges in C(trust proxy) (V(loopback), V(linklocal), V(uniquelocal)) to
    those ranges, so a C(TRUST_PROXY) value can be passed as it is; fail2ban would look them up as host names.
  - Removes duplicates, drops networks inside others and collapses adjacent ones, per family.
  - Orders the result IPv4, then IPv6, then names; a single host is written without a prefix length.
  - Refuses anything it cannot parse, host bits set (when O(strict)) and entries that cover a whole address
    family, alone or together (V(0.0.0.0/1) and V(128.0.0.0/1)), unless O(allow_any), since one stray
    C(0.0.0.0/0) silently switches the jail off.
  - Errors quote each entry as it was written and name the list it came from (see O(labels)).
positional: _input, extra
options:
  _input:
    description:
      - The whitelist. A list, or one string separated by spaces, commas or newlines, as in a fail2ban line.
      - V(None) and empty entries are skipped.
    type: raw
    required: true
  extra:
    description:
      - Any number of further lists or strings, merged in the same way.
    type: raw
  loopback:
    description: Include V(127.0.0.0/8) and V(::1).
    type: bool
    default: true
  strict:
    description:
      - Refuse networks with host bits set (V(192.168.1.5/24)). When V(false) they are masked (V(192.168.1.0/24)).
    type: bool
    default: true
  allow_any:
    description: Allow V(0.0.0.0/0) and V(::/0), which whitelist every client and disable the jail.
    type: bool
    default: false
  labels:
    description:
      - Names of the whitelist and of each extra list, in order, for error messages (for instance the variables
        they come from). Lists without a name are called "the whitelist" and "extra list N".
    type: list
    elements: str
    default: []
  family:
    description:
      - Return only the IPv4 (V(4)) or IPv6 (V(6)) networks, without names, as firewall rules need them (the
        Cloudflare origin lock writes one set per family). Every entry is still validated.
    type: int
    choices: [4, 6]
    version_added: 0.1.0
"""

EXAMPLES = r"""
- name: Whitelist, trusted proxies and the controller
  ansible.builtin.set_fact:
    __jail_ignoreip_effective: >-
      {{ ['192.168.1.0/24', '10.0.0.5'] | meshmonitor.fail2ban.ignoreip(['172.18.0.1'], [ansible_env.SSH_CLIENT.split()[0]]) }}
  # => ['10.0.0.5', '127.0.0.0/8', '172.18.0.1', '192.168.1.0/24', '::1', ...]

- name: A pasted fail2ban line works too
  ansible.builtin.debug:
    msg: "{{ '127.0.0.1/8 ::1, 192.168.1.0/25 192.168.1.128/25' | meshmonitor.fail2ban.ignoreip | join(' ') }}"
  # => "127.0.0.0/8 192.168.1.0/24 ::1"
"""

RETURN = r"""
_value:
  description: Addresses, networks and names for C(ignoreip), IPv4 first, then IPv6, then names.
  type: list
  elements: str
"""

import ipaddress
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six import string_types

LOOPBACK = ("127.0.0.0/8", "::1")
SEPARATORS = re.compile(r"[\s,]+")
# A DNS name: dot-separated labels of letters, digits and inner hyphens, not all-numeric at the end.
DNS_NAME = re.compile(r"^(?=.{1,253}\.?$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                      r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$")
# Express' (proxy-addr's) names for address ranges, as TRUST_PROXY may hold them.
EXPRESS_RANGES = {
    "loopback": ("127.0.0.0/8", "::1/128"),
    "linklocal": ("169.254.0.0/16", "fe80::/10"),
    "uniquelocal": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"),
}
MAPPED_V4 = ipaddress.ip_network("::ffff:0:0/96")
MAPPED_V4_FIRST = int(MAPPED_V4.network_address)
MAPPED_V4_LAST = int(MAPPED_V4.broadcast_address)
FAMILY_SIZE = {4: 2 ** 32, 6: 2 ** 128}


def _entries(value, argument):
    """Split one argument (list or string) into (entry, as written, argument) for each non-empty entry."""
    if value is None:
        return []
    if isinstance(value, string_types):
        items = [value]
    elif isinstance(value, (list, tuple, set)):
        items = []
        for item in value:
            if item is None:
                continue
            if not isinstance(item, string_types):
                raise AnsibleFilterError("ignoreip: %s entry %r is a %s, not a string"
                                         % (argument, item, type(item).__name__))
            items.append(item)
    else:
        raise AnsibleFilterError("ignoreip: %s must be a list or a string, not %s" % (argument, type(value).__name__))
    found = []
    for item in items:
        for entry in SEPARATORS.split(item):
            if not entry:
                continue
            for expanded in EXPRESS_RANGES.get(entry.lower(), (entry,)):
                found.append((expanded, entry, argument))
    return found


def _parse(entry, written, argument, strict):
    """Return (IP version, first address, last address) as integers, or the name for a DNS name."""
    try:
        # A bare address is parsed as one: much cheaper than a network, the common case.
        parsed = ipaddress.ip_network(entry, strict=strict) if "/" in entry else ipaddress.ip_address(entry)
    except ValueError as exc:
        if "/" not in entry and DNS_NAME.match(entry) and not entry.replace(".", "").isdigit():
            return entry.rstrip(".").lower()
        if "has host bits set" in str(exc):
            raise AnsibleFilterError("ignoreip: %s entry %r has host bits set; write its network (%s) or pass strict=false"
                                     % (argument, written, ipaddress.ip_network(entry, strict=False)))
        raise AnsibleFilterError("ignoreip: %s entry %r is neither an IP address, a network nor a DNS name"
                                 % (argument, written))
    if isinstance(parsed, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        version, first, size = parsed.version, int(parsed.network_address), parsed.num_addresses
    else:
        version, first, size = parsed.version, int(parsed), 1
    last = first + size - 1
    # ::ffff:a.b.c.d (and networks of /96 or longer inside ::ffff:0:0/96) is how fail2ban sees a.b.c.d.
    if version == 6 and MAPPED_V4_FIRST <= first and last <= MAPPED_V4_LAST:
        version, first, last = 4, first - MAPPED_V4_FIRST, last - MAPPED_V4_FIRST
    return version, first, last


def _refuse_whole_family(version, ranges, written):
    """Raise when the ranges together cover every address of the family, naming the entries that do.

    ranges: set of (first, last); written: (first, last) -> (list name, entry as written).
    """
    covered_to = -1
    for first, last in sorted(ranges):
        if first > covered_to + 1:
            return
        covered_to = max(covered_to, last)
    if covered_to + 1 < FAMILY_SIZE[version]:
        return
    # The entries that matter: those no other entry contains.
    widest = [r for r in sorted(ranges)
              if not any(o != r and o[0] <= r[0] and r[1] <= o[1] for o in ranges)]
    named = ["%s entry %r" % written[r] for r in widest]
    raise AnsibleFilterError("ignoreip: %s %s every IPv%d address and would switch the jail off; pass "
                             "allow_any=true if that is really meant"
                             % (" and ".join(named), "covers" if len(named) == 1 else "together cover", version))


def _collapse(version, ranges):
    """Minimal list of networks covering the union of (first, last) ranges, in address order."""
    merged = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    address = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    for first, last in merged:
        for network in ipaddress.summarize_address_range(address(first), address(last)):
            yield _text(network)


def _text(network):
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def ignoreip(whitelist, *extra, **kwargs):
    """Merge, validate and collapse ignoreip entries; see DOCUMENTATION."""
    loopback = kwargs.pop("loopback", True)
    strict = kwargs.pop("strict", True)
    allow_any = kwargs.pop("allow_any", False)
    labels = list(kwargs.pop("labels", None) or [])
    family = kwargs.pop("family", None)
    if family not in (None, 4, 6):
        raise AnsibleFilterError("ignoreip: family must be 4 or 6, not %r" % (family,))
    if kwargs:
        raise AnsibleFilterError("ignoreip: unknown option(s) %s" % ", ".join(sorted(kwargs)))

    names_of_lists = ["the whitelist"] + ["extra list %d" % position for position in range(1, len(extra) + 1)]
    names_of_lists[:len(labels)] = labels[:len(names_of_lists)]
    entries = []
    for value, argument in zip((whitelist,) + extra, names_of_lists):
        entries.extend(_entries(value, argument))
    if loopback:
        entries.extend((entry, entry, "loopback") for entry in LOOPBACK)

    ranges = {4: set(), 6: set()}
    # (first, last) -> (list, entry as written), for messages.
    written = {4: {}, 6: {}}
    names = set()
    for entry, as_written, argument in entries:
        parsed = _parse(entry, as_written, argument, strict)
        if isinstance(parsed, string_types):
            names.add(parsed)
        else:
            ranges[parsed[0]].add(parsed[1:])
            written[parsed[0]].setdefault(parsed[1:], (argument, as_written))

    result = []
    for version in (4, 6):
        if not allow_any:
            _refuse_whole_family(version, ranges[version], written[version])
        if family in (None, version):
            result.extend(_collapse(version, ranges[version]))
    if family is None:
        result.extend(sorted(names))
    return result


class FilterModule(object):
    """fail2ban ignoreip helpers."""

    def filters(self):
        return {"ignoreip": ignoreip}
