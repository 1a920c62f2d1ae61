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
  - Removes duplicates, drops networks inside others and collapses adjacent ones, per family.
  - Orders the result IPv4, then IPv6, then names; a single host is written without a prefix length.
  - Refuses anything it cannot parse, host bits set (when O(strict)) and networks that cover a whole address
    family (unless O(allow_any)), since one stray C(0.0.0.0/0) silently switches the jail off.
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
"""

EXAMPLES = r"""
- name: Whitelist, trusted proxies and the controller
  ansible.builtin.set_fact:
    jail_ignoreip_effective: >-
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
MAPPED_V4 = ipaddress.ip_network("::ffff:0:0/96")
MAPPED_V4_FIRST = int(MAPPED_V4.network_address)
MAPPED_V4_LAST = int(MAPPED_V4.broadcast_address)
FAMILY_SIZE = {4: 2 ** 32, 6: 2 ** 128}


def _entries(value, argument):
    """Split one argument (list or string) into stripped, non-empty entries."""
    if value is None:
        return []
    if isinstance(value, string_types):
        return [e for e in SEPARATORS.split(value) if e]
    if isinstance(value, (list, tuple, set)):
        found = []
        for item in value:
            if item is None:
                continue
            if not isinstance(item, string_types):
                raise AnsibleFilterError("ignoreip: %s entry %r is a %s, not a string"
                                         % (argument, item, type(item).__name__))
            found.extend(e for e in SEPARATORS.split(item) if e)
        return found
    raise AnsibleFilterError("ignoreip: %s must be a list or a string, not %s" % (argument, type(value).__name__))


def _parse(entry, strict, allow_any):
    """Return (IP version, first address, last address) as integers, or the name for a DNS name."""
    try:
        # A bare address is parsed as one: much cheaper than a network, the common case.
        parsed = ipaddress.ip_network(entry, strict=strict) if "/" in entry else ipaddress.ip_address(entry)
    except ValueError as exc:
        if "/" not in entry and DNS_NAME.match(entry) and not entry.replace(".", "").isdigit():
            return entry.rstrip(".").lower()
        if "has host bits set" in str(exc):
            raise AnsibleFilterError("ignoreip: %r has host bits set; write its network (%s) or pass strict=false"
                                     % (entry, ipaddress.ip_network(entry, strict=False)))
        raise AnsibleFilterError("ignoreip: %r is neither an IP address, a network nor a DNS name" % entry)
    if isinstance(parsed, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        version, first, size = parsed.version, int(parsed.network_address), parsed.num_addresses
    else:
        version, first, size = parsed.version, int(parsed), 1
    last = first + size - 1
    # ::ffff:a.b.c.d (and networks of /96 or longer inside ::ffff:0:0/96) is how fail2ban sees a.b.c.d.
    if version == 6 and MAPPED_V4_FIRST <= first and last <= MAPPED_V4_LAST:
        version, first, last = 4, first - MAPPED_V4_FIRST, last - MAPPED_V4_FIRST
    if last - first + 1 == FAMILY_SIZE[version] and not allow_any:
        raise AnsibleFilterError("ignoreip: %r covers every IPv%d address and would switch the jail off; "
                                 "pass allow_any=true if that is really meant" % (entry, version))
    return version, first, last


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
    if kwargs:
        raise AnsibleFilterError("ignoreip: unknown option(s) %s" % ", ".join(sorted(kwargs)))

    entries = _entries(whitelist, "the whitelist")
    for position, value in enumerate(extra, 1):
        entries.extend(_entries(value, "extra list %d" % position))
    if loopback:
        entries.extend(LOOPBACK)

    ranges = {4: set(), 6: set()}
    names = set()
    for entry in entries:
        parsed = _parse(entry, strict, allow_any)
        if isinstance(parsed, string_types):
            names.add(parsed)
        else:
            ranges[parsed[0]].add(parsed[1:])

    result = []
    for version in (4, 6):
        result.extend(_collapse(version, ranges[version]))
    result.extend(sorted(names))
    return result


class FilterModule(object):
    """fail2ban ignoreip helpers."""

    def filters(self):
        return {"ignoreip": ignoreip}
