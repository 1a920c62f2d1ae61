"""The jail role's nftables action (roles/jail/files/action.d/meshmonitor-nftables.py): the nft
transactions it writes, and its batching against a stand-in nft that records what it is given."""
import importlib.util
import json
import pathlib
import stat
import types

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location(
    "meshmonitor_nftables_action", ROOT / "roles/jail/files/action.d/meshmonitor-nftables.py")
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


def test_a_new_table_gets_timeout_sets_and_the_rules_of_fail2bans_action():
    script = nft.start_script("f2b-mm", nft.parse_paths(PATHS), NOTHING)
    assert "add chain inet f2b-mm forward { type filter hook forward priority -1; }" in script
    assert "add set inet f2b-mm addr-set-mm-fwd { type ipv4_addr; flags timeout; }" in script
    assert "add set inet f2b-mm addr6-set-mm-in { type ipv6_addr; flags timeout; }" in script
    assert "add rule inet f2b-mm forward udp dport { 3001, 8080 } ip saddr @addr-set-mm-fwd counter drop" in script
    assert ("add rule inet f2b-mm forward meta l4proto tcp ct original proto-dst { 3001, 8080 } "
            "ip6 saddr @addr6-set-mm-fwd counter drop") in script
    assert "add rule inet f2b-mm input tcp dport { 8080 } ip saddr @addr-set-mm-in counter drop" in script
    assert "proto-dst" not in "".join(line for line in script.splitlines() if " input " in line)
    # nft 1.0 re-reads every interval set of the ruleset on each call.
    assert "interval" not in script
    assert "delete" not in script and "flush" not in script


def test_a_start_keeps_the_bans_and_remakes_the_rules():
    existing = {"chains": {"forward", "input", "output"},
                "sets": {"addr-set-mm-fwd": ["timeout"], "addr6-set-mm-fwd": ["timeout"],
                         "addr-set-mm-in": [], "addr-set-old": ["timeout"]}}
    lines = nft.start_script("f2b-mm", nft.parse_paths(PATHS), existing).splitlines()
    # Rules go and come back in one transaction; a chain no path wants goes.
    assert "flush chain inet f2b-mm forward" in lines and "delete chain inet f2b-mm forward" not in lines
    assert "delete chain inet f2b-mm output" in lines
    # Sets with timeouts keep their elements; one without (fail2ban's own action) and one no path wants go.
    assert "delete set inet f2b-mm addr-set-mm-fwd" not in lines
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
    sets = ["addr-set-mm-fwd", "addr-set-mm-in"]
    assert nft.element_lines("ban", "f2b-mm", sets, "192.0.2.7", 600, 500) == [
        "add element inet f2b-mm addr-set-mm-fwd { 192.0.2.7 timeout 600s expires 500s }",
        "add element inet f2b-mm addr-set-mm-in { 192.0.2.7 timeout 600s expires 500s }"]
    assert nft.element_lines("ban", "f2b-mm", sets[:1], "192.0.2.7", None) == [
        "add element inet f2b-mm addr-set-mm-fwd { 192.0.2.7 }"]


def test_removals_never_fail_for_an_element_the_kernel_expired():
    assert nft.element_lines("unban", "f2b-mm", ["s"], "2001:db8::7") == [
        "add element inet f2b-mm s { 2001:db8::7 }", "delete element inet f2b-mm s { 2001:db8::7 }"]
    assert nft.element_lines("prolong", "f2b-mm", ["s"], "192.0.2.7", 7200, 7000) == [
        "add element inet f2b-mm s { 192.0.2.7 }", "delete element inet f2b-mm s { 192.0.2.7 }",
        "add element inet f2b-mm s { 192.0.2.7 timeout 7200s expires 7000s }"]


def fake_nft(tmp_path, delay=0.0):
    """An nft that records each script it is given (one file per call) and has no table to list."""
    calls = tmp_path / "calls"
    calls.mkdir()
    program = tmp_path / "nft"
    program.write_text(
        "#!/bin/sh\n"
        "[ \"$1\" = -j ] && exit 1\n"
        "sleep %s\n"
        "cat > \"%s/$(date +%%s%%N)-$$\"\n" % (delay, calls))
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    return str(program), calls


class Jail(object):
    name = "mm"

    def __init__(self):
        self.actions = types.SimpleNamespace(active=True)


def info(ip, bantime=600):
    return {"ip": ip, "time": __import__("time").time(), "bantime": bantime}


def test_a_wave_of_bans_costs_a_few_nft_calls(tmp_path):
    program, calls = fake_nft(tmp_path, delay=0.05)
    action = nft.Action(Jail(), "meshmonitor-nftables", "f2b-mm", PATHS, nft=program)
    action.start()
    for n in range(3000):
        action.ban(info("10.0.%d.%d" % (n // 250, n % 250 + 1)))
    action.ban(info("2001:db8::1", bantime=-1))
    action.stop()
    scripts = [path.read_text() for path in sorted(calls.iterdir())]
    elements = "".join(scripts[1:])
    assert scripts[0].startswith("add table inet f2b-mm")
    assert elements.count("add element") == 2 * 3001
    assert "10.0.11.250 timeout 600s expires 600s" in elements and "add element inet f2b-mm addr6-set-mm-in { 2001:db8::1 }" in elements
    # One call to make the table, then one per batch: not one per address.
    assert len(scripts) <= 1 + 6 * 2000 // nft.BATCH + 3


def test_stopping_keeps_the_bans_and_unban_all_empties_the_sets(tmp_path):
    program, calls = fake_nft(tmp_path)
    jail = Jail()
    action = nft.Action(jail, "meshmonitor-nftables", "f2b-mm", PATHS, nft=program)
    action.start()
    assert action.flush() is True
    flushed = "".join(path.read_text() for path in calls.iterdir())
    assert "flush set inet f2b-mm addr6-set-mm-fwd" in flushed
    before = len(list(calls.iterdir()))
    jail.actions.active = False
    assert action.flush() is True
    action.stop()
    assert len(list(calls.iterdir())) == before
    assert "delete table" not in "".join(path.read_text() for path in calls.iterdir())


def test_reload_keeps_the_action(tmp_path):
    program, calls = fake_nft(tmp_path)
    action = nft.Action(Jail(), "meshmonitor-nftables", "f2b-mm", PATHS, nft=program)
    action.start()
    action.clearAllParams()
    action.reload(table="f2b-mm", paths="input:mm-in:80:tcp", nft=program)
    action.ban(info("192.0.2.9"))
    action.stop()
    last = sorted(calls.iterdir())[-1].read_text()
    assert last == "add element inet f2b-mm addr-set-mm-in { 192.0.2.9 timeout 600s expires 600s }\n"


def test_the_worker_survives_an_nft_that_cannot_even_make_the_table(tmp_path):
    program, calls = fake_nft(tmp_path)
    action = nft.Action(Jail(), "meshmonitor-nftables", "f2b-mm", PATHS, nft=program)
    action.start()
    broken = tmp_path / "broken-nft"
    broken.write_text("#!/bin/sh\ncat >/dev/null; exit 1\n")
    broken.chmod(0o755)
    action.nft = str(broken)
    action.ban(info("192.0.2.10"))
    action._drain()
    action.nft = program
    action.ban(info("192.0.2.11"))
    action.stop()
    assert "192.0.2.11" in sorted(calls.iterdir())[-1].read_text()
