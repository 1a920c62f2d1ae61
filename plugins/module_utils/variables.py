# -*- coding: utf-8 -*-
# Copyright (c) meshmonitor.fail2ban contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which variables an inventory sets that no role of the collection reads.

Ansible says nothing of a variable no role reads, so a misspelt or renamed name silently deploys
something else. The roles' public prefixes are reserved: every name with one of them is either an
option of a role's argument_specs or refused here.
"""

from __future__ import annotations

import difflib

PUBLIC_PREFIXES = ("meshmonitor_", "app_", "jail_")


def refused_variables(names, documented, removed=None):
    """Sentences for each name with a public prefix that no role documents, in name order.

    ``removed`` maps names of earlier releases to what became of them ("renamed x in 0.2.0").
    A name not documented and not removed gets the closest documented name as a hint.
    """
    documented = set(documented)
    removed = removed or {}
    refused = []
    for name in sorted(set(names)):
        if not name.startswith(PUBLIC_PREFIXES) or name in documented:
            continue
        if name in removed:
            refused.append("%s is %s" % (name, removed[name]))
            continue
        close = difflib.get_close_matches(name, sorted(documented), n=1, cutoff=0.75)
        hint = " (did you mean %s?)" % close[0] if close else ""
        refused.append("%s: no role of meshmonitor.fail2ban reads it%s" % (name, hint))
    return refused
