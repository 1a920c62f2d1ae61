# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The doctor's checks as pure functions: what was observed on a host in, one verdict per check out."""

from __future__ import annotations

import re
from datetime import datetime

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.exposure import relayed_text
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.origin_pulls import judge_origin_pulls

# Client address, 2 fields, [date], "request", status, size, "referrer", "user agent".
COMBINED = re.compile(r'^(?P<client>[0-9a-fA-F.:]+) \S+ \S+ \[(?P<date>[^\]]+)\] "[^"]*" \d{3} \S+ "[^"]*" "[^"]*"$')
LOG_DATE = "%d/%b/%Y:%H:%M:%S %z"
# fail2ban-regex's summary line: "Lines: 12 lines, 0 ignored, 3 matched, 9 missed".
REGEX_MATCHED = re.compile(r"^Lines: .* (\d+) matched", re.MULTILINE)
# Clients of Docker's userland proxy or of a proxy on the host appear as these (and the gateways).
LOOPBACK = ["127.0.0.1", "::1"]
# Newest line and file time further apart than this: the log's clock (or zone) is wrong.
MAX_SKEW = 300


def _client(match):
    """A combined line's client as MeshMonitor's socket saw it, IPv4 without ::ffff:."""
    return re.sub(r"^::ffff:", "", match.group("client"))


def read_combined(lines):
    """(clients in order of first appearance, without ::ffff:; lines not in combined format; last line's date)."""
    clients, not_combined, last_date = [], 0, None
    for line in lines:
        match = COMBINED.match(line)
        if not match:
            not_combined += 1
            continue
        client = _client(match)
        if client not in clients:
            clients.append(client)
        last_date = match.group("date")
    return clients, not_combined, last_date


def count_failures(lines, pattern):
    """Lines the plain pattern finds, as grep -ciE counts them."""
    found = re.compile(pattern, re.IGNORECASE)
    return sum(1 for line in lines if found.search(line))


def regex_matched(text):
    """The matched count in fail2ban-regex's output, or None."""
    match = REGEX_MATCHED.search(text)
    return int(match.group(1)) if match else None


def clock_skew(last_date, mtime):
    """Seconds between the newest line's date and the file's time; -1 without a dated line."""
    if not last_date:
        return -1
    try:
        return int(abs(datetime.strptime(last_date, LOG_DATE).timestamp() - mtime))
    except ValueError:
        return -1


def _item(check, ok, detail, otherwise="FAIL"):
    return {"check": check, "verdict": "OK" if ok else otherwise, "detail": detail}


def check_jails(jails):
    """jails: [(fail2ban jail, its error or None)] for every jail of the deployment, the main one first."""
    stopped = ["%s: %s" % (jail, error) for jail, error in jails if error]
    return _item("jail running", bool(jails) and not stopped,
                 "fail2ban runs jails %s" % ", ".join(jail for jail, dummy in jails) if not stopped else "; ".join(stopped))


def check_log_readable(logpath, log):
    return _item("log readable", log.get("isreg") and log.get("readable"),
                 (logpath or "no log path") + (" is there" if log.get("isreg") else " is missing or not a file"))


def check_log_replaced(log):
    """log["refused"]: what fail2ban's log guard moved aside (<log>.refused-<time>) at a start."""
    refused = log.get("refused") or []
    return _item("log never replaced from inside the container", not refused,
                 "something that can write the log's directory (MeshMonitor's container) put no plain file there; fail2ban's "
                 "start moved it aside: %s. Look at what runs in the container, then delete them" % ", ".join(refused)
                 if refused else "no replaced log found")


def check_log_recent(log, now, max_age):
    age = int(now - log.get("mtime", 0))
    return _item("log written recently", log.get("exists") and age < max_age, "last written %d s ago" % age, "WARN")


def check_combined(lines, proxies):
    clients, not_combined = read_combined(lines)[:2]
    only_proxies = bool(clients) and all(client in proxies for client in clients)
    if not_combined or not lines:
        verdict = "FAIL"
    else:
        verdict = "WARN" if only_proxies else "OK"
    if not_combined:
        detail = "%d of the last %d lines are not in combined format (ACCESS_LOG_FORMAT=combined)" % (not_combined, len(lines))
    elif not lines:
        detail = "the log is empty"
    elif only_proxies:
        detail = "every line comes from %s: a proxy? set TRUST_PROXY" % ", ".join(clients)
    else:
        detail = "clients " + ", ".join(clients[:5])
    return {"check": "combined format with client address", "verdict": verdict, "detail": detail}


def failing_gateways(lines, pattern, gateways):
    """The gateways (as the jail role found them) that failed logins among lines are logged from."""
    failed = re.compile(pattern, re.IGNORECASE)
    found = []
    for line in lines:
        match = COMBINED.match(line)
        client = _client(match) if match else None
        if client in gateways and client not in found and failed.search(line):
            found.append(client)
    return found


def check_clients_as_themselves(relayed_text, gateways_failing):
    """relayed_text: exposure.relayed_text of the bindings Docker's userland proxy relays ("" for none);
    gateways_failing: failing_gateways of the log's last lines."""
    if relayed_text:
        detail = ("Docker's userland proxy relays the clients of %s: Docker has no NAT rule there (its iptables or ip6tables "
                  "option off, or its rules flushed), so MeshMonitor logs them as its network's gateway, which is never "
                  "banned. Turn the option on (or publish on IPv4 only) and restart Docker" % relayed_text)
    elif gateways_failing:
        detail = ("failed logins are logged from Docker's gateway %s, which is never banned: clients relayed by Docker's "
                  "userland proxy? (see the exposure)" % ", ".join(gateways_failing))
    else:
        detail = "no published port relayed by Docker's userland proxy, no failed login from a gateway"
    return _item("clients logged as themselves, not as Docker's gateway", not relayed_text and not gateways_failing, detail)


def check_filter(counted, matched, filter_spec):
    """counted: lines the plain pattern finds; matched: what fail2ban-regex matched (None: it did not run)."""
    ran = counted is not None and matched is not None
    return _item("filter matches the failures in the log", ran and counted == matched,
                 "log: %d failed logins, filter %s: %d" % (counted, filter_spec, matched) if ran
                 else "could not run fail2ban-regex")


def check_exposure(exposure, written_paths):
    """exposure: what exposure_info finds now ({"error": message} when it could not tell)."""
    if "error" in exposure:
        return _item("exposure as when the jail was written", False, exposure["error"])
    same = exposure["paths"] == written_paths
    return _item("exposure as when the jail was written", same,
                 exposure["summary"] if same else
                 "changed since the jail was written: now %s; re-run site.yml" % exposure["summary"])


def _hooked_detail(firewall, hooked, missing):
    """The first jail's paths in full; the others' only where something is missing."""
    if not hooked:
        return "%s: %s" % (firewall, missing)
    first = hooked[0].get("jail")
    details = [item["detail"] for item in hooked if item.get("jail") == first]
    others = []
    for item in hooked:
        if item.get("jail") != first and item["jail"] not in others:
            others.append(item["jail"])
    details += ["%s %s" % (item["jail"], item["detail"]) for item in hooked if item.get("jail") != first and not item["ok"]]
    text = "%s: %s" % (firewall, "; ".join(details))
    if others:
        text += " (checked for jails %s too)" % ", ".join(others)
    return text


def check_hooked(firewall, hooked):
    """hooked: exposure's entries, one per jail and path (see exposure.check_hooked), the main jail's first."""
    return _item("ban chain hooked where the traffic passes", bool(hooked) and all(item["ok"] for item in hooked),
                 _hooked_detail(firewall, hooked, "no chain found"))


def check_where_bans_apply(firewall, hooked, cloudflare, origin_lock, pulls_verdict=None):
    """pulls_verdict: check_origin_pulls' verdict (OK: only the zone's own pulls pass the lock)."""
    # Behind Cloudflare the host sees Cloudflare's addresses, not the attacker's: only the block
    # at Cloudflare stops it there.
    detail = "on this host's firewall (%s: %s)" % (firewall, ", ".join(dict.fromkeys(item["hook"] for item in hooked)) or "no path")
    if cloudflare:
        detail += (", and at Cloudflare for every jail's bans (one IP Access Rule per address, held by each host and jail "
                   "banning it, lifted with the last), the only layer that stops clients coming through Cloudflare")
    else:
        detail += "; clients coming through Cloudflare are not stopped here: set jail_cloudflare_enabled"
    if origin_lock and pulls_verdict == "OK":
        detail += ("; the origin only lets in Cloudflare's ranges and ignoreip, and the proxy admits Cloudflare's pulls only "
                   "with your zone's client certificate, so every client passes your zone and its blocks")
    elif origin_lock:
        detail += ("; the origin only lets in Cloudflare's ranges and ignoreip, so no one skips Cloudflare, but a "
                   "client sent through another Cloudflare account (its own zone or Worker) is not blocked by your zone's "
                   "rules (see 'only your zone passes the lock')")
    return _item("where bans apply", True, detail)


def check_origin_lock(firewall, origin_lock, locked):
    if not origin_lock:
        return _item("origin open only to Cloudflare", True, "not locked (jail_cloudflare_origin_lock is off)")
    return _item("origin open only to Cloudflare", bool(locked) and all(item["ok"] for item in locked),
                 _hooked_detail(firewall, locked, "no lock rule found"))


def check_origin_pulls(origin_lock, answers):
    """answers: what each port the lock lets Cloudflare through gave a client without a certificate."""
    check = "only your zone passes the lock"
    if not origin_lock:
        return _item(check, True, "not locked (jail_cloudflare_origin_lock is off)")
    verdict, detail = judge_origin_pulls(answers or [])
    return {"check": check, "verdict": verdict, "detail": detail}


def check_operator(operator, covered_by):
    """operator: the operator's address or None (unknown); covered_by: the ignoreip entry covering it, or None."""
    if operator is None:
        return _item("operator covered by ignoreip", False, "operator address unknown: pass -e operator_ip=ADDRESS", "WARN")
    return _item("operator covered by ignoreip", covered_by is not None,
                 "%s is covered by %s" % (operator, covered_by) if covered_by is not None
                 else "the operator address could be banned: add it to jail_ignoreip")


def check_clock(skew):
    if skew < 0:
        return {"check": "log clock agrees with the host", "verdict": "WARN", "detail": "no dated line"}
    return _item("log clock agrees with the host", skew < MAX_SKEW, "newest line and file time differ by %d s" % skew)


def check_tls(topology):
    return _item("TLS in front of MeshMonitor", topology == "proxy",
                 "behind a reverse proxy" if topology == "proxy"
                 else "MeshMonitor is published without a TLS proxy: passwords cross the network in clear", "WARN")


def check_default_password(answers):
    """answers: what ask_meshmonitor() got (None: the record names no URL to ask)."""
    check = "default admin password no longer works"
    if answers is None:
        return _item(check, False, "the record has no MeshMonitor URL to ask (written by an earlier release): run site.yml", "WARN")
    answer = answers["default_password"]
    found = (answer["json"] or {}).get("isDefaultPassword") if isinstance(answer["json"], dict) else None
    if found is True:
        return _item(check, False, "MeshMonitor's admin still signs in with the default password changeme: anyone can sign in, "
                     "and no jail can ban a right password. Set app_admin_password (from Ansible Vault) and run site.yml, "
                     "or change the password in MeshMonitor")
    if found is False:
        return _item(check, True, "MeshMonitor says its admin's password is not the default")
    return _item(check, False, "could not ask MeshMonitor at %s (HTTP %s %s)" % (answers["url"], answer["status"], answer["error"]), "WARN")


def check_config_issues(answers):
    """One item per URL people open MeshMonitor at: what MeshMonitor itself reports for a browser there."""
    check = "MeshMonitor's own configuration check"
    if answers is None:
        return []
    if not answers["config"]:
        return [_item(check, False, "no URL is recorded where browsers open MeshMonitor (meshmonitor_public_urls): not asked", "WARN")]
    items = []
    for answer in answers["config"]:
        origin = answer["origin"]
        if answer["status"] == 500:
            items.append(_item("%s (%s)" % (check, origin), False,
                               "MeshMonitor refuses requests from %s (not in its ALLOWED_ORIGINS): browsers there cannot sign in; "
                               "list that URL in meshmonitor_public_urls and run site.yml" % origin))
            continue
        issues = (answer["json"] or {}).get("issues") if answer["status"] == 200 and isinstance(answer["json"], dict) else None
        if issues is None:
            items.append(_item("%s (%s)" % (check, origin), False, "could not ask MeshMonitor (HTTP %s %s)"
                               % (answer["status"], answer["error"]), "WARN"))
        elif not issues:
            items.append(_item("%s (%s)" % (check, origin), True, "MeshMonitor reports no issue for a browser at %s" % origin))
        for issue in issues or []:
            items.append(_item("%s (%s)" % (check, origin), False, "%s: %s" % (issue.get("type", "issue"), issue.get("message", "")),
                               "FAIL" if issue.get("severity") == "error" else "WARN"))
    return items


def token_verify_url(api_url):
    """Cloudflare's token verification endpoint, next to the zone API jail_cloudflare_api_url names; None if it names none."""
    base, sep, dummy = api_url.partition("/zones/")
    return base + "/user/tokens/verify" if sep else None


def _cloudflare_errors(answer):
    errors = (answer["json"] or {}).get("errors") if isinstance(answer["json"], dict) else None
    return "; ".join("%s %s" % (error.get("code", ""), error.get("message", "")) for error in errors or [] if isinstance(error, dict))


def check_cloudflare_token(answers):
    """answers: what ask_cloudflare() got (None: Cloudflare is off). The zone's rules answering is what the blocks need;
    the verification endpoint says why not (an account-owned token is not a user token, so it alone cannot fail)."""
    check = "Cloudflare accepts the token"
    if answers is None:
        return _item(check, True, "not used (jail_cloudflare_enabled is off)")
    if "error" in answers:
        return _item(check, False, answers["error"], "WARN")
    rules, verify = answers["rules"], answers["verify"]
    token_status = ((verify["json"] or {}).get("result") or {}).get("status") if isinstance(verify["json"], dict) else None
    said = "token %s" % token_status if token_status else "token verification: HTTP %s %s" % (verify["status"], _cloudflare_errors(verify))
    if rules["status"] == 200 and (rules["json"] or {}).get("success") and token_status in (None, "active"):
        return _item(check, True, "%s; the zone's IP Access Rules answer" % said)
    if rules["status"] in (400, 401, 403) or (token_status and token_status != "active"):
        return _item(check, False, "Cloudflare refuses it (%s; IP Access Rules: HTTP %s %s): every block at Cloudflare fails. "
                     "Set jail_cloudflare_token (from Ansible Vault) to a token allowed Zone > Firewall Services > Edit on the "
                     "zone, and run site.yml" % (said, rules["status"], _cloudflare_errors(rules)))
    return _item(check, False, "could not ask Cloudflare (%s; IP Access Rules: HTTP %s %s)"
                 % (said, rules["status"], rules["error"] or _cloudflare_errors(rules)), "WARN")


def check_metrics(metrics_file, interval, mtime, now):
    # Written by a timer every interval seconds: three missed writes (and some slack) are stale.
    if not metrics_file:
        return _item("metrics fresh", True, "metrics are off (jail_metrics_enabled)")
    if mtime is None:
        return _item("metrics fresh", False, "%s is missing: is the meshmonitor-fail2ban-metrics timer running?" % metrics_file, "WARN")
    age = int(now - mtime)
    limit = 3 * int(interval) + 10
    hint = "" if age <= limit else ": is the meshmonitor-fail2ban-metrics timer running?"
    return _item("metrics fresh", age <= limit, "%s written %d s ago (every %s s)%s" % (metrics_file, age, interval, hint), "WARN")


def check_boot(unit, state):
    """unit: the recorded unit making the bans at boot ('' from an earlier release); state: `systemctl is-enabled`'s answer."""
    check = "bans made at boot before Docker"
    if not unit:
        return _item(check, False, "the record names no such unit (written by an earlier release): run site.yml", "WARN")
    if state == "enabled":
        return _item(check, True, "%s is enabled: after a reboot the bans and the origin lock exist before any container serves" % unit)
    return _item(check, False, "%s is %s: after a reboot, banned addresses are served (and the origin open) until fail2ban "
                 "starts; run site.yml" % (unit, state or "missing"))


def fleet_chain_gaps(table_text, label, ban_paths, sets):
    """What the fleet table (`nft list table inet mm-fleet` text) lacks for the ban paths: per path, its
    chain <label>-<hook> dropping both fleet sets on each of its ports. Returns a list of what is missing."""
    chains, name = {}, None
    for line in (table_text or "").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "chain":
            name = words[1]
            chains[name] = ""
        elif name is not None:
            chains[name] += line + "\n"
    missing = []
    for path in ban_paths:
        chain = "%s-%s" % (label, path["hook"])
        if chain not in chains:
            missing.append("chain %s" % chain)
            continue
        body = chains[chain]
        missing += ["%s: set %s" % (chain, name) for name in sorted(sets.values()) if "@" + name not in body]
        missing += ["%s: port %s" % (chain, port) for port in path["ports"] if not re.search(r"\b%s\b" % port, body)]
    return missing


def check_fleet(record, fleet):
    """fleet: {"lapi": None or why the LAPI could not be reached, "bouncer": the unit's state, "gaps": fleet_chain_gaps}."""
    if not record.get("fleet_lapi_host"):
        return []
    lapi = record.get("fleet_lapi_url", record["fleet_lapi_host"])
    return [
        _item("fleet LAPI reachable", fleet["lapi"] is None,
              "%s answers over TLS with the certificate the role trusts" % lapi if fleet["lapi"] is None
              else "%s: %s (bans still posted once it answers; new bans of other hosts do not arrive meanwhile)" % (lapi, fleet["lapi"])),
        _item("fleet bouncer running", fleet["bouncer"] == "active",
              "crowdsec-firewall-bouncer is %s%s" % (fleet["bouncer"] or "missing",
                                                     "" if fleet["bouncer"] == "active" else ": the fleet's new bans and unbans do not reach this host")),
        _item("fleet bans dropped where bans apply", not fleet["gaps"],
              "table inet mm-fleet drops the fleet's sets on every ban path" if not fleet["gaps"]
              else "missing in table inet mm-fleet: %s (restart fail2ban, whose fleet action makes them)" % ", ".join(fleet["gaps"])),
    ]


def judge(seen, record, now, max_age):
    """Every check, in the order the report prints them.

    seen: what the doctor module observed (jails, logpath, log, lines, counted, matched, exposure, operator,
    covered_by, meshmonitor, cloudflare, metrics_mtime, boot_unit); record: what the jail role recorded.
    """
    exposure = seen["exposure"]
    hooked = exposure.get("hooked", [])
    last_date = read_combined(seen["lines"])[2]
    pulls = check_origin_pulls(record.get("origin_lock"), exposure.get("origin_pulls"))
    return [
        check_jails(seen["jails"]),
        check_log_readable(seen["logpath"], seen["log"]),
        check_log_replaced(seen["log"]),
        check_log_recent(seen["log"], now, max_age),
        check_combined(seen["lines"], LOOPBACK + list(record.get("docker_gateways", []))),
        check_clients_as_themselves(relayed_text(exposure.get("relayed") or []),
                                    failing_gateways(seen["lines"], record["failures_pattern"], record.get("docker_gateways", []))),
        check_filter(seen["counted"], seen["matched"], record["filter"]),
        check_exposure(exposure, record["ban_paths"]),
        check_hooked(record["firewall"], hooked),
        check_where_bans_apply(record["firewall"], hooked, record.get("cloudflare"), record.get("origin_lock"), pulls["verdict"]),
        check_origin_lock(record["firewall"], record.get("origin_lock"), exposure.get("origin_locked", [])),
        pulls,
        check_cloudflare_token(seen.get("cloudflare")),
        check_operator(seen["operator"], seen["covered_by"]),
        check_clock(clock_skew(last_date, seen["log"].get("mtime", 0)) if seen["log"].get("exists") else -1),
        check_tls(record["topology"]),
        check_default_password(seen.get("meshmonitor")),
        check_metrics(record.get("metrics_file"), record.get("metrics_interval", 15), seen.get("metrics_mtime"), now),
        check_boot(record.get("boot_unit", ""), seen.get("boot_unit")),
    ] + check_fleet(record, seen.get("fleet") or {"lapi": "not checked", "bouncer": None, "gaps": []}) + check_config_issues(seen.get("meshmonitor"))
