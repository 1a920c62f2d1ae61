"""Check filter.d/meshmonitor.conf against its sample log with real fail2ban-regex.

Follows fail2ban's own samples test: every annotated line gives the expected
result (match or not, banned address, time), and every failregex is hit by at
least one sample.
"""

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILTER = ROOT / "roles/jail/files/filter.d/meshmonitor.conf"
SAMPLES = ROOT / "roles/jail/files/samples/meshmonitor"


def fail2ban_regex_command():
    """fail2ban-regex from PATH, else the copy `make setup` unpacks into .venv."""
    found = shutil.which("fail2ban-regex")
    if found:
        return [found]
    unpacked = ROOT / ".venv/fail2ban"
    script = unpacked / "usr/bin/fail2ban-regex"
    if script.exists():
        return ["env", f"PYTHONPATH={unpacked}/usr/lib/python3/dist-packages", "python3", str(script)]
    pytest.fail("fail2ban-regex not found: run `make setup` (it unpacks Debian's fail2ban into .venv)")


class Sample(NamedTuple):
    """One sample line, with the filter options it runs under and its failJSON expectation."""
    options: dict
    expectation: dict
    number: int
    line: str


def parse_samples(path):
    """Yield a Sample for each annotated line and each option set in force."""
    options = [{}]
    expectation = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        if raw.startswith("# filterOptions:"):
            options = json.loads(raw.split(":", 1)[1])
        elif raw.startswith("# failJSON:"):
            expectation = json.loads(raw.split(":", 1)[1])
        elif raw.startswith("#") or not raw.strip():
            continue
        else:
            assert expectation is not None, f"line {number} has no failJSON annotation"
            for opts in options:
                yield Sample(opts, expectation, number, raw)
            expectation = None


def filter_arg(opts):
    if not opts:
        return str(FILTER)
    return "%s[%s]" % (FILTER, ", ".join('%s="%s"' % item for item in opts.items()))


def run_regex_with(command, line, filter_spec, *extra):
    """fail2ban-regex's output for one line (or a log file) and a filter, in UTC."""
    result = subprocess.run(
        command + list(extra) + [line, filter_spec],
        capture_output=True, text=True, env={**os.environ, "TZ": "UTC"}, check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def run_regex(line, opts, *extra):
    return run_regex_with(fail2ban_regex_command(), line, filter_arg(opts), *extra)


CASES = list(parse_samples(SAMPLES))


def test_sample_file_is_annotated():
    assert len(CASES) >= 30
    assert any(case.expectation["match"] for case in CASES)
    assert any(not case.expectation["match"] for case in CASES)


def check_one(case):
    opts, expectation, number, line = case
    rows = [r for r in run_regex(line, opts, "-o", "row").splitlines() if r.strip()]
    where = f"sample line {number} with {opts or 'defaults'}: {line}"
    if not expectation["match"]:
        return [] if not rows else [f"matched but must not: {where}\n  {rows}"]
    if len(rows) != 1:
        return [f"expected one match, got {len(rows)}: {where}"]
    found = re.match(r"\['([^']+)',\s*(\d+|None)", rows[0])
    host, epoch = found.group(1), found.group(2)
    problems = []
    if host != expectation["host"]:
        problems.append(f"host {host!r}, expected {expectation['host']!r}: {where}")
    # A sample without "time" is a line without a timestamp: fail2ban dates it by the
    # line before it, or now (fail2ban-regex, reading one line, prints None).
    want = "None"
    if "time" in expectation:
        want = str(int(datetime.fromisoformat(expectation["time"]).replace(tzinfo=timezone.utc).timestamp()))
    if epoch != want:
        problems.append(f"time {epoch}, expected {want}: {where}")
    return problems


def test_every_sample_line():
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        problems = [p for result in pool.map(check_one, CASES) for p in result]
    assert not problems, "\n".join(problems)


# apiauth=on adds two failregex lines (API tokens, MFA disables).
@pytest.mark.parametrize("opts, failregexes", [({}, 3), ({"baseurl": "/mesh"}, 3), ({"apiauth": "on"}, 5)])
def test_every_failregex_has_samples(opts, failregexes):
    lines = [case.line for case in CASES if case.options == opts and case.expectation["match"]]
    log = ROOT / ".pytest_cache" / f"meshmonitor-samples{len(opts)}.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("\n".join(lines) + "\n")
    output = run_regex(str(log), opts)
    hits = [int(h) for h in re.findall(r"^\|\s+\d+\) \[(\d+)\]", output.split("Ignoreregex:")[0], re.M)]
    assert len(hits) == failregexes, output
    assert all(hits), f"a failregex has no sample:\n{output}"
    assert f"{len(lines)} matched, 0 missed" in output, output
