#!/usr/bin/env python3
"""Stands in for AbuseIPDB and Cloudflare's API in the lab: records every request as one JSON line.

  recorder.py PORT LOG MODEFILE
Each request is appended to LOG as {"method", "path", "headers", "form", "body"}. MODEFILE holds
the mode: "ok" (answer 200), "fail" (answer 500), "slow" (wait 5 s, then 200).
"""
import json
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, LOG, MODEFILE = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with open(LOG, "a") as log:
            log.write(json.dumps({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                  "form": dict(urllib.parse.parse_qsl(body)), "body": body}) + "\n")
        try:
            with open(MODEFILE) as modefile:
                mode = modefile.read().strip()
        except OSError:
            mode = "ok"
        if mode == "slow":
            time.sleep(5)
        self.send_response(500 if mode == "fail" else 200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"data": {}, "result": []}')

    do_GET = do_DELETE = do_POST

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("", PORT), Recorder).serve_forever()
