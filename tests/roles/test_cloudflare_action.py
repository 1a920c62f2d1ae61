"""The jail role's Cloudflare action (roles/jail/files/action.d/meshmonitor-cloudflare.py): its rule
bookkeeping, and the action itself against the lab's Cloudflare stand-in (lab/files/recorder.py)."""
import importlib.util
import json
import logging
import pathlib
import socket
import subprocess
import sys
import time
import types

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location(
    "meshmonitor_cloudflare_action", ROOT / "roles/jail/files/action.d/meshmonitor-cloudflare.py")
cf = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(cf)


def rule(ip, notes, rule_id="r1"):
    return {"id": rule_id, "mode": "block", "configuration": {"value": ip}, "notes": notes}


def test_a_ban_posts_a_rule_naming_its_holder():
    change = cf.ban_change(None, "198.51.100.7", "web1/meshmonitor")
    assert change == ("POST", {"mode": "block", "configuration": {"target": "ip", "value": "198.51.100.7"},
                               "notes": "meshmonitor.fail2ban 198.51.100.7 held by web1/meshmonitor"})
    assert cf.ban_change(None, "2001:db8::7", "web1/meshmonitor")[1]["configuration"]["target"] == "ip6"
    assert cf.ban_change(None, "2001:db8::/64", "web1/meshmonitor")[1]["configuration"] == {
        "target": "ip_range", "value": "2001:db8::/64"}


def test_an_ipv6_ban_blocks_its_64_as_the_firewall_drops_it():
    firewall_spec = importlib.util.spec_from_file_location(
        "meshmonitor_firewall_action_for_cf", ROOT / "roles/jail/files/action.d/meshmonitor-firewall.py")
    firewall = importlib.util.module_from_spec(firewall_spec)
    firewall_spec.loader.exec_module(firewall)
    assert cf.IPV6_PREFIX == firewall.IPV6_PREFIX
    assert cf.block_value("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert cf.block_value("198.51.100.7") == "198.51.100.7"
    assert cf.block_value("::ffff:198.51.100.7") == "198.51.100.7"


def test_a_second_holder_joins_the_rule_and_a_present_one_changes_nothing():
    held = rule("198.51.100.7", "meshmonitor.fail2ban 198.51.100.7 held by web1/meshmonitor")
    assert cf.ban_change(held, "198.51.100.7", "web2/meshmonitor") == (
        "PATCH", "r1", {"mode": "block", "notes": "meshmonitor.fail2ban 198.51.100.7 held by web1/meshmonitor, web2/meshmonitor"})
    assert cf.ban_change(held, "198.51.100.7", "web1/meshmonitor") is None


def test_an_unban_lets_go_and_only_the_last_holder_deletes():
    both = rule("198.51.100.7", "meshmonitor.fail2ban 198.51.100.7 held by web1/meshmonitor, web1/meshmonitor-recidive")
    assert cf.unban_change(both, "198.51.100.7", "web1/meshmonitor") == (
        "PATCH", "r1", {"mode": "block", "notes": "meshmonitor.fail2ban 198.51.100.7 held by web1/meshmonitor-recidive"})
    last = rule("198.51.100.7", "meshmonitor.fail2ban 198.51.100.7 held by web1/meshmonitor-recidive")
    assert cf.unban_change(last, "198.51.100.7", "web1/meshmonitor-recidive") == ("DELETE", "r1")


@pytest.mark.parametrize("holder", ["web1/mesh", "web/meshmonitor", "WEB1/meshmonitor", "web1/meshmonitor-sync"])
def test_no_other_host_or_jail_lifts_a_block(holder):
    # The old action found rules by a case-insensitive substring of their notes: jail "mesh" lifted
    # "meshmonitor"'s block, and every host lifted every other's.
    held = rule("198.51.100.7", "meshmonitor.fail2ban 198.51.100.7 held by web1/meshmonitor")
    assert cf.unban_change(held, "198.51.100.7", holder) is None


def test_rules_made_by_hand_are_left_alone_and_those_of_0_2_0_taken_over():
    by_hand = rule("198.51.100.7", "blocked by the admin; fail2ban meshmonitor")
    assert cf.ban_change(by_hand, "198.51.100.7", "web1/meshmonitor") is None
    assert cf.unban_change(by_hand, "198.51.100.7", "web1/meshmonitor") is None
    legacy = rule("198.51.100.7", "fail2ban meshmonitor")
    assert cf.ban_change(legacy, "198.51.100.7", "web1/meshmonitor")[0] == "PATCH"
    assert cf.unban_change(legacy, "198.51.100.7", "web1/meshmonitor") == ("DELETE", "r1")


def test_lookups_use_only_documented_filters():
    # Cloudflare lists configuration.target ip, ip_range, asn, country: "ip6" is not one of them,
    # and an IPv6 value is not a documented search; our notes are.
    assert cf.lookup_query("198.51.100.7")["configuration.target"] == "ip"
    six = cf.lookup_query("2001:db8::/64")
    assert "configuration.target" not in six and "configuration.value" not in six
    assert six["notes"] == "meshmonitor.fail2ban 2001:db8::/64 held by"


def test_the_rule_for_an_address_is_matched_as_an_address():
    rules = [rule("198.51.100.70", "x", "a"), rule("2001:DB8:0::7", "y", "b"), rule("2001:DB8:0:1::/64", "z", "c")]
    assert cf.rule_for(rules, "198.51.100.7") is None
    assert cf.rule_for(rules, "2001:db8::7")["id"] == "b"
    assert cf.rule_for(rules, "2001:db8:0:1::/64")["id"] == "c"
    assert cf.rule_for(rules, "2001:db8::/64") is None


# The action in a process of its own making, against the stand-in.

class Ticket:
    def __init__(self, ip):
        self.ip = ip

    def getID(self):
        return self.ip


class Database:
    """fail2ban's database as the action reads it: the bans it would restore, per jail."""

    def __init__(self, bans):
        self.bans = bans

    def getCurrentBans(self, jail, correctBanTime=True):
        return [Ticket(ip) for ip in self.bans.get(jail.name, [])]


class Jail:
    def __init__(self, name, database=None):
        self.name = name
        self.database = database


class ActionBase:
    def __init__(self, jail, name):
        self._jail, self._name = jail, name
        self._logSys = logging.getLogger("test.cloudflare")


@pytest.fixture
def standin(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log, mode = tmp_path / "recorder.log", tmp_path / "mode"
    mode.write_text("ok")
    server = subprocess.Popen([sys.executable, str(ROOT / "lab/files/recorder.py"), str(port), str(log), str(mode)])
    for _attempt in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    headers = tmp_path / "header"
    headers.write_text("Authorization: Bearer lab-token\nContent-Type: application/json\n")
    # fail2ban loads the file with its ActionBase importable: so does this test.
    fake = {name: types.ModuleType(name) for name in ("fail2ban", "fail2ban.server", "fail2ban.server.action")}
    fake["fail2ban.server.action"].ActionBase = ActionBase
    saved = {name: sys.modules.get(name) for name in fake}
    sys.modules.update(fake)
    action_module = importlib.util.module_from_spec(SPEC)
    SPEC.loader.exec_module(action_module)
    for name, module in saved.items():
        if module is None:
            del sys.modules[name]
        else:
            sys.modules[name] = module
    assert issubclass(action_module.Action, ActionBase)

    def make(jail, host="web1", database=None):
        return action_module.Action(Jail(jail, database), "meshmonitor-cloudflare",
                                    url="http://127.0.0.1:%d/zones/z/firewall/access_rules/rules" % port,
                                    headerfile=str(headers), host=host, timeout="3")

    def rules():
        path = pathlib.Path(str(log) + ".rules")
        return json.loads(path.read_text()) if path.exists() else []

    def post(ip, holders):
        action_module.Client("http://127.0.0.1:%d/zones/z/firewall/access_rules/rules" % port, str(headers), 3).apply(
            ("POST", {"mode": "block", "configuration": {"target": "ip", "value": ip}, "notes": cf.notes_for(ip, holders)}))

    yield types.SimpleNamespace(make=make, rules=rules, mode=mode, log=log, post=post, module=action_module)
    server.terminate()
    server.wait()


def drain(action):
    action.stop()


def test_every_jail_and_host_holds_the_one_rule_until_the_last_lets_go(standin):
    main, recidive, other_host = standin.make("meshmonitor"), standin.make("meshmonitor-recidive"), standin.make("meshmonitor", "web2")
    for action in (main, recidive, other_host):
        action.ban({"ip": "198.51.100.7"})
    drain(main)
    [only] = standin.rules()
    assert only["notes"] == "meshmonitor.fail2ban 198.51.100.7 held by web1/meshmonitor, web1/meshmonitor-recidive, web2/meshmonitor"
    main.unban({"ip": "198.51.100.7"})
    other_host.unban({"ip": "198.51.100.7"})
    drain(main)
    assert [r["notes"] for r in standin.rules()] == ["meshmonitor.fail2ban 198.51.100.7 held by web1/meshmonitor-recidive"]
    recidive.unban({"ip": "198.51.100.7"})
    drain(main)
    assert standin.rules() == []


def test_ipv6_blocks_are_made_and_lifted(standin):
    main = standin.make("meshmonitor")
    main.ban({"ip": "2001:db8::66"})
    drain(main)
    assert [r["value"] for r in standin.rules()] == ["2001:db8::/64"]
    # Another address of the /64, banned by another jail, holds the same block.
    recidive = standin.make("meshmonitor-recidive")
    recidive.ban({"ip": "2001:db8::67"})
    drain(recidive)
    assert [r["notes"] for r in standin.rules()] == [
        "meshmonitor.fail2ban 2001:db8::/64 held by web1/meshmonitor, web1/meshmonitor-recidive"]
    recidive.unban({"ip": "2001:db8::67"})
    main.unban({"ip": "2001:db8::66"})
    drain(main)
    assert standin.rules() == []


def test_a_slow_cloudflare_holds_up_no_ban(standin):
    standin.mode.write_text("slow")
    main = standin.make("meshmonitor")
    start = time.monotonic()
    for last in range(3):
        main.ban({"ip": "198.51.100.%d" % (10 + last)})
    assert time.monotonic() - start < 0.5
    standin.mode.write_text("ok")
    drain(main)


def test_at_start_a_jail_lets_go_of_blocks_of_bans_that_ran_out_while_it_was_down(standin):
    # 25 rules in all, 10 a page: the listing takes three pages.
    standin.module.PAGE_SIZE = 10
    for n in range(20):
        standin.post("203.0.113.%d" % n, ["web2/meshmonitor"])
    standin.post("198.51.100.1", ["web1/meshmonitor"])                      # ran out: deleted
    standin.post("198.51.100.2", ["web1/meshmonitor", "web2/meshmonitor"])  # ran out here, held there
    standin.post("198.51.100.3", ["web1/meshmonitor"])                      # still banned
    standin.post("198.51.100.4", ["web1/meshmonitor-recidive"])             # another jail's
    standin.post("2001:db8::1", ["web1/meshmonitor"])                       # an earlier release's: its ban blocks the /64 now
    standin.post("2001:db8::/64", ["web1/meshmonitor"])                     # banned, written another way
    main = standin.make("meshmonitor", database=Database({"meshmonitor": ["198.51.100.3", "2001:db8:0::1"]}))
    main.start()
    drain(main)
    notes = sorted(r["notes"] for r in standin.rules() if not r["value"].startswith("203.0.113."))
    assert notes == ["meshmonitor.fail2ban 198.51.100.2 held by web2/meshmonitor",
                     "meshmonitor.fail2ban 198.51.100.3 held by web1/meshmonitor",
                     "meshmonitor.fail2ban 198.51.100.4 held by web1/meshmonitor-recidive",
                     "meshmonitor.fail2ban 2001:db8::/64 held by web1/meshmonitor"]
    assert len(standin.rules()) == 24


def test_without_a_database_nothing_is_let_go(standin):
    standin.post("198.51.100.1", ["web1/meshmonitor"])
    main = standin.make("meshmonitor")
    main.start()
    drain(main)
    assert len(standin.rules()) == 1


def test_orphans_are_only_rules_naming_the_holder():
    rules = [rule("198.51.100.1", "meshmonitor.fail2ban 198.51.100.1 held by web1/mesh", "a"),
             rule("198.51.100.2", "fail2ban meshmonitor", "b"),
             rule("198.51.100.3", "blocked by hand", "c")]
    assert cf.orphaned_changes(rules, "web1/meshmonitor", set()) == []
