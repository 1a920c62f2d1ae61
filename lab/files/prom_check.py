#!/usr/bin/env python3
"""Asks a real Prometheus every query of a Grafana dashboard and checks each answer.

  prom_check.py PROMETHEUS_URL DASHBOARD_JSON EXPECTED_JSON

EXPECTED_JSON maps each panel's title to {"labels": {name: value}, "min": x, "max": y}: some series
of the panel's query must have those labels and a value within [min, max] (either bound optional).
A panel with no expectation fails too: every query the dashboard ships is tested. Prints, per panel,
the series found; exits 0 when every panel is answered as expected.
"""
import json
import sys
import urllib.parse
import urllib.request


def query(url, expr):
    with urllib.request.urlopen("%s/api/v1/query?%s" % (url, urllib.parse.urlencode({"query": expr})), timeout=10) as answer:
        body = json.load(answer)
    if body.get("status") != "success":
        raise RuntimeError(body)
    result = body["data"]["result"]
    if body["data"]["resultType"] == "scalar":
        return [{"metric": {}, "value": result}]
    return result


def matches(series, want):
    value = float(series["value"][1])
    return (all(series["metric"].get(name) == label for name, label in want.get("labels", {}).items())
            and value >= want.get("min", float("-inf")) and value <= want.get("max", float("inf")))


def main(url, dashboard_path, expected_path):
    with open(dashboard_path) as dashboard, open(expected_path) as expected:
        panels, wanted = json.load(dashboard)["panels"], json.load(expected)
    report, ok = {}, True
    for panel in panels:
        want = wanted.get(panel["title"])
        for target in panel["targets"]:
            found = query(url, target["expr"])
            passed = want is not None and any(matches(series, want) for series in found)
            report[panel["title"]] = {"expr": target["expr"], "ok": passed,
                                      "series": [dict(series["metric"], value=series["value"][1]) for series in found]}
            ok = ok and passed
    print(json.dumps(report, indent=1, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
