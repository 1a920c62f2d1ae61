# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: public_urls
short_description: Where browsers open MeshMonitor, its ALLOWED_ORIGINS and whether its cookie may be Secure
version_added: 0.2.0
author: meshmonitor.fail2ban contributors
description:
  - Checks the URLs users open MeshMonitor at (the contract's C(meshmonitor_public_urls)) and derives what MeshMonitor
    must be told for a browser to sign in there, the origins for its C(ALLOWED_ORIGINS) (MeshMonitor 4.15.1 answers
    any other Origin with a 500 before any route) and C(COOKIE_SECURE) (on only when every URL is HTTPS, since a
    browser never sends a Secure cookie back over plain HTTP, and every sign-in would then fail MeshMonitor's CSRF check).
  - With no URL given and MeshMonitor published directly, each of O(hosts) at O(port) over HTTP. Behind a reverse
    proxy nothing is guessed.
  - Fails naming the variable and the URL that is wrong.
options:
  _input:
    description: The URLs, e.g. V(https://mesh.example.org); a path, if any, must be the base URL.
    type: list
    elements: str
    required: true
  base_url:
    description: MeshMonitor's C(BASE_URL).
    type: str
    default: ""
  hosts:
    description: Names and addresses the host is known by, for the URLs derived without O(_input).
    type: list
    elements: str
    default: []
  port:
    description: The port MeshMonitor is published on, for the URLs derived without O(_input).
    type: int
  behind_proxy:
    description: A reverse proxy fronts MeshMonitor; then no URL is derived.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Tell MeshMonitor where browsers open it
  ansible.builtin.set_fact:
    browser: "{{ ['https://mesh.example.org'] | meshmonitor.fail2ban.public_urls }}"
  # browser.origins == ['https://mesh.example.org'], browser.cookie_secure == true
"""

RETURN = r"""
_value:
  description: The URLs (given or derived), their origins in order without repeats, and C(cookie_secure).
  type: dict
  sample: {urls: ["https://mesh.example.org/"], origins: ["https://mesh.example.org"], cookie_secure: true}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.browser import BrowserError
from ansible_collections.meshmonitor.fail2ban.plugins.module_utils.browser import public_urls as derive


def public_urls(urls, base_url="", hosts=None, port=None, behind_proxy=False):
    try:
        return derive(urls, base_url, hosts, port, behind_proxy)
    except BrowserError as exc:
        raise AnsibleFilterError("public_urls: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"public_urls": public_urls}
