#!/usr/bin/env python3
"""Stands in for AbuseIPDB and Cloudflare's API in the lab: records every request as one JSON line.

  recorder.py PORT LOG MODEFILE [TOKENFILE]
Each request is appended to LOG as {"method", "path", "headers", "form", "body"}. MODEFILE holds
the mode: "ok" (answer 200), "fail" (answer 500), "slow" (wait 5 s, then 200).
Cloudflare's IP Access Rules (paths ending in /firewall/access_rules/rules) keep state as the real
API documents it: POST creates a rule and answers its id, or 400 "duplicate_of_existing" when the
address has one already (a zone has one rule per address); GET lists the rules matching the query
(mode; configuration.target among ip, ip_range, asn and country, anything else is a 400;
configuration.value; notes contained, case-insensitively), a page of per_page (default 20) at a time
with result_info; PATCH .../rules/ID changes a rule's mode
and notes; DELETE .../rules/ID removes one. The rules in force are written to LOG.rules after each
change, one JSON list of {"id", "value", "mode", "notes"}.
With TOKENFILE (one token per line), Cloudflare's API knows only those tokens: GET
/client/v4/user/tokens/verify answers 401 code 1000 "Invalid API Token" for any other (200 and
status "active" for a known one), every other /client/v4/ request 403 code 10000 "Authentication
error". Without it (or with none listed) every token is known.
"""
import json
import sys
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, LOG, MODEFILE = int(sys.argv[1]), sys.argv[2], sys.argv[3]
TOKENFILE = sys.argv[4] if len(sys.argv) > 4 else None
VERIFY_PATH = "/client/v4/user/tokens/verify"
RULES_PATH = "/firewall/access_rules/rules"
rules = {}


def save_rules():
    with open(LOG + ".rules", "w") as state:
        json.dump(list(rules.values()), state)


LIST_TARGETS = ("ip", "ip_range", "asn", "country")


def error(message):
    return {"success": False, "errors": [{"code": 10009 if "duplicate" in message else 10000, "message": message}]}, 400


def known_tokens():
    try:
        with open(TOKENFILE) as tokens:
            return {line.strip() for line in tokens if line.strip()} or None
    except (TypeError, OSError):
        return None


def authenticated(path, authorization):
    """None when Cloudflare lets the request through, else its answer and status."""
    tokens = known_tokens()
    scheme, dummy, token = (authorization or "").partition(" ")
    if tokens is None or (scheme == "Bearer" and token.strip() in tokens):
        return None
    if path.startswith(VERIFY_PATH):
        return {"success": False, "errors": [{"code": 1000, "message": "Invalid API Token"}]}, 401
    return {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]}, 403


def cloudflare(method, path, body):
    """Cloudflare's answer and status, changing the rules as it would."""
    parts = urllib.parse.urlsplit(path)
    if method == "POST" and parts.path.endswith(RULES_PATH):
        data = json.loads(body)
        value = data["configuration"]["value"]
        if any(rule["value"] == value for rule in rules.values()):
            return error("firewallaccessrules.api.duplicate_of_existing")
        rule = {"id": uuid.uuid4().hex, "value": value, "mode": data["mode"], "notes": data.get("notes", "")}
        rules[rule["id"]] = rule
        save_rules()
        return {"success": True, "result": rule}, 200
    if method == "GET" and parts.path.endswith(RULES_PATH):
        query = dict(urllib.parse.parse_qsl(parts.query))
        if query.get("configuration.target", "ip") not in LIST_TARGETS:
            return error("configuration.target: must be one of " + ", ".join(LIST_TARGETS))
        found = [dict(rule, configuration={"value": rule["value"]}) for rule in rules.values()
                 if rule["value"] == query.get("configuration.value", rule["value"])
                 and rule["mode"] == query.get("mode", rule["mode"])
                 and query.get("notes", "").lower() in rule["notes"].lower()]
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", 20))
        info = {"page": page, "per_page": per_page, "total_count": len(found), "total_pages": max(1, -(-len(found) // per_page))}
        return {"success": True, "result": found[(page - 1) * per_page:page * per_page], "result_info": info}, 200
    rule_id = parts.path.rsplit("/", 1)[1] if RULES_PATH + "/" in parts.path else None
    if rule_id not in rules:
        return {"success": False, "errors": [{"message": "not found"}]}, 404
    if method == "PATCH":
        data = json.loads(body)
        rules[rule_id].update({key: data[key] for key in ("mode", "notes") if key in data})
        save_rules()
        return {"success": True, "result": rules[rule_id]}, 200
    if method == "DELETE":
        del rules[rule_id]
        save_rules()
        return {"success": True, "result": {"id": rule_id}}, 200
    return {"success": False, "errors": [{"message": "not found"}]}, 404


class Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with open(LOG, "a") as log:
            log.write(json.dumps({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                  "form": dict(urllib.parse.parse_qsl(body)), "body": body}) + "\n")
        try:
            with open(MODEFILE) as modefile:
                mode = modefile.read().strip()
        except OSError:
            mode = "ok"
        if mode == "slow":
            time.sleep(5)
        answer, status = {"data": {}, "result": []}, 200
        if mode == "fail":
            status = 500
        elif "/client/v4/" in self.path and authenticated(self.path, self.headers.get("Authorization")):
            answer, status = authenticated(self.path, self.headers.get("Authorization"))
        elif self.path.startswith(VERIFY_PATH):
            answer = {"success": True, "result": {"id": "0123456789abcdef0123456789abcdef", "status": "active"}}
        elif RULES_PATH in self.path:
            answer, status = cloudflare(self.command, self.path, body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(answer).encode())

    do_GET = do_DELETE = do_PATCH = do_POST

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("", PORT), Recorder).serve_forever()
