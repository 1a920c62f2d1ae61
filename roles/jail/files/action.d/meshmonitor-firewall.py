# fail2ban action (Python, run inside fail2ban): drop banned addresses with nftables, or with iptables
# on ipset sets, on every path MeshMonitor's traffic takes (forward for Docker-published and proxy
# containers, input for services of the host). Installed by meshmonitor.fail2ban.jail; each
# MeshMonitor jail has one.
#
# Why Python, and why this way:
#   - Speed: fail2ban calls an action once per address, and a command action starts a shell and
#     nft or iptables for each call under one process-wide lock. This one queues each change and a
#     worker thread applies everything queued in one call (`nft -f`, `ipset restore`; up to BATCH
#     lines): one ban costs one call, a wave of 10,000 bans a few dozen. The worker starts a call as
#     soon as something is queued, so a single ban is not delayed. With iptables the banned
#     addresses live in ipset hash sets, so a packet's cost does not grow with the number of bans
#     (fail2ban's iptables action adds one rule per address).
#   - A restart lets nobody through: stop() and flush() at fail2ban's stop leave the rules, the
#     sets and their elements in place; start() adopts them (rules re-made in one transaction, the
#     sets kept) and fail2ban's restore only re-adds what is there already. Each element carries the
#     time its ban has left, so the kernel lifts it when fail2ban would, even while fail2ban is down.
#     Removing a jail (the role's meshmonitor.fail2ban.stale_bans, uninstall) deletes its objects;
#     an unban of all (`unban --all`) empties the sets.
#   - Elements fail2ban will not restore go at start: a ban that ended, or was lifted, while
#     fail2ban was down, and an address ignoreip now covers (added by someone the ban locked out).
#     What stays is read from fail2ban's database as its restore reads it.
#   - At boot the bans and the origin lock are made before Docker or a proxy serves: the role's
#     unit runs this file with `boot` before network-pre.target and docker.service. It reads the
#     jails from `fail2ban-client -d` (fail2ban's own reading of its configuration), makes each of
#     this action's objects with the same code, and loads the bans in force from fail2ban's
#     database. fail2ban, started later, adopts them.
#   - Unbans and prolonged bans tolerate elements the kernel has already expired (nft: each removal
#     adds the element first, in the same transaction; ipset: -exist).
#   - One set per jail and family, which every ban path's rules read: a ban is one element per
#     family, whatever the number of paths.
#   - The objects keep the shapes of fail2ban's own actions, which the doctor, exposure_info and the
#     metrics read. Parameters: paths ("hook:name:ports:protocols ...", name: the path's chain) and
#     label (the sets' name). nftables: table f2b-<jail>, a chain per hook named after it, the sets
#     addr-set-<label> and addr6-set-<label>, read by one rule per path and protocol (and on forward
#     one more on the destination the client sent to, before Docker's DNAT). iptables, in each
#     family: per path a chain f2b-<name> jumped to from the hook's chain (DOCKER-USER on forward,
#     INPUT) as fail2ban's multiport action does, dropping the sources of the ipset set
#     f2b-<label> (IPv4) or f2b6-<label> (IPv6); IPv6 bans drop, as IPv4 ones do.
#   - No set has `flags interval`: with one in the ruleset, nft 1.0 re-reads it on every call.
import ast
import ipaddress
import json
import logging
import re
import sqlite3
import subprocess
import sys
import threading
import time
import zlib

try:
    from fail2ban.server.action import ActionBase
except ImportError:  # the unit tests load this file without fail2ban
    class ActionBase(object):
        def __init__(self, jail, name):
            self._jail, self._name = jail, name
            self._logSys = logging.getLogger("fail2ban.%s" % name)

FAMILIES = ("ipv4", "ipv6")
# nftables: the table of each jail is f2b-<jail> (the collection's module_utils/ban_objects.py
# reads the same names).
TABLE_PREFIX = "f2b-"
# Per family: the set names' prefix (as fail2ban's own action names them) and the match of the source.
SET_PREFIX = {"ipv4": "addr-set-", "ipv6": "addr6-set-"}
SADDR = {"ipv4": "ip", "ipv6": "ip6"}
# Lines of one nft transaction: a few ms for nft to apply, whatever the number of elements.
BATCH = 2000
# IPv6 is counted and banned per network of this prefix: an attacker holds at least a /64 and would
# otherwise get maxretry guesses from each of its addresses. The failures of a jail's log count
# against the /64 (count_per_network), a ban drops the /64 (its element is the network's address,
# matched against the source's first 64 bits), except the jail's ignoreip addresses in it, which no
# ban rule drops. The collection's module_utils/fail2ban.py reads the same prefix.
IPV6_PREFIX = 64
IPV6_MASK = str(ipaddress.IPv6Network("::/%d" % IPV6_PREFIX).netmask)
# How often the origin lock (mode=lock) checks that it is still there, in seconds.
LOCK_CHECK = 30
HOOK_PRIORITY = -1


def parse_paths(text):
    """"hook:name:ports:protocols ..." (ports and protocols comma-separated, a range as a-b) ->
    [{hook, name, ports, protocols}]; name: the path's iptables chain is f2b-<name>, the origin
    lock's nftables table f2b-<name>."""
    paths = []
    for item in text.split():
        parts = item.split(":")
        if len(parts) != 4 or parts[0] not in ("forward", "input") or not all(parts):
            raise ValueError("bad path %r: want hook:name:ports:protocols" % item)
        hook, name, ports, protocols = parts
        paths.append({"hook": hook, "name": name, "ports": ports.split(","), "protocols": protocols.split(",")})
    return paths


def set_name(label, family):
    return SET_PREFIX[family] + label


def source_match(family, label, spared6=()):
    """The match of a ban rule on the source: in the jail's set of the family; for IPv6 the source's
    network (IPV6_PREFIX), never an address or network of spared6 (the jail's ignoreip)."""
    if family == "ipv4":
        return "ip saddr @%s" % set_name(label, family)
    spare = "ip6 saddr != { %s } " % ", ".join(spared6) if spared6 else ""
    return "%sip6 saddr & %s @%s" % (spare, IPV6_MASK, set_name(label, family))


def start_script(table, paths, label, existing, spared6=()):
    """The nft transaction that makes table hold exactly paths' chains and rules and the jail's two
    sets (addr-set-<label>, addr6-set-<label>), keeping the elements of sets that exist already.
    existing: {"chains": set, "sets": {name: flags}} of the table as it stands (see parse_table);
    spared6: the IPv6 addresses and networks no ban drops (see source_match)."""
    lines = ["add table inet %s" % table]
    wanted_chains = set(path["hook"] for path in paths)
    wanted_sets = dict((set_name(label, family), family) for family in FAMILIES)
    for chain in sorted(existing["chains"]):
        lines.append("flush chain inet %s %s" % (table, chain))
        if chain not in wanted_chains:
            lines.append("delete chain inet %s %s" % (table, chain))
    for name, flags in sorted(existing["sets"].items()):
        # A set made by fail2ban's command action has no timeouts: it is made again (restore refills it).
        if name not in wanted_sets or "timeout" not in flags:
            lines.append("delete set inet %s %s" % (table, name))
    for chain in sorted(wanted_chains):
        lines.append("add chain inet %s %s { type filter hook %s priority %d; }" % (table, chain, chain, HOOK_PRIORITY))
    for name, addr_type in sorted(wanted_sets.items()):
        lines.append("add set inet %s %s { type %s_addr; flags timeout; }" % (table, name, addr_type))
    for path in paths:
        ports = ", ".join(path["ports"])
        for family in FAMILIES:
            drop = "%s counter drop" % source_match(family, label, spared6)
            for protocol in path["protocols"]:
                lines.append("add rule inet %s %s %s dport { %s } %s" % (table, path["hook"], protocol, ports, drop))
                if path["hook"] == "forward":
                    lines.append("add rule inet %s %s meta l4proto %s ct original proto-dst { %s } %s"
                                 % (table, path["hook"], protocol, ports, drop))
    return "\n".join(lines) + "\n"


def parse_table(listing):
    """`nft -j list table` output -> {"chains": set of names, "sets": {name: flags}}."""
    existing = {"chains": set(), "sets": {}}
    for item in json.loads(listing).get("nftables", []):
        if "chain" in item:
            existing["chains"].add(item["chain"]["name"])
        elif "set" in item:
            existing["sets"][item["set"]["name"]] = list(item["set"].get("flags", []))
    return existing


def timed_elements(listing):
    """`nft -j list set` output -> [(address, seconds left, or None without a timeout)] of the set."""
    found = []
    for item in json.loads(listing).get("nftables", []):
        for element in item.get("set", {}).get("elem", []):
            value = element.get("elem", {}) if isinstance(element, dict) else {"val": element}
            if isinstance(value.get("val"), str):
                found.append((value["val"], value.get("expires", value.get("timeout"))))
    return found


def parse_elements(listing):
    """`nft -j list set` output -> the addresses in the set."""
    return set(address for address, dummy in timed_elements(listing))


def parse_ipset_save(listing):
    """`ipset save SET` output -> the addresses in the set."""
    return set(line.split()[2] for line in listing.splitlines() if line.startswith("add ") and len(line.split()) > 2)


def canonical(ip):
    try:
        return ipaddress.ip_address(ip).compressed
    except ValueError:
        return ip


def ban_address(ip):
    """The element a ban of ip makes: ip itself (canonical), or for IPv6 its network's address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6 and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    if address.version == 6:
        return str(ipaddress.ip_network("%s/%d" % (address, IPV6_PREFIX), strict=False).network_address)
    return str(address)


def spared_networks(ignoreip, family="ipv6"):
    """The entries of ignoreip of family (addresses, networks; names skipped) as nft and iptables take
    them; an IPv4-mapped IPv6 entry (::ffff:a.b.c.d) counts as the IPv4 one."""
    spared = set()
    for item in ignoreip:
        try:
            network = ipaddress.ip_network(str(item), strict=False)
        except ValueError:
            continue
        if network.version == 6 and network.network_address.ipv4_mapped:
            network = ipaddress.ip_network("%s/%d" % (network.network_address.ipv4_mapped, max(0, network.prefixlen - 96)), strict=False)
        if network.version == (6 if family == "ipv6" else 4):
            spared.add(str(network.network_address) if network.prefixlen == network.max_prefixlen else network.compressed)
    return sorted(spared)


def family_of(ip):
    return "ipv6" if ":" in ip else "ipv4"


def seconds_left(ban_start, bantime, now):
    """What a ban has left, in whole seconds: None for a permanent ban (bantime < 0), 0 for one over."""
    if bantime is None or bantime < 0:
        return None
    return max(0, int(ban_start + bantime - now + 0.999))


def ban_times(ban_start, bantime, now):
    """(the element's ban time, what it has left) of a ban, both None for a permanent one; None when the
    ban is over. The ban time is at least what is left (a ban restored after a reboot lists as it did)."""
    left = seconds_left(ban_start, bantime, now)
    if left == 0:
        return None
    return (None if left is None else max(left, int(bantime))), left


def element_lines(change, table, sets, ip, bantime=None, left=None):
    """nft lines for one change of one address in each of sets: ban, unban, or prolong. bantime: the
    ban's length in seconds (None: for good); left: what it has left. The element's timeout is the
    ban's length and it expires when the ban ends, so a ban restored after a reboot lists as it did.
    A removal first adds the element, so it succeeds whether or not the kernel has expired it."""
    element = "%s timeout %ds expires %ds" % (ip, bantime, left) if bantime is not None else ip
    lines = []
    for name in sets:
        where = "inet %s %s" % (table, name)
        if change == "ban":
            lines.append("add element %s { %s }" % (where, element))
        else:
            lines.append("add element %s { %s }" % (where, ip))
            lines.append("delete element %s { %s }" % (where, ip))
            if change == "prolong":
                lines.append("add element %s { %s }" % (where, element))
    return lines


def flush_lines(table, label):
    return ["flush set inet %s %s" % (table, set_name(label, family)) for family in FAMILIES]


# iptables, per family: the command, ipset's family and the prefix of the sets' names (a set's name
# may be 31 characters long, a chain's 28: f2b-<name> and f2b6-<name> fit).
IPTABLES = {"ipv4": ("iptables", "inet", "f2b-"), "ipv6": ("ip6tables", "inet6", "f2b6-")}
HOOK_CHAIN = {"forward": "DOCKER-USER", "input": "INPUT"}
# ipset keeps an element's timeout up to this many seconds; a longer ban is kept without one and
# lifted by fail2ban's unban.
IPSET_MAX_TIMEOUT = 2147483
# Room for a botnet (ipset's default is 65536 elements).
IPSET_MAXELEM = 1048576


def chain_name(path):
    return "f2b-" + path["name"]


def ipset_name(label, family):
    return IPTABLES[family][2] + label


def jump_specs(path):
    """The rules of the hook's chain that send path's traffic to its chain, as `iptables -S` prints
    them after "-A <hook chain> ": fail2ban's multiport jump, and on forward one per port as the
    client sent it (conntrack's original destination, one port or range per rule)."""
    chain = chain_name(path)
    specs = []
    for protocol in path["protocols"]:
        specs.append("-p %s -m multiport --dports %s -j %s"
                     % (protocol, ",".join(port.replace("-", ":") for port in path["ports"]), chain))
        if path["hook"] == "forward":
            specs += ["-p %s -m conntrack --ctorigdstport %s -j %s" % (protocol, port.replace("-", ":"), chain)
                      for port in path["ports"]]
    return specs


def ipset_create_args(family):
    """What follows "create <name>" for the jail's set of family: the IPv6 one holds networks (IPV6_PREFIX)."""
    netmask = " netmask %d" % IPV6_PREFIX if family == "ipv6" else ""
    return "hash:ip family %s timeout 0 maxelem %d%s" % (IPTABLES[family][1], IPSET_MAXELEM, netmask)


def ipset_create_lines(label):
    return ["create %s %s" % (ipset_name(label, family), ipset_create_args(family)) for family in FAMILIES]


def ipset_netmask(listing):
    """`ipset list -t SET` output -> the set's netmask (None without one)."""
    match = re.search(r"\bnetmask (\d+)\b", listing)
    return int(match.group(1)) if match else None


def ipset_remake_lines(name, temporary, family, saved):
    """ipset restore lines that give set name the shape of ipset_create_args(family), keeping its
    elements (saved: `ipset save` of it), through temporary, swapped in and destroyed."""
    lines = ["create %s %s" % (temporary, ipset_create_args(family))]
    for line in saved.splitlines():
        words = line.split()
        if len(words) > 2 and words[0] == "add":
            lines.append(" ".join(["add", temporary, ban_address(words[2])] + words[3:]))
    return lines + ["swap %s %s" % (name, temporary), "destroy %s" % temporary]


def ban_chains(paths, label, family, spared6=()):
    """(bodies, jumps) of the ban chains: each path's chain drops the sources in the jail's set of the
    family (in IPv6 but those of spared6, see source_match); jumps as jump_specs."""
    spare = ["-s %s -j RETURN" % item for item in spared6] if family == "ipv6" else []
    bodies = dict((chain_name(path), spare + ["-m set --match-set %s src -j DROP" % ipset_name(label, family), "-j RETURN"])
                  for path in paths)
    return bodies, [(HOOK_CHAIN[path["hook"]], spec) for path in paths for spec in jump_specs(path)]


def iptables_restore_script(bodies, jumps, listing):
    """`iptables-restore --noflush` input that gives each chain of bodies ({chain: rule specs}) exactly
    those rules (emptied and filled again in the same commit) and the hook's chains exactly the jumps
    ([(hook chain, spec as `iptables -S` prints it after "-A <chain> ")]) to them. listing: `iptables
    -S` of the filter table as it stands."""
    existing = [line.strip() for line in listing.splitlines()]
    wanted = ["-A %s %s" % jump for jump in jumps]
    lines = ["*filter"]
    for chain in sorted(bodies):
        lines += [":%s - [0:0]" % chain] + ["-A %s %s" % (chain, rule) for rule in bodies[chain]]
    lines += ["-D" + line[2:] for line in existing
              if line.startswith("-A ") and line.split()[-2:-1] == ["-j"] and line.split()[-1] in bodies and line not in wanted]
    lines += ["-I" + rule[2:] for rule in wanted if rule not in existing]
    return "\n".join(lines + ["COMMIT"]) + "\n"


def ipset_lines(change, sets, ip, left=None):
    """ipset restore lines (run with -exist) for one change of one address in each of sets. left: what
    the ban has left (None: for good). Re-adding an element sets its timeout anew (prolong); deleting
    one the kernel expired is no error."""
    if change == "unban":
        return ["del %s %s" % (name, ip) for name in sets]
    timeout = 0 if left is None or left > IPSET_MAX_TIMEOUT else left
    return ["add %s %s timeout %d" % (name, ip, timeout) for name in sets]


# The origin lock (mode=lock): per path and family, new connections to the path's ports are dropped
# unless they come from the allowed networks. Forward: only connections Docker DNAT'ed (containers
# still talk to each other), matched as they arrive and as the client sent them; input: not from
# loopback. The shapes are the command action's it replaces (exposure_info parses them).
LOCK_NFT_MATCH = {"forward": "ct direction original ct status dnat ", "input": 'iifname != "lo" '}
LOCK_IPT_BEFORE = {"forward": "", "input": "! -i lo "}
LOCK_IPT_MATCH = {"forward": "-m conntrack --ctstate DNAT --ctdir ORIGINAL ", "input": ""}


def lock_nft_script(path, family, allow):
    """The nft transaction that makes the lock's table of path and family anew, whole and at once:
    table <ip|ip6> f2b-<name>, its set of allowed networks and its chain."""
    table, name, where = TABLE_PREFIX + path["name"], SET_PREFIX[family] + path["name"], SADDR[family]
    hook, ports = path["hook"], ", ".join(path["ports"])
    drop = "%s saddr != @%s drop" % (where, name)
    rules = []
    for protocol in path["protocols"]:
        rules.append("%s%s dport { %s } %s" % (LOCK_NFT_MATCH[hook], protocol, ports, drop))
        if hook == "forward":
            rules.append("%smeta l4proto %s ct original proto-dst { %s } %s" % (LOCK_NFT_MATCH[hook], protocol, ports, drop))
    elements = " elements = { %s };" % ", ".join(allow) if allow else ""
    lines = ["table %s %s" % (where, table), "delete table %s %s" % (where, table), "table %s %s {" % (where, table),
             "  set %s { type %s_addr; flags interval; auto-merge;%s }" % (name, family, elements),
             "  chain %s {" % hook, "    type filter hook %s priority %d;" % (hook, HOOK_PRIORITY)]
    return "\n".join(lines + ["    " + rule for rule in rules] + ["  }", "}"]) + "\n"


def lock_chains(paths, allow):
    """(bodies, jumps) of the lock's iptables chains (see iptables_restore_script): each returns for
    the allowed networks and drops the rest."""
    bodies = dict((chain_name(path), ["-s %s -j RETURN" % net for net in allow] + ["-j DROP"]) for path in paths)
    jumps = []
    for path in paths:
        hook, chain = path["hook"], chain_name(path)
        for protocol in path["protocols"]:
            jumps.append((HOOK_CHAIN[hook], "%s-p %s %s-m multiport --dports %s -j %s" % (
                LOCK_IPT_BEFORE[hook], protocol, LOCK_IPT_MATCH[hook], ",".join(port.replace("-", ":") for port in path["ports"]), chain)))
            if hook == "forward":
                jumps += [(HOOK_CHAIN[hook], "-p %s %s-m conntrack --ctorigdstport %s -j %s" % (
                    protocol, LOCK_IPT_MATCH[hook], port.replace("-", ":"), chain)) for port in path["ports"]]
    return bodies, jumps


class Nftables(object):
    """Bans in the jail's nftables table (see the top)."""

    def __init__(self, action, paths, label):
        self.action, self.table, self.paths, self.label = action, TABLE_PREFIX + action._jail.name, paths, label
        self.sets = dict((family, [set_name(label, family)]) for family in FAMILIES)
        self.spared6 = []

    def ensure(self):
        listing = self.action.run(["nft", "-j", "list", "table", "inet", self.table])
        existing = parse_table(listing[1]) if listing[0] == 0 else {"chains": set(), "sets": {}}
        script = start_script(self.table, self.paths, self.label, existing, self.spared6)
        code, dummy, error = self.action.run(["nft", "-f", "-"], script)
        if code:
            raise RuntimeError("nft could not make table %s: %s" % (self.table, error.strip()))

    def change_lines(self, change, ip, bantime, left):
        return element_lines(change, self.table, self.sets[family_of(ip)], ip, bantime, left)

    def flush_lines(self):
        return flush_lines(self.table, self.label)

    def elements(self):
        found = set()
        for family in FAMILIES:
            for name in self.sets[family]:
                code, listing, dummy = self.action.run(["nft", "-j", "list", "set", "inet", self.table, name])
                if not code:
                    found |= parse_elements(listing)
        return found

    def apply(self, script):
        code, dummy, error = self.action.run(["nft", "-f", "-"], script)
        return (error or "exit %d" % code) if code else None

    def lock(self, allow):
        error = self.apply("".join(lock_nft_script(path, family, allow[family]) for path in self.paths for family in FAMILIES))
        if error is not None:
            raise RuntimeError("nft could not make the origin lock: %s" % error.strip())

    def locked(self):
        return all(self.action.run(["nft", "list", "chain", SADDR[family], TABLE_PREFIX + path["name"], path["hook"]])[0] == 0
                   for path in self.paths for family in FAMILIES)


class Iptables(object):
    """Bans in ipset sets matched from iptables chains (see the top)."""

    def __init__(self, action, paths, label):
        self.action, self.paths, self.label = action, paths, label
        self.sets = dict((family, [ipset_name(label, family)]) for family in FAMILIES)
        self.spared6 = []

    def ensure(self):
        self._remake_ipv6_set()
        code, dummy, error = self.action.run(["ipset", "-exist", "restore"], "\n".join(ipset_create_lines(self.label)) + "\n")
        if code:
            raise RuntimeError("ipset could not make the sets: %s" % error.strip())
        self._chains(lambda family: ban_chains(self.paths, self.label, family, self.spared6))

    def _remake_ipv6_set(self):
        """An IPv6 set of an earlier release (one address per element) becomes a set of networks,
        its bans kept: swapped in place, so the rules reading it never miss a packet."""
        name = ipset_name(self.label, "ipv6")
        code, listing, dummy = self.action.run(["ipset", "list", "-t", name])
        if code or "Header:" not in listing or ipset_netmask(listing) == IPV6_PREFIX:
            return
        temporary = "mm-remake-%08x" % (zlib.crc32(name.encode()) & 0xffffffff)
        code, saved, error = self.action.run(["ipset", "save", name])
        if code:  # remade from nothing, the set would lose its bans
            raise RuntimeError("ipset could not read %s to remake it: %s" % (name, error.strip()))
        self.action.run(["ipset", "destroy", temporary])
        code, dummy, error = self.action.run(["ipset", "restore"], "\n".join(ipset_remake_lines(name, temporary, "ipv6", saved)) + "\n")
        if code:
            raise RuntimeError("ipset could not remake %s: %s" % (name, error.strip()))

    def lock(self, allow):
        self._chains(lambda family: lock_chains(self.paths, allow[family]))

    def locked(self):
        for family in FAMILIES:
            code, listing, dummy = self.action.run([IPTABLES[family][0], "-w", "-S"])
            have = set(line.strip() for line in listing.splitlines())
            if not code and any("-A %s %s" % jump not in have for jump in lock_chains(self.paths, [])[1]):
                return False
        return True

    def _chains(self, chains_of):
        """Make, in each family, the chains and jumps chains_of(family) gives (bodies, jumps)."""
        for family in FAMILIES:
            command = IPTABLES[family][0]
            # Docker makes DOCKER-USER when it starts and keeps what it holds: made earlier, the bans
            # are hooked from Docker's first packet. Made on its own, never declared in the restore
            # input: there a declaration empties the chain, and another jail's action may have just
            # put its jumps in it.
            self.action.run([command, "-w", "-N", HOOK_CHAIN["forward"]])
            code, listing, error = self.action.run([command, "-w", "-S"])
            if not code:
                code, dummy, error = self.action.run([command + "-restore", "-w", "--noflush"],
                                                     iptables_restore_script(*chains_of(family), listing=listing))
            if code and family == "ipv4":
                raise RuntimeError("%s could not hook the chains: %s" % (command, error.strip()))
            if code:  # a host without IPv6 in its kernel: IPv4 still works
                self.action._logSys.warning("%s could not hook the chains: %s", command, error.strip())

    def change_lines(self, change, ip, bantime, left):
        return ipset_lines(change, self.sets[family_of(ip)], ip, left)

    def flush_lines(self):
        return ["flush %s" % name for family in FAMILIES for name in self.sets[family]]

    def elements(self):
        found = set()
        for family in FAMILIES:
            for name in self.sets[family]:
                code, listing, dummy = self.action.run(["ipset", "save", name])
                if not code:
                    found |= parse_ipset_save(listing)
        return found

    def apply(self, script):
        code, dummy, error = self.action.run(["ipset", "-exist", "restore"], script)
        return (error or "exit %d" % code) if code else None


BACKENDS = {"nftables": Nftables, "iptables": Iptables}


# fail2ban reads a log line to its end however long it is (FileContainer.readline), and reads it
# again at every poll while it has no end: whatever runs in MeshMonitor's container owns the log and
# pushed fail2ban to 1 GB with one unterminated line of a few hundred MB. This file is the one piece
# of the collection fail2ban runs in its own process, before its jails read their logs, so it bounds
# fail2ban's file reading there: no line is held beyond LINE_LIMIT bytes (Node refuses requests with
# more than 16 KiB of headers, so no real request makes a longer access log line); a longer line is
# skipped once it ends (read as SKIPPED_LINE), and until it ends it reads as unfinished, as fail2ban
# expects of a line still being written.
LINE_LIMIT = 64 * 1024


# What fail2ban reads in place of a skipped line: no filter matches it (fail2ban fails on an empty
# line).
SKIPPED_LINE = b"meshmonitor-fail2ban: a line longer than the limit was skipped\n"


class BoundedLines(object):
    """A log opened by fail2ban (binary, read only) whose readline() holds at most LINE_LIMIT bytes.
    A long unfinished line is read through at each poll (the app role's rotation bounds the log)."""

    last_skipped = None

    def __init__(self, handle):
        self._handle = handle
        self._unfinished = False

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __iter__(self):
        return iter(self.readline, b"")

    def seek(self, *args):
        self._unfinished = False
        return self._handle.seek(*args)

    def readline(self, size=-1):
        if self._unfinished:
            # fail2ban asks for the rest of the unfinished line it was given: there is none yet, so it
            # seeks back to the line's start by the length of what it was given.
            self._unfinished = False
            return b""
        handle = self._handle
        if size is not None and 0 <= size <= LINE_LIMIT:
            return handle.readline(size)
        head = handle.readline(LINE_LIMIT)
        if len(head) < LINE_LIMIT or head.endswith(b"\n"):
            return head
        start = handle.tell() - len(head)  # only for a long line: tell() costs a system call
        while True:
            part = handle.readline(LINE_LIMIT)
            if part.endswith(b"\n"):
                skipped = (getattr(handle, "name", "?"), start, handle.tell() - start)
                if skipped != BoundedLines.last_skipped:  # fail2ban reads a first line twice
                    BoundedLines.last_skipped = skipped
                    logging.getLogger("fail2ban.meshmonitor").warning(
                        "skipped a line of %d bytes at offset %d of %s (longer than %d)",
                        skipped[2], start, skipped[0], LINE_LIMIT)
                return SKIPPED_LINE
            if len(part) < LINE_LIMIT:
                handle.seek(start + len(head))
                self._unfinished = True
                return head


def bounded_open(file, mode="r", *args, **kwargs):
    handle = open(file, mode, *args, **kwargs)
    return BoundedLines(handle) if mode == "rb" else handle


bounded_open.bounds_lines = True


def bound_log_reading(module):
    """Make module (fail2ban.server.filter) open its logs through BoundedLines, once per process
    (each jail loads this file anew)."""
    if getattr(getattr(module, "open", None), "bounds_lines", False) or not hasattr(module, "FileContainer"):
        return False
    module.open = bounded_open
    return True


try:
    from fail2ban.server import filter as fail2ban_filter
    bound_log_reading(fail2ban_filter)
except ImportError:  # the unit tests load this file without fail2ban
    pass


def count_per_network(jail):
    """Make jail's filter count each IPv6 failure against the address's network (IPV6_PREFIX), as the
    ban drops it: the failure's ID becomes the network's address, the address itself stays the
    ticket's "ip" (what AbuseIPDB is told). Once per filter; other jails' filters are left alone."""
    failures = getattr(getattr(jail, "filter", None), "failManager", None)
    if failures is None or getattr(failures, "counts_per_network", False):
        return False
    add_failure, to_ban = failures.addFailure, failures.toBan

    def network_id(fid):
        network = ban_address(str(fid))
        return fid if network == str(fid) else type(fid)(network)

    def addFailure(ticket, *args, **kwargs):
        fid = ticket.getID()
        network = network_id(fid)
        if network is not fid:
            ticket.setData("ip", fid)
            ticket.setID(network)
        return add_failure(ticket, *args, **kwargs)

    def toBan(fid=None):
        return to_ban(None if fid is None else network_id(fid))

    failures.addFailure, failures.toBan, failures.counts_per_network = addFailure, toBan, True
    return True


class Action(ActionBase):

    def __init__(self, jail, name, paths, label="", firewall="nftables", mode="ban", allow4="", allow6="", bindir=""):
        super(Action, self).__init__(jail, name)
        self._configure(paths, label, firewall, mode, allow4, allow6, bindir)
        self._init_worker()

    def _init_worker(self):
        """The queue the worker thread (_run) applies, and its state."""
        self._pending = []
        self._busy = False
        self._cond = threading.Condition()
        self._worker = None
        self._stopping = False

    def _start_worker(self):
        with self._cond:
            self._stopping = False
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._run, name="f2b/%s" % self._name)
            self._worker.daemon = True
            self._worker.start()

    # fail2ban's interface

    def start(self):
        self._make()
        self._start_worker()
        if self.mode == "ban":
            count_per_network(self._jail)
            self._let_go()

    def stop(self):
        # The rules and the bans stay (see the top); what is queued is applied first.
        self._drain()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def flush(self):
        actions = getattr(self._jail, "actions", None)
        if self.mode == "ban" and actions is not None and getattr(actions, "active", False):
            # fail2ban runs, so this is an unban of all: empty the sets.
            self._queue(self.backend.flush_lines())
            self._drain()
        return True

    # `fail2ban-client reload` keeps an action that has both of these; without them it would drop
    # it (and, through flush, empty its sets).
    def clearAllParams(self):
        pass

    def reload(self, paths, label="", firewall="nftables", mode="ban", allow4="", allow6="", bindir=""):
        self._configure(paths, label, firewall, mode, allow4, allow6, bindir)
        self._make()

    def _configure(self, paths, label, firewall, mode, allow4, allow6, bindir):
        if firewall not in BACKENDS:
            raise ValueError("firewall=%r: want one of %s" % (firewall, ", ".join(sorted(BACKENDS))))
        if mode not in ("ban", "lock"):
            raise ValueError("mode=%r: want ban or lock" % mode)
        if mode == "ban" and not label:
            raise ValueError("label= is required: the name the jail's sets take")
        self.firewall, self.mode, self.bindir = firewall, mode, bindir
        self.allow = {"ipv4": [net for net in allow4.split(",") if net], "ipv6": [net for net in allow6.split(",") if net]}
        self.backend = BACKENDS[firewall](self, parse_paths(paths), label)

    def _make(self):
        if self.mode == "lock":
            self.backend.lock(self.allow)
        else:
            self.backend.spared6 = spared_networks(self._ignoreip())
            self.backend.ensure()

    def _ignoreip(self):
        """The jail's ignoreip entries (fail2ban's, or those read at boot)."""
        listed = getattr(getattr(self._jail, "filter", None), "getIgnoreIP", None)
        if listed is not None:
            return [str(item) for item in listed()]
        return getattr(self._jail, "ignoreip", [])

    def ban(self, aInfo):
        self._change("ban", aInfo)

    def reban(self, aInfo):
        self._change("ban", aInfo)

    def unban(self, aInfo):
        self._change("unban", aInfo)

    @property
    def _prolongable(self):
        return True

    def prolong(self, aInfo):
        self._change("prolong", aInfo)

    # the work

    def run(self, command, script=None):
        """(exit code, output, errors) of command (its program looked up in bindir if given), fed script."""
        program = command[0] if not self.bindir else "%s/%s" % (self.bindir, command[0])
        result = subprocess.run([program] + command[1:], input=script if script is not None else "", stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True, check=False)
        return result.returncode, result.stdout, result.stderr

    def _restorable(self):
        """The addresses fail2ban's restore will ban again (canonical form), read from its database as
        the restore reads them; None when unknown (no database), then every element stays."""
        database = getattr(self._jail, "database", None)
        if database is None:
            return None
        try:
            tickets = database.getCurrentBans(jail=self._jail)
            ignored = self._jail.filter.inIgnoreIPList
            return set(ban_address(str(ticket.getID())) for ticket in tickets if not ignored(ticket.getID(), log_ignore=False))
        except Exception as exc:  # an older or newer fail2ban: keep every element rather than guess
            self._logSys.warning("could not read the bans to restore, keeping every element: %r", exc)
            return None

    def _let_go(self):
        """At start, before any ban: remove the elements the restore will not ban again (see the top)."""
        restorable = self._restorable()
        if restorable is None:
            return
        stale = sorted(ip for ip in self.backend.elements() if canonical(ip) not in restorable)
        # An element of an earlier release (one IPv6 address) goes: its ban comes back as its network.
        if stale:
            self._logSys.info("letting go of %d address(es) fail2ban does not ban any more: %s%s",
                              len(stale), " ".join(stale[:10]), " ..." if len(stale) > 10 else "")
            self._queue([line for ip in stale for line in self.backend.change_lines("unban", ip, None, None)])

    def _change(self, change, aInfo):
        if self.mode == "lock":  # the lock bans nobody
            return
        times = (None, None) if change == "unban" else ban_times(aInfo["time"], aInfo["bantime"], time.time())
        if times is not None:
            self._queue(self.backend.change_lines(change, ban_address(str(aInfo["ip"])), *times))

    def _queue(self, lines):
        with self._cond:
            self._pending.extend(lines)
            self._cond.notify_all()

    def _drain(self, timeout=30):
        """Wait until the worker has applied everything queued so far."""
        end = time.time() + timeout
        with self._cond:
            while (self._pending or self._busy) and self._worker is not None and self._worker.is_alive():
                if not self._cond.wait(max(0, end - time.time())) and time.time() >= end:
                    break

    def _run(self):
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    if not self._cond.wait(LOCK_CHECK if self.mode == "lock" else None) and self.mode == "lock":
                        break
                if not self._pending and self._stopping:
                    return
                if not self._pending:
                    self._busy = True
                    batch = None
                else:
                    batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
                self._busy = True
            try:
                if batch is None:
                    self._repair()
                else:
                    self._apply(batch)
            except Exception as exc:  # the worker must survive anything, or later bans would wait forever
                self._logSys.error("could not apply %s: %r", "the lock" if batch is None else "%d lines" % len(batch), exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _repair(self):
        """The lock, checked every LOCK_CHECK seconds: made again if something (a flushed ruleset, a
        firewall reload) took it away."""
        if not self.backend.locked():
            self._logSys.warning("the origin lock was gone; making it again")
            self.backend.lock(self.allow)

    def _apply(self, lines):
        error = self.backend.apply("\n".join(lines) + "\n")
        if error is None:
            return
        # The rules or sets may be gone (a flushed ruleset): make them again, then try once more;
        # then line by line, so one bad line costs only itself.
        self._logSys.warning("%s failed (%s); making its rules and sets again and retrying", self.firewall, error.strip())
        self.backend.ensure()
        if self.backend.apply("\n".join(lines) + "\n") is None:
            return
        for line in lines:
            error = self.backend.apply(line + "\n")
            if error is not None:
                self._logSys.error("failed on %r: %s", line, error.strip())


# At boot (see the top): `python3 meshmonitor-firewall.py boot`, run by the role's unit before the
# network and Docker come up, while fail2ban does not run yet.

class BootJail(object):
    """What the action needs of a jail when fail2ban does not run: its name and ignoreip."""

    def __init__(self, name, ignoreip=()):
        self.name, self.ignoreip = name, list(ignoreip)


def boot_uses(stream, action_file):
    """`fail2ban-client -d` output -> (the database file, [{jail, name, params, ignoreip}]): each use of
    action_file (by its file name) in an enabled jail, with its parameters and the jail's ignoreip."""
    dbfile, ignoreip, uses = None, {}, []
    for line in stream.splitlines():
        try:
            command = ast.literal_eval(line.strip())
        except (ValueError, SyntaxError):
            continue
        if not isinstance(command, list) or len(command) < 3 or command[0] != "set":
            continue
        if command[1] == "dbfile":
            dbfile = command[2]
        elif len(command) > 3 and command[2] == "addignoreip":
            ignoreip.setdefault(command[1], []).extend(command[3:])
        elif len(command) > 4 and command[2] == "addaction" and command[4].rsplit("/", 1)[-1] == action_file.rsplit("/", 1)[-1]:
            params = command[5] if len(command) > 5 else {}
            uses.append({"jail": command[1], "name": command[3], "params": json.loads(params) if isinstance(params, str) else params})
    for use in uses:
        use["ignoreip"] = ignoreip.get(use["jail"], [])
    return (dbfile if dbfile not in (None, "", "None", ":memory:") else None), uses


def current_bans(dbfile, jail, now):
    """[(ip, time of ban, ban time)] of jail's bans in force at now, from fail2ban's database (read
    only), as its restore reads them: permanent ones (ban time -1) and those not over."""
    database = sqlite3.connect("file:%s?mode=ro" % dbfile, uri=True)
    try:
        return database.execute("SELECT ip, timeofban, bantime FROM bips WHERE jail = ? AND "
                                "(bantime = -1 OR (bantime >= 0 AND timeofban + bantime > ?))", (jail, int(now))).fetchall()
    finally:
        database.close()


def covered(ip, ignoreip):
    """Does one of ignoreip's addresses or networks (names are skipped) cover ip?"""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for item in ignoreip:
        try:
            if address in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            continue
    return False


def boot(action_file=__file__, now=None, run=None):
    """Make every use's objects and load its bans in force; returns the exit code (1 if one failed)."""
    now = time.time() if now is None else now
    run = run or (lambda command: subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                 universal_newlines=True, check=False))
    dump = run(["fail2ban-client", "-d"])
    if dump.returncode:
        sys.stderr.write("fail2ban-client -d failed: %s\n" % dump.stderr.strip())
        return 1
    dbfile, uses = boot_uses(dump.stdout, action_file)
    failed = 0
    for use in uses:
        try:
            action = Action(BootJail(use["jail"], use["ignoreip"]), use["name"], **use["params"])
            action._make()
            lines = []
            if action.mode == "ban" and dbfile:
                for ip, timeofban, bantime in current_bans(dbfile, use["jail"], now):
                    times = None if covered(ip, use["ignoreip"]) else ban_times(timeofban, bantime, now)
                    if times is not None:
                        lines += action.backend.change_lines("ban", ban_address(ip), *times)
            for first in range(0, len(lines), BATCH):
                error = action.backend.apply("\n".join(lines[first:first + BATCH]) + "\n")
                if error is not None:
                    raise RuntimeError(error.strip())
            print("%s/%s: %s made, %d line(s) of bans loaded" % (use["jail"], use["name"], action.mode, len(lines)))
        except Exception as exc:  # the other jails still get theirs
            failed = 1
            sys.stderr.write("%s/%s: %s\n" % (use["jail"], use["name"], exc))
    return failed


if __name__ == "__main__":
    if sys.argv[1:] != ["boot"]:
        sys.stderr.write("usage: %s boot\n" % sys.argv[0])
        sys.exit(2)
    sys.exit(boot())
