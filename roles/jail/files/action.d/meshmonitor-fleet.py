# fail2ban action (Python, run inside fail2ban): share this host's bans with a fleet of hosts through
# CrowdSec's local API (LAPI), and drop the fleet's bans on the paths MeshMonitor's traffic takes.
# Installed by meshmonitor.fail2ban.jail with jail_fleet_enabled; every MeshMonitor jail has one.
#
# Posting. Each ban of the jail becomes a LAPI decision (type ban, scope Ip, origin ORIGIN) lasting
# what the ban has left; a permanent one lasts PERMANENT. A worker thread posts what is queued as one
# alert of up to BATCH decisions, so a wave of 10,000 bans is a few calls, and retries (with the
# queue kept) while the LAPI is unreachable. The machine's login and password are read from a
# root-only file (never a parameter: `fail2ban-client -d` prints those).
#   - An unban before the ban's end (the unban playbook, fail2ban-client unban) deletes the address's
#     decisions on the LAPI, so every host lifts it. A ban that ends by itself deletes nothing: its
#     decision ends at the same time, and another host may have banned the address since.
#   - fail2ban's restore at start posts nothing (norestored): the decisions outlived the restart.
#   - The bans of other hosts never reach fail2ban: the bouncer puts them in sets of their own. So a
#     copy is never posted back, reported, lengthened or counted as an offence.
#
# Enforcing (enforce=yes, on one jail per MeshMonitor: the main one). CrowdSec's firewall bouncer, in
# set-only mode, fills the sets addr-set-fleet and addr6-set-fleet of table inet mm-fleet. This action
# makes that table and, per path, a chain <label>-<hook> whose rules drop those sets' sources on the
# path's ports, as the ban action's rules do (on forward also the destination the client sent to,
# before Docker's DNAT). The jail's ignoreip is spared in both families: a fleet decision never drops
# an address this host whitelists. The rules are re-made in one transaction and the sets kept, so a
# restart of fail2ban lets nobody through. IPv6: as the ban action does, the element is the /64
# network's address (which this action posts) and the rule matches the source's first 64 bits.
import importlib.util
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def _firewall_module():
    """The ban action (meshmonitor-firewall.py, beside this file): its path parsing, IPv6 networks and
    nft calls are this action's too."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "meshmonitor-firewall.py")
    spec = importlib.util.spec_from_file_location("meshmonitor_firewall", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


firewall = _firewall_module()
# fail2ban's, or the ban action's stand-in where fail2ban is not installed (the unit tests).
ActionBase = firewall.ActionBase

# The decisions' origin: the bouncers enforce this origin only.
ORIGIN = "meshmonitor-fail2ban"
# The bouncer's table and sets (the role's bouncer configuration names the same).
TABLE = "mm-fleet"
SETS = {"ipv4": "addr-set-fleet", "ipv6": "addr6-set-fleet"}
# What the bouncer's sets held when it was stopped: a stopping bouncer empties its sets, and a
# starting one refills them only once the LAPI answers. The role's unit drop-in copies the sets here
# before the bouncer stops (`hold`) and empties these once it has fetched the decisions again
# (`release`); the rules drop both, so a restart of the bouncer lets nobody through.
HELD = {"ipv4": "held-set-fleet", "ipv6": "held6-set-fleet"}
# What the sets and the held sets hold, kept on disk (root only) for the next boot: the boot unit's
# `boot` makes the table and loads it into the held sets before Docker serves, and the bouncer's first
# `release` empties them. Written by `hold` (the bouncer's stop, a shutdown's too) and every SAVE_EVERY
# seconds by the enforcing jail's action, so a power cut loses at most that much; the same check makes
# the table again if something (a flushed ruleset) took it away.
HELD_FILE = "/var/lib/fail2ban/meshmonitor-fleet-bans.json"
SAVE_EVERY = 60
# A permanent ban's decision: ten years.
PERMANENT = "87600h"
# Decisions per alert posted.
BATCH = 1000
# Seconds between tries while the LAPI cannot be reached, at most.
RETRY_MAX = 5
TIMEOUT = 10


def run(command, script=None):
    """(exit code, output, errors) of command, fed script."""
    result = subprocess.run(command, input=script or "", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, check=False)
    return result.returncode, result.stdout, result.stderr


def fleet_chain(label, hook):
    return "%s-%s" % (label, hook)


def source_match(family, spared, sets=None):
    """The match of a fleet rule on the source: in the fleet's set of the family (or sets'), never one of spared."""
    saddr, name = firewall.SADDR[family], (sets or SETS)[family]
    spare = "%s saddr != { %s } " % (saddr, ", ".join(spared)) if spared else ""
    if family == "ipv4":
        return "%sip saddr @%s" % (spare, name)
    return "%sip6 saddr & %s @%s" % (spare, firewall.IPV6_MASK, name)


def table_script(label, paths, existing_chains, spared):
    """The nft transaction that makes table TABLE hold the fleet's sets (elements kept) and exactly
    paths' chains and rules for this jail (label): chains <label>-<hook>; existing_chains: the
    table's chains now; spared: {family: [addresses and networks never dropped]}."""
    lines = ["add table inet %s" % TABLE]
    for family in firewall.FAMILIES:
        for sets in (SETS, HELD):
            lines.append("add set inet %s %s { type %s_addr; flags timeout; }" % (TABLE, sets[family], family))
    wanted = dict((fleet_chain(label, path["hook"]), path["hook"]) for path in paths)
    for chain in sorted(existing_chains):
        if chain.startswith(label + "-") and chain[len(label) + 1:] in ("forward", "input"):
            lines.append("flush chain inet %s %s" % (TABLE, chain))
            if chain not in wanted:
                lines.append("delete chain inet %s %s" % (TABLE, chain))
    for chain, hook in sorted(wanted.items()):
        lines.append("add chain inet %s %s { type filter hook %s priority %d; }" % (TABLE, chain, hook, firewall.HOOK_PRIORITY))
    for path in paths:
        chain, ports = fleet_chain(label, path["hook"]), ", ".join(path["ports"])
        for family in firewall.FAMILIES:
            for sets in (SETS, HELD):
                drop = "%s counter drop" % source_match(family, spared[family], sets)
                for protocol in path["protocols"]:
                    lines.append("add rule inet %s %s %s dport { %s } %s" % (TABLE, chain, protocol, ports, drop))
                    if path["hook"] == "forward":
                        lines.append("add rule inet %s %s meta l4proto %s ct original proto-dst { %s } %s"
                                     % (TABLE, chain, protocol, ports, drop))
    return "\n".join(lines) + "\n"


def duration(ban_start, bantime, now):
    """The decision's duration for a ban: what it has left ("Ns"), PERMANENT, or None when it is over."""
    times = firewall.ban_times(ban_start, bantime, now)
    if times is None:
        return None
    return PERMANENT if times[1] is None else "%ds" % times[1]


def ended_by_itself(ban_start, bantime, now):
    """Is an unban at now the ban's own end (not a lift before it)?"""
    return bantime is not None and bantime >= 0 and ban_start + bantime <= now + 1


def alert(decisions, scenario, now):
    """One LAPI alert carrying decisions [(address, duration)]."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return {
        "scenario": scenario, "scenario_hash": "", "scenario_version": "", "simulated": False,
        "message": "%d ban(s) by %s" % (len(decisions), scenario), "events_count": len(decisions), "events": [],
        "start_at": stamp, "stop_at": stamp, "capacity": 0, "leakspeed": "0",
        "source": {"scope": "Ip", "value": decisions[0][0]},
        "decisions": [{"origin": ORIGIN, "type": "ban", "scope": "Ip", "value": ip, "duration": length, "scenario": scenario}
                      for ip, length in decisions],
    }


class Lapi(object):
    """CrowdSec's local API, as a machine (watcher): login, post alerts, delete decisions."""

    def __init__(self, url, credentials, cafile):
        self.url, self.credentials, self.cafile, self.token, self.context = url.rstrip("/"), credentials, cafile, None, None

    def opener(self, request):
        # Made at the first call, not at fail2ban's start: a missing certificate only delays the posts.
        if self.context is None and self.url.startswith("https:"):
            self.context = ssl.create_default_context(cafile=self.cafile)
        return urllib.request.urlopen(request, timeout=TIMEOUT, context=self.context)

    def call(self, method, path, body=None, retry=True):
        if self.token is None:
            self.login()
        request = urllib.request.Request(self.url + path, method=method, data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", "Bearer " + self.token)
        try:
            with self.opener(request) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            if exc.code == 401 and retry:  # the token expired
                self.token = None
                return self.call(method, path, body, retry=False)
            raise

    def login(self):
        with open(self.credentials) as handle:
            secret = json.load(handle)
        body = {"machine_id": secret["login"], "password": secret["password"], "scenarios": []}
        request = urllib.request.Request(self.url + "/v1/watchers/login", method="POST", data=json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        with self.opener(request) as response:
            self.token = json.loads(response.read())["token"]

    def post(self, decisions, scenario, now):
        return self.call("POST", "/v1/alerts", [alert(decisions, scenario, now)])

    def delete(self, ip):
        return self.call("DELETE", "/v1/decisions?" + urllib.parse.urlencode({"ip": ip}))


class Action(ActionBase):

    # fail2ban skips this action for the bans it restores at start.
    norestored = True

    def __init__(self, jail, name, lapi, credentials, cafile="", label="", paths="", enforce="no", host=""):
        super(Action, self).__init__(jail, name)
        self._configure(lapi, credentials, cafile, label, paths, enforce, host)
        self._init_worker()
        self.posted = 0

    def _configure(self, lapi, credentials, cafile, label, paths, enforce, host):
        if enforce not in ("yes", "no"):
            raise ValueError("enforce=%r: want yes or no" % enforce)
        if enforce == "yes" and not (label and paths):
            raise ValueError("enforce=yes needs label= and paths=")
        self.lapi = Lapi(lapi, credentials, cafile or None)
        self.enforce, self.label, self.paths = enforce == "yes", label, firewall.parse_paths(paths)
        self.scenario = "meshmonitor/%s/%s" % (host or "host", self._jail.name)

    # fail2ban's interface

    def start(self):
        if self.enforce:
            self.make_table()
        self._start_worker()

    def stop(self):
        # The table and the fleet's bans stay; what is queued is posted first, if the LAPI answers.
        self._drain(timeout=5)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def flush(self):
        # At fail2ban's stop: nothing to do (the decisions and the table stay). While it runs it is an
        # unban of all: False has fail2ban unban each address through unban(), which lifts it everywhere.
        actions = getattr(self._jail, "actions", None)
        return not (actions is not None and getattr(actions, "active", False))

    def clearAllParams(self):
        pass

    def reload(self, lapi, credentials, cafile="", label="", paths="", enforce="no", host=""):
        self._configure(lapi, credentials, cafile, label, paths, enforce, host)
        if self.enforce:
            self.make_table()

    def ban(self, aInfo):
        length = duration(aInfo["time"], aInfo["bantime"], time.time())
        if length is not None:
            self._queue([("ban", firewall.ban_address(str(aInfo["ip"])), length)])

    def reban(self, aInfo):
        pass  # a ban fail2ban makes again (a new ban epoch): its decision stands

    def unban(self, aInfo):
        if not ended_by_itself(aInfo["time"], aInfo["bantime"], time.time()):
            self._queue([("unban", firewall.ban_address(str(aInfo["ip"])), None)])

    # the work

    def make_table(self):
        listing = run(["nft", "-j", "list", "table", "inet", TABLE])
        chains = firewall.parse_table(listing[1])["chains"] if listing[0] == 0 else set()
        ignoreip = [str(item) for item in self._jail.filter.getIgnoreIP()] if hasattr(self._jail, "filter") else getattr(self._jail, "ignoreip", [])
        spared = dict((family, firewall.spared_networks(ignoreip, family)) for family in firewall.FAMILIES)
        code, dummy, error = run(["nft", "-f", "-"], table_script(self.label, self.paths, chains, spared))
        if code:
            raise RuntimeError("nft could not make table %s: %s" % (TABLE, error.strip()))

    # The worker's queue, its start, queueing and waiting for it are the ban action's (same attributes).
    _init_worker = firewall.Action._init_worker
    _start_worker = firewall.Action._start_worker
    _queue = firewall.Action._queue
    _drain = firewall.Action._drain

    def _run(self):
        delay = 0.5
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    if not self._cond.wait(SAVE_EVERY if self.enforce else None) and self.enforce:
                        break
                if not self._pending and self._stopping:
                    return
                batch = self._take() if self._pending else None
                self._busy = True
            if batch is None:
                self._save()
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
                continue
            try:
                self._send(batch)
                delay = 0.5
                done = True
            except Exception as exc:  # the LAPI down or refusing: keep the batch, try again later
                self._logSys.warning("could not reach CrowdSec's LAPI (%d change(s) kept, retrying in %.1f s): %r", len(batch), delay, exc)
                done = False
            with self._cond:
                if not done:
                    self._pending[:0] = batch
                self._busy = False
                self._cond.notify_all()
                if not done:
                    if self._stopping:
                        return
                    self._cond.wait(delay)
                    delay = min(RETRY_MAX, delay * 2)

    def _save(self):
        """Every SAVE_EVERY seconds (enforce=yes): the table made again if gone, its bans saved for the next boot.
        Not once the role has taken the fleet away (the secrets go first), nor behind it: what was made while
        it did is undone."""
        if not os.path.exists(self.lapi.credentials):
            return
        try:
            try:
                elements = read_elements()
            except RuntimeError:  # a set cannot be listed: the table is gone (a flushed ruleset)
                self._logSys.warning("the fleet's table was gone; making it again")
                self.make_table()
                elements = read_elements()
            save_held(elements, time.time())
        except Exception as exc:  # the worker must survive anything: the bans still get posted
            self._logSys.error("could not save or check the fleet's table: %r", exc)
        if not os.path.exists(self.lapi.credentials):
            run(["nft", "delete", "table", "inet", TABLE])
            if os.path.exists(HELD_FILE):
                os.remove(HELD_FILE)

    def _take(self):
        """The next batch: up to BATCH bans in a row, or one unban (order kept)."""
        if self._pending[0][0] == "unban":
            return [self._pending.pop(0)]
        count = 0
        while count < len(self._pending) and count < BATCH and self._pending[count][0] == "ban":
            count += 1
        batch, self._pending[:count] = self._pending[:count], []
        return batch

    def _send(self, batch):
        if batch[0][0] == "unban":
            self.lapi.delete(batch[0][1])
            self._logSys.info("lifted %s on the fleet", batch[0][1])
            return
        self.lapi.post([(ip, length) for dummy, ip, length in batch], self.scenario, time.time())
        self.posted += len(batch)
        self._logSys.info("posted %d ban(s) to the fleet", len(batch))


# The bouncer's stop and start (the role's unit drop-in): `python3 meshmonitor-fleet.py hold` before
# it stops, `python3 meshmonitor-fleet.py release SECONDS` once it has run that long. At boot (the ban
# action's boot unit, a drop-in): `python3 meshmonitor-fleet.py boot`.

def set_elements(listing):
    """`nft -j list set` output -> [(address, seconds left or None)], without those about to end."""
    return [(address, left) for address, left in firewall.timed_elements(listing) if left is None or left >= 1]


def read_elements(names=(SETS, HELD)):
    """{family: [(address, seconds left or None)]} of the table's sets of names, each address once."""
    found = {}
    for family in firewall.FAMILIES:
        seen = {}
        for sets in names:
            code, listing, error = run(["nft", "-j", "list", "set", "inet", TABLE, sets[family]])
            if code:
                raise RuntimeError("nft could not list %s: %s" % (sets[family], error.strip()))
            for address, left in set_elements(listing):
                if address not in seen or (seen[address] is not None and (left is None or left > seen[address])):
                    seen[address] = left
        found[family] = sorted(seen.items())
    return found


def held_lines(elements):
    """{family: [(address, seconds left or None)]} -> nft lines adding them to the held sets."""
    return ["add element inet %s %s { %s%s }" % (TABLE, HELD[family], address, " timeout %ds" % left if left else "")
            for family in firewall.FAMILIES for address, left in elements.get(family, [])]


def save_held(elements, now, path=None):
    """Write elements ({family: [(address, seconds left or None)]}) with their end times to path (HELD_FILE),
    atomically, root only."""
    path = path or HELD_FILE
    data = dict((family, [[address, None if left is None else int(now + left)] for address, left in elements.get(family, [])])
                for family in firewall.FAMILIES)
    temporary = path + ".new"
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        json.dump(data, handle)
    os.replace(temporary, path)


def load_held(now, path=None):
    """What save_held wrote to path (HELD_FILE), as {family: [(address, seconds left or None)]}, without
    what has ended."""
    path = path or HELD_FILE
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return dict((family, [(address, None if end is None else int(end - now)) for address, end in data.get(family, [])
                          if end is None or end - now >= 1])
                for family in firewall.FAMILIES)


def apply_lines(lines):
    """Send lines to nft in batches; None, or the first error."""
    for first in range(0, len(lines), firewall.BATCH):
        code, dummy, error = run(["nft", "-f", "-"], "\n".join(lines[first:first + firewall.BATCH]) + "\n")
        if code:
            return error.strip()
    return None


def hold():
    try:
        elements = read_elements()
    except RuntimeError as exc:
        sys.stderr.write("could not hold the fleet's bans: %s\n" % exc)
        return 1
    save_held(elements, time.time())
    error = apply_lines(held_lines(elements))
    if error is not None:
        sys.stderr.write("could not hold the fleet's bans: %s\n" % error)
        return 1
    print("held %d of the fleet's bans while the bouncer restarts" % sum(len(items) for items in elements.values()))
    return 0


def release(seconds):
    time.sleep(seconds)
    code, dummy, error = run(["nft", "-f", "-"], "".join("flush set inet %s %s\n" % (TABLE, HELD[family]) for family in firewall.FAMILIES))
    return 1 if code and "No such file" not in error else 0


def boot(action_file=__file__, now=None):
    """Make the table of the jail that enforces, its held sets loaded with the bans saved; the exit code."""
    code, dump, error = run(["fail2ban-client", "-d"])
    if code:
        sys.stderr.write("fail2ban-client -d failed: %s\n" % error.strip())
        return 1
    uses = [use for use in firewall.boot_uses(dump, action_file)[1] if use["params"].get("enforce") == "yes"]
    for use in uses:
        Action(firewall.BootJail(use["jail"], use["ignoreip"]), use["name"], **use["params"]).make_table()
    elements = load_held(time.time() if now is None else now) if uses else {}
    error = apply_lines(held_lines(elements))
    if error is not None:
        sys.stderr.write("could not load the fleet's bans: %s\n" % error)
        return 1
    print("fleet: %d table(s) made, %d ban(s) held until the bouncer runs" % (len(uses), sum(len(items) for items in elements.values())))
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["hold"]:
        sys.exit(hold())
    if sys.argv[1:] == ["boot"]:
        sys.exit(boot())
    if len(sys.argv) == 3 and sys.argv[1] == "release":
        sys.exit(release(float(sys.argv[2])))
    sys.stderr.write("usage: %s hold | release SECONDS | boot\n" % sys.argv[0])
    sys.exit(2)
