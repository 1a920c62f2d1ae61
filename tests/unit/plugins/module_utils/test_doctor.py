# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils import doctor, origin_pulls

LOGIN_401 = '::ffff:198.51.100.7 - - [27/Nov/2026:08:00:00 +0000] "POST /api/auth/login HTTP/1.1" 401 31 "-" "curl/8"'
PAGE_200 = '::ffff:192.0.2.10 - - [27/Nov/2026:08:00:05 +0000] "GET / HTTP/1.1" 200 512 "-" "Firefox"'
FROM_GATEWAY = '172.18.0.1 - - [27/Nov/2026:08:00:09 +0000] "GET / HTTP/1.1" 200 512 "-" "Firefox"'
TINY = 'POST /api/auth/login 401 31 - 1.204 ms'
FAILURES = ('"POST [^"]*/api/auth/(login/?(\\?[^" ]*)? [^"]*" (401|403|429 13[4-6])|verify-mfa/?(\\?[^" ]*)? [^"]*" '
            '(401|429 13[4-6])) ')
# 27/Nov/2026:08:00:09 +0000
LAST_LINE_EPOCH = 1795766409
HOOKED = [{"hook": "forward", "ok": True, "detail": "forward: meshmonitor-fwd drops 3001/tcp"},
          {"hook": "input", "ok": True, "detail": "input: meshmonitor-in drops 8080/tcp"}]
PATHS = [{"hook": "forward", "ports": [3001], "protocols": ["tcp"]}, {"hook": "input", "ports": [8080], "protocols": ["tcp"]}]
RECORD = {"jail": "meshmonitor", "filter": 'meshmonitor[baseurl="", clients=direct, apiauth=off]', "firewall": "nftables",
          "topology": "docker", "ban_paths": PATHS, "docker_gateways": ["172.18.0.1"], "cloudflare": False,
          "origin_lock": False, "failures_pattern": FAILURES, "boot_unit": "meshmonitor-fail2ban-bans"}


URL = "http://127.0.0.1:8080"


def answer(status=200, json=None, error="OK", **more):
    return dict({"status": status, "json": json, "error": error}, **more)


# What MeshMonitor answers on a healthy host: its admin's password changed, no issue for the one URL.
MESHMONITOR = {"url": URL, "default_password": answer(json={"isDefaultPassword": False}),
               "config": [answer(json={"issues": []}, origin="https://mesh.example.org")]}


def seen(**changes):
    base = {"jails": [("meshmonitor", None), ("meshmonitor-permanent", None)], "logpath": "/opt/meshmonitor/logs/access.log",
            "log": {"exists": True, "isreg": True, "readable": True, "mtime": LAST_LINE_EPOCH + 2},
            "lines": [LOGIN_401, PAGE_200, FROM_GATEWAY], "counted": 1, "matched": 1,
            "exposure": {"paths": PATHS, "summary": "published 8080 -> 3001", "hooked": HOOKED},
            "operator": "192.0.2.10", "covered_by": "192.0.2.0/24", "meshmonitor": MESHMONITOR, "boot_unit": "enabled"}
    base.update(changes)
    return base


def verdicts(report):
    return {item["check"]: item["verdict"] for item in report}


def by_check(report, check):
    return next(item for item in report if item["check"] == check)


def test_a_healthy_host_is_ok_but_for_plain_http():
    report = doctor.judge(seen(), RECORD, LAST_LINE_EPOCH + 10, 86400)
    assert [item["check"] for item in report] == [
        "jail running", "log readable", "log never replaced from inside the container", "log written recently", "combined format with client address",
        "clients logged as themselves, not as Docker's gateway", "filter matches the failures in the log", "exposure as when the jail was written",
        "ban chain hooked where the traffic passes", "where bans apply", "origin open only to Cloudflare",
        "only your zone passes the lock", "Cloudflare accepts the token", "operator covered by ignoreip", "log clock agrees with the host",
        "TLS in front of MeshMonitor",
        "default admin password no longer works", "metrics fresh", "bans made at boot before Docker",
        "MeshMonitor's own configuration check (https://mesh.example.org)"]
    assert {check for check, verdict in verdicts(report).items() if verdict != "OK"} == {"TLS in front of MeshMonitor"}
    assert by_check(report, "TLS in front of MeshMonitor")["verdict"] == "WARN"
    assert by_check(report, "combined format with client address")["detail"] == "clients 198.51.100.7, 192.0.2.10, 172.18.0.1"


def test_every_jail_must_run_and_a_stopped_one_says_why():
    running = doctor.check_jails([("meshmonitor", None), ("meshmonitor-sync", None)])
    assert running == {"check": "jail running", "verdict": "OK", "detail": "fail2ban runs jails meshmonitor, meshmonitor-sync"}
    item = doctor.check_jails([("meshmonitor", None), ("meshmonitor-sync", "fail2ban has no jail named 'meshmonitor-sync'")])
    assert item == {"check": "jail running", "verdict": "FAIL", "detail": "meshmonitor-sync: fail2ban has no jail named 'meshmonitor-sync'"}
    assert doctor.check_jails([])["verdict"] == "FAIL"


@pytest.mark.parametrize("log, verdict, detail", [
    ({"exists": True, "isreg": True, "readable": True}, "OK", "/x/access.log is there"),
    ({"exists": True, "isreg": True, "readable": False}, "FAIL", "/x/access.log is there"),
    ({"exists": True, "isreg": False, "readable": True}, "FAIL", "/x/access.log is missing or not a file"),
    ({"exists": False}, "FAIL", "/x/access.log is missing or not a file"),
])
def test_log_readable(log, verdict, detail):
    assert doctor.check_log_readable("/x/access.log", log) == {"check": "log readable", "verdict": verdict, "detail": detail}
    assert doctor.check_log_readable("", {"exists": False})["detail"] == "no log path is missing or not a file"


def test_log_written_recently_warns_when_old_or_missing():
    assert doctor.check_log_recent({"exists": True, "mtime": 1000}, 1000 + 86399, 86400)["verdict"] == "OK"
    old = doctor.check_log_recent({"exists": True, "mtime": 1000}, 1000 + 86400, 86400)
    assert old == {"check": "log written recently", "verdict": "WARN", "detail": "last written 86400 s ago"}
    assert doctor.check_log_recent({"exists": False}, 1000, 86400)["verdict"] == "WARN"


def test_combined_format_fails_on_other_formats_and_an_empty_log():
    item = doctor.check_combined([LOGIN_401, TINY], ["127.0.0.1"])
    assert item["verdict"] == "FAIL"
    assert item["detail"] == "1 of the last 2 lines are not in combined format (ACCESS_LOG_FORMAT=combined)"
    assert doctor.check_combined([], ["127.0.0.1"]) == {
        "check": "combined format with client address", "verdict": "FAIL", "detail": "the log is empty"}


def test_combined_format_warns_when_every_client_is_a_proxy():
    item = doctor.check_combined([FROM_GATEWAY, FROM_GATEWAY.replace("172.18.0.1", "::ffff:127.0.0.1")],
                                 doctor.LOOPBACK + ["172.18.0.1"])
    assert item["verdict"] == "WARN"
    assert item["detail"] == "every line comes from 172.18.0.1, 127.0.0.1: a proxy? set TRUST_PROXY"


def test_combined_format_names_at_most_five_clients():
    lines = [LOGIN_401.replace("198.51.100.7", "198.51.100.%d" % n) for n in range(1, 8)]
    assert doctor.check_combined(lines, doctor.LOOPBACK)["detail"] == "clients " + ", ".join(
        "198.51.100.%d" % n for n in range(1, 6))


def test_filter_check_compares_the_plain_count_with_fail2ban_regex():
    assert doctor.count_failures([LOGIN_401, PAGE_200, LOGIN_401.replace("login", "LOGIN/")], FAILURES) == 2
    assert doctor.check_filter(2, 2, "meshmonitor")["verdict"] == "OK"
    item = doctor.check_filter(3, 2, "meshmonitor[apiauth=off]")
    assert item == {"check": "filter matches the failures in the log", "verdict": "FAIL",
                    "detail": "log: 3 failed logins, filter meshmonitor[apiauth=off]: 2"}
    assert doctor.check_filter(None, None, "meshmonitor")["detail"] == "could not run fail2ban-regex"
    assert doctor.check_filter(3, None, "meshmonitor")["verdict"] == "FAIL"


def test_fail2ban_regex_summary_is_read():
    text = "Running tests\n=============\n\nLines: 12 lines, 0 ignored, 3 matched, 9 missed\n[processed in 0.01 sec]\n"
    assert doctor.regex_matched(text) == 3
    assert doctor.regex_matched("ERROR: No failure-id group in '...'") is None


def test_exposure_changed_since_the_jail_was_written():
    now = {"paths": PATHS[:1], "summary": "proxy container edge publishes 443/tcp -> 8443"}
    item = doctor.check_exposure(now, PATHS)
    assert item == {"check": "exposure as when the jail was written", "verdict": "FAIL",
                    "detail": "changed since the jail was written: now proxy container edge publishes 443/tcp -> 8443; "
                              "re-run site.yml"}
    assert doctor.check_exposure({"error": "docker ps failed: x"}, PATHS)["detail"] == "docker ps failed: x"
    assert doctor.check_exposure({"paths": PATHS, "summary": "same"}, PATHS)["verdict"] == "OK"


def test_ban_chain_hooked_fails_on_a_missing_or_short_path():
    assert doctor.check_hooked("nftables", [])["detail"] == "nftables: no chain found"
    assert doctor.check_hooked("nftables", [])["verdict"] == "FAIL"
    short = [dict(HOOKED[0], ok=False, detail="forward: 3001/udp not dropped"), HOOKED[1]]
    item = doctor.check_hooked("iptables", short)
    assert item["verdict"] == "FAIL"
    assert item["detail"] == "iptables: forward: 3001/udp not dropped; input: meshmonitor-in drops 8080/tcp"


def test_every_jail_is_hooked_and_only_what_fails_of_the_others_is_named():
    main = [dict(item, jail="meshmonitor") for item in HOOKED]
    others = [dict(item, jail="meshmonitor-permanent") for item in HOOKED]
    item = doctor.check_hooked("nftables", main + others)
    assert item["verdict"] == "OK"
    assert item["detail"].endswith("8080/tcp (checked for jails meshmonitor-permanent too)")
    broken = [dict(others[0], ok=False, detail="forward: meshmonitor-perm-fwd 3001; missing IPv6 tcp 3001"), others[1]]
    item = doctor.check_hooked("nftables", main + broken)
    assert item["verdict"] == "FAIL"
    assert "; meshmonitor-permanent forward: meshmonitor-perm-fwd 3001; missing IPv6 tcp 3001 (checked" in item["detail"]
    # Where bans apply names each hook once, whatever the number of jails.
    assert "(nftables: forward, input)" in doctor.check_where_bans_apply("nftables", main + others, False, False)["detail"]


def cloudflare(verify_status=200, token="active", rules_status=200, rules_json=None):
    verify_json = {"success": True, "result": {"id": "x", "status": token}} if verify_status == 200 else {
        "success": False, "errors": [{"code": 1000, "message": "Invalid API Token"}]}
    return {"verify": answer(verify_status, verify_json), "rules": answer(
        rules_status, rules_json if rules_json is not None else {"success": rules_status == 200, "result": [],
                                                                 "errors": [] if rules_status == 200 else
                                                                 [{"code": 10000, "message": "Authentication error"}]})}


@pytest.mark.parametrize("answers, verdict, words", [
    (None, "OK", "not used (jail_cloudflare_enabled is off)"),
    (cloudflare(), "OK", "token active; the zone's IP Access Rules answer"),
    # An account-owned token is not a user token: the rules answering is what counts.
    (cloudflare(verify_status=401), "OK", "token verification: HTTP 401 1000 Invalid API Token; the zone's"),
    (cloudflare(verify_status=401, rules_status=403), "FAIL", "Cloudflare refuses it (token verification: HTTP 401 1000 Invalid"),
    (cloudflare(rules_status=403), "FAIL", "IP Access Rules: HTTP 403 10000 Authentication error): every block"),
    (cloudflare(token="expired"), "FAIL", "Cloudflare refuses it (token expired;"),
    (cloudflare(verify_status=-1, rules_status=-1), "WARN", "could not ask Cloudflare"),
    ({"error": "cannot read the token file /x: Permission denied"}, "WARN", "cannot read the token file"),
])
def test_cloudflare_token(answers, verdict, words):
    item = doctor.check_cloudflare_token(answers)
    assert item["verdict"] == verdict and words in item["detail"], item
    if verdict == "FAIL":
        assert "Set jail_cloudflare_token (from Ansible Vault)" in item["detail"]


@pytest.mark.parametrize("url, verify", [
    ("https://api.cloudflare.com/client/v4/zones/0123/firewall/access_rules/rules",
     "https://api.cloudflare.com/client/v4/user/tokens/verify"),
    ("http://10.0.0.5:8000/client/v4/zones/z/firewall/access_rules/rules", "http://10.0.0.5:8000/client/v4/user/tokens/verify"),
    ("https://example.org/rules", None),
])
def test_token_verification_next_to_the_zone_api(url, verify):
    assert doctor.token_verify_url(url) == verify


def test_where_bans_apply_names_each_layer():
    plain = doctor.check_where_bans_apply("nftables", HOOKED, False, False)
    assert plain["verdict"] == "OK"
    assert plain["detail"] == ("on this host's firewall (nftables: forward, input); clients coming through Cloudflare "
                               "are not stopped here: set jail_cloudflare_enabled")
    cloudflare = doctor.check_where_bans_apply("nftables", HOOKED, True, True)["detail"]
    assert "and at Cloudflare for every jail's bans" in cloudflare and "so no one skips Cloudflare" in cloudflare
    # What the lock does not stop is said too, unless the proxy admits only the zone's own pulls.
    assert cloudflare.endswith("is not blocked by your zone's rules (see 'only your zone passes the lock')")
    assert doctor.check_where_bans_apply("nftables", HOOKED, True, True, "WARN")["detail"] == cloudflare
    own_zone = doctor.check_where_bans_apply("nftables", HOOKED, True, True, "OK")["detail"]
    assert own_zone.endswith("so every client passes your zone and its blocks") and "another Cloudflare account" not in own_zone
    assert doctor.check_where_bans_apply("nftables", [], False, False)["detail"].startswith(
        "on this host's firewall (nftables: no path)")


def test_origin_lock_checked_only_when_on():
    assert doctor.check_origin_lock("nftables", False, []) == {
        "check": "origin open only to Cloudflare", "verdict": "OK", "detail": "not locked (jail_cloudflare_origin_lock is off)"}
    assert doctor.check_origin_lock("nftables", True, [])["detail"] == "nftables: no lock rule found"
    assert doctor.check_origin_lock("nftables", True, [])["verdict"] == "FAIL"
    assert doctor.check_origin_lock("nftables", True, HOOKED)["verdict"] == "OK"


def test_origin_pulls_judged_only_with_the_lock():
    assert doctor.check_origin_pulls(False, None)["verdict"] == "OK"
    # The lock on and no port to ask (the doctor found none): it cannot say the zone alone passes.
    assert doctor.check_origin_pulls(True, [])["verdict"] == "WARN"
    served = {"port": 443, "address": "127.0.0.1", "tls": True, "status": 200, "location": "", "names": None}
    assert doctor.check_origin_pulls(True, [served]) == {
        "check": "only your zone passes the lock", "verdict": "FAIL", "detail": origin_pulls.judge_front_port(served)[1]}


def test_operator_unknown_covered_or_exposed():
    assert doctor.check_operator(None, None)["verdict"] == "WARN"
    assert doctor.check_operator("192.0.2.10", "192.0.2.0/24")["detail"] == "192.0.2.10 is covered by 192.0.2.0/24"
    exposed = doctor.check_operator("192.0.2.10", None)
    assert exposed == {"check": "operator covered by ignoreip", "verdict": "FAIL",
                       "detail": "the operator address could be banned: add it to jail_ignoreip"}


@pytest.mark.parametrize("mtime, verdict, detail", [
    (LAST_LINE_EPOCH + 2, "OK", "newest line and file time differ by 2 s"),
    (LAST_LINE_EPOCH - 299, "OK", "newest line and file time differ by 299 s"),
    (LAST_LINE_EPOCH + 3600, "FAIL", "newest line and file time differ by 3600 s"),
])
def test_log_clock(mtime, verdict, detail):
    report = doctor.judge(seen(log={"exists": True, "isreg": True, "readable": True, "mtime": mtime}), RECORD, mtime, 86400)
    assert by_check(report, "log clock agrees with the host") == {
        "check": "log clock agrees with the host", "verdict": verdict, "detail": detail}


def test_log_clock_without_a_dated_line():
    report = doctor.judge(seen(lines=[TINY]), RECORD, LAST_LINE_EPOCH, 86400)
    assert by_check(report, "log clock agrees with the host")["verdict"] == "WARN"
    assert doctor.clock_skew("not a date", 0) == -1


def test_tls_ok_behind_a_proxy():
    assert doctor.check_tls("proxy") == {"check": "TLS in front of MeshMonitor", "verdict": "OK", "detail": "behind a reverse proxy"}
    assert doctor.check_tls("docker")["verdict"] == "WARN"


def test_the_default_admin_password_fails_the_host_and_says_what_to_do():
    answers = dict(MESHMONITOR, default_password=answer(json={"isDefaultPassword": True}))
    item = doctor.check_default_password(answers)
    assert item["verdict"] == "FAIL"
    assert "still signs in with the default password changeme" in item["detail"]
    assert "Set app_admin_password (from Ansible Vault) and run site.yml" in item["detail"]


@pytest.mark.parametrize("answers, verdict, detail", [
    (MESHMONITOR, "OK", "MeshMonitor says its admin's password is not the default"),
    (dict(MESHMONITOR, default_password=answer(-1, None, "Connection refused")), "WARN",
     "could not ask MeshMonitor at http://127.0.0.1:8080 (HTTP -1 Connection refused)"),
    (None, "WARN", "the record has no MeshMonitor URL to ask (written by an earlier release): run site.yml"),
])
def test_default_password_answers(answers, verdict, detail):
    assert doctor.check_default_password(answers) == {"check": "default admin password no longer works", "verdict": verdict, "detail": detail}


def test_every_issue_meshmonitor_reports_is_relayed_by_its_severity():
    issues = [{"type": "cookie_secure", "severity": "error", "message": "Secure cookies are enabled but you are accessing via HTTP."},
              {"type": "cookie_secure", "severity": "warning", "message": "secure cookies are disabled"}]
    answers = dict(MESHMONITOR, config=[answer(json={"issues": issues}, origin="http://mesh.example.org"),
                                        answer(json={"issues": []}, origin="https://mesh.example.org")])
    items = doctor.check_config_issues(answers)
    assert [(item["check"], item["verdict"]) for item in items] == [
        ("MeshMonitor's own configuration check (http://mesh.example.org)", "FAIL"),
        ("MeshMonitor's own configuration check (http://mesh.example.org)", "WARN"),
        ("MeshMonitor's own configuration check (https://mesh.example.org)", "OK")]
    assert items[0]["detail"] == "cookie_secure: Secure cookies are enabled but you are accessing via HTTP."


def test_a_refused_origin_fails_naming_it():
    answers = dict(MESHMONITOR, config=[answer(500, {"error": "Internal server error"}, "HTTP Error 500", origin="https://mesh.example.org")])
    item = doctor.check_config_issues(answers)[0]
    assert item["verdict"] == "FAIL"
    assert item["detail"].startswith("MeshMonitor refuses requests from https://mesh.example.org (not in its ALLOWED_ORIGINS)")


def test_no_public_url_or_no_answer_warns():
    assert doctor.check_config_issues(dict(MESHMONITOR, config=[]))[0]["verdict"] == "WARN"
    assert doctor.check_config_issues(dict(MESHMONITOR, config=[answer(-1, None, "timed out", origin="http://a")]))[0]["verdict"] == "WARN"
    assert doctor.check_config_issues(None) == []


def test_a_log_replaced_from_inside_the_container_fails_naming_what_was_moved_aside():
    moved = "/opt/meshmonitor/logs/access.log.refused-20261204T215202Z"
    item = doctor.check_log_replaced({"refused": [moved]})
    assert item["verdict"] == "FAIL" and moved in item["detail"]
    assert doctor.check_log_replaced({"refused": []})["verdict"] == "OK"


def test_metrics_warn_when_stale_or_missing_and_pass_when_off():
    assert doctor.check_metrics("", 15, None, 1000)["verdict"] == "OK"
    fresh = doctor.check_metrics("/var/lib/prometheus/node-exporter/meshmonitor-fail2ban.prom", 15, 990, 1000)
    assert fresh["verdict"] == "OK" and "written 10 s ago (every 15 s)" in fresh["detail"]
    stale = doctor.check_metrics("/var/lib/prometheus/node-exporter/meshmonitor-fail2ban.prom", 15, 900, 1000)
    assert stale["verdict"] == "WARN" and "timer running" in stale["detail"]
    assert doctor.check_metrics("/x.prom", 15, None, 1000)["verdict"] == "WARN"


GATEWAY_401 = '172.18.0.1 - - [27/Nov/2026:08:00:10 +0000] "POST /api/auth/login HTTP/1.1" 401 31 "-" "curl/8"'
CLIENTS = "clients logged as themselves, not as Docker's gateway"


def test_failed_logins_from_a_gateway_fail_the_host():
    report = doctor.judge(seen(lines=[LOGIN_401, FROM_GATEWAY, GATEWAY_401, GATEWAY_401]), RECORD, LAST_LINE_EPOCH + 10, 86400)
    assert by_check(report, CLIENTS) == {
        "check": CLIENTS, "verdict": "FAIL",
        "detail": "failed logins are logged from Docker's gateway 172.18.0.1, which is never banned: clients relayed by Docker's "
                  "userland proxy? (see the exposure)"}


def test_a_page_from_the_gateway_is_no_failure():
    assert by_check(doctor.judge(seen(), RECORD, LAST_LINE_EPOCH + 10, 86400), CLIENTS)["verdict"] == "OK"


def test_a_relayed_binding_fails_the_host_and_says_what_to_do():
    relayed = [{"container": "mm", "host_ip": "::", "host_port": 8080, "port": 3001, "protocol": "tcp", "family": "ipv6",
                "detail": "mm [::]:8080/tcp (IPv6)"}]
    exposure = {"paths": PATHS, "summary": "published 8080 -> 3001", "hooked": HOOKED, "relayed": relayed}
    item = by_check(doctor.judge(seen(exposure=exposure), RECORD, LAST_LINE_EPOCH + 10, 86400), CLIENTS)
    assert item["verdict"] == "FAIL"
    assert item["detail"].startswith("Docker's userland proxy relays the clients of mm [::]:8080/tcp (IPv6): Docker has no NAT rule")


def test_the_unit_making_the_bans_at_boot_must_be_enabled():
    assert doctor.check_boot("meshmonitor-fail2ban-bans", "enabled")["verdict"] == "OK"
    disabled = doctor.check_boot("meshmonitor-fail2ban-bans", "disabled")
    assert disabled["verdict"] == "FAIL" and "served" in disabled["detail"] and "site.yml" in disabled["detail"]
    assert doctor.check_boot("meshmonitor-fail2ban-bans", None)["detail"].startswith("meshmonitor-fail2ban-bans is missing")
    assert doctor.check_boot("", None)["verdict"] == "WARN"


FLEET_TABLE_TEXT = """table inet mm-fleet {
\tset addr-set-fleet {
\t\ttype ipv4_addr
\t\tflags timeout
\t}
\tchain mm-forward {
\t\ttype filter hook forward priority filter - 1; policy accept;
\t\ttcp dport { 3001, 8080 } ip saddr @addr-set-fleet counter packets 0 bytes 0 drop
\t\ttcp dport { 3001, 8080 } ip6 saddr & ffff:ffff:ffff:ffff:: == @addr6-set-fleet counter packets 0 bytes 0 drop
\t}
\tchain mm-input {
\t\ttype filter hook input priority filter - 1; policy accept;
\t\ttcp dport 8080 ip saddr @addr-set-fleet counter packets 0 bytes 0 drop
\t}
}
"""
FLEET_PATHS = [{"hook": "forward", "ports": [3001, 8080]}, {"hook": "input", "ports": [8080, 8443]}]
FLEET_SETS = {"ipv4": "addr-set-fleet", "ipv6": "addr6-set-fleet"}


def test_fleet_gaps_name_each_missing_chain_set_and_port():
    from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.doctor import fleet_chain_gaps
    assert fleet_chain_gaps(FLEET_TABLE_TEXT, "mm", FLEET_PATHS, FLEET_SETS) == [
        "mm-input: set addr6-set-fleet", "mm-input: port 8443"]
    assert fleet_chain_gaps(FLEET_TABLE_TEXT, "mm", FLEET_PATHS[:1], FLEET_SETS) == []
    assert fleet_chain_gaps("", "mm", FLEET_PATHS[:1], FLEET_SETS) == ["chain mm-forward"]


def test_fleet_checks_only_when_on_and_each_fault_fails():
    from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.doctor import check_fleet
    assert check_fleet({}, None) == []
    record = {"fleet_lapi_host": "mesh-2", "fleet_lapi_url": "https://192.0.2.2:8088"}
    healthy = check_fleet(record, {"lapi": None, "bouncer": "active", "gaps": []})
    assert [item["verdict"] for item in healthy] == ["OK", "OK", "OK"]
    broken = check_fleet(record, {"lapi": "Connection refused", "bouncer": "activating", "gaps": ["chain mm-input"]})
    assert [item["verdict"] for item in broken] == ["FAIL", "FAIL", "FAIL"]
    assert "Connection refused" in broken[0]["detail"] and "activating" in broken[1]["detail"] and "mm-input" in broken[2]["detail"]
