"""Each role documents every variable once more, and no more: defaults/main.yml, its
meta/argument_specs.yml and its README table must name the same variables."""
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("role", ["app", "jail"])
def test_defaults_argument_specs_and_readme_agree(role):
    base = ROOT / "roles" / role
    defaults = set(yaml.safe_load((base / "defaults/main.yml").read_text()))
    specs = set(yaml.safe_load((base / "meta/argument_specs.yml").read_text())
                ["argument_specs"]["main"]["options"])
    readme = set(re.findall(r"^\| `(%s_\w+)` \|" % role, (base / "README.md").read_text(), re.M))
    assert defaults == specs, "defaults vs argument_specs: %s" % sorted(defaults ^ specs)
    assert specs == readme, "argument_specs vs README: %s" % sorted(specs ^ readme)
