# fail2ban action (Python, run inside fail2ban): drop banned addresses with nftables, on every path
# MeshMonitor's traffic takes (forward for Docker-published and proxy containers, input for services
# of the host). Installed by meshmonitor.fail2ban.jail; each MeshMonitor jail has one.
#
# Why Python, and why this way:
#   - Speed: fail2ban calls an action once per address, and a command action starts a shell and
#     nft for each call under one process-wide lock. This one queues each change and a worker thread
#     applies everything queued in one `nft -f` transaction (up to BATCH lines): one ban costs one
#     nft call, a wave of 10,000 bans a few dozen. The worker starts a transaction as soon as
#     something is queued, so a single ban is not delayed.
#   - A restart lets nobody through: stop() and flush() at fail2ban's stop leave the table, its
#     rules and its elements in place; start() adopts them (rules re-made in one transaction, the
#     sets kept) and fail2ban's restore only re-adds what is there already. Each element carries the
#     time its ban has left, so the kernel lifts it when fail2ban would, even while fail2ban is down.
#     Removing the jail (the role, uninstall) deletes the table; an unban of all (`unban --all`)
#     empties the sets.
#   - Unbans and prolonged bans tolerate elements the kernel has already expired: each removal adds
#     the element first, in the same transaction, so it never fails for want of it.
#   - The objects keep the names and shapes of fail2ban's own nftables action, which the doctor,
#     exposure_info and the metrics read: table f2b-<jail>, a chain per hook named after it, and per
#     path the sets addr-set-<name> and addr6-set-<name>, referenced by one rule per protocol (and on
#     forward one more on the destination the client sent to, before Docker's DNAT).
#   - No set has `flags interval`: with one in the ruleset, nft 1.0 re-reads it on every call.
import json
import logging
import subprocess
import threading
import time

try:
    from fail2ban.server.action import ActionBase
except ImportError:  # the unit tests load this file without fail2ban
    class ActionBase(object):
        def __init__(self, jail, name):
            self._jail, self._name = jail, name
            self._logSys = logging.getLogger("fail2ban.%s" % name)

FAMILIES = ("ipv4", "ipv6")
# Per family: the set names' prefix (as fail2ban's own action names them) and the match of the source.
SET_PREFIX = {"ipv4": "addr-set-", "ipv6": "addr6-set-"}
SADDR = {"ipv4": "ip", "ipv6": "ip6"}
# Lines of one nft transaction: a few ms for nft to apply, whatever the number of elements.
BATCH = 2000
HOOK_PRIORITY = -1


def parse_paths(text):
    """"hook:name:ports:protocols ..." (ports and protocols comma-separated, a range as a-b) ->
    [{hook, name, ports, protocols}]; name is the path's part of the set names."""
    paths = []
    for item in text.split():
        parts = item.split(":")
        if len(parts) != 4 or parts[0] not in ("forward", "input") or not all(parts):
            raise ValueError("bad path %r: want hook:name:ports:protocols" % item)
        hook, name, ports, protocols = parts
        paths.append({"hook": hook, "name": name, "ports": ports.split(","), "protocols": protocols.split(",")})
    return paths


def set_names(paths, family):
    return [SET_PREFIX[family] + path["name"] for path in paths]


def start_script(table, paths, existing):
    """The nft transaction that makes table hold exactly paths' chains, sets and rules, keeping the
    elements of sets that exist already. existing: {"chains": set, "sets": {name: flags}} of the table
    as it stands (see read_table)."""
    lines = ["add table inet %s" % table]
    wanted_chains = set(path["hook"] for path in paths)
    wanted_sets = dict((SET_PREFIX[family] + path["name"], family) for path in paths for family in FAMILIES)
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
            drop = "%s saddr @%s%s counter drop" % (SADDR[family], SET_PREFIX[family], path["name"])
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


def family_of(ip):
    return "ipv6" if ":" in ip else "ipv4"


def seconds_left(ban_start, bantime, now):
    """What a ban has left, in whole seconds: None for a permanent ban (bantime < 0), 0 for one over."""
    if bantime is None or bantime < 0:
        return None
    return max(0, int(ban_start + bantime - now + 0.999))


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


def flush_lines(table, paths):
    return ["flush set inet %s %s" % (table, name) for family in FAMILIES for name in set_names(paths, family)]


class Action(ActionBase):

    def __init__(self, jail, name, table, paths, nft="nft"):
        super(Action, self).__init__(jail, name)
        self._configure(table, paths, nft)
        self._pending = []
        self._busy = False
        self._cond = threading.Condition()
        self._worker = None
        self._stopping = False

    # fail2ban's interface

    def start(self):
        self._ensure()
        with self._cond:
            self._stopping = False
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._run, name="f2b/%s" % self._name)
            self._worker.daemon = True
            self._worker.start()

    def stop(self):
        # The table and its bans stay (see the top); what is queued is applied first.
        self._drain()
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def flush(self):
        actions = getattr(self._jail, "actions", None)
        if actions is not None and getattr(actions, "active", False):
            # fail2ban runs, so this is an unban of all: empty the sets.
            self._queue(flush_lines(self.table, self.paths))
            self._drain()
        return True

    # `fail2ban-client reload` keeps an action that has both of these; without them it would drop
    # it (and, through flush, empty its sets).
    def clearAllParams(self):
        pass

    def reload(self, table, paths, nft="nft"):
        self._configure(table, paths, nft)
        self._ensure()

    def _configure(self, table, paths, nft):
        self.table, self.paths, self.nft = table, parse_paths(paths), nft
        self._sets = dict((family, set_names(self.paths, family)) for family in FAMILIES)

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

    def _change(self, change, aInfo):
        ip = str(aInfo["ip"])
        bantime = left = None
        if change != "unban":
            left = seconds_left(aInfo["time"], aInfo["bantime"], time.time())
            if left == 0:
                return
            bantime = None if left is None else max(left, int(aInfo["bantime"]))
        self._queue(element_lines(change, self.table, self._sets[family_of(ip)], ip, bantime, left))

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
                    self._cond.wait()
                if not self._pending and self._stopping:
                    return
                batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
                self._busy = True
            try:
                self._apply(batch)
            except Exception as exc:  # the worker must survive anything, or later bans would wait forever
                self._logSys.error("nft: could not apply %d lines: %r", len(batch), exc)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _apply(self, lines):
        error = self._nft("\n".join(lines) + "\n")
        if error is None:
            return
        # The table may be gone (a flushed ruleset): make it again, then try once more; then line by line,
        # so one bad line costs only itself.
        self._logSys.warning("nft failed (%s); re-making table %s and retrying", error.strip(), self.table)
        self._ensure()
        if self._nft("\n".join(lines) + "\n") is None:
            return
        for line in lines:
            error = self._nft(line + "\n")
            if error is not None:
                self._logSys.error("nft failed on %r: %s", line, error.strip())

    def _ensure(self):
        listing = subprocess.run([self.nft, "-j", "list", "table", "inet", self.table],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
        existing = parse_table(listing.stdout) if listing.returncode == 0 else {"chains": set(), "sets": {}}
        error = self._nft(start_script(self.table, self.paths, existing))
        if error is not None:
            raise RuntimeError("nft could not make table %s: %s" % (self.table, error.strip()))

    def _nft(self, script):
        result = subprocess.run([self.nft, "-f", "-"], input=script, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True, check=False)
        return None if result.returncode == 0 else (result.stderr or "exit %d" % result.returncode)
