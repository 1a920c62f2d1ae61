#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: doctor
short_description: Check a MeshMonitor jail end to end, read-only
version_added: 0.2.0
author: meshmonitor.fail2ban contributors (@meshmonitor-fail2ban)
description:
  - Checks, on the host, what the jail role deployed against what the host does now, and gives each check a
    verdict (V(OK), V(WARN) or V(FAIL)) with the reason. What was deployed is the record the jail role keeps in
    Ansible's local facts (see P(meshmonitor.fail2ban.deployment#filter)).
  - The checks are every jail of the deployment running (the main one, and its repeat-offender, permanent and copy
    jails); its log present, readable, never replaced from inside MeshMonitor's container (what
    fail2ban's start had to move aside) and written recently; the log's last lines in
    combined format with a client address (not only a proxy's); the jail's filter finding as many failures in
    the log as a plain count does; how MeshMonitor is exposed now against when the jail was written; every port
    and protocol of each ban path hooked in the firewall, for every jail, for IPv4 and for IPv6 (where the kernel
    runs it); where bans apply; the origin lock on each path and family (when on);
    whether only the user's Cloudflare zone passes the lock (when on), where each TCP port it opens (the proxy's and
    MeshMonitor's published one, unless on loopback only) is asked from the host, without a client certificate, and
    must either demand one from a CA other than Cloudflare's shared origin-pull CA (C(openssl s_client) reads the CA
    names) or, over plain HTTP, only redirect to HTTPS;
    Cloudflare accepting the jail's token, when its blocks are on (asked at Cloudflare's token verification endpoint,
    and for one page of the zone's IP Access Rules, what the blocks need; the token is read from its root-only file
    and never returned);
    the operator's address covered by C(ignoreip); the log's clock against the host's; TLS in front of MeshMonitor;
    MeshMonitor's admin no longer signing in with its default password (MeshMonitor is asked, the password is never
    tried); and, for each URL browsers open MeshMonitor at, every issue MeshMonitor's own configuration check reports
    (C(ALLOWED_ORIGINS), C(COOKIE_SECURE)), a refused origin being a V(FAIL); the metrics file fresh (when on); and
    the unit that makes the bans and the origin lock at boot, before Docker, enabled.
  - With the fleet on (the jail role's C(jail_fleet_enabled)), the fleet's LAPI answering over TLS with the
    certificate the role trusts, CrowdSec's firewall bouncer running, and the fleet's nftables table dropping both of
    its sets on every ban path and port.
  - Changes nothing; the module itself fails only when the host has no record of the jail.
  - The collection's C(meshmonitor.fail2ban.doctor) playbook runs it on every host and prints the table.
options:
  jail:
    description: The jail's name (C(jail_name)); without it, the only jail recorded on the host.
    type: str
  operator_ip:
    description:
      - The address the operator reaches the host from, checked against the jail's C(ignoreip).
      - Without it that check is a V(WARN) saying the address is unknown.
    type: str
  log_max_age:
    description: Seconds since the log was last written beyond which that check warns.
    type: int
    default: 86400
  tail_lines:
    description: How many of the log's last lines the format and clock checks read.
    type: int
    default: 50
  fact_path:
    description: Where Ansible's local facts are (the jail role writes its record there).
    type: path
    default: /etc/ansible/facts.d
extends_documentation_fragment:
  - meshmonitor.fail2ban.attributes.read_only
notes:
  - Needs root, as fail2ban-client, the firewall and Docker do.
"""

EXAMPLES = r"""
- name: Check the MeshMonitor jail
  meshmonitor.fail2ban.doctor:
    operator_ip: 198.51.100.20
  register: doctor

- name: Fail on a failed check
  ansible.builtin.assert:
    that: doctor.failed_checks == []
    fail_msg: "{{ doctor.report | selectattr('verdict', 'eq', 'FAIL') | list }}"
"""

RETURN = r"""
report:
  description: One item per check, in a fixed order.
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: What is checked, for instance V(jail running).
      type: str
    verdict:
      description: V(OK), V(WARN) or V(FAIL).
      type: str
    detail:
      description: Why, in words a person can act on.
      type: str
  sample:
    - {check: jail running, verdict: OK, detail: fail2ban runs jail meshmonitor}
failed_checks:
  description: The checks whose verdict is V(FAIL).
  returned: always
  type: list
  elements: str
jail:
  description: The jail checked.
  returned: always
  type: str
"""

import glob
import os
import socket
import ssl
import time
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.deployment import DeploymentError, select_deployment
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.doctor import count_failures, fleet_chain_gaps, judge, regex_matched
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.exposure import ExposureError
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.fleet import FLEET_SETS, FLEET_TABLE
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.fail2ban import (
    Fail2banClient, Fail2banError, covering_entry, normalize_addresses)
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.host import (
    ask_cloudflare, ask_meshmonitor, find_exposure, read_local_facts)


def read_log(path, tail_lines, pattern):
    """(stat facts, its last tail_lines lines, lines the plain pattern finds or None) of the log."""
    log = {"exists": os.path.exists(path), "isreg": os.path.isfile(path), "readable": os.access(path, os.R_OK),
           "refused": sorted(glob.glob(glob.escape(path) + ".refused-*"))}
    if log["exists"]:
        log["mtime"] = os.stat(path).st_mtime
    if not (log["isreg"] and log["readable"]):
        return log, [], None
    with open(path, errors="replace") as handle:
        lines = [line.rstrip("\n") for line in handle]
    return log, lines[-tail_lines:], count_failures(lines, pattern)


def reach_lapi(url, cafile):
    """None if the fleet's LAPI at url completes a TLS handshake trusting cafile, else why not."""
    parts = urlsplit(url)
    try:
        context = ssl.create_default_context(cafile=cafile)
        with socket.create_connection((parts.hostname, parts.port or 443), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=parts.hostname):
                return None
    except (OSError, ValueError) as exc:
        return str(exc)


def observe_fleet(module, record):
    """The fleet's parts on this host, for check_fleet."""
    systemctl, nft = module.get_bin_path("systemctl"), module.get_bin_path("nft")
    bouncer = module.run_command([systemctl, "is-active", "crowdsec-firewall-bouncer"])[1].strip() if systemctl else None
    table = module.run_command([nft, "list", "table", "inet", FLEET_TABLE])[1] if nft else ""
    label = record.get("firewall_labels", {}).get("main", record["jail"])
    return {"lapi": reach_lapi(record.get("fleet_lapi_url", ""), record.get("fleet_ca_file", "")),
            "bouncer": bouncer, "gaps": fleet_chain_gaps(table, label, record.get("ban_paths", []), FLEET_SETS)}


def observe(module, record):
    """What the host does now, for judge()."""
    params = module.params
    jail = record["jail"]
    jails = list(dict.fromkeys([jail] + list(record.get("jails", {}).values())))
    seen = {"jails": [], "logpath": "", "operator": None, "covered_by": None, "counted": None, "matched": None}
    binary = module.get_bin_path("fail2ban-client")
    client = Fail2banClient(module, binary) if binary else None
    ignoreip = []
    if not client:
        seen["jails"].append((jail, "fail2ban is not installed"))
    for name in jails if client else []:
        try:
            files = client.status(name)["files"]
            if name == jail:
                seen["logpath"] = (files or [""])[0]
                ignoreip = client.ignoreip(name)
            seen["jails"].append((name, None))
        except Fail2banError as exc:
            seen["jails"].append((name, str(exc)))
    running = seen["jails"][0][1] is None
    if seen["logpath"]:
        seen["log"], seen["lines"], seen["counted"] = read_log(seen["logpath"], params["tail_lines"], record["failures_pattern"])
    else:
        seen["log"], seen["lines"], seen["counted"] = {"exists": False}, [], None
    regex = module.get_bin_path("fail2ban-regex")
    if seen["counted"] is not None and regex:
        seen["matched"] = regex_matched(module.run_command([regex, seen["logpath"], record["filter"]])[1])
    labels = record.get("firewall_labels", {})
    try:
        inputs = dict(record["exposure_inputs"], jail=jail, firewall=record["firewall"], origin_lock=record.get("origin_lock", False),
                      public_urls=record.get("public_urls", []),
                      jails=[{"jail": name, "label": labels.get(part, name)} for part, name in
                             sorted(record.get("jails", {"main": jail}).items(), key=lambda item: item[0] != "main")])
        seen["exposure"] = find_exposure(module, inputs)
    except ExposureError as exc:
        seen["exposure"] = {"error": str(exc)}
    seen["meshmonitor"] = ask_meshmonitor(module, record)
    seen["cloudflare"] = ask_cloudflare(module, record)
    metrics_file = record.get("metrics_file")
    seen["metrics_mtime"] = os.stat(metrics_file).st_mtime if metrics_file and os.path.exists(metrics_file) else None
    systemctl = module.get_bin_path("systemctl")
    if record.get("boot_unit") and systemctl:
        seen["boot_unit"] = module.run_command([systemctl, "is-enabled", record["boot_unit"]])[1].strip()
    if record.get("fleet_lapi_host"):
        seen["fleet"] = observe_fleet(module, record)
    if params["operator_ip"] and running:
        seen["operator"] = params["operator_ip"]
        seen["covered_by"] = covering_entry(seen["operator"], ignoreip)
    return seen


def run_module(module):
    params = module.params
    try:
        record = select_deployment(read_local_facts(params["fact_path"]), params["jail"])
    except DeploymentError as exc:
        module.fail_json(msg=str(exc))
    if params["operator_ip"]:
        try:
            params["operator_ip"] = normalize_addresses([params["operator_ip"]])[0]
        except ValueError as exc:
            module.fail_json(msg="operator_ip: %s" % exc)
    report = judge(observe(module, record), record, time.time(), params["log_max_age"])
    module.exit_json(changed=False, jail=record["jail"], report=report,
                     failed_checks=[item["check"] for item in report if item["verdict"] == "FAIL"])


def main():
    module = AnsibleModule(
        argument_spec={
            "jail": {"type": "str"},
            "operator_ip": {"type": "str"},
            "log_max_age": {"type": "int", "default": 86400},
            "tail_lines": {"type": "int", "default": 50},
            "fact_path": {"type": "path", "default": "/etc/ansible/facts.d"},
        },
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
