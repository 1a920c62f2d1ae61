"""The jail role's fleet action (roles/jail/files/action.d/meshmonitor-fleet.py): the fleet table's nft
transaction, the decisions it posts, and its worker against an HTTP server speaking the LAPI's calls
(login, alerts, decision deletion), down at first."""
import http.server
import importlib.util
import json
import pathlib
import threading
import time
import types

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("meshmonitor_fleet_action", ROOT / "roles/jail/files/action.d/meshmonitor-fleet.py")
fleet = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(fleet)

PATHS = "forward:mm-fwd:3001,8080:tcp input:mm-in:8080:tcp"
SPARED = {"ipv4": ["192.0.2.0/24"], "ipv6": ["fd00::5"]}


def test_the_table_holds_the_fleet_sets_and_this_jails_chains_sparing_ignoreip():
    script = fleet.table_script("mm", fleet.firewall.parse_paths(PATHS), set(), SPARED)
    lines = script.splitlines()
    assert lines[:5] == ["add table inet mm-fleet",
                         "add set inet mm-fleet addr-set-fleet { type ipv4_addr; flags timeout; }",
                         "add set inet mm-fleet held-set-fleet { type ipv4_addr; flags timeout; }",
                         "add set inet mm-fleet addr6-set-fleet { type ipv6_addr; flags timeout; }",
                         "add set inet mm-fleet held6-set-fleet { type ipv6_addr; flags timeout; }"]
    # What the bouncer held when it stopped is dropped on the same paths.
    assert "add rule inet mm-fleet mm-input tcp dport { 8080 } ip saddr != { 192.0.2.0/24 } ip saddr @held-set-fleet counter drop" in lines
    assert "add chain inet mm-fleet mm-forward { type filter hook forward priority -1; }" in lines
    assert ("add rule inet mm-fleet mm-forward tcp dport { 3001, 8080 } ip saddr != { 192.0.2.0/24 } "
            "ip saddr @addr-set-fleet counter drop") in lines
    assert ("add rule inet mm-fleet mm-forward meta l4proto tcp ct original proto-dst { 3001, 8080 } ip6 saddr != { fd00::5 } "
            "ip6 saddr & ffff:ffff:ffff:ffff:: @addr6-set-fleet counter drop") in lines
    assert "add rule inet mm-fleet mm-input tcp dport { 8080 } ip saddr != { 192.0.2.0/24 } ip saddr @addr-set-fleet counter drop" in lines
    # Nothing deletes a set: the bouncer's elements stay across a restart.
    assert not [line for line in lines if line.startswith(("delete set", "flush set"))]


def test_the_table_remade_touches_only_this_jails_chains():
    script = fleet.table_script("mm", fleet.firewall.parse_paths("forward:mm-fwd:3001:tcp"), {"mm-forward", "mm-input", "other-forward"},
                                {"ipv4": [], "ipv6": []})
    lines = script.splitlines()
    assert "flush chain inet mm-fleet mm-forward" in lines and "flush chain inet mm-fleet mm-input" in lines
    assert "delete chain inet mm-fleet mm-input" in lines
    assert not [line for line in lines if "other-forward" in line]
    assert "add rule inet mm-fleet mm-forward tcp dport { 3001 } ip saddr @addr-set-fleet counter drop" in lines


def test_a_stopping_bouncers_bans_are_held_with_the_time_they_have_left():
    listing = {"nftables": [{"metainfo": {}}, {"set": {"name": "addr-set-fleet", "elem": [
        {"elem": {"val": "198.51.100.7", "timeout": 600, "expires": 590}}, "203.0.113.9",
        {"elem": {"val": "198.51.100.8", "timeout": 600, "expires": 0}}]}}]}
    # An element about to end is not held (nor made permanent); one without a timeout is held without.
    assert fleet.set_elements(json.dumps(listing)) == [("198.51.100.7", 590), ("203.0.113.9", None)]
    assert fleet.held_lines({"ipv4": fleet.set_elements(json.dumps(listing)), "ipv6": [("2001:db8::", 30)]}) == [
        "add element inet mm-fleet held-set-fleet { 198.51.100.7 timeout 590s }",
        "add element inet mm-fleet held-set-fleet { 203.0.113.9 }",
        "add element inet mm-fleet held6-set-fleet { 2001:db8:: timeout 30s }"]
    assert fleet.set_elements(json.dumps({"nftables": [{"set": {"name": "addr6-set-fleet"}}]})) == []


def test_the_bans_saved_for_the_next_boot_come_back_with_what_they_have_left(tmp_path):
    path = str(tmp_path / "held.json")
    fleet.save_held({"ipv4": [("198.51.100.7", 590), ("203.0.113.9", None), ("198.51.100.8", 20)], "ipv6": [("2001:db8::", 300)]}, 1000, path)
    assert oct((tmp_path / "held.json").stat().st_mode & 0o777) == "0o600"
    # 100 s later: the 20 s one has ended, the others have 100 s less, the one without a timeout stays.
    assert fleet.load_held(1100, path) == {"ipv4": [("198.51.100.7", 490), ("203.0.113.9", None)], "ipv6": [("2001:db8::", 200)]}
    assert fleet.load_held(1100, str(tmp_path / "none.json")) == {}
    (tmp_path / "bad.json").write_text("{")
    assert fleet.load_held(1100, str(tmp_path / "bad.json")) == {}


def test_boot_makes_the_enforcing_jails_table_and_holds_the_saved_bans(tmp_path, monkeypatch):
    path = str(tmp_path / "held.json")
    fleet.save_held({"ipv4": [("198.51.100.7", 590)], "ipv6": [("2001:db8::", 300)]}, time.time(), path)
    monkeypatch.setattr(fleet, "HELD_FILE", path)
    params = {"lapi": "https://192.0.2.1:8088", "credentials": "/nonexistent", "enforce": "yes", "label": "mm",
              "paths": "forward:mm-fwd:3001:tcp", "host": "h1"}
    dump = "\n".join(repr(command) for command in [
        ["set", "dbfile", "/var/lib/fail2ban/fail2ban.sqlite3"], ["set", "mm", "addignoreip", "192.0.2.0/24"],
        ["set", "mm", "addaction", "meshmonitor-fleet", "/etc/fail2ban/action.d/meshmonitor-fleet.py", params],
        ["set", "mm-recidive", "addaction", "meshmonitor-fleet", "/etc/fail2ban/action.d/meshmonitor-fleet.py", dict(params, enforce="no")]])
    calls = []

    def stand_in(command, script=None):
        calls.append((command, script))
        if command[:2] == ["fail2ban-client", "-d"]:
            return 0, dump, ""
        return (1, "", "No such file or directory") if command[:3] == ["nft", "-j", "list"] else (0, "", "")

    monkeypatch.setattr(fleet, "run", stand_in)
    assert fleet.boot(action_file="/etc/fail2ban/action.d/meshmonitor-fleet.py") == 0
    scripts = [script for command, script in calls if command == ["nft", "-f", "-"]]
    # One table (the enforcing jail's), sparing its ignoreip; then the saved bans held.
    assert len(scripts) == 2 and "add chain inet mm-fleet mm-forward" in scripts[0] and "ip saddr != { 192.0.2.0/24 }" in scripts[0]
    assert scripts[1].splitlines()[0].startswith("add element inet mm-fleet held-set-fleet { 198.51.100.7 timeout 5")
    assert scripts[1].splitlines()[1].startswith("add element inet mm-fleet held6-set-fleet { 2001:db8:: timeout 29")


def test_ipv4_ignoreip_entries_in_every_form_are_spared():
    assert fleet.firewall.spared_networks(["127.0.0.1/8", "::ffff:10.1.2.3", "::ffff:10.9.0.0/112", "fd00::/8", "example.org", "203.0.113.9"], "ipv4") == [
        "10.1.2.3", "10.9.0.0/16", "127.0.0.0/8", "203.0.113.9"]


def test_a_decision_lasts_what_the_ban_has_left():
    assert fleet.duration(1000, 600, 1100) == "500s"
    assert fleet.duration(1000, -1, 1100) == fleet.PERMANENT
    assert fleet.duration(1000, 60, 1100) is None
    assert fleet.ended_by_itself(1000, 600, 1600) and not fleet.ended_by_itself(1000, 600, 1300)
    assert not fleet.ended_by_itself(1000, -1, 99999)


class Lapi(http.server.BaseHTTPRequestHandler):
    """What the tests need of CrowdSec's LAPI; answers 503 while `down`."""
    down = False
    calls = []

    def log_message(self, *args):
        pass

    def _answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        if Lapi.down:
            return self._answer(503, {"message": "down"})
        Lapi.calls.append((self.command, self.path, self.headers.get("Authorization"), body))
        if self.path == "/v1/watchers/login":
            ok = body == {"machine_id": "host-1", "password": "pw", "scenarios": []}
            return self._answer(200 if ok else 401, {"token": "tok"} if ok else {"message": "bad"})
        return self._answer(201 if self.command == "POST" else 200, ["1"] if self.command == "POST" else {"nbDeleted": "1"})

    do_POST = do_DELETE = _handle


def _server():
    Lapi.down, Lapi.calls = True, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Lapi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _action(server, tmp_path):
    credentials = tmp_path / "machine.json"
    credentials.write_text(json.dumps({"login": "host-1", "password": "pw"}))
    jail = types.SimpleNamespace(name="mm")
    return fleet.Action(jail, "fleet", lapi="http://127.0.0.1:%d" % server.server_port, credentials=str(credentials), host="h1")


def _wait(predicate, seconds=15):
    end = time.time() + seconds
    while time.time() < end and not predicate():
        time.sleep(0.05)
    return predicate()


def test_bans_wait_for_the_lapi_then_go_as_one_alert_and_an_early_unban_lifts_everywhere(tmp_path):
    fleet.RETRY_MAX = 0.5
    server = _server()
    action = _action(server, tmp_path)
    try:
        action.start()
        now = time.time()
        for number in range(1, 2501):
            action.ban({"ip": "10.0.%d.%d" % (number // 250, number % 250), "time": now, "bantime": 600})
        action.ban({"ip": "2001:db8:5:6::77", "time": now, "bantime": -1})
        time.sleep(1)
        assert Lapi.calls == []  # down: nothing lost, nothing sent
        Lapi.down = False
        assert _wait(lambda: action.posted == 2501), action.posted
        posts = [body for method, path, token, body in Lapi.calls if path == "/v1/alerts"]
        assert [len(body[0]["decisions"]) for body in posts] == [1000, 1000, 501]
        assert all(token == "Bearer tok" for method, path, token, body in Lapi.calls if path != "/v1/watchers/login")
        last = posts[-1][0]["decisions"][-1]
        assert last == {"origin": "meshmonitor-fail2ban", "type": "ban", "scope": "Ip", "value": "2001:db8:5:6::",
                        "duration": fleet.PERMANENT, "scenario": "meshmonitor/h1/mm"}
        assert posts[0][0]["decisions"][0]["duration"] in ("600s", "599s")
        # A ban that ends by itself lifts nothing; one lifted before its end does, everywhere.
        action.unban({"ip": "10.0.0.1", "time": now - 600, "bantime": 600})
        action.unban({"ip": "10.0.0.2", "time": now, "bantime": 600})
        assert _wait(lambda: any(method == "DELETE" for method, path, token, body in Lapi.calls))
        action.stop()
        assert [path for method, path, token, body in Lapi.calls if method == "DELETE"] == ["/v1/decisions?ip=10.0.0.2"]
    finally:
        server.shutdown()


def test_an_unban_of_all_lifts_each_address_through_unban_and_a_stop_lifts_nothing(tmp_path):
    server = _server()
    action = _action(server, tmp_path)
    try:
        action._jail.actions = types.SimpleNamespace(active=True)
        assert action.flush() is False
        action._jail.actions.active = False
        assert action.flush() is True
    finally:
        server.shutdown()


def test_the_action_the_role_and_the_collections_reader_name_the_same_table_sets_and_origin():
    import importlib.machinery
    import yaml
    role = yaml.safe_load((ROOT / "roles/jail/vars/main.yml").read_text())
    reader = importlib.machinery.SourceFileLoader("fleet_reader", str(ROOT / "plugins/module_utils/fleet.py")).load_module()
    assert fleet.TABLE == role["__jail_fleet_table"] == reader.FLEET_TABLE
    assert fleet.SETS == role["__jail_fleet_sets"] == reader.FLEET_SETS
    assert fleet.ORIGIN == role["__jail_fleet_origin"] == reader.FLEET_ORIGIN
    assert fleet.HELD_FILE == role["__jail_fleet_held_file"]
    assert reader.posting_host(fleet.alert([("192.0.2.1", "60s")], "meshmonitor/h1/mm", 0)["decisions"][0]["scenario"]) == "h1"


def test_the_enforcing_action_saves_the_bans_and_makes_the_table_again_when_gone(tmp_path, monkeypatch):
    listing = json.dumps({"nftables": [{"set": {"elem": [{"elem": {"val": "198.51.100.7", "timeout": 600, "expires": 590}}]}}]})
    state = {"table": False, "made": 0}

    def stand_in(command, script=None):
        if command[:4] == ["nft", "-j", "list", "set"] and not state["table"]:
            return 1, "", "No such file or directory"
        if command == ["nft", "-f", "-"] and script.startswith("add table"):
            state["table"], state["made"] = True, state["made"] + 1
        if command[:3] == ["nft", "-j", "list"]:
            return 0, listing if command[-1] == "addr-set-fleet" else '{"nftables": []}', ""
        return 0, "", ""

    monkeypatch.setattr(fleet, "run", stand_in)
    monkeypatch.setattr(fleet, "SAVE_EVERY", 0.2)
    monkeypatch.setattr(fleet, "HELD_FILE", str(tmp_path / "held.json"))
    credentials = tmp_path / "machine.json"
    credentials.write_text("{}")
    jail = types.SimpleNamespace(name="mm", ignoreip=[])
    action = fleet.Action(jail, "fleet", lapi="http://127.0.0.1:9", credentials=str(credentials), enforce="yes", label="mm",
                          paths="forward:mm-fwd:3001:tcp", host="h1")
    action.start()
    try:
        assert state["made"] == 1
        state["table"] = False  # a flushed ruleset
        assert _wait(lambda: state["made"] == 2 and (tmp_path / "held.json").exists(), 5)
        assert fleet.load_held(time.time(), str(tmp_path / "held.json"))["ipv4"][0][0] == "198.51.100.7"
        # The role took the fleet away (secrets first, then the file and the table): nothing comes back.
        credentials.unlink()
        (tmp_path / "held.json").unlink()
        state["table"] = False
        time.sleep(0.6)
        assert state["made"] == 2 and not (tmp_path / "held.json").exists()
    finally:
        action.stop()
