# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.meshmonitor.fail2ban.plugins.module_utils import origin_pulls

SHARED = 'C = US, O = "CloudFlare, Inc.", OU = Origin Pull, L = San Francisco, ST = California, CN = origin-pull.cloudflare.net'
# openssl s_client -trace excerpts (OpenSSL 3.0): a TLS 1.3 session's summary, a TLS 1.2 CertificateRequest
# the server ended the handshake after, and a server that asks for no certificate.
TLS13 = """    CertificateRequest, Length=63
        extension_type=certificate_authorities(47), length=41
          0000 - 00 27 00 25 30 23 31 21-30 1f 06 03 55 04 03   .'.%0#1!0...U..
---
Acceptable client certificate CA names
CN = lab zone origin pulls CA
Requested Signature Algorithms: ECDSA+SHA256:ECDSA+SHA384
Shared Requested Signature Algorithms: ECDSA+SHA256:ECDSA+SHA384
---
"""
TLS12 = """    CertificateRequest, Length=87
      certificate_types (len=3)
        ecdsa_sign (64)
      certificate_authorities (len=39)
        DistinguishedName (len=37): CN = lab zone origin pulls CA
80FB68D7FB7F0000:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure
"""
NONE_ASKED = """    ServerHello, Length=86
---
No client certificate CA names sent
---
"""


def answer(**fields):
    return dict({"port": 443, "address": "127.0.0.1", "tls": True, "status": None, "location": "", "names": None}, **fields)


def test_ca_names_read_from_either_kind_of_handshake():
    assert origin_pulls.ca_names(TLS13) == ["CN = lab zone origin pulls CA"]
    assert origin_pulls.ca_names(TLS12) == ["CN = lab zone origin pulls CA"]
    assert origin_pulls.ca_names(TLS12 + TLS13) == ["CN = lab zone origin pulls CA"]
    # Asked for a certificate without naming a CA; asked for none; nothing to read (openssl failed).
    assert origin_pulls.ca_names("    CertificateRequest, Length=40\n") == []
    assert origin_pulls.ca_names(NONE_ASKED) == []
    assert origin_pulls.ca_names("connect:errno=111\n") is None


def test_a_port_demanding_the_zones_own_certificate_is_ok():
    assert origin_pulls.judge_front_port(answer(names=["CN = lab zone origin pulls CA"])) == (
        "OK", "443/tcp: demands a client certificate from CN = lab zone origin pulls CA")
    # nginx's ssl_verify_client on answers 400 without a certificate rather than ending the handshake.
    assert origin_pulls.judge_front_port(answer(status=400, names=["CN = zone"]))[0] == "OK"


def test_every_cloudflare_account_passing_fails():
    # Served without a certificate (no demand, or nginx's ssl_verify_client optional), any status below 400.
    for status in (200, 301, 302, 401, 404):
        verdict, words = origin_pulls.judge_front_port(answer(status=status))
        assert verdict == "FAIL" and ("HTTPS answered %d without a client certificate" % status) in words
    # Cloudflare's shared certificate, alone or beside the zone's.
    for names in ([SHARED], ["CN = lab zone origin pulls CA", SHARED]):
        verdict, words = origin_pulls.judge_front_port(answer(names=names))
        assert verdict == "FAIL" and "Cloudflare's shared origin-pull CA" in words
    # Plain HTTP serving MeshMonitor (another account's Flexible SSL zone) or redirecting elsewhere.
    assert origin_pulls.judge_front_port(answer(port=80, tls=False, status=200))[0] == "FAIL"
    assert origin_pulls.judge_front_port(answer(port=80, tls=False, status=301, location="http://mesh.example.org/"))[0] == "FAIL"


def test_what_cannot_be_told_warns():
    assert origin_pulls.judge_front_port(answer(port=80, tls=False, status=308, location="HTTPS://mesh.example.org/")) == (
        "OK", "80/tcp: plain HTTP, only redirected to HTTPS")
    for names in ([], None):
        assert origin_pulls.judge_front_port(answer(names=names))[0] == "WARN"
    assert origin_pulls.judge_front_port(answer(error="nothing answers on 127.0.0.1 port 443 (Connection refused)")) == (
        "WARN", "443/tcp: cannot tell, nothing answers on 127.0.0.1 port 443 (Connection refused) from this host")


def test_the_worst_port_decides():
    ok, redirect = answer(names=["CN = zone"]), answer(port=80, tls=False, status=301, location="https://x/")
    assert origin_pulls.judge_origin_pulls([ok, redirect])[0] == "OK"
    assert origin_pulls.judge_origin_pulls([ok, answer(names=[])])[0] == "WARN"
    verdict, words = origin_pulls.judge_origin_pulls([answer(names=[]), ok, answer(port=8080, tls=False, status=200)])
    assert verdict == "FAIL" and words.count("/tcp:") == 3
    assert origin_pulls.judge_origin_pulls([])[0] == "WARN"


def test_front_ports_are_the_ports_the_lock_opens_as_this_host_reaches_them():
    inputs = {"behind_proxy": True, "proxy_ports": [80, 443], "published_ports": [8080]}
    bindings = [
        {"container": "proxy", "host_ip": "0.0.0.0", "host_port": 80, "port": 8080, "protocol": "tcp"},
        {"container": "proxy", "host_ip": "::", "host_port": 80, "port": 8080, "protocol": "tcp"},
        {"container": "proxy", "host_ip": "192.0.2.5", "host_port": 443, "port": 8443, "protocol": "tcp"},
        {"container": "proxy", "host_ip": "0.0.0.0", "host_port": 443, "port": 8443, "protocol": "udp"},
        # MeshMonitor published on loopback alone: nobody reaches it through the lock.
        {"container": "meshmonitor", "host_ip": "127.0.0.1", "host_port": 8080, "port": 3001, "protocol": "tcp"},
    ]
    assert origin_pulls.front_ports(inputs, bindings) == [("127.0.0.1", 80), ("192.0.2.5", 443)]
    # Published on every address, MeshMonitor's own port is asked too; a proxy on the host, on loopback.
    bindings[-1]["host_ip"] = ""
    assert origin_pulls.front_ports(inputs, bindings[:2] + bindings[-1:]) == [("127.0.0.1", 80), ("127.0.0.1", 443), ("127.0.0.1", 8080)]
    # Without a proxy only MeshMonitor's published port.
    assert origin_pulls.front_ports(dict(inputs, behind_proxy=False), bindings[-1:]) == [("127.0.0.1", 8080)]
