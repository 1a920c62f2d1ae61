"""Every name with a role's public prefix (meshmonitor_, app_, jail_) that the roles and the site
playbook use is an option of some role's argument_specs: the roles refuse any other such name an
inventory sets (module_utils/variables.py), so an internal name left public would make the
collection refuse its own facts, and a user setting it would be silently overridden."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("meshmonitor", "app", "jail")
# A name not preceded by a word character or a dot (an attribute, a module's FQCN) nor followed by one.
PUBLIC_NAME = re.compile(r"(?<![\w.])((?:meshmonitor|app|jail)_[a-z0-9_]+)(?!\w)")


def documented():
    names = set()
    for role in ROLES:
        specs = yaml.safe_load((ROOT / "roles" / role / "meta/argument_specs.yml").read_text())["argument_specs"]
        for entry_point in specs.values():
            names |= set(entry_point.get("options", {}))
    return names


def removed():
    return set(yaml.safe_load((ROOT / "roles/meshmonitor/vars/main.yml").read_text())["__meshmonitor_removed_variables"])


def used():
    files = [p for p in (ROOT / "roles").rglob("*") if p.suffix in (".yml", ".j2") and "meta" not in p.parts]
    files.append(ROOT / "playbooks/site.yml")
    found = {}
    for path in files:
        for name in PUBLIC_NAME.findall(path.read_text()):
            found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_every_public_name_the_roles_use_is_documented():
    # The local fact's name (ansible_local.meshmonitor_fail2ban_*) is a file name, not a variable.
    undocumented = {name: path for name, path in used().items()
                    if name not in documented() | removed() and not name.startswith("meshmonitor_fail2ban_")}
    assert undocumented == {}


def test_the_check_would_see_a_public_internal_name():
    assert PUBLIC_NAME.findall('{{ jail_filter_file }} {{ __jail_presets }} meshmonitor.fail2ban.jail_info') == ["jail_filter_file"]
