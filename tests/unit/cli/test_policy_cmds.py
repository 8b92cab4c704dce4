"""``helm-enterprise policy path|rules``."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

from typer.testing import CliRunner

from helm_enterprise.cli import app

importlib.import_module("helm_enterprise.cli.policy_cmds")


def test_policy_path_prints_the_pack_and_its_launcher() -> None:
    runner = CliRunner()
    pack = Path(runner.invoke(app, ["policy", "path"]).stdout.strip())
    assert (pack / "PulumiPolicy.yaml").is_file()
    assert (pack / "__main__.py").is_file()
    launcher = Path(runner.invoke(app, ["policy", "path", "--launcher"]).stdout.strip())
    assert launcher.parent == pack and launcher.name == "run-policy-pack"
    assert os.access(launcher, os.X_OK)
    assert "python" in launcher.read_text()


def test_policy_rules_json_lists_defaults_and_schemas() -> None:
    result = CliRunner().invoke(app, ["policy", "rules", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["required-labels"]["enforcement"] == "advisory"
    assert rows["image-tags"]["settings"] == {"forbiddenTags": ["latest"], "requireDigest": False}
    assert "registries" in rows["approved-registries"]["schema"]
