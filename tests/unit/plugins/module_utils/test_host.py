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


def test_cloudflare_is_asked_with_the_token_file_next_to_the_zone_api(monkeypatch, tmp_path):
    asked = []

    def fetch_url(module, url, headers=None, method="GET", timeout=10, force=False):
        asked.append((url, headers))
        return io.BytesIO(b'{"success": true, "result": {"status": "active"}}'), {"status": 200, "msg": "OK"}
    monkeypatch.setattr(host, "fetch_url", fetch_url)
    header_file = tmp_path / "cloudflare.header"
    header_file.write_text("Authorization: Bearer s3cret\nContent-Type: application/json\n")
    api = "http://10.0.0.5:8000/client/v4/zones/z1/firewall/access_rules/rules"
    record = {"cloudflare": True, "cloudflare_api_url": api, "cloudflare_header_file": str(header_file)}
    answers = host.ask_cloudflare(object(), record)
    headers = {"Authorization": "Bearer s3cret", "Content-Type": "application/json"}
    assert asked == [("http://10.0.0.5:8000/client/v4/user/tokens/verify", headers), (api + "?per_page=1", headers)]
    assert answers["verify"]["json"]["result"]["status"] == "active"
    # The token is sent, never returned.
    assert "s3cret" not in json.dumps(answers)
    assert host.ask_cloudflare(object(), dict(record, cloudflare=False)) is None
    assert "cannot read the token file" in host.ask_cloudflare(object(), dict(record, cloudflare_header_file=str(tmp_path / "x")))["error"]
    assert "run site.yml" in host.ask_cloudflare(object(), {"cloudflare": True})["error"]


def test_an_error_body_already_read_by_fetch_url_is_taken_from_info(monkeypatch):
    def fetch_url(module, url, headers=None, method="GET", timeout=10, force=False):
        # As fetch_url answers an HTTP error: the error as response, its body already read into info.
        return io.BytesIO(b""), {"status": 401, "msg": "HTTP Error 401", "body": b'{"success": false, "errors": [{"code": 1000}]}'}
    monkeypatch.setattr(host, "fetch_url", fetch_url)
    answer = host._get_json(object(), "http://x/", {})
    assert answer["status"] == 401 and answer["json"]["errors"] == [{"code": 1000}]
