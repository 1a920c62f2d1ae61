"""filter.d/meshmonitor-recidive.conf, through real fail2ban-regex: fail2ban's recidive filter
counting other jails' bans but never a repeat-offender jail's own, nor copies of other hosts' bans."""
import shutil
from pathlib import Path

import pytest

from test_meshmonitor_filter import ROOT, fail2ban_regex_command, run_regex_with

FILTER = ROOT / "roles/jail/files/filter.d/meshmonitor-recidive.conf"
PREFIX = "2026-11-26 03:47:08,260 fail2ban.actions        [3020]: NOTICE  "


def shipped_filter_dir():
    """fail2ban's own filter.d, for the recidive.conf and common.conf our filter includes."""
    for base in (Path("/etc/fail2ban/filter.d"), ROOT / ".venv/fail2ban/etc/fail2ban/filter.d"):
        if (base / "recidive.conf").exists():
            return base
    return pytest.fail("fail2ban's filter.d not found: run `make setup`")


@pytest.fixture(scope="module")
def recidive_filter(tmp_path_factory):
    directory = tmp_path_factory.mktemp("filter.d")
    for name in ("recidive.conf", "common.conf"):
        shutil.copy(shipped_filter_dir() / name, directory / name)
    shutil.copy(FILTER, directory / FILTER.name)
    return directory / FILTER.name


@pytest.mark.parametrize("line, counted", [
    ("[meshmonitor] Ban 198.51.100.77", True),
    ("[sshd] Ban 198.51.100.78", True),
    ("[meshmonitor-recidive] Ban 198.51.100.77", False),
    ("[other-recidive] Ban 198.51.100.79", False),
    # Copies of bans made on other hosts: counted where they began, not again here.
    ("[meshmonitor-sync] Ban 198.51.100.80", False),
    ("[meshmonitor-permanent] Ban 198.51.100.81", True),
    ("[meshmonitor] Restore Ban 198.51.100.77", False),
    ("[meshmonitor] Unban 198.51.100.77", False),
])
def test_counts_other_jails_bans_only(recidive_filter, line, counted):
    output = run_regex_with(fail2ban_regex_command(), PREFIX + line, str(recidive_filter))
    assert ("1 matched" in output) is counted, output
