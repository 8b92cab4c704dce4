"""``helm-enterprise validate``: the dry-run checks of a stack, for humans and CI (T1.5).

Two stages:

1. *config*: the stack file's ``helm-enterprise:*`` keys are validated by the program's
   own reader (:func:`~helm_enterprise.config.stack.read_stack_config`), so validate and
   ``pulumi up`` accept the same stacks — no Pulumi, no cluster, milliseconds;
2. *preview*: ``pulumi preview`` of the stack through the Automation API. The components
   report their findings (values.schema.json, ownership) to a file this command names,
   and a failed preview becomes a finding of its own. Nothing is changed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from helm_enterprise.automation.errors import message as command_message
from helm_enterprise.automation.verbosity import check_pulumi_verbosity
from helm_enterprise.config.stack import (
    POLICY_SUMMARY_ENV,
    StackConfig,
    misspelt_keys,
    read_stack_config,
)
from helm_enterprise.errors import ConfigError, truncate
from helm_enterprise.policy.violations import finding_from_event
from helm_enterprise.validation import FINDINGS_FILE_ENV, Finding, read_reported

CONFIG_PREFIX = "helm-enterprise:"


def _opaque_secrets(value: Any) -> Any:
    """Stack files hold encrypted values as ``{secure: ...}``; treat them as opaque."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return "[secret]"
        return {k: _opaque_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_opaque_secrets(v) for v in value]
    return value


def _structured(value: Any) -> Any:
    """Pulumi stores objects set with ``pulumi config set`` as JSON strings; its
    ``get_object`` parses them, and so does this check."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def stack_file(work_dir: Path, stack: str) -> Path:
    return work_dir / f"Pulumi.{stack}.yaml"


def _helm_enterprise_keys(doc: Any) -> dict[str, Any]:
    """The ``helm-enterprise:*`` keys of a parsed stack file, secrets as ``[secret]``."""
    config = (doc.get("config") or {}) if isinstance(doc, dict) else {}
    return {
        k[len(CONFIG_PREFIX) :]: _opaque_secrets(_structured(v))
        for k, v in config.items()
        if isinstance(k, str) and k.startswith(CONFIG_PREFIX)
    }


def stack_config(work_dir: Path, stack: str) -> StackConfig:
    """The stack file's helm-enterprise config as the program reads it (secret values are
    ``[secret]``: for commands that need the declarations, not the secrets)."""
    path = stack_file(work_dir, stack)
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except OSError as err:
        raise ConfigError(
            f"cannot read {path}: {err.strerror}",
            path=str(path),
            hint="run in the project directory (--cwd) and name the stack (--stack)",
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"not valid YAML: {truncate(str(err), 200)}", path=str(path)) from None
    return read_stack_config(_helm_enterprise_keys(doc).get)


def config_findings(work_dir: Path, stack: str) -> list[Finding]:
    """Validate the stack file's helm-enterprise config (no Pulumi needed)."""
    path = stack_file(work_dir, stack)
    if not path.exists():
        return [
            Finding(
                "error",
                "config",
                "-",
                str(path),
                "stack file not found",
                f"create it with `pulumi stack init {stack}`",
            )
        ]
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        return [
            Finding("error", "config", "-", str(path), f"not valid YAML: {truncate(str(err), 200)}")
        ]
    data = _helm_enterprise_keys(doc)
    # The program's own reader: it reads the keys it knows and leaves the others (e.g. a
    # secret referenced as {config: key}) to the stack's author, as `pulumi up` does.
    findings = [
        Finding(
            "warning",
            "config",
            "-",
            f"{CONFIG_PREFIX}{key}",
            "not a helm-enterprise setting: ignored (by pulumi up too)",
            f"did you mean {CONFIG_PREFIX}{known}?",
        )
        for key, known in misspelt_keys(data)
    ]
    try:
        read_stack_config(data.get)
    except ConfigError as err:
        findings += [Finding("error", "config", _release_of(p, data), p, m) for p, m in err.issues]
    return findings


def _release_of(path: str, data: dict[str, Any]) -> str:
    if path.startswith("releases["):
        try:
            index = int(path[len("releases[") : path.index("]")])
            return str(data["releases"][index].get("name", f"releases[{index}]"))
        except (ValueError, IndexError, KeyError, AttributeError, TypeError):
            pass
    return "-"


def preview_findings(
    work_dir: Path,
    stack: str,
    *,
    env: dict[str, str] | None = None,
    on_output: Callable[[str], None] | None = None,
    policy_packs: list[str] | None = None,
    policy_pack_configs: list[str] | None = None,
) -> list[Finding]:
    """Run ``pulumi preview`` and collect what the components reported; with
    ``policy_packs``, the packs' violations too (mandatory: errors, advisory: warnings)."""
    from pulumi import automation as auto

    check_pulumi_verbosity(env)
    with tempfile.TemporaryDirectory(prefix="he-validate-") as tmp:
        findings_file = Path(tmp) / "findings.jsonl"
        envvars = {**(env or {}), FINDINGS_FILE_ENV: str(findings_file)}
        if policy_packs:  # the pack sees the rendered objects only through the summaries
            envvars[POLICY_SUMMARY_ENV] = "1"
        ws = auto.LocalWorkspace(work_dir=str(work_dir), env_vars={**os.environ, **envvars})
        findings: list[Finding] = []
        policy: list[Finding] = []

        def on_event(event: auto.EngineEvent) -> None:
            ev = event.policy_event
            if ev is not None:
                policy.append(
                    finding_from_event(
                        ev.policy_name, ev.message, ev.enforcement_level, ev.resource_urn
                    )
                )

        try:
            st = auto.Stack.select(stack, ws)
            st.preview(
                on_output=on_output,
                color="never",
                diff=False,
                policy_packs=policy_packs or None,
                policy_pack_configs=policy_pack_configs or None,
                on_event=on_event if policy_packs else None,
            )
        except auto.errors.StackNotFoundError:
            findings.append(
                Finding(
                    "error",
                    "preview",
                    "-",
                    stack,
                    "stack does not exist",
                    f"pulumi stack init {stack}",
                )
            )
        except auto.errors.CommandError as err:
            reported = read_reported(findings_file) + policy
            findings.extend(reported)
            if not any(f.severity == "error" for f in reported):
                line = command_message(err, operation="preview", stack=stack, env=envvars)
                findings.append(Finding("error", "preview", "-", stack, line))
            return findings
        return findings + read_reported(findings_file) + policy
