# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where browsers open MeshMonitor, and what MeshMonitor must be told for them to sign in.

MeshMonitor 4.15.1 answers a request whose Origin is not in ALLOWED_ORIGINS with a 500 before any
route (browsers send Origin on every sign-in), and its session cookie is Secure when COOKIE_SECURE
is on, which a browser on plain HTTP never sends back (every sign-in then fails its CSRF check).
Both follow from the URLs users open, so those URLs are what the deployer states."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")


class BrowserError(ValueError):
    """A URL that cannot be where browsers open MeshMonitor."""


def host_text(host):
    """The host as it stands in an origin: a name in lower case, an IPv6 address in brackets."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not HOST_NAME.match(host):
            raise BrowserError("%r is not a host name or address" % host)
        return host.lower().rstrip(".")
    return "[%s]" % address.compressed if address.version == 6 else address.compressed


def origin_of(url, base_url=None, label="meshmonitor_public_urls"):
    """The origin a browser sends for url: scheme://host[:port], the port left out when it is the
    scheme's own. base_url None: the path is not checked."""
    if not isinstance(url, str) or not url:
        raise BrowserError("%s: %r is not a URL" % (label, url))
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.netloc:
        raise BrowserError("%s: %s must start with http:// or https:// and name a host" % (label, url))
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise BrowserError("%s: %s may hold no user, query or fragment" % (label, url))
    if base_url is not None and parts.path.rstrip("/") not in ("", base_url):
        raise BrowserError("%s: %s has the path %s; MeshMonitor is served at %s" % (label, url, parts.path, base_url or "/"))
    try:
        port = parts.port
        host = host_text(parts.hostname or "")
    except (ValueError, BrowserError) as exc:
        raise BrowserError("%s: %s: %s" % (label, url, exc))
    origin = "%s://%s" % (parts.scheme, host)
    if port is not None and port != DEFAULT_PORTS[parts.scheme]:
        origin += ":%d" % port
    return origin


def public_urls(urls, base_url="", hosts=None, port=None, behind_proxy=False):
    """The URLs browsers open MeshMonitor at, their origins, and whether its cookie may be Secure.

    urls: what the deployer gave; empty, and MeshMonitor published directly, each of hosts (the names
    and addresses the host is known by) at port, over HTTP. Behind a proxy nothing can be guessed:
    the lists stay empty. cookie_secure only when every URL is HTTPS (a Secure cookie never reaches
    a browser on plain HTTP).
    """
    if not isinstance(urls, list):
        raise BrowserError("meshmonitor_public_urls must be a list of URLs, not %r" % (urls,))
    given = list(urls)
    if not given and not behind_proxy and port:
        given = []
        for host in hosts or []:
            if host:
                try:
                    url = "http://%s:%d%s" % (host_text(str(host)), int(port), base_url)
                except BrowserError:
                    continue
                if url not in given:
                    given.append(url)
    origins = []
    for url in given:
        origin = origin_of(url, base_url)
        if origin not in origins:
            origins.append(origin)
    return {"urls": given, "origins": origins,
            "cookie_secure": bool(given) and all(url.startswith("https://") for url in given)}
