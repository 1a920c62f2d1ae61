#!/usr/bin/env python3
"""HTTP probe run from the lab's client containers (attacker, legit client, whitelisted).

  probe.py login URL COUNT [XFF]   COUNT failed logins, with X-Forwarded-For: XFF if given (or, as
                                   Name=value, that header: CF-Connecting-IP=198.51.100.66);
                                   prints the status codes
  probe.py served URL              one GET; exit 0 when answered 200
  probe.py blocked URL WITHIN      exit 0 once a TCP connection attempt times out within WITHIN
                                   seconds; prints the seconds it took
  probe.py keepalive URL COUNT WITHIN [XFF]
                                   COUNT failed logins (URL: the login's) over one keep-alive connection, then GETs on
                                   that same connection: exit 0 once one gets no answer within
                                   WITHIN seconds (the ban reached an established connection)
  probe.py udp HOST PORT answered|blocked [WITHIN]
                                   datagrams to HOST:PORT (HTTP/3 rides on UDP): answered exits 0 on
                                   an echo; blocked exits 0 once one goes unanswered within WITHIN s
  probe.py send URL JSON           one request as JSON says: {"method", "path" (appended to URL, or
                                   absolute), "user" (basic-auth user name), "headers", "body",
                                   "http10"}; prints the status code
Each connection attempt times out after 0.5 s: a dropped SYN is a ban. A refused connection
(MeshMonitor down, or a firewall that rejects) is not: `blocked` keeps trying.
"""
import base64
import http.client
import json
import socket
import sys
import time
import urllib.parse

CONNECT_TIMEOUT = 0.5


def request(url, method="GET", body=None, timeout=CONNECT_TIMEOUT, headers=None, target=None, http10=False):
    """Send one request; target, when given, is sent verbatim as the request target."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    if http10:
        conn._http_vsn, conn._http_vsn_str = 10, "HTTP/1.0"
    try:
        conn.connect()
        conn.sock.settimeout(5)
        path = target or parts.path + ("?" + parts.query if parts.query else "")
        headers = dict(headers or {})
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path or "/", body=json.dumps(body) if body is not None else None, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def keepalive(url, count, within, forged=None):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=3)
    headers = {"Content-Type": "application/json"}
    if forged:
        headers["X-Forwarded-For"] = forged
    codes = []
    for i in range(count):
        conn.request("POST", parts.path, body=json.dumps({"username": "admin", "password": "wrong-%d" % i}), headers=headers)
        response = conn.getresponse()
        response.read()
        codes.append(response.status)
    print("failed logins over one connection:", " ".join(map(str, codes)))
    conn.sock.settimeout(1)
    start = time.monotonic()
    answered = 0
    while time.monotonic() - start < within:
        try:
            conn.request("GET", "/")
            conn.getresponse().read()
            answered += 1
        except socket.timeout:
            print("%.3f s after the last failure, no answer on the same connection (%d answered before)"
                  % (time.monotonic() - start, answered))
            return 0
        except (http.client.HTTPException, OSError) as exc:
            print("the server closed the connection (%s): no proof either way" % exc)
            return 1
        time.sleep(0.05)
    print("still answered on the same connection after %.1f s (%d answers)" % (within, answered))
    return 1


def udp(host, port, expect, within):
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(CONNECT_TIMEOUT)
    start = time.monotonic()
    while time.monotonic() - start < within:
        sock.sendto(b"probe", (host, port))
        try:
            sock.recvfrom(64)
            if expect == "answered":
                print("answered")
                return 0
        except socket.timeout:
            if expect == "blocked":
                print("%.3f" % (time.monotonic() - start))
                return 0
        except OSError:
            pass  # ICMP unreachable: nothing listens, which proves nothing about a ban
        time.sleep(0.05)
    print("udp %s:%d: not %s within %.1f s" % (host, port, expect, within))
    return 1


def main(argv):
    action, url = argv[1], argv[2]
    if action == "login":
        forged = dict([argv[4].split("=", 1)] if "=" in argv[4] else [("X-Forwarded-For", argv[4])]) if len(argv) > 4 else {}
        codes = [request(url, "POST", {"username": "admin", "password": "wrong-%d" % i}, headers=forged)
                 for i in range(int(argv[3]))]
        print(" ".join(map(str, codes)))
        return 0 if all(c in (401, 403, 429) for c in codes) else 1
    if action == "served":
        try:
            status = request(url, timeout=3)
        except OSError as exc:
            print("not served: %s" % exc)
            return 1
        print(status)
        return 0 if status == 200 else 1
    if action == "blocked":
        within = float(argv[3])
        start = time.monotonic()
        while time.monotonic() - start < within:
            try:
                request(url)
            except socket.timeout:
                print("%.3f" % (time.monotonic() - start))
                return 0
            except OSError:
                pass
            time.sleep(0.05)
        print("still served after %.1f s" % within)
        return 1
    if action == "keepalive":
        return keepalive(url, int(argv[3]), float(argv[4]), argv[5] if len(argv) > 5 else None)
    if action == "udp":
        return udp(url, int(argv[3]), argv[4], float(argv[5]) if len(argv) > 5 else 2.0)
    if action == "send":
        spec = json.loads(argv[3])
        headers = dict(spec.get("headers", {}))
        if "user" in spec:
            credentials = (spec["user"] + ":not-the-password").encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
        path = spec.get("path", "/")
        target = path if "://" in path else urllib.parse.urlsplit(url).path + path
        print(request(url, spec.get("method", "GET"), spec.get("body"), timeout=3, headers=headers,
                      target=target, http10=spec.get("http10", False)))
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
