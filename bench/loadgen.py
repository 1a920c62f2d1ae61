#!/usr/bin/env python3
"""Load generator for `make bench`, run inside the lab's client containers.

  loadgen.py latency URL MAXRETRY        failed logins until one is dropped. JSON: latency (from the
                                         answer to the MAXRETRY-th failure to the first dropped
                                         attempt), login_rtt (median of the first MAXRETRY), late
                                         (status codes of the answers in between)
  loadgen.py flood URL THREADS SECONDS   failed logins from THREADS parallel connections at full speed
                                         until one is dropped. JSON: started, blocked (monotonic
                                         clock, shared by the containers of one kernel), requests
  loadgen.py poll URL SECONDS INTERVAL   a GET every INTERVAL seconds. JSON: [[sent, seconds], ...]

A connection attempt that gets no answer within DROPPED seconds counts as dropped: in the lab a
connection is set up in well under a millisecond.
"""
import http.client
import json
import socket
import statistics
import sys
import threading
import time
import urllib.parse

DROPPED = 0.2
LOGIN_BODY = json.dumps({"username": "admin", "password": "wrong"})


def split(url):
    parts = urllib.parse.urlsplit(url)
    return parts.hostname, parts.port or 80, parts.path or "/"


def failed_login(host, port, path):
    """One failed login on a new connection; raises socket.timeout if the connection is dropped."""
    conn = http.client.HTTPConnection(host, port, timeout=DROPPED)
    try:
        conn.connect()
        conn.sock.settimeout(5)
        conn.request("POST", path, body=LOGIN_BODY, headers={"Content-Type": "application/json"})
        return conn.getresponse().status
    finally:
        conn.close()


def wait_until_served(host, port, within=30):
    """The previous trial's ban may still be lifting: start once a connection gets through."""
    end = time.monotonic() + within
    while True:
        try:
            socket.create_connection((host, port), timeout=DROPPED).close()
            return
        except OSError:
            if time.monotonic() > end:
                raise SystemExit("still dropped after %d s" % within)
            time.sleep(0.1)


def latency(url, maxretry):
    host, port, path = split(url)
    wait_until_served(host, port)
    rtts = []
    for _attempt in range(maxretry):
        start = time.monotonic()
        failed_login(host, port, path)
        rtts.append(time.monotonic() - start)
    answered = time.monotonic()
    # The attacker goes on trying: what MeshMonitor answers before the drop is the ban's gap.
    late = []
    while True:
        attempt = time.monotonic()
        try:
            late.append(failed_login(host, port, path))
        except socket.timeout:
            return {"latency": attempt - answered, "login_rtt": statistics.median(rtts), "late": late}
        if attempt - answered > 30:
            raise SystemExit("not dropped within 30 s")


def flood(url, threads, seconds):
    host, port, path = split(url)
    blocked = []
    counts = [0] * threads
    started = time.monotonic()

    def worker(index):
        while not blocked and time.monotonic() - started < seconds:
            try:
                failed_login(host, port, path)
                counts[index] += 1
            except socket.timeout:
                blocked.append(time.monotonic())
            except OSError:
                pass

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return {"started": started, "blocked": min(blocked) if blocked else None, "requests": sum(counts)}


def poll(url, seconds, interval):
    host, port, path = split(url)
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sent = time.monotonic()
        conn = http.client.HTTPConnection(host, port, timeout=5)
        try:
            conn.request("GET", path)
            conn.getresponse().read()
            samples.append([sent, time.monotonic() - sent])
        except OSError:
            samples.append([sent, None])
        finally:
            conn.close()
        time.sleep(max(0.0, interval - (time.monotonic() - sent)))
    return samples


def main(argv):
    action, url, args = argv[1], argv[2], argv[3:]
    if action == "latency":
        result = latency(url, int(args[0]))
    elif action == "flood":
        result = flood(url, int(args[0]), float(args[1]))
    elif action == "poll":
        result = poll(url, float(args[0]), float(args[1]))
    else:
        raise SystemExit(__doc__)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
