# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import io
import json

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils import host


def test_meshmonitor_is_asked_as_a_browser_at_each_public_url_would_ask(monkeypatch):
    asked = []

    def fetch_url(module, url, headers=None, method="GET", timeout=10, force=False):
        asked.append((url, headers))
        if url.endswith("/check-default-password"):
            return io.BytesIO(json.dumps({"isDefaultPassword": True}).encode()), {"status": 200, "msg": "OK"}
        if headers["Origin"] == "https://mesh.example.org":
            return io.BytesIO(b'{"issues": []}'), {"status": 200, "msg": "OK"}
        return None, {"status": 500, "msg": "HTTP Error 500", "body": b'{"error": "Internal server error"}'}
    monkeypatch.setattr(host, "fetch_url", fetch_url)
    record = {"url": "http://127.0.0.1:8080/mesh", "public_urls": ["https://mesh.example.org/mesh", "http://10.0.0.5:8080", "nope"]}
    answers = host.ask_meshmonitor(object(), record)
    assert asked == [("http://127.0.0.1:8080/mesh/api/auth/check-default-password", {}),
                     ("http://127.0.0.1:8080/mesh/api/auth/check-config-issues", {"Origin": "https://mesh.example.org", "X-Forwarded-Proto": "https"}),
                     ("http://127.0.0.1:8080/mesh/api/auth/check-config-issues", {"Origin": "http://10.0.0.5:8080", "X-Forwarded-Proto": "http"})]
    assert answers["default_password"]["json"] == {"isDefaultPassword": True}
    assert [(item["origin"], item["status"]) for item in answers["config"]] == [
        ("https://mesh.example.org", 200), ("http://10.0.0.5:8080", 500), ("nope", -1)]
    assert answers["config"][1]["json"] == {"error": "Internal server error"}


def test_a_record_of_an_earlier_release_is_not_asked():
    assert host.ask_meshmonitor(object(), {"jail": "meshmonitor"}) is None
