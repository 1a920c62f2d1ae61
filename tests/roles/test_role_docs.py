"""Each role documents every variable once, in meta/argument_specs.yml: the variables there are
exactly those of defaults/main.yml, and the README's variable section and the comments in
defaults/main.yml are what ansible-docsmith generates from it (`make docs` writes them)."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCSMITH = Path(sys.executable).with_name("ansible-docsmith")


@pytest.mark.parametrize("role", ["app", "jail", "meshmonitor"])
def test_defaults_and_argument_specs_name_the_same_variables(role):
    base = ROOT / "roles" / role
    defaults = set(yaml.safe_load((base / "defaults/main.yml").read_text()))
    specs = set(yaml.safe_load((base / "meta/argument_specs.yml").read_text())
                ["argument_specs"]["main"]["options"])
    assert defaults == specs, "defaults vs argument_specs: %s" % sorted(defaults ^ specs)


@pytest.mark.parametrize("role", ["app", "jail", "meshmonitor"])
def test_readme_and_defaults_comments_are_generated_from_argument_specs(role):
    run = subprocess.run([str(DOCSMITH), "generate", "--check", "--readme", "--defaults", str(ROOT / "roles" / role)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, "run `make docs` and commit the result:\n" + run.stdout[-3000:] + run.stderr[-2000:]
