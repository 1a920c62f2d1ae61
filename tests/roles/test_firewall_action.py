"""The jail role's ban action (roles/jail/files/action.d/meshmonitor-firewall.py): the nft transactions
and the iptables and ipset input it writes, and its batching against stand-in commands that record
what they are given."""
import importlib.util
import json
import pathlib
import stat
import types

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location(
    "meshmonitor_firewall_action", ROOT / "roles/jail/files/action.d/meshmonitor-firewall.py")
nft = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(nft)

PATHS = "forward:mm-fwd:3001,8080:tcp,udp input:mm-in:8080:tcp"
NOTHING = {"chains": set(), "sets": {}}


def test_paths_are_parsed_and_bad_ones_refused():
    assert nft.parse_paths(PATHS) == [
        {"hook": "forward", "name": "mm-fwd", "ports": ["3001", "8080"], "protocols": ["tcp", "udp"]},
        {"hook": "input", "name": "mm-in", "ports": ["8080"], "protocols": ["tcp"]}]
    for bad in ("output:x:1:tcp", "forward:x:1", "forward::1:tcp"):
        try:
            nft.parse_paths(bad)
        except ValueError as exc:
            assert bad in str(exc)
        else:
            raise AssertionError(bad)


def test_a_new_table_gets_one_timeout_set_per_family_read_by_every_path():
    script = nft.start_script("f2b-mm", nft.parse_paths(PATHS), "mm", NOTHING)
    assert "add chain inet f2b-mm forward { type filter hook forward priority -1; }" in script
    assert [line for line in script.splitlines() if line.startswith("add set")] == [
        "add set inet f2b-mm addr-set-mm { type ipv4_addr; flags timeout; }",
        "add set inet f2b-mm addr6-set-mm { type ipv6_addr; flags timeout; }"]
    assert "add rule inet f2b-mm forward udp dport { 3001, 8080 } ip saddr @addr-set-mm counter drop" in script
    # IPv6: the source's /64 is looked up (a ban's element is its network's address).
    assert ("add rule inet f2b-mm forward meta l4proto tcp ct original proto-dst { 3001, 8080 } "
            "ip6 saddr & ffff:ffff:ffff:ffff:: @addr6-set-mm counter drop") in script
    assert "add rule inet f2b-mm input tcp dport { 8080 } ip saddr @addr-set-mm counter drop" in script
    assert "proto-dst" not in "".join(line for line in script.splitlines() if " input " in line)
    # nft 1.0 re-reads every interval set of the ruleset on each call.
    assert "interval" not in script
    assert "delete" not in script and "flush" not in script


def test_a_start_keeps_the_bans_and_remakes_the_rules():
    existing = {"chains": {"forward", "input", "output"},
                "sets": {"addr-set-mm": ["timeout"], "addr6-set-mm": [],
                         "addr-set-mm-in": ["timeout"], "addr-set-old": ["timeout"]}}
    lines = nft.start_script("f2b-mm", nft.parse_paths(PATHS), "mm", existing).splitlines()
    # Rules go and come back in one transaction; a chain no path wants goes.
    assert "flush chain inet f2b-mm forward" in lines and "delete chain inet f2b-mm forward" not in lines
    assert "delete chain inet f2b-mm output" in lines
    # Sets with timeouts keep their elements; one without (fail2ban's own action) and those of other
    # names (fail2ban's per path sets) go.
    assert "delete set inet f2b-mm addr-set-mm" not in lines and "delete set inet f2b-mm addr6-set-mm" in lines
    assert "delete set inet f2b-mm addr-set-mm-in" in lines and "delete set inet f2b-mm addr-set-old" in lines
    # Every flush comes before the deletions it makes possible, and before the rules come back.
    assert max(i for i, line in enumerate(lines) if line.startswith("flush")) < min(
        i for i, line in enumerate(lines) if line.startswith(("delete", "add rule")))


def test_the_table_listing_is_read():
    listing = json.dumps({"nftables": [
        {"metainfo": {}}, {"table": {"name": "f2b-mm"}},
        {"set": {"name": "addr-set-mm-in", "type": "ipv4_addr", "flags": ["timeout"]}},
        {"set": {"name": "addr6-set-mm-in", "type": "ipv6_addr"}},
        {"chain": {"name": "input"}}, {"rule": {"chain": "input"}}]})
    assert nft.parse_table(listing) == {"chains": {"input"},
                                        "sets": {"addr-set-mm-in": ["timeout"], "addr6-set-mm-in": []}}


def test_elements_carry_the_time_the_ban_has_left():
    assert nft.seconds_left(1000, 600, 1100) == 500
    assert nft.seconds_left(1000, 600, 1100.5) == 500
    assert nft.seconds_left(1000, 600, 2000) == 0
    assert nft.seconds_left(1000, -1, 2000) is None
    assert nft.element_lines("ban", "f2b-mm", ["addr-set-mm"], "192.0.2.7", 600, 500) == [
        "add element inet f2b-mm addr-set-mm { 192.0.2.7 timeout 600s expires 500s }"]
    assert nft.element_lines("ban", "f2b-mm", ["addr-set-mm"], "192.0.2.7", None) == [
        "add element inet f2b-mm addr-set-mm { 192.0.2.7 }"]


def test_removals_never_fail_for_an_element_the_kernel_expired():
    assert nft.element_lines("unban", "f2b-mm", ["s"], "2001:db8::7") == [
        "add element inet f2b-mm s { 2001:db8::7 }", "delete element inet f2b-mm s { 2001:db8::7 }"]
    assert nft.element_lines("prolong", "f2b-mm", ["s"], "192.0.2.7", 7200, 7000) == [
        "add element inet f2b-mm s { 192.0.2.7 }", "delete element inet f2b-mm s { 192.0.2.7 }",
        "add element inet f2b-mm s { 192.0.2.7 timeout 7200s expires 7000s }"]


def fake_nft(tmp_path, delay=0.0):
    """A directory with an nft that records each script it is given (one file per call) and has no
    table to list."""
    calls = tmp_path / "calls"
    calls.mkdir()
    program = tmp_path / "nft"
    program.write_text(
        "#!/bin/sh\n"
        "[ \"$1\" = -j ] && exit 1\n"
        "sleep %s\n"
        "cat > \"%s/$(date +%%s%%N)-$$\"\n" % (delay, calls))
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    return str(tmp_path), calls


class Jail(object):
    name = "mm"

    def __init__(self):
        self.actions = types.SimpleNamespace(active=True)


def info(ip, bantime=600):
    return {"ip": ip, "time": __import__("time").time(), "bantime": bantime}


def test_a_wave_of_bans_costs_a_few_nft_calls(tmp_path):
    program, calls = fake_nft(tmp_path, delay=0.05)
    action = nft.Action(Jail(), "meshmonitor-firewall", PATHS, label="mm", bindir=program)
    action.start()
    for n in range(3000):
        action.ban(info("10.0.%d.%d" % (n // 250, n % 250 + 1)))
    action.ban(info("2001:db8::1", bantime=-1))
    action.stop()
    scripts = [path.read_text() for path in sorted(calls.iterdir())]
    elements = "".join(scripts[1:])
    assert scripts[0].startswith("add table inet f2b-mm")
    # One element per address: the jail's set serves both paths.
    assert elements.count("add element") == 3001
    assert "10.0.11.250 timeout 600s expires 600s" in elements and "add element inet f2b-mm addr6-set-mm { 2001:db8:: }" in elements
    # One call to make the table, then one per batch: not one per address.
    assert len(scripts) <= 1 + 6 * 2000 // nft.BATCH + 3


def test_stopping_keeps_the_bans_and_unban_all_empties_the_sets(tmp_path):
    program, calls = fake_nft(tmp_path)
    jail = Jail()
    action = nft.Action(jail, "meshmonitor-firewall", PATHS, label="mm", bindir=program)
    action.start()
    assert action.flush() is True
    flushed = "".join(path.read_text() for path in calls.iterdir())
    assert "flush set inet f2b-mm addr6-set-mm" in flushed
    before = len(list(calls.iterdir()))
    jail.actions.active = False
    assert action.flush() is True
    action.stop()
    assert len(list(calls.iterdir())) == before
    assert "delete table" not in "".join(path.read_text() for path in calls.iterdir())


def test_reload_keeps_the_action(tmp_path):
    program, calls = fake_nft(tmp_path)
    action = nft.Action(Jail(), "meshmonitor-firewall", PATHS, label="mm", bindir=program)
    action.start()
    action.clearAllParams()
    action.reload(paths="input:mm-in:80:tcp", label="mm", bindir=program)
    action.ban(info("192.0.2.9"))
    action.stop()
    last = sorted(calls.iterdir())[-1].read_text()
    assert last == "add element inet f2b-mm addr-set-mm { 192.0.2.9 timeout 600s expires 600s }\n"


def test_the_worker_survives_an_nft_that_cannot_even_make_the_table(tmp_path):
    program, calls = fake_nft(tmp_path)
    action = nft.Action(Jail(), "meshmonitor-firewall", PATHS, label="mm", bindir=program)
    action.start()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "nft").write_text("#!/bin/sh\ncat >/dev/null; exit 1\n")
    (broken / "nft").chmod(0o755)
    action.bindir = str(broken)
    action.ban(info("192.0.2.10"))
    action._drain()
    action.bindir = program
    action.ban(info("192.0.2.11"))
    action.stop()
    assert "192.0.2.11" in sorted(calls.iterdir())[-1].read_text()


# iptables on ipset

LISTING = """-P INPUT ACCEPT
-N DOCKER-USER
-N f2b-mm-fwd
-A DOCKER-USER -p tcp -m multiport --dports 3001,8080 -j f2b-mm-fwd
-A DOCKER-USER -p tcp -m multiport --dports 9999 -j f2b-mm-fwd
-A DOCKER-USER -j RETURN
-A f2b-mm-fwd -s 192.0.2.1/32 -j DROP
-A f2b-mm-fwd -j RETURN
"""


def test_iptables_chains_drop_their_set_and_are_hooked_as_fail2bans_multiport_action():
    script = nft.iptables_restore_script(*nft.ban_chains(nft.parse_paths(PATHS), "mm", "ipv4"), listing="-P INPUT ACCEPT\n").splitlines()
    assert script[0] == "*filter" and script[-1] == "COMMIT"
    # Never declared: in restore input that would empty DOCKER-USER of other jails' jumps.
    assert not [line for line in script if line.startswith((":DOCKER-USER", ":INPUT"))]
    assert script.index(":f2b-mm-fwd - [0:0]") < script.index("-A f2b-mm-fwd -m set --match-set f2b-mm src -j DROP") < \
        script.index("-A f2b-mm-fwd -j RETURN")
    assert "-I DOCKER-USER -p udp -m multiport --dports 3001,8080 -j f2b-mm-fwd" in script
    assert "-I DOCKER-USER -p tcp -m conntrack --ctorigdstport 8080 -j f2b-mm-fwd" in script
    assert "-I INPUT -p tcp -m multiport --dports 8080 -j f2b-mm-in" in script
    assert not [line for line in script if "ctorigdstport" in line and "f2b-mm-in" in line]
    six = nft.iptables_restore_script(*nft.ban_chains(nft.parse_paths(PATHS), "mm", "ipv6"), listing="").splitlines()
    assert "-A f2b-mm-in -m set --match-set f2b6-mm src -j DROP" in six


def test_an_iptables_start_keeps_jumps_it_wants_and_replaces_fail2bans_rules():
    script = nft.iptables_restore_script(*nft.ban_chains(nft.parse_paths(PATHS), "mm", "ipv4"), listing=LISTING).splitlines()
    assert ":DOCKER-USER - [0:0]" not in script
    # The chain is emptied and filled in the same commit: fail2ban's per-address rules go.
    assert ":f2b-mm-fwd - [0:0]" in script and not [line for line in script if "192.0.2.1" in line]
    assert "-I DOCKER-USER -p tcp -m multiport --dports 3001,8080 -j f2b-mm-fwd" not in script
    assert "-D DOCKER-USER -p tcp -m multiport --dports 9999 -j f2b-mm-fwd" in script
    assert "-D DOCKER-USER -j RETURN" not in script


def test_ipset_elements_carry_the_time_left_and_removals_tolerate_expired_ones():
    sets = ["f2b-mm"]
    assert nft.ipset_lines("ban", sets, "192.0.2.7", 500) == ["add f2b-mm 192.0.2.7 timeout 500"]
    # For good, or longer than ipset can time: kept without a timeout, lifted by fail2ban's unban.
    assert nft.ipset_lines("prolong", sets, "192.0.2.7", None) == ["add f2b-mm 192.0.2.7 timeout 0"]
    assert nft.ipset_lines("ban", sets, "192.0.2.7", 30 * 86400) == ["add f2b-mm 192.0.2.7 timeout 0"]
    assert nft.ipset_lines("unban", sets, "2001:db8::7") == ["del f2b-mm 2001:db8::7"]
    longest = nft.parse_paths("forward:%s:1:tcp" % ("m" * 15 + "-perm-fwd"))
    assert all(len(line.split()[1]) <= 31 for line in nft.ipset_create_lines("m" * 15 + "-perm"))
    assert len(nft.chain_name(longest[0])) <= 28


def fake_iptables(tmp_path):
    """A directory of ipset, iptables, ip6tables and their -restore that record each call (its command
    line, then its input) and list LISTING."""
    calls = tmp_path / "calls"
    calls.mkdir()
    (tmp_path / "listing").write_text(LISTING)
    for name in ("ipset", "iptables", "ip6tables", "iptables-restore", "ip6tables-restore"):
        program = tmp_path / name
        program.write_text(
            "#!/bin/sh\n"
            "out=\"%s/$(date +%%s%%N)-$$\"\n"
            "echo \"$(basename $0) $*\" > \"$out\"\n"
            "case \"$*\" in *-S) cat \"%s/listing\"; exit 0;; esac\n"
            "cat >> \"$out\"\n" % (calls, tmp_path))
        program.chmod(0o755)
    return str(tmp_path), calls


def test_iptables_bans_go_to_ipset_in_batches_and_stay_at_stop(tmp_path):
    bindir, calls = fake_iptables(tmp_path)
    jail = Jail()
    action = nft.Action(jail, "meshmonitor-firewall", PATHS, label="mm", firewall="iptables", bindir=bindir)
    action.start()
    for n in range(3000):
        action.ban(info("10.0.%d.%d" % (n // 250, n % 250 + 1)))
    action.ban(info("2001:db8::1", bantime=-1))
    action._drain()
    made = len(list(calls.iterdir()))
    action.flush()
    jail.actions.active = False
    action.flush()
    action.stop()
    texts = [path.read_text() for path in sorted(calls.iterdir())]
    # (this ipset lists no set: there is no earlier IPv6 set to remake)
    assert texts[0] == "ipset list -t f2b6-mm\n"
    assert texts[1] == ("ipset -exist restore\ncreate f2b-mm hash:ip family inet timeout 0 maxelem 1048576\n"
                        "create f2b6-mm hash:ip family inet6 timeout 0 maxelem 1048576 netmask 64\n")
    assert [text.split("\n")[0] for text in texts[2:8]] == [
        "iptables -w -N DOCKER-USER", "iptables -w -S", "iptables-restore -w --noflush",
        "ip6tables -w -N DOCKER-USER", "ip6tables -w -S", "ip6tables-restore -w --noflush"]
    adds = "".join(texts[8:made])
    assert adds.count("\nadd ") + adds.startswith("add ") == 3001
    assert "add f2b-mm 10.0.11.250 timeout 600" in adds and "add f2b6-mm 2001:db8:: timeout 0" in adds
    assert made - 8 <= 3 * 2000 // nft.BATCH + 3
    # Unban of all empties the sets; fail2ban's stop keeps them.
    assert texts[made:] == ["ipset -exist restore\nflush f2b-mm\nflush f2b6-mm\n"]


def test_an_unknown_firewall_or_bans_without_a_label_are_refused():
    for params, words in (({"label": "mm", "firewall": "pf"}, "firewall='pf'"), ({}, "label= is required")):
        try:
            nft.Action(Jail(), "meshmonitor-firewall", PATHS, **params)
        except ValueError as exc:
            assert words in str(exc)
        else:
            raise AssertionError("accepted %r" % params)


# The origin lock (mode=lock)

EXPOSURE_SPEC = importlib.util.spec_from_file_location("exposure", ROOT / "plugins/module_utils/exposure.py")
exposure = importlib.util.module_from_spec(EXPOSURE_SPEC)
EXPOSURE_SPEC.loader.exec_module(exposure)
LOCK_PATHS = "forward:mm-cf-fwd:3001,8080:tcp,udp input:mm-cf-in:8080:tcp"


def test_the_lock_table_is_made_whole_in_one_transaction_and_read_as_the_lock():
    forward, dummy = nft.parse_paths(LOCK_PATHS)
    script = nft.lock_nft_script(forward, "ipv6", ["2400:cb00::/32", "2001:db8::1"])
    lines = [line.strip() for line in script.splitlines()]
    assert lines[:3] == ["table ip6 f2b-mm-cf-fwd", "delete table ip6 f2b-mm-cf-fwd", "table ip6 f2b-mm-cf-fwd {"]
    assert "set addr6-set-mm-cf-fwd { type ipv6_addr; flags interval; auto-merge; elements = { 2400:cb00::/32, 2001:db8::1 }; }" in lines
    assert "ct direction original ct status dnat udp dport { 3001, 8080 } ip6 saddr != @addr6-set-mm-cf-fwd drop" in lines
    rules = exposure.parse_firewall_rules("nftables", script)
    assert {(rule["protocol"], rule["original"], rule["family"], rule["allow_only"], rule["action"]) for rule in rules} == {
        (protocol, original, "ipv6", True, "mm-cf-fwd") for protocol in ("tcp", "udp") for original in (False, True)}


def test_the_lock_chains_return_for_the_allowed_and_are_read_as_the_lock():
    bodies, jumps = nft.lock_chains(nft.parse_paths(LOCK_PATHS), ["173.245.48.0/20"])
    assert bodies["f2b-mm-cf-in"] == ["-s 173.245.48.0/20 -j RETURN", "-j DROP"]
    text = "\n".join("-A %s %s" % jump for jump in jumps)
    assert "-A INPUT ! -i lo -p tcp -m multiport --dports 8080 -j f2b-mm-cf-in" in text
    rules = exposure.parse_firewall_rules("iptables", text)
    assert all(rule["allow_only"] for rule in rules) and len(rules) == len(jumps)
    assert {(rule["chain"], rule["protocol"], tuple(rule["ports"]), rule["original"]) for rule in rules if rule["action"] == "mm-cf-fwd"} == {
        ("DOCKER-USER", protocol, ports, original) for protocol in ("tcp", "udp")
        for ports, original in (((3001, 8080), False), ((3001,), True), ((8080,), True))}


def test_the_lock_bans_nobody_and_is_made_again_when_gone(tmp_path, monkeypatch):
    program, calls = fake_nft(tmp_path)
    # This nft has no table to list: every check finds the lock gone.
    (tmp_path / "nft").write_text("#!/bin/sh\n[ \"$1\" = list ] && exit 1\ncat > \"%s/$(date +%%s%%N)-$$\"\n" % calls)
    monkeypatch.setattr(nft, "LOCK_CHECK", 0.05)
    action = nft.Action(Jail(), "meshmonitor-firewall", LOCK_PATHS, mode="lock", allow4="192.0.2.0/24", bindir=program)
    action.start()
    action.ban(info("198.51.100.7"))
    assert action.flush() is True
    __import__("time").sleep(0.3)
    action.stop()
    scripts = [path.read_text() for path in sorted(calls.iterdir())]
    assert len(scripts) >= 2 and all(script.startswith("table ip f2b-mm-cf-fwd") for script in scripts)
    assert "198.51.100.7" not in "".join(scripts) and "flush" not in "".join(scripts)
    assert "elements = { 192.0.2.0/24 }" in scripts[0]


class Ticket(object):
    def __init__(self, ip):
        self.ip = ip

    def getID(self):
        return self.ip


class RestoringJail(Jail):
    """A jail whose database holds bans of 192.0.2.7 and 2001:db8::5, and whose ignoreip covers 192.0.2.8."""

    def __init__(self):
        super(RestoringJail, self).__init__()
        self.database = types.SimpleNamespace(
            getCurrentBans=lambda jail: [Ticket(ip) for ip in ("192.0.2.7", "192.0.2.8", "2001:db8:0::5")])
        self.filter = types.SimpleNamespace(inIgnoreIPList=lambda ip, log_ignore=True: ip == "192.0.2.8")


def test_start_lets_go_of_the_addresses_fail2ban_will_not_ban_again(tmp_path):
    program, calls = fake_nft(tmp_path)
    # Every set lists the same addresses: two of them banned in the database, one covered by
    # ignoreip, one whose ban ended while fail2ban was down.
    # 2001:db8::5 is an element of an earlier release (one IPv6 address): its ban is its /64 now.
    listing = json.dumps({"nftables": [{"set": {"name": "s", "elem": [
        {"elem": {"val": "192.0.2.7", "timeout": 600, "expires": 500}}, "192.0.2.8", "198.51.100.3", "2001:db8::5", "2001:db8::"]}}]})
    (tmp_path / "nft").write_text("#!/bin/sh\n[ \"$2\" = list ] && [ \"$3\" = set ] && { echo '%s'; exit 0; }\n"
                                  "[ \"$1\" = -j ] && exit 1\ncat > \"%s/$(date +%%s%%N)-$$\"\n" % (listing, calls))
    action = nft.Action(RestoringJail(), "meshmonitor-firewall", PATHS, label="mm", bindir=program)
    action.start()
    action.stop()
    removed = "".join(path.read_text() for path in sorted(calls.iterdir())[1:])
    for ip in ("192.0.2.8", "198.51.100.3"):
        assert "delete element inet f2b-mm addr-set-mm { %s }" % ip in removed
    assert "delete element inet f2b-mm addr6-set-mm { 2001:db8::5 }" in removed
    assert "192.0.2.7" not in removed and "{ 2001:db8:: }" not in removed


def test_without_a_database_every_element_stays(tmp_path):
    program, calls = fake_nft(tmp_path)
    jail = RestoringJail()
    jail.database = None
    action = nft.Action(jail, "meshmonitor-firewall", PATHS, label="mm", bindir=program)
    action.start()
    action.stop()
    assert len(list(calls.iterdir())) == 1


DUMP = """['set', 'dbfile', '%s']
['add', 'mm', 'polling']
['set', 'mm', 'addignoreip', '127.0.0.1/8', '192.0.2.8', 'example.org']
['set', 'mm', 'addaction', 'meshmonitor-firewall', '/etc/fail2ban/action.d/meshmonitor-firewall.py', \
'{"firewall": "nftables", "label": "mm", "paths": "input:mm-in:8080:tcp"%s}']
['set', 'mm', 'addaction', 'meshmonitor-origin-lock', '/etc/fail2ban/action.d/meshmonitor-firewall.py', \
{"mode": "lock", "paths": "input:mm-cf-in:8080:tcp", "allow4": "198.51.100.0/24"%s}]
['set', 'mm', 'addaction', 'sendmail', '/etc/fail2ban/action.d/sendmail.conf']
['set', 'other', 'addaction', 'meshmonitor-firewall', '/etc/fail2ban/action.d/meshmonitor-firewall.py', '{"label": "o", "paths": "input:o-in:22:tcp"%s}']
['start', 'mm']
"""


def fail2ban_db(path, now):
    import sqlite3
    database = sqlite3.connect(str(path))
    database.execute("CREATE TABLE bips(ip TEXT NOT NULL, jail TEXT NOT NULL, timeofban INTEGER NOT NULL, "
                     "bantime INTEGER NOT NULL, bancount INTEGER NOT NULL default 1, data JSON, PRIMARY KEY(ip, jail))")
    database.executemany("INSERT INTO bips(ip, jail, timeofban, bantime) VALUES (?, ?, ?, ?)", [
        ("192.0.2.7", "mm", now - 100, 600),     # in force, 500 s left
        ("192.0.2.8", "mm", now - 100, 600),     # ignoreip covers it now
        ("192.0.2.9", "mm", now - 700, 600),     # over
        ("2001:db8::5", "mm", now - 100, -1),    # permanent
        ("192.0.2.10", "mm", now - 100, -2),     # unknown length (an old database): left to fail2ban
        ("192.0.2.11", "other", now - 100, 600)])
    database.commit()
    database.close()


def test_boot_reads_the_jails_from_fail2ban_and_the_bans_from_its_database(tmp_path):
    now = 1800000000
    fail2ban_db(tmp_path / "f2b.sqlite3", now)
    dbfile, uses = nft.boot_uses(DUMP % (tmp_path / "f2b.sqlite3", "", "", ""), "/usr/share/x/meshmonitor-firewall.py")
    assert dbfile == str(tmp_path / "f2b.sqlite3")
    assert [(use["jail"], use["name"], use["params"].get("mode")) for use in uses] == [
        ("mm", "meshmonitor-firewall", None), ("mm", "meshmonitor-origin-lock", "lock"), ("other", "meshmonitor-firewall", None)]
    assert uses[0]["ignoreip"] == ["127.0.0.1/8", "192.0.2.8", "example.org"] and uses[2]["ignoreip"] == []
    assert sorted(row[0] for row in nft.current_bans(dbfile, "mm", now)) == ["192.0.2.7", "192.0.2.8", "2001:db8::5"]
    assert nft.covered("192.0.2.8", uses[0]["ignoreip"]) and not nft.covered("192.0.2.7", uses[0]["ignoreip"])
    assert nft.boot_uses("['set', 'dbfile', ':memory:']\n", "meshmonitor-firewall.py") == (None, [])


def test_boot_makes_every_jails_objects_and_loads_its_bans(tmp_path):
    now = 1800000000
    fail2ban_db(tmp_path / "f2b.sqlite3", now)
    program, calls = fake_nft(tmp_path)
    bindir = ', "bindir": "%s"' % program
    dump = DUMP % (tmp_path / "f2b.sqlite3", bindir, bindir, bindir)

    def ran(command):
        assert command == ["fail2ban-client", "-d"]
        return types.SimpleNamespace(returncode=0, stdout=dump, stderr="")

    assert nft.boot("/etc/fail2ban/action.d/meshmonitor-firewall.py", now=now, run=ran) == 0
    scripts = [path.read_text() for path in sorted(calls.iterdir())]
    made = [script for script in scripts if script.startswith("add table")]
    assert [script.split("\n")[0] for script in made] == ["add table inet f2b-mm", "add table inet f2b-other"]
    assert any(script.startswith("table ip f2b-mm-cf-in") for script in scripts)
    loaded = "".join(script for script in scripts if script.startswith("add element"))
    assert "add element inet f2b-mm addr-set-mm { 192.0.2.7 timeout 600s expires 500s }" in loaded
    assert "add element inet f2b-mm addr6-set-mm { 2001:db8:: }" in loaded
    assert "add element inet f2b-other addr-set-o { 192.0.2.11 timeout 600s expires 500s }" in loaded
    for ip in ("192.0.2.8", "192.0.2.9", "192.0.2.10"):
        assert ip not in loaded

    def failing(command):
        return types.SimpleNamespace(returncode=255, stdout="", stderr="bad config")

    assert nft.boot(now=now, run=failing) == 1


# The action runs inside fail2ban and cannot import the collection: the names and shapes it makes
# must be those the collection's module_utils read (doctor, exposure_info, stale_bans).

def collection_module_utils(name):
    """plugins/module_utils/<name>.py, imported as Ansible would, without Ansible."""
    import sys
    package = "ansible_collections.meshmonitor.fail2ban.plugins.module_utils"
    parts = package.split(".")
    stand_ins = dict((".".join(parts[:depth]), types.ModuleType(".".join(parts[:depth]))) for depth in range(1, len(parts) + 1))
    stand_ins[package + ".exposure"] = exposure
    added = [key for key in stand_ins if key not in sys.modules]
    for key in added:  # for this import only: the other tests import the real collection
        sys.modules[key] = stand_ins[key]
    try:
        spec = importlib.util.spec_from_file_location(package + "." + name, ROOT / "plugins/module_utils" / (name + ".py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for key in added:
            del sys.modules[key]
    return module


def as_listed(script):
    """The objects of an nft start script, as `nft list table` prints them."""
    sets, chains, table = [], {}, None
    for line in script.splitlines():
        words = line.split()
        if words[:2] == ["add", "set"]:
            sets.append("\tset %s {\n\t}\n" % words[4])
        elif words[:2] == ["add", "rule"]:
            table = words[3]
            rule = " ".join(words[5:]).replace("{ 8080 }", "8080").replace("counter drop", "counter packets 0 bytes 0 drop")
            rule = rule.replace(":: @", ":: == @").replace("!= { fd00::30 }", "!= fd00::30")
            chains.setdefault(words[4], []).append("\t\t" + rule + "\n")
    return "table inet %s {\n%s%s}\n" % (table, "".join(sets), "".join(
        "\tchain %s {\n%s\t}\n" % (chain, "".join(rules)) for chain, rules in chains.items()))


def test_the_objects_the_action_makes_are_the_ones_the_collection_reads():
    paths = nft.parse_paths(PATHS)
    listing = as_listed(nft.start_script("f2b-mm", paths, "mm", NOTHING, spared6=["fd00::30"]))
    assert "ip6 saddr != fd00::30 ip6 saddr & ffff:ffff:ffff:ffff:: == @addr6-set-mm counter packets 0 bytes 0 drop" in listing
    wanted = [{"hook": "forward", "ports": [3001, 8080], "protocols": ["tcp", "udp"]},
              {"hook": "input", "ports": [8080], "protocols": ["tcp"]}]
    hooked = exposure.check_hooked(wanted, exposure.parse_firewall_rules("nftables", listing), {"forward": "mm-fwd", "input": "mm-in"},
                                   started=exposure.started_actions("nftables", listing))
    assert [(item["ok"], item["families"]) for item in hooked] == [(True, ["ipv4", "ipv6"])] * 2, hooked
    assert collection_module_utils("fail2ban").IPV6_PREFIX == nft.IPV6_PREFIX
    ban_objects = collection_module_utils("ban_objects")
    owned = set((kind, name) for dummy, kind, name in ban_objects.owned_objects({"jail": "mm", "label": "mm"}))
    assert ("tables", "inet " + nft.TABLE_PREFIX + "mm") in owned
    assert set(("ipsets", line.split()[1]) for line in nft.ipset_create_lines("mm")) <= owned
    assert set(("chains", chain) for family in nft.FAMILIES for chain in nft.ban_chains(paths, "mm", family)[0]) <= owned
    assert set(path["name"] for path in paths) <= set(ban_objects.path_names("mm").values())


def fail2ban_filter_module():
    """fail2ban.server.filter from the copy `make setup` unpacks into .venv (Debian's own package)."""
    import sys
    unpacked = ROOT / ".venv/fail2ban/usr/lib/python3/dist-packages"
    if not unpacked.is_dir():
        raise AssertionError("fail2ban not found: run `make setup` (it unpacks Debian's fail2ban into .venv)")
    sys.path.insert(0, str(unpacked))
    try:
        from fail2ban.server import filter as fail2ban_filter
    finally:
        sys.path.remove(str(unpacked))
    return fail2ban_filter


def test_fail2ban_never_holds_a_long_line_and_reads_on_after_it(tmp_path):
    import tracemalloc
    fail2ban_filter = fail2ban_filter_module()
    assert nft.bound_log_reading(fail2ban_filter) is True
    assert nft.bound_log_reading(fail2ban_filter) is False  # a second jail's load changes nothing
    log = tmp_path / "access.log"
    good = b'::ffff:192.0.2.7 - - [06/Dec/2026:07:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n'
    log.write_bytes(good)
    container = fail2ban_filter.FileContainer(str(log), "UTF-8", tail=False)

    def read_all():
        lines = []
        assert container.open()
        while True:
            line = container.readline()
            if line is None:
                break
            lines.append(line)
        container.close()
        return lines

    assert read_all() == [good.decode().rstrip("\n")]
    # A line of 8 MB with no end yet: it reads as unfinished (fail2ban waits), holding no more
    # than the limit, poll after poll.
    with log.open("ab") as handle:
        handle.write(b"a" * (8 << 20))
    tracemalloc.start()
    assert read_all() == [] and read_all() == []
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * nft.LINE_LIMIT, peak  # (the line is 128 times that)
    # Once it ends it is skipped, and the lines after it are read.
    with log.open("ab") as handle:
        handle.write(b"a" * 1000 + b"\n" + good)
    assert read_all() == [nft.SKIPPED_LINE.decode().rstrip("\n"), good.decode().rstrip("\n")]
    # A line short of the limit is read whole, unfinished or not.
    with log.open("ab") as handle:
        handle.write(b"b" * 1000)
    assert read_all() == []
    with log.open("ab") as handle:
        handle.write(b"\n")
    assert read_all() == ["b" * 1000]


# IPv6 per /64 (IPV6_PREFIX)

def test_an_ipv6_ban_is_its_64_and_ignoreip_is_never_dropped():
    assert nft.ban_address("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::"
    assert nft.ban_address("2001:DB8::1") == "2001:db8::"
    assert nft.ban_address("::ffff:192.0.2.7") == "192.0.2.7" and nft.ban_address("192.0.2.7") == "192.0.2.7"
    assert nft.spared_networks(["127.0.0.1/8", "::1", "2001:db8:5::/48", "fd00::30/128", "example.org", "::ffff:10.0.0.1"]) == [
        "2001:db8:5::/48", "::1", "fd00::30"]
    assert nft.source_match("ipv6", "mm", ["::1", "fd00::30"]) == (
        "ip6 saddr != { ::1, fd00::30 } ip6 saddr & ffff:ffff:ffff:ffff:: @addr6-set-mm")
    assert nft.source_match("ipv4", "mm", ["fd00::30"]) == "ip saddr @addr-set-mm"
    bodies, dummy = nft.ban_chains(nft.parse_paths(PATHS), "mm", "ipv6", ["fd00::30"])
    assert bodies["f2b-mm-in"] == ["-s fd00::30 -j RETURN", "-m set --match-set f2b6-mm src -j DROP", "-j RETURN"]
    assert nft.ban_chains(nft.parse_paths(PATHS), "mm", "ipv4", ["fd00::30"])[0]["f2b-mm-in"][0].startswith("-m set")


def test_an_ipv6_ipset_of_an_earlier_release_is_remade_with_its_bans():
    assert nft.ipset_netmask("Header: family inet6 hashsize 1024 maxelem 1048576 netmask 64 timeout 0") == 64
    assert nft.ipset_netmask("Header: family inet6 hashsize 1024 maxelem 1048576 timeout 0") is None
    saved = "create f2b6-mm hash:ip family inet6 timeout 0\nadd f2b6-mm 2001:db8::66 timeout 500\nadd f2b6-mm 2001:db8:1::7 timeout 0\n"
    assert nft.ipset_remake_lines("f2b6-mm", "mm-remake-1", "ipv6", saved) == [
        "create mm-remake-1 hash:ip family inet6 timeout 0 maxelem 1048576 netmask 64",
        "add mm-remake-1 2001:db8:: timeout 500", "add mm-remake-1 2001:db8:1:: timeout 0",
        "swap f2b6-mm mm-remake-1", "destroy mm-remake-1"]


def fail2ban_server_module(name):
    """fail2ban.server.<name> from the copy `make setup` unpacks into .venv."""
    import importlib
    import sys
    fail2ban_filter_module()
    unpacked = ROOT / ".venv/fail2ban/usr/lib/python3/dist-packages"
    sys.path.insert(0, str(unpacked))
    try:
        return importlib.import_module("fail2ban.server." + name)
    finally:
        sys.path.remove(str(unpacked))


def test_ipv6_failures_count_against_their_64_in_fail2bans_own_fail_manager():
    failmanager = fail2ban_server_module("failmanager")
    ticket = fail2ban_server_module("ticket")
    manager = failmanager.FailManager()
    manager.setMaxRetry(3)
    jail = types.SimpleNamespace(filter=types.SimpleNamespace(failManager=manager))
    assert nft.count_per_network(jail) is True and nft.count_per_network(jail) is False
    now = __import__("time").time()
    # Three addresses of one /64 make three failures of it; an IPv4 address counts on its own.
    attempts = [manager.addFailure(ticket.FailTicket("2001:db8:1:2::%d" % n, now)) for n in (1, 2, 3)]
    assert attempts == [1, 2, 3]
    assert manager.addFailure(ticket.FailTicket("192.0.2.7", now)) == 1
    assert manager.addFailure(ticket.FailTicket("2001:db8:1:3::1", now)) == 1
    # The filter asks to ban the address whose failure reached maxretry: the /64 is banned, and
    # its first address stays the ticket's address (what AbuseIPDB is told).
    banned = manager.toBan(ticket.FailTicket("2001:db8:1:2::3", now).getID())
    assert str(banned.getID()) == "2001:db8:1:2::" and str(banned.getIP()) == "2001:db8:1:2::1"
