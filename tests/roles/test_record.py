"""The host record's writer mark is said twice, in two languages: the jail role writes it
(vars/main.yml) and the deployment filters look for it (module_utils/deployment.py). They agree."""
import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_role_writes_the_mark_the_filters_look_for():
    spec = importlib.util.spec_from_file_location("deployment", ROOT / "plugins/module_utils/deployment.py")
    deployment = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(deployment)
    record = yaml.safe_load((ROOT / "roles/jail/vars/main.yml").read_text())["__jail_deployment_record"]
    assert record["written_by"] == deployment.RECORD_WRITER
