# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The firewall objects that hold a jail's bans, or the origin lock, as the collection's ban action
(roles/jail/files/action.d/meshmonitor-firewall.py) names them, and which of them a deployment no
longer uses. The action keeps them when fail2ban stops, so that a restart lets nobody through:
they go only when the stale_bans module finds them unused."""

from __future__ import annotations

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.exposure import HOOK_LABELS

# nftables: one table per fail2ban jail.
TABLE_PREFIX = "f2b-"
# iptables: per ban path <label>-<hook label> one chain in each family; per jail one ipset set per
# family, f2b-<label> and f2b6-<label>.
CHAIN_PREFIX = "f2b-"
IPSET_PREFIXES = ("f2b-", "f2b6-")
IPTABLES_COMMANDS = ("iptables", "ip6tables")


def table_name(jail):
    return TABLE_PREFIX + jail


def path_names(label):
    """The ban paths' names of a jail's label, by hook: <label>-<hook label>."""
    return dict((hook, "%s-%s" % (label, hook_label)) for hook, hook_label in HOOK_LABELS.items())


def owned_objects(item):
    """{"tables", "chains", "ipsets"} by hook (None: every hook) of one owner: a jail ({jail, label})
    or, with lock true, the origin lock ({label, lock}). nftables tables are "<family> <name>"."""
    objects = []
    if not item.get("lock"):
        objects.append((None, "tables", "inet " + table_name(item["jail"])))
        objects += [(None, "ipsets", prefix + item["label"]) for prefix in IPSET_PREFIXES]
    for hook, name in path_names(item["label"]).items():
        objects.append((hook, "chains", CHAIN_PREFIX + name))
        if item.get("lock"):
            objects += [(hook, "tables", "%s %s%s" % (family, TABLE_PREFIX, name)) for family in ("ip", "ip6")]
    return objects


def wanted_objects(jails, keep, firewall, hooks):
    """(all, kept): {"tables", "chains", "ipsets"} of every owner in jails (see owned_objects) and of
    those whose objects stay: the owners in keep (a jail's name, a lock's label), with firewall, on hooks."""
    everything = {"tables": set(), "chains": set(), "ipsets": set()}
    kept = {"tables": set(), "chains": set(), "ipsets": set()}
    for item in jails:
        running = (item["label"] if item.get("lock") else item["jail"]) in keep
        for hook, kind, name in owned_objects(item):
            everything[kind].add(name)
            on_firewall = firewall == ("iptables" if kind != "tables" else "nftables")
            if running and on_firewall and (hook is None or hook in hooks):
                kept[kind].add(name)
    return everything, kept


def nft_tables(listing):
    """`nft list tables` -> {"<family> <name>"}."""
    return set(" ".join(line.split()[1:3]) for line in listing.splitlines() if line.startswith("table "))


def iptables_chains(listing):
    """`iptables -S` -> the names of its user chains."""
    return set(line.split()[1] for line in listing.splitlines() if line.startswith("-N "))


def iptables_removal(listing, chains):
    """`iptables -S` -> the argument lists (after `iptables -w`) removing chains: first every rule
    jumping to them, then the chains themselves."""
    doomed = iptables_chains(listing) & set(chains)
    commands = []
    for line in listing.splitlines():
        words = line.split()
        if words[:1] == ["-A"] and words[-2:-1] == ["-j"] and words[-1] in doomed and words[1] not in doomed:
            commands.append(["-D"] + words[1:])
    for chain in sorted(doomed):
        commands += [["-F", chain], ["-X", chain]]
    return commands


def ipset_names(listing):
    """`ipset list -n` -> the set names."""
    return set(line.strip() for line in listing.splitlines() if line.strip())


def stale(everything, kept, present):
    """Of present ({"tables", "chains", "ipsets"}: what the host has, chains per family merged), what
    this deployment made and no longer uses, sorted."""
    return dict((kind, sorted((present[kind] & everything[kind]) - kept[kind])) for kind in everything)
