# fail2ban action (Python, run inside fail2ban): block each banned address at Cloudflare with an IP
# Access Rule of the zone, for sites whose visitors reach the host through Cloudflare.
# Installed by meshmonitor.fail2ban.jail; every MeshMonitor jail of the host has it.
#
# Why Python, and why this way:
#   - The firewall ban never waits for Cloudflare: ban() and unban() only queue the call. One
#     worker per fail2ban process makes the calls in the order they were queued (a ban is made
#     before it is lifted), with a time limit each; a failed call is logged, never raised.
#   - A zone has one rule per address, which every jail of every host shares. The rule's notes name
#     who holds the block ("meshmonitor.fail2ban 192.0.2.1 held by host-a/meshmonitor,
#     host-b/meshmonitor-sync"); a ban adds its host/jail, an unban removes it, and the rule is
#     deleted with its last holder. Holders are compared exactly: no host or jail lifts a block
#     another still holds. A rule someone made by hand is never changed nor deleted.
#   - An IPv6 ban blocks the address's /64 (an IP range rule: Cloudflare takes /64 ranges), as the
#     firewall action drops it: IPv6 is counted and banned per /64 (IPV6_PREFIX there).
#   - Rules are looked up with the filters Cloudflare documents: an IPv4 address by its value, an
#     IPv6 range by the notes this action writes. A failed lookup does not prevent the block.
#   - Bans restored at start find their holder already there and change nothing; a stop leaves the
#     rules (flush does nothing), so a restart or reboot neither lifts nor posts blocks again.
#   - At start the action lets go of every rule it holds for an address its jail no longer bans (the
#     ban ran out, or was lifted, while fail2ban was down): the bans fail2ban's database still holds
#     are the ones it restores.
#   - The API token is never on a command line: it is read from <headerfile>, a root-only file.
import ipaddress
import json
import queue
import re
import sys
import threading
import types
import urllib.error
import urllib.parse
import urllib.request

try:
    from fail2ban.server.action import ActionBase
except ImportError:  # the unit tests load this file without fail2ban
    ActionBase = object

MARK = "meshmonitor.fail2ban"
NOTES = re.compile(r"^%s (?P<ip>\S+) held by (?P<holders>.*)$" % re.escape(MARK))
# 0.2.0 wrote "fail2ban <jail>" on each rule, for one host: such a rule is taken over.
LEGACY_NOTES = re.compile(r"^fail2ban [A-Za-z0-9_.-]+$")
HOLDER = re.compile(r"^[A-Za-z0-9_.:-]+/[A-Za-z0-9_.-]+$")
DUPLICATE = "duplicate"
# Rules per page when listing this action's rules (Cloudflare allows up to 1000).
PAGE_SIZE = 500
# The firewall action's IPV6_PREFIX (meshmonitor-firewall.py).
IPV6_PREFIX = 64


def block_value(ip):
    """What the zone's rule for a ban of ip blocks: the address, or for IPv6 its /IPV6_PREFIX range."""
    address = ipaddress.ip_address(ip)
    if address.version == 6 and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    if address.version == 6:
        return ipaddress.ip_network("%s/%d" % (address, IPV6_PREFIX), strict=False).compressed
    return str(address)


def normal_address(text):
    """An address or range in one written form (a /32 or /128 range as its address)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return text
    return str(network.network_address) if network.prefixlen == network.max_prefixlen else network.compressed


def same_address(one, other):
    return one is not None and other is not None and normal_address(one) == normal_address(other)


def notes_for(ip, holders):
    return "%s %s held by %s" % (MARK, ip, ", ".join(holders))


def holders_of(notes):
    """The holders a rule's notes name, [] for a rule of 0.2.0, None for a rule not ours."""
    match = NOTES.match(notes or "")
    if match:
        return [holder for holder in match.group("holders").split(", ") if holder]
    return [] if LEGACY_NOTES.match(notes or "") else None


def lookup_query(ip):
    """The query listing the rules for ip (an address or a block_value range), with the filters
    Cloudflare's API reference lists."""
    if "/" not in ip and ipaddress.ip_address(ip).version == 4:
        return {"mode": "block", "configuration.target": "ip", "configuration.value": ip, "per_page": "50"}
    return {"mode": "block", "notes": "%s %s held by" % (MARK, ip), "per_page": "50"}


def rule_for(rules, ip):
    """The zone's rule for ip among those listed (a zone has at most one per address)."""
    for rule in rules:
        if same_address((rule.get("configuration") or {}).get("value"), ip):
            return rule
    return None


def ban_change(rule, ip, holder):
    """What a ban by holder makes of the address's rule: ("POST", body), ("PATCH", id, body) or None."""
    if rule is None:
        target = "ip_range" if "/" in ip else ("ip" if ipaddress.ip_address(ip).version == 4 else "ip6")
        return ("POST", {"mode": "block", "configuration": {"target": target, "value": ip}, "notes": notes_for(ip, [holder])})
    holders = holders_of(rule.get("notes"))
    if holders is None or holder in holders:
        return None
    return ("PATCH", rule["id"], {"mode": "block", "notes": notes_for(ip, holders + [holder])})


def unban_change(rule, ip, holder):
    """What an unban by holder makes of the rule: ("DELETE", id), ("PATCH", id, body) or None."""
    if rule is None:
        return None
    holders = holders_of(rule.get("notes"))
    if holders is None or (holders and holder not in holders):
        return None
    left = [other for other in holders if other != holder]
    if not left:
        return ("DELETE", rule["id"])
    return ("PATCH", rule["id"], {"mode": "block", "notes": notes_for(ip, left)})


def marked_query(page):
    """One page of the zone's block rules this action's kind wrote (notes contain MARK)."""
    return {"mode": "block", "notes": MARK, "per_page": str(PAGE_SIZE), "page": str(page)}


def orphaned_changes(rules, holder, banned):
    """What holder lets go of at start: the rules naming it for an address not in banned (normal_address forms)."""
    changes = []
    for rule in rules:
        ip = (rule.get("configuration") or {}).get("value")
        holders = holders_of(rule.get("notes"))
        if ip and holders and holder in holders and normal_address(ip) not in banned:
            changes.append((ip, unban_change(rule, ip, holder)))
    return changes


def read_headers(path):
    headers = {}
    with open(path) as lines:
        for line in lines:
            name, sep, value = line.partition(":")
            if sep and name.strip():
                headers[name.strip()] = value.strip()
    return headers


class CloudflareError(Exception):
    pass


class Client:
    """Cloudflare's IP Access Rules of one zone, over HTTPS."""

    def __init__(self, url, headerfile, timeout):
        self.url, self.headerfile, self.timeout = url.rstrip("/"), headerfile, timeout

    def call(self, method, path="", query=None, body=None):
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers=read_headers(self.headerfile))
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise CloudflareError("%s %s: HTTP %s %s" % (method, path or "/", exc.code, detail))
        except (OSError, ValueError) as exc:
            raise CloudflareError("%s %s: %s" % (method, path or "/", exc))

    def marked_rules(self):
        rules, page = [], 1
        while True:
            answer = self.call("GET", query=marked_query(page))
            rules += answer.get("result") or []
            if page >= int((answer.get("result_info") or {}).get("total_pages") or 1):
                return rules
            page += 1

    def rule(self, ip):
        return rule_for(self.call("GET", query=lookup_query(ip)).get("result") or [], ip)

    def apply(self, change):
        if change is None:
            return
        if change[0] == "DELETE":
            self.call("DELETE", "/" + change[1])
        elif change[0] == "PATCH":
            self.call("PATCH", "/" + change[1], body=change[2])
        else:
            self.call("POST", body=change[1])


def worker():
    """The process's one queue of Cloudflare calls, shared by every jail's action."""
    shared = sys.modules.get("meshmonitor_cloudflare_worker")
    if shared is None:
        shared = types.ModuleType("meshmonitor_cloudflare_worker")
        shared.calls = queue.Queue()
        shared.thread = None
        shared.lock = threading.Lock()
        sys.modules[shared.__name__] = shared
    with shared.lock:
        if shared.thread is None or not shared.thread.is_alive():
            shared.thread = threading.Thread(target=_run, args=(shared.calls,), name="f2b/meshmonitor-cloudflare", daemon=True)
            shared.thread.start()
    return shared


def _run(calls):
    while True:
        job = calls.get()
        try:
            job()
        finally:
            calls.task_done()


class Action(ActionBase):

    def __init__(self, jail, name, url, headerfile, host, timeout=10):
        super(Action, self).__init__(jail, name)
        self.holder = "%s/%s" % (host, jail.name)
        if not HOLDER.match(self.holder):
            raise ValueError("meshmonitor-cloudflare: host and jail names allow letters, digits and .:_- only: %r" % self.holder)
        self.client = Client(url, headerfile, float(timeout))
        self.shared = worker()

    def start(self):
        self.shared.calls.put(self._let_go_of_orphans)

    def stop(self):
        # Let queued calls finish (an unban not sent would leave its block), within a bound.
        done = threading.Event()
        self.shared.calls.put(done.set)
        done.wait(3 * self.client.timeout + 5)

    def flush(self):
        # Stops and `unban --all` leave the rules: bans restored at start find them.
        return True

    # `fail2ban-client reload` keeps an action that has both of these; without them it drops it.
    def clearAllParams(self):
        pass

    def reload(self, url, headerfile, host, timeout=10):
        self.client = Client(url, headerfile, float(timeout))

    def ban(self, aInfo):
        self.shared.calls.put(lambda ip=block_value(str(aInfo["ip"])): self._change(ip, ban_change, "block"))

    def unban(self, aInfo):
        self.shared.calls.put(lambda ip=block_value(str(aInfo["ip"])): self._change(ip, unban_change, "lift"))

    def _let_go_of_orphans(self):
        database = getattr(self._jail, "database", None)
        if database is None:  # no database, no bans kept over a restart: nothing to compare with
            return
        try:
            banned = {normal_address(block_value(str(ticket.getID())))
                      for ticket in database.getCurrentBans(jail=self._jail, correctBanTime=False)}
            for ip, change in orphaned_changes(self.client.marked_rules(), self.holder, banned):
                self.client.apply(change)
                self._logSys.info("Cloudflare: %s let go of %s, no longer banned", self.holder, ip)
        except Exception as exc:  # a worker thread must survive anything
            self._logSys.error("Cloudflare: could not look for blocks %s no longer holds: %r", self.holder, exc)

    def _change(self, ip, change, verb):
        try:
            try:
                rule = self.client.rule(ip)
            except CloudflareError as exc:
                if change is unban_change:
                    raise
                # The block matters more than the bookkeeping: post it; a duplicate is reported.
                self._logSys.warning("Cloudflare: looking %s up failed (%s); blocking it anyway", ip, exc)
                rule = None
            try:
                self.client.apply(change(rule, ip, self.holder))
            except CloudflareError as exc:
                if DUPLICATE not in str(exc).lower():
                    raise
                # Another host or jail made the rule meanwhile: hold it too.
                self.client.apply(change(self.client.rule(ip), ip, self.holder))
        except CloudflareError as exc:
            self._logSys.error("Cloudflare: could not %s %s for %s: %s", verb, ip, self.holder, exc)
        except Exception as exc:  # a worker thread must survive anything
            self._logSys.error("Cloudflare: could not %s %s for %s: %r", verb, ip, self.holder, exc)
