# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.meshmonitor.fail2ban.plugins.filter.public_urls import FilterModule, public_urls


def test_registered_under_its_name():
    assert FilterModule().filters() == {"public_urls": public_urls}


def test_origins_and_cookie():
    assert public_urls(["https://mesh.example.org/mesh"], "/mesh") == {
        "urls": ["https://mesh.example.org/mesh"], "origins": ["https://mesh.example.org"], "cookie_secure": True}


def test_a_bad_url_is_a_filter_error_naming_the_variable():
    with pytest.raises(AnsibleFilterError, match=r"^public_urls: meshmonitor_public_urls: mesh\.example\.org must start"):
        public_urls(["mesh.example.org"])
