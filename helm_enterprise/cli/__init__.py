"""``helm-enterprise``: what is not ``pulumi up`` (X.2).

Only parses arguments, calls library functions and formats output: human text with
progress on stderr, or ``--json`` on stdout for CI. Exit codes: 0 ok, 1 findings or a
failed operation, 2 bad usage or configuration. User mistakes print one line, never a
traceback.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from helm_enterprise.errors import ConfigError, HelmEnterpriseError

app = typer.Typer(
    name="helm-enterprise",
    help="Helm on Kubernetes with Pulumi, for enterprises: validate, rollback, audit, sandbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sandbox_app = typer.Typer(
    help="The local platform: toolchain, clusters, Vault, Git, chart repos.", no_args_is_help=True
)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(audit_app, name="audit")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def handle_errors(fn: F) -> F:
    """Turn our errors into one line on stderr and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as e:
            # escape(): a message may hold brackets ("[secret]") that rich would eat.
            err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
            raise typer.Exit(2) from None
        except HelmEnterpriseError as e:
            err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
            log = getattr(e, "log_path", None)
            if log:
                err.print(f"log: {log}", highlight=False)
            raise typer.Exit(1) from None
        except Exception as e:
            # Last resort: an Automation API call that was not wrapped in pulumi_command
            # still ends in one line (the classifier's), not in a traceback.
            from pulumi.automation.errors import CommandError

            if not isinstance(e, CommandError):
                raise
            from helm_enterprise.automation.errors import message

            line = message(e, operation="command", stack="")
            err.print(f"[red]error:[/red] {escape(line)}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# -- validate -------------------------------------------------------------------------------


@app.command()
@handle_errors
def validate(
    stack: Annotated[str, typer.Option("--stack", "-s", help="Stack to validate.")] = "dev",
    cwd: Annotated[Path, typer.Option("--cwd", "-C", help="Pulumi project directory.")] = Path(),
    config_only: Annotated[
        bool, typer.Option("--config-only", help="Skip the preview stage.")
    ] = False,
    as_json: JsonOpt = False,
    policy: Annotated[
        bool, typer.Option("--policy", help="Also run the helm-enterprise policy pack.")
    ] = False,
    policy_config: Annotated[
        Path | None,
        typer.Option("--policy-config", help="Policy pack config file (implies --policy)."),
    ] = None,
) -> None:
    """Dry-run checks: config, values.schema.json, ownership. Exit 1 on findings."""
    from helm_enterprise.automation.validate import config_findings, preview_findings
    from helm_enterprise.validation import errors, to_json

    findings = config_findings(cwd, stack)
    if not errors(findings) and not config_only:
        if not as_json:
            err.print(f"running pulumi preview of stack {stack} ...", highlight=False)
        packs: list[str] = []
        if policy or policy_config:
            from helm_enterprise.policy import launcher

            packs = [str(launcher())]
        configs = [str(policy_config.resolve())] if policy_config else []
        findings += preview_findings(cwd, stack, policy_packs=packs, policy_pack_configs=configs)
    if as_json:
        sys.stdout.write(to_json(findings) + "\n")
    else:
        for f in findings:
            style = {"error": "red", "warning": "yellow"}.get(f.severity, "")
            out.print(f"[{style}]{f.line()}[/{style}]" if style else f.line(), highlight=False)
        if not findings:
            out.print(f"stack {stack}: no findings", highlight=False)
    raise typer.Exit(1 if errors(findings) else 0)


# -- rollback / history ----------------------------------------------------------------------


@app.command()
@handle_errors
def rollback(
    release: Annotated[str, typer.Argument(help="Helm release name.")],
    to_revision: Annotated[
        int | None, typer.Option("--to-revision", "-r", help="Target revision (default: previous).")
    ] = None,
    namespace: Annotated[str, typer.Option("--namespace", "-n")] = "default",
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded for audit).")] = "",
    kubeconfig: Annotated[str | None, typer.Option("--kubeconfig")] = None,
    context: Annotated[str | None, typer.Option("--context")] = None,
    timeout: Annotated[int, typer.Option("--timeout", help="Seconds to wait for readiness.")] = 300,
    who: Annotated[str | None, typer.Option("--who", help="Override the recorded actor.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Roll a release back with Helm to a given revision and record who/when/from/to/why."""
    from helm_enterprise.audit import emit, resolve_actor
    from helm_enterprise.kube.client import ClusterAccess
    from helm_enterprise.rollback.helm import rollback as do_rollback

    if not reason:
        raise ConfigError("--reason is required (it is recorded for audit)", path="--reason")
    if not as_json:
        err.print(f"rolling back {namespace}/{release} ...", highlight=False)
    record = do_rollback(
        release,
        namespace,
        to_revision=to_revision,
        reason=reason,
        access=ClusterAccess(kubeconfig, context),
        who=resolve_actor(who),
        record=emit,
        timeout_seconds=timeout,
    )
    if as_json:
        emit_json(record.to_dict())
    else:
        out.print(
            f"{namespace}/{release}: rolled back from revision {record.from_revision} to "
            f"{record.to_revision} (now revision {record.new_revision}) by {record.who}",
            highlight=False,
        )
        out.print(
            "note: the next `pulumi up` of the stack sees this revision was not made by it "
            "and upgrades back to its desired state; pin the version/values in config (or "
            "set rollback.restoreOutOfBand: false) if this rollback should stick",
            highlight=False,
        )


@app.command()
@handle_errors
def history(
    release: Annotated[str, typer.Argument(help="Helm release name.")],
    namespace: Annotated[str, typer.Option("--namespace", "-n")] = "default",
    kubeconfig: Annotated[str | None, typer.Option("--kubeconfig")] = None,
    context: Annotated[str | None, typer.Option("--context")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Helm revisions of a release, read from the cluster."""
    from helm_enterprise.errors import HelmEnterpriseError as Err
    from helm_enterprise.kube import helm_storage
    from helm_enterprise.kube.client import ClusterAccess

    access = ClusterAccess(kubeconfig, context)
    api = access.reachable_client()
    if api is None:
        raise Err(f"cluster {access.describe()} is not reachable")
    try:
        records = helm_storage.history(api, namespace, release)
    finally:
        api.close()
    rows = [
        {
            "revision": r.revision,
            "status": r.status,
            "chart": f"{r.chart}-{r.chart_version}",
            "updated": r.updated.isoformat() if r.updated else "",
            "description": r.description,
        }
        for r in records
    ]
    if as_json:
        emit_json(rows)
        return
    table = Table("revision", "status", "chart", "updated", "description")
    for row in rows:
        table.add_row(
            *(str(row[k]) for k in ("revision", "status", "chart", "updated", "description"))
        )
    out.print(table)


# -- audit: verify, export, flush, schema live in audit_cmds.py (registered by main()) --


@app.command()
@handle_errors
def schema(
    write: Annotated[
        bool, typer.Option("--write", help="Rewrite the package's checked-in schema.json.")
    ] = False,
) -> None:
    """The Pulumi package schema of the components (what YAML/TypeScript/Go programs see)."""
    from helm_enterprise.provider import SCHEMA_FILE
    from helm_enterprise.provider import schema as package_schema

    text = json.dumps(package_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if write:
        SCHEMA_FILE.write_text(text)
        err.print(f"wrote {SCHEMA_FILE}", highlight=False)
        return
    sys.stdout.write(text)


@app.command()
def version() -> None:
    """Print the package version."""
    from importlib.metadata import version as pkg_version

    out.print(pkg_version("helm-enterprise"))


def main() -> None:
    # Importing the sandbox commands registers them; they live apart because only the
    # CLI (and tests) may import the sandbox package.
    importlib.import_module("helm_enterprise.cli.sandbox_cmds")
    importlib.import_module("helm_enterprise.cli.stacks_cmds")
    importlib.import_module("helm_enterprise.cli.audit_cmds")
    importlib.import_module("helm_enterprise.cli.drift_cmd")
    importlib.import_module("helm_enterprise.cli.policy_cmds")
    importlib.import_module("helm_enterprise.cli.slo_cmds")
    importlib.import_module("helm_enterprise.cli.rightsize_cmd")
    importlib.import_module("helm_enterprise.cli.rollout_cmds")
    importlib.import_module("helm_enterprise.cli.sdk_cmds")

    app()
