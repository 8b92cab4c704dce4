"""The one classifier of Pulumi Automation API failures, table-style, on Pulumi's own
``create_command_error`` (the function the Automation API uses to build its errors)."""

from __future__ import annotations

import pytest
import typer
from pulumi.automation._cmd import CommandResult
from pulumi.automation.errors import CommandError, create_command_error

from helm_enterprise.automation.errors import (
    Failure,
    classify,
    engine_errors,
    from_command_error,
    message,
    pulumi_command,
)
from helm_enterprise.cli import handle_errors
from helm_enterprise.errors import AutomationError

PASSPHRASE = "correct-horse-battery-staple"
BACKEND = "file:///home/me/.cache/helm-enterprise/sandbox/pulumi"
LOCK_TEXT = (
    "error: the stack is currently locked by 1 lock(s). Either wait for the other "
    "process(es) to end or delete the lock file with `pulumi cancel`.\n"
    "  file:///state/.pulumi/locks/organization/helm-enterprise/quickstart/1f.json: "
    "created by root@box (pid 4242) at 2026-12-06T04:00:00Z\n"
)


def failed(stderr: str = "", stdout: str = "", code: int = 255) -> CommandError:
    return create_command_error(CommandResult(stdout=stdout, stderr=stderr, code=code))


CASES = [
    # (stderr, stdout, kind, what the one line must say)
    (
        "error: could not create secrets manager for new stack: incorrect passphrase, "
        "please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase\n",
        "",
        Failure.WRONG_PASSPHRASE,
        [
            "pulumi stack init of stack quickstart failed: incorrect passphrase",
            "encryptionsalt line of Pulumi.quickstart.yaml",
        ],
    ),
    (
        'error: constructing secrets manager of type "passphrase": passphrase must be set '
        "with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables\n",
        "",
        Failure.NO_PASSPHRASE,
        ["set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE"],
    ),
    (
        LOCK_TEXT,
        "",
        Failure.LOCKED,
        [
            "the stack is locked by another update",
            f"`PULUMI_BACKEND_URL={BACKEND} pulumi cancel --yes --stack quickstart`",
        ],
    ),
    (
        "error: [409] Conflict: Another update is currently in progress.\n",
        "",
        Failure.LOCKED,
        ["pulumi cancel --yes --stack quickstart"],
    ),
    (
        "error: no stack named 'quickstart' found\n",
        "",
        Failure.NOT_FOUND,
        ["stack quickstart does not exist (create it with `pulumi stack init quickstart`)"],
    ),
    (
        "error: update failed\n",
        "Updating (quickstart):\n"
        "    pulumi:pulumi:Stack helm-enterprise-quickstart  error: update failed\n"
        "    error: hello: chart charts/nope not found\n"
        "    error: hello: chart charts/nope not found\n"
        "    error: an unhandled error occurred: Program exited with non-zero exit code: 1\n",
        Failure.FAILED,
        ["pulumi stack init of stack quickstart failed: hello: chart charts/nope not found"],
    ),
]


@pytest.mark.parametrize(("stderr", "stdout", "kind", "says"), CASES)
def test_one_line_per_failure(stderr: str, stdout: str, kind: Failure, says: list[str]) -> None:
    err = failed(stderr, stdout)
    assert classify(err) is kind
    line = message(
        err, operation="stack init", stack="quickstart", env={"PULUMI_BACKEND_URL": BACKEND}
    )
    assert "\n" not in line and len(line) <= 800
    for text in says:
        assert text in line, line
    assert "Traceback" not in line and "stdout:" not in line and "code: 255" not in line


def test_duplicate_error_lines_are_shown_once() -> None:
    line = message(failed(CASES[-1][0], CASES[-1][1]), operation="up", stack="s")
    assert line.count("chart charts/nope not found") == 1


def test_no_error_line_falls_back_to_the_last_line() -> None:
    assert (
        engine_errors("\n code: 1\n stdout: \n stderr: pulumi: killed\n")
        == "stderr: pulumi: killed"
    )
    assert engine_errors("") == "failed (no output)"


def test_long_output_is_truncated() -> None:
    err = failed("".join(f"error: resource r{i} failed: {'x' * 80}\n" for i in range(40)))
    assert len(message(err, operation="up", stack="s")) <= 800


def test_the_passphrase_and_named_secrets_never_appear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    err = failed(f"error: odd: {PASSPHRASE} and hunter22 and s3cr3t-from-env\n")
    line = message(
        err,
        operation="up",
        stack="s",
        env={"PULUMI_CONFIG_PASSPHRASE": "s3cr3t-from-env"},
        secrets=["hunter22"],
    )
    assert PASSPHRASE not in line and "hunter22" not in line and "s3cr3t-from-env" not in line
    assert line.count("[secret]") == 3


def test_from_command_error_carries_kind_operation_and_stack() -> None:
    error = from_command_error(failed(LOCK_TEXT), operation="up", stack="prod")
    assert isinstance(error, AutomationError)
    assert (error.kind, error.operation, error.stack) == ("locked", "up", "prod")


def test_pulumi_command_converts_and_chains() -> None:
    original = failed("error: no stack named 'dev' found\n")
    with pytest.raises(AutomationError) as info, pulumi_command("stack select", "dev"):
        raise original
    assert info.value.kind == "not-found"
    assert info.value.__cause__ is original


def test_pulumi_command_leaves_other_errors_alone() -> None:
    with pytest.raises(KeyError), pulumi_command("up", "dev"):
        raise KeyError("x")


@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [
        (
            failed("error: could not create secrets manager for new stack: incorrect passphrase\n"),
            1,
            "error: pulumi command failed: incorrect passphrase",
        ),
        (
            from_command_error(failed("error: boom [secret]\n"), operation="up", stack="dev"),
            1,
            "error: pulumi up of stack dev failed: boom [secret]",
        ),
    ],
)
def test_the_cli_prints_one_line_for_any_command_error(
    raised: Exception, code: int, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    @handle_errors
    def command() -> None:
        raise raised

    with pytest.raises(typer.Exit) as info:
        command()
    assert info.value.exit_code == code
    err = capsys.readouterr().err
    assert err.startswith(line), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
