"""Pulumi's debug logging writes secrets in clear text: every command that runs Pulumi
refuses it (exit 2, one line) unless HELM_ENTERPRISE_ALLOW_VERBOSE_PULUMI insists."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from helm_enterprise.automation import drift, validate
from helm_enterprise.automation.stacks import AutomationOperator
from helm_enterprise.automation.verbosity import (
    ALLOW_ENV,
    check_pulumi_verbosity,
    verbose_settings,
)
from helm_enterprise.cli import app
from helm_enterprise.cli.quickstart import run_quickstart
from helm_enterprise.errors import ConfigError

importlib.import_module("helm_enterprise.cli.stacks_cmds")

RISKY = (
    "PULUMI_OPTION_VERBOSE",
    "PULUMI_OPTION_DEBUG",
    "PULUMI_OPTION_LOGFLOW",
    "PULUMI_DEBUG_GRPC",
    "TF_LOG",
    ALLOW_ENV,
)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the developer's shell has set does not leak into these tests."""
    for name in RISKY:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("env", "found"),
    [
        ({}, []),
        ({"PULUMI_OPTION_VERBOSE": "0"}, []),
        ({"PULUMI_OPTION_VERBOSE": "9"}, ["PULUMI_OPTION_VERBOSE=9"]),
        (
            {"PULUMI_OPTION_VERBOSE": "3", "PULUMI_OPTION_LOGFLOW": "true"},
            ["PULUMI_OPTION_VERBOSE=3"],
        ),
        ({"PULUMI_OPTION_LOGFLOW": "true"}, []),  # flows verbosity 0: nothing logged
        ({"PULUMI_OPTION_DEBUG": "true"}, ["PULUMI_OPTION_DEBUG=true"]),
        ({"PULUMI_OPTION_DEBUG": "false"}, []),
        ({"PULUMI_DEBUG_GRPC": "/tmp/grpc.log"}, ["PULUMI_DEBUG_GRPC=/tmp/grpc.log"]),
        ({"TF_LOG": "TRACE"}, ["TF_LOG=TRACE"]),
        ({"TF_LOG": "off"}, []),
        ({"PULUMI_DEBUG_COMMANDS": "true"}, []),  # hidden commands only
    ],
)
def test_settings_that_log_secrets(env: dict[str, str], found: list[str]) -> None:
    assert verbose_settings(env) == found


def test_refused_with_the_variable_and_both_ways_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_OPTION_VERBOSE", "9")
    with pytest.raises(ConfigError) as err:
        check_pulumi_verbosity()
    assert err.value.path == "PULUMI_OPTION_VERBOSE"
    text = str(err.value)
    assert "\n" not in text
    assert "secret values of releases in clear text" in text
    assert f"unset it, or set {ALLOW_ENV}=1 to run anyway" in text
    # The workspace's own variables count too.
    monkeypatch.delenv("PULUMI_OPTION_VERBOSE")
    with pytest.raises(ConfigError, match=r"^PULUMI_DEBUG_GRPC: /tmp/g \(and TF_LOG=DEBUG\)"):
        check_pulumi_verbosity({"PULUMI_DEBUG_GRPC": "/tmp/g", "TF_LOG": "DEBUG"})


def test_insisting_turns_the_refusal_into_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_OPTION_DEBUG", "true")
    monkeypatch.setenv(ALLOW_ENV, "1")
    said: list[str] = []
    check_pulumi_verbosity(warn=said.append)
    assert len(said) == 1 and "PULUMI_OPTION_DEBUG=true" in said[0] and ALLOW_ENV in said[0]


ENTRY_POINTS: dict[str, Callable[[Path, dict[str, str]], Any]] = {
    "validate (preview)": lambda d, env: validate.preview_findings(d, "dev", env=env),
    "drift": lambda d, env: drift.run(d, ["dev"], env=env),
    "stacks up": lambda d, env: AutomationOperator(d, env=env),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_every_command_that_runs_pulumi_refuses(entry: str, tmp_path: Path) -> None:
    # Raised before any Pulumi command: no CLI is needed (and none would be found here).
    with pytest.raises(ConfigError, match=r"^PULUMI_OPTION_VERBOSE: 9 makes"):
        ENTRY_POINTS[entry](tmp_path, {"PULUMI_OPTION_VERBOSE": "9"})


def test_quickstart_refuses_before_starting_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_LOG", "DEBUG")
    progress: list[str] = []
    with pytest.raises(ConfigError, match=r"^TF_LOG: DEBUG makes"):
        run_quickstart("quickstart", progress.append)
    assert progress == []  # no sandbox was started


def test_the_cli_exits_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: x\nruntime: python\n")
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text("stacks:\n  - name: dev\n")
    result = CliRunner().invoke(
        app, ["stacks", "up", "-f", str(catalogue)], env={"PULUMI_OPTION_VERBOSE": "9"}
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: PULUMI_OPTION_VERBOSE: 9 makes Pulumi write")
