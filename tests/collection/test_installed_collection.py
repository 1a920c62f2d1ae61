"""The collection as users get it: built, installed with ansible-galaxy, used by its FQCNs.

Everything else runs from this checkout through a linked collection path; this builds the
tarball, installs it into an empty collection path and runs the playbooks and docs from there,
with nothing of the checkout on the path (community.docker comes from the ansible package).
"""
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = sorted(path.stem for path in (ROOT / "playbooks").glob("*.yml"))
# Every module and filter (a filter documented in a YAML file beside its Python one counts too).
PLUGINS = sorted({("module", path.stem) for path in (ROOT / "plugins/modules").glob("*.py")}
                 | {("filter", path.stem) for path in (ROOT / "plugins/filter").glob("*.py")}
                 | {("filter", path.stem) for path in (ROOT / "plugins/filter").glob("*.yml")})


def run(*args, cwd, env):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, "%s: %s%s" % (" ".join(args), result.stdout[-2000:], result.stderr[-2000:])
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(tarball, environment whose collection path holds only the installed copy)."""
    tmp = tmp_path_factory.mktemp("collection")
    collections = tmp / "collections"
    # Not the lab's settings (lab/ansible.cfg links the checkout in as the collection): an empty one.
    config = tmp / "ansible.cfg"
    config.write_text("[defaults]\n")
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_CONFIG": str(config),
           "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
    run("ansible-galaxy", "collection", "build", "--output-path", str(tmp), str(ROOT), cwd=tmp, env=env)
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    tarball = tmp / ("meshmonitor-fail2ban-%s.tar.gz" % version)
    run("ansible-galaxy", "collection", "install", "--no-deps", "-p", str(collections), str(tarball), cwd=tmp, env=env)
    return tarball, env, tmp


def test_tarball_holds_the_collection_and_no_lab(installed):
    tarball, _env, _tmp = installed
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    for needed in ("roles/jail/files/filter.d/meshmonitor.conf", "plugins/filter/ignoreip.py",
                   "plugins/modules/ban.py", "playbooks/site.yml", "meta/runtime.yml"):
        assert needed in names
    leaked = [name for name in names if name.split("/")[0] in ("lab", "bench", "molecule", ".cache", ".venv")]
    assert not leaked


def test_only_the_installed_copy_is_found(installed):
    _tarball, env, tmp = installed
    listing = run("ansible-galaxy", "collection", "list", "meshmonitor.fail2ban", "--format", "yaml", cwd=tmp, env=env)
    paths = list(yaml.safe_load(listing))
    assert paths == [str(tmp / "collections" / "ansible_collections")]


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_runs_by_its_fqcn(installed, playbook):
    _tarball, env, tmp = installed
    run("ansible-playbook", "-i", "localhost,", "--syntax-check", "meshmonitor.fail2ban." + playbook, cwd=tmp, env=env)


@pytest.mark.parametrize("plugin_type, name", PLUGINS)
def test_plugin_docs_from_the_installed_copy(installed, plugin_type, name):
    _tarball, env, tmp = installed
    doc = run("ansible-doc", "-t", plugin_type, "meshmonitor.fail2ban." + name, cwd=tmp, env=env)
    assert "meshmonitor.fail2ban." + name in doc and "EXAMPLES" in doc and "RETURN" in doc
