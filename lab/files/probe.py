#!/usr/bin/env python3
"""HTTP probe run from the lab's client containers (attacker, legit client, whitelisted).

  probe.py login URL COUNT [XFF]   COUNT failed logins, with X-Forwarded-For: XFF if given (or, as
                                   Name=value, that header: CF-Connecting-IP=198.51.100.66);
                                   prints the status codes
  probe.py served URL              one GET; exit 0 when answered 200
  probe.py unanswered URL          one GET over a connection the server accepts: exit 0 when no HTTP
                                   answer comes (a proxy demanding a client certificate ends the
                                   TLS handshake), 1 when answered, 2 when no connection is made
  probe.py blocked URL WITHIN      exit 0 once a TCP connection attempt times out within WITHIN
                                   seconds; prints the seconds it took
  probe.py keepalive URL COUNT WITHIN [XFF]
                                   COUNT failed logins (URL: the login's) over one keep-alive connection, then GETs on
                                   that same connection: exit 0 once one gets no answer within
                                   WITHIN seconds (the ban reached an established connection)
  probe.py flood URL CONNECTIONS SECONDS
                                   failed logins (URL: the login's) at full speed over CONNECTIONS
                                   keep-alive connections at once, each with its own session, for
                                   SECONDS or until every connection is dropped; prints a JSON
                                   count of the answers by status, "dropped" for connections cut
  probe.py watch URL STOPFILE OUT  a new connection every 0.1 s (0.5 s to connect) until STOPFILE
                                   exists, then writes OUT: JSON counts of the attempts "answered"
                                   (any HTTP status), "dropped" (no connection) and "refused", and
                                   the times of the answered ones (a ban that lapses for a moment
                                   shows there)
  probe.py udp HOST PORT answered|blocked [WITHIN]
                                   datagrams to HOST:PORT (HTTP/3 rides on UDP): answered exits 0 on
                                   an echo; blocked exits 0 once one goes unanswered within WITHIN s
  probe.py send URL JSON           one request as JSON says: {"method", "path" (appended to URL, or
                                   absolute), "user" (basic-auth user name), "headers", "body",
                                   "http10", "csrf" (false: no token), "mfa" (true: first a right
                                   password for the MFA user, so an MFA login is pending),
                                   "signin" (true: first a whole sign-in of the MFA user, password
                                   and code), "form" (true: the body form-encoded)}; prints the
                                   status code
  probe.py browser URL ORIGIN USER PASSWORD [Name=value]
                                   what a browser at ORIGIN does on MeshMonitor's page URL: load the
                                   page, fetch the CSRF token with the session cookie, sign in with
                                   Origin, Referer, cookie and token, then ask whether it is signed
                                   in; prints {"page", "login", "authenticated"} as JSON. Name=value:
                                   one more header on each request (CF-Connecting-IP=198.51.100.77)
Requests to MeshMonitor's API carry a CSRF token, as its web UI and any serious attacker send them:
a session cookie and X-CSRF-Token from GET <app>/api/csrf-token (CSRF=0 in the environment: none,
so writes get MeshMonitor's 403).
PROBE_SOURCE in the environment: the address every connection is made from (one of the client's own).
https URLs: the server's certificate is not checked; PROBE_CERT (a PEM file holding a certificate and
its key) is the client certificate presented, as Cloudflare presents its Authenticated Origin Pulls one.
Each connection attempt times out after 0.5 s: a dropped SYN is a ban. A refused connection
(MeshMonitor down, or a firewall that rejects) is not: `blocked` keeps trying.
"""
import base64
import collections
import http.client
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse

CONNECT_TIMEOUT = 0.5
MFA_LOGIN = {"username": "mfa-admin", "password": "mfa-lab-password"}
MFA_CODE = "123456"


def connection(parts, timeout):
    """An HTTP connection to the URL's host (parts: urlsplit), from PROBE_SOURCE when set."""
    source = os.environ.get("PROBE_SOURCE")
    source_address = (source, 0) if source else None
    if parts.scheme == "https":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if os.environ.get("PROBE_CERT"):
            context.load_cert_chain(os.environ["PROBE_CERT"])
        return http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout,
                                           source_address=source_address, context=context)
    return http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout, source_address=source_address)


def request(url, method="GET", body=None, timeout=CONNECT_TIMEOUT, headers=None, target=None, http10=False):
    """Send one request; target, when given, is sent verbatim as the request target."""
    parts = urllib.parse.urlsplit(url)
    conn = connection(parts, timeout=timeout)
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
        # The whole answer is read, as a browser does, before the connection closes: MeshMonitor's
        # sign-in limiter takes a success back only once the answer has gone out.
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def app_prefix(target):
    """The path before /api/ in a request target (absolute form too), or None."""
    path = urllib.parse.urlsplit(target).path if "://" in target else target
    found = re.search(r"/api/", path, re.I)
    return path[:found.start()] if found else None


def csrf_headers(url, target, conn=None, extra=None):
    """A session cookie and its CSRF token, fetched as the web UI does; {} when there is none."""
    prefix = app_prefix(target)
    if prefix is None or os.environ.get("CSRF") == "0":
        return {}
    parts = urllib.parse.urlsplit(url)
    own = conn is None
    conn = conn or connection(parts, timeout=3)
    try:
        conn.request("GET", prefix + "/api/csrf-token", headers=extra or {})
        response = conn.getresponse()
        body = response.read()
        try:
            token = json.loads(body)["csrfToken"]
        except (ValueError, KeyError, TypeError):
            return {}  # not MeshMonitor's API there (its web page answers any path under BASE_URL)
        if response.status != 200:
            return {}
        cookie = (response.getheader("Set-Cookie") or "").split(";")[0]
        return {"Cookie": cookie, "X-CSRF-Token": token}
    finally:
        if own:
            conn.close()


class Session:
    """A browser's cookie jar for one site: every answer's Set-Cookie replaces the session cookie."""

    def __init__(self, url, headers=None):
        self.parts = urllib.parse.urlsplit(url)
        self.headers = dict(headers or {})

    def send(self, method, path, body=None, form=False):
        conn = connection(self.parts, timeout=5)
        try:
            headers = dict(self.headers)
            data = None
            if body is not None:
                headers["Content-Type"] = "application/x-www-form-urlencoded" if form else "application/json"
                data = urllib.parse.urlencode(body) if form else json.dumps(body)
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            text = response.read()
            cookie = response.getheader("Set-Cookie")
            if cookie:
                self.headers["Cookie"] = cookie.split(";")[0]
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, None
        finally:
            conn.close()

    def csrf(self, prefix):
        status, answer = self.send("GET", prefix + "/api/csrf-token")
        if status == 200:
            self.headers["X-CSRF-Token"] = answer["csrfToken"]
        return status


def browser(url, origin, username, password, header=None):
    prefix = urllib.parse.urlsplit(url).path.rstrip("/")
    session = Session(url, dict([header.split("=", 1)] if header else [], **{"User-Agent": "Mozilla/5.0 (lab browser)", "Accept": "*/*"}))
    page = session.send("GET", prefix + "/")[0]
    session.csrf(prefix)
    session.headers.update({"Origin": origin, "Referer": origin + prefix + "/"})
    login = session.send("POST", prefix + "/api/auth/login", {"username": username, "password": password})[0]
    status, answer = session.send("GET", prefix + "/api/auth/status")
    print(json.dumps({"page": page, "login": login, "authenticated": status == 200 and bool((answer or {}).get("authenticated"))}))
    return 0


def keepalive(url, count, within, forged=None):
    parts = urllib.parse.urlsplit(url)
    conn = connection(parts, timeout=3)
    headers = {"Content-Type": "application/json"}
    if forged:
        headers["X-Forwarded-For"] = forged
    headers.update(csrf_headers(url, parts.path, conn, headers))
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


def flood(url, connections, seconds):
    parts = urllib.parse.urlsplit(url)
    answers = collections.Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def attacker(number):
        conn = connection(parts, timeout=1)
        try:
            headers = dict(csrf_headers(url, parts.path, conn), **{"Content-Type": "application/json"})
            attempt = 0
            while time.monotonic() < deadline:
                attempt += 1
                body = json.dumps({"username": "admin", "password": "guess-%d-%d" % (number, attempt)})
                conn.request("POST", parts.path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                with lock:
                    answers[str(response.status)] += 1
        except (socket.timeout, OSError, http.client.HTTPException):
            with lock:
                answers["dropped"] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=attacker, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(answers, sort_keys=True))
    return 0


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


def watch(url, stopfile, out):
    counts = {"answered": 0, "dropped": 0, "refused": 0, "answered_at": []}
    while not os.path.exists(stopfile):
        try:
            request(url)
            counts["answered"] += 1
            counts["answered_at"].append(time.strftime("%H:%M:%S"))
        except socket.timeout:
            counts["dropped"] += 1
        except OSError:
            counts["refused"] += 1
        time.sleep(0.1)
    with open(out + ".tmp", "w") as handle:
        json.dump(counts, handle)
    os.rename(out + ".tmp", out)
    return 0


def main(argv):
    action, url = argv[1], argv[2]
    if action == "login":
        forged = dict([argv[4].split("=", 1)] if "=" in argv[4] else [("X-Forwarded-For", argv[4])]) if len(argv) > 4 else {}
        headers = dict(forged, **csrf_headers(url, urllib.parse.urlsplit(url).path, extra=forged))
        codes = [request(url, "POST", {"username": "admin", "password": "wrong-%d" % i}, headers=headers)
                 for i in range(int(argv[3]))]
        print(" ".join(map(str, codes)))
        return 0 if all(c in (401, 403, 429) for c in codes) else 1
    if action == "unanswered":
        parts = urllib.parse.urlsplit(url)
        try:
            socket.create_connection((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)), timeout=3).close()
        except OSError as exc:
            print("no connection: %s" % exc)
            return 2
        try:
            status = request(url, timeout=3)
        except (OSError, http.client.HTTPException) as exc:
            print("no answer: %s" % exc)
            return 0
        print("answered %d" % status)
        return 1
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
    if action == "flood":
        return flood(url, int(argv[3]), float(argv[4]))
    if action == "watch":
        return watch(url, argv[3], argv[4])
    if action == "udp":
        return udp(url, int(argv[3]), argv[4], float(argv[5]) if len(argv) > 5 else 2.0)
    if action == "browser":
        return browser(url, argv[3], argv[4], argv[5], argv[6] if len(argv) > 6 else None)
    if action == "send" and json.loads(argv[3]).get("signin"):
        spec = json.loads(argv[3])
        path = spec.get("path", "/")
        target = urllib.parse.urlsplit(url).path + path
        session = Session(url, spec.get("headers"))
        session.csrf(app_prefix(target))
        session.send("POST", app_prefix(target) + "/api/auth/login", MFA_LOGIN)
        session.send("POST", app_prefix(target) + "/api/auth/verify-mfa", {"token": MFA_CODE})
        print(session.send(spec.get("method", "GET"), target, spec.get("body"), spec.get("form", False))[0])
        return 0
    if action == "send" and json.loads(argv[3]).get("form"):
        spec = json.loads(argv[3])
        target = urllib.parse.urlsplit(url).path + spec.get("path", "/")
        session = Session(url, spec.get("headers"))
        if spec.get("csrf", True):
            session.csrf(app_prefix(target))
            spec["body"] = dict(spec.get("body", {}), _csrf=session.headers.pop("X-CSRF-Token", ""))
        print(session.send(spec.get("method", "POST"), target, spec.get("body"), form=True)[0])
        return 0
    if action == "send":
        spec = json.loads(argv[3])
        headers = dict(spec.get("headers", {}))
        if "user" in spec:
            credentials = (spec["user"] + ":not-the-password").encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
        path = spec.get("path", "/")
        target = path if "://" in path else urllib.parse.urlsplit(url).path + path
        if spec.get("method", "GET") != "GET" and spec.get("csrf", True):
            headers.update(csrf_headers(url, target))
        if spec.get("mfa"):
            request(url, "POST", MFA_LOGIN, timeout=3, headers=headers, target=app_prefix(target) + "/api/auth/login")
        print(request(url, spec.get("method", "GET"), spec.get("body"), timeout=3, headers=headers,
                      target=target, http10=spec.get("http10", False)))
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
