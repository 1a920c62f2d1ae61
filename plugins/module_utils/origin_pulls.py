# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether the origin lock admits only the user's own Cloudflare zone, as pure functions.

The lock lets in Cloudflare's ranges, which carry every Cloudflare customer: another account's zone
or Worker pointed at the origin passes it, and the user's zone's blocks never apply to it. Only a
proxy that demands the zone's own client certificate (Authenticated Origin Pulls, zone or hostname
level) on every port the lock lets Cloudflare through tells the zone's pulls from the others'. The
doctor asks each such port from the host (probe_front_port in host.py); these functions read the
answers.
"""

from __future__ import annotations

import re

# The subject of the certificate Cloudflare presents for global Authenticated Origin Pulls: every
# customer's pulls carry it, so a proxy trusting its CA admits them all.
SHARED_CA_NAME = re.compile(r"\bCN ?= ?origin-pull\.cloudflare\.net\b", re.IGNORECASE)
# openssl s_client's session summary (TLS 1.3: the handshake ends before the server checks the
# certificate) lists them after this line; with -trace the CertificateRequest of TLS 1.2 (which a
# server ends at once without a certificate) prints each as a DistinguishedName line.
SUMMARY_NAMES = "Acceptable client certificate CA names"
SUMMARY_NONE = "No client certificate CA names sent"
TRACE_NAME = re.compile(r"^\s*DistinguishedName \(len=\d+\): (?P<name>.+)$", re.MULTILINE)
# What a proxy demanding a certificate answers a request without one (nginx: 400 "No required SSL
# certificate was sent"; others end the handshake, which is no answer).
REFUSED_STATUS = (400, 403, 421, 495, 496)


def ca_names(text):
    """The client certificate CA names in openssl s_client -trace output: a list, [] when the server
    sent none, None when it asked for no certificate at all (or the output tells nothing)."""
    names = [match.group("name").strip() for match in TRACE_NAME.finditer(text)]
    lines = text.splitlines()
    if SUMMARY_NAMES in lines:
        for line in lines[lines.index(SUMMARY_NAMES) + 1:]:
            if not line.strip() or line.startswith(("Requested Signature", "Client Certificate Types", "---")):
                break
            names.append(line.strip())
    if names:
        return list(dict.fromkeys(names))
    if SUMMARY_NONE in text or "CertificateRequest" in text:
        return []
    return None


def judge_front_port(answer):
    """(verdict, words) for one port the lock lets Cloudflare through.

    answer: {"port", "address", "error" (nothing answered), "tls" (the port speaks TLS), "status" (the
    HTTP status of GET / sent without a client certificate, None for no answer), "location" (its
    Location), "names" (ca_names of the port, or None)}.
    """
    where = "%s/tcp" % answer["port"]
    if answer.get("error"):
        return "WARN", "%s: cannot tell, %s from this host" % (where, answer["error"])
    status = answer.get("status")
    if not answer.get("tls"):
        if status is not None and 300 <= status < 400 and (answer.get("location") or "").lower().startswith("https://"):
            return "OK", "%s: plain HTTP, only redirected to HTTPS" % where
        return "FAIL", ("%s: plain HTTP answered (%s) with no client certificate to check, so any Cloudflare account's "
                        "Flexible SSL zone reaches MeshMonitor through it: serve only a redirect to HTTPS there, or close it"
                        % (where, status))
    if status is not None and status not in REFUSED_STATUS:
        return "FAIL", ("%s: HTTPS answered %s without a client certificate, so the pulls of any Cloudflare account pass: "
                        "have the proxy demand your zone's Authenticated Origin Pulls certificate (nginx: ssl_verify_client on)"
                        % (where, status))
    names = answer.get("names")
    if names and any(SHARED_CA_NAME.search(name) for name in names):
        return "FAIL", ("%s: demands a client certificate, but trusts Cloudflare's shared origin-pull CA, which every "
                        "Cloudflare account's pulls present: upload a certificate of your own for the zone (zone-level "
                        "Authenticated Origin Pulls) and trust only its CA" % where)
    if not names:
        return "WARN", ("%s: demands a client certificate, but names no CA it trusts, so this host cannot tell whether it is "
                        "your zone's or Cloudflare's shared one" % where)
    return "OK", "%s: demands a client certificate from %s" % (where, "; ".join(names))


def judge_origin_pulls(answers):
    """(verdict, words) over every port: the worst verdict, every port's words."""
    if not answers:
        return "WARN", "no port of the proxy to ask"
    judged = [judge_front_port(answer) for answer in answers]
    verdict = next((level for level in ("FAIL", "WARN") if any(v == level for v, dummy in judged)), "OK")
    return verdict, "; ".join(words for dummy, words in judged)


def _loopback(address):
    return address.startswith("127.") or address == "::1"


def front_ports(inputs, bindings):
    """[(address, port)]: the TCP ports the lock lets Cloudflare through (the proxy's and MeshMonitor's
    published one, exposure_inputs), each with an address this host reaches it on. A port Docker
    publishes on loopback alone is left out: nobody reaches it through the lock. Docker's wildcard
    bindings and a proxy on the host are asked on 127.0.0.1."""
    ports = list(inputs.get("proxy_ports") or []) if inputs.get("behind_proxy") else []
    found = []
    for port in dict.fromkeys(ports + list(inputs.get("published_ports") or [])):
        published = [b["host_ip"] for b in bindings if b["host_port"] == int(port) and b["protocol"] == "tcp"]
        if published and all(_loopback(address) for address in published):
            continue
        specific = [address for address in published if address not in ("", "0.0.0.0", "::")]
        found.append((specific[0] if specific and len(specific) == len(published) else "127.0.0.1", int(port)))
    return found
