# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.browser import BrowserError, origin_of, public_urls


@pytest.mark.parametrize("url, origin", [
    ("https://Mesh.Example.org", "https://mesh.example.org"),
    ("https://mesh.example.org:443/", "https://mesh.example.org"),
    ("http://mesh.example.org:80", "http://mesh.example.org"),
    ("http://192.0.2.10:8080", "http://192.0.2.10:8080"),
    ("http://[2001:db8::0010]:8080/mesh", "http://[2001:db8::10]:8080"),
    ("https://mesh.example.org/mesh/", "https://mesh.example.org"),
])
def test_origins_are_what_browsers_send(url, origin):
    assert origin_of(url, "/mesh") == origin


@pytest.mark.parametrize("url, message", [
    ("mesh.example.org", "must start with http:// or https://"),
    ("ftp://mesh.example.org", "must start with http:// or https://"),
    ("https://user:pw@mesh.example.org", "may hold no user"),
    ("https://mesh.example.org/?x=1", "may hold no user, query or fragment"),
    ("https://mesh.example.org/other", "has the path /other; MeshMonitor is served at /mesh"),
    ("https://mesh.example.org:99999", "Port out of range"),
    ("https://bad_host.example", "is not a host name or address"),
])
def test_bad_urls_are_refused_naming_the_variable(url, message):
    with pytest.raises(BrowserError, match="^meshmonitor_public_urls: ") as error:
        origin_of(url, "/mesh")
    assert message in str(error.value)


def test_given_urls_keep_their_order_and_drop_repeated_origins():
    result = public_urls(["https://mesh.example.org", "https://MESH.example.org:443/", "http://10.0.0.5:8080"])
    assert result == {"urls": ["https://mesh.example.org", "https://MESH.example.org:443/", "http://10.0.0.5:8080"],
                      "origins": ["https://mesh.example.org", "http://10.0.0.5:8080"], "cookie_secure": False}


def test_secure_cookie_only_when_every_url_is_https():
    assert public_urls(["https://a.example", "https://b.example"])["cookie_secure"] is True
    assert public_urls([])["cookie_secure"] is False


def test_published_directly_the_host_names_are_derived():
    result = public_urls([], "/mesh", ["mesh1", "192.0.2.10", "mesh1", "2001:db8::1", ""], 8080)
    assert result["urls"] == ["http://mesh1:8080/mesh", "http://192.0.2.10:8080/mesh", "http://[2001:db8::1]:8080/mesh"]
    assert result["origins"] == ["http://mesh1:8080", "http://192.0.2.10:8080", "http://[2001:db8::1]:8080"]


def test_behind_a_proxy_nothing_is_guessed():
    assert public_urls([], "", ["mesh1"], 8080, behind_proxy=True) == {"urls": [], "origins": [], "cookie_secure": False}


def test_not_a_list_is_refused():
    with pytest.raises(BrowserError, match="must be a list"):
        public_urls("https://mesh.example.org")
