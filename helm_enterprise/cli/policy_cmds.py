"""``helm-enterprise policy ...``: where the policy pack is, and what it checks."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from helm_enterprise.cli import JsonOpt, app, emit_json, handle_errors, out

policy_app = typer.Typer(
    help="The CrossGuard policy pack shipped with helm-enterprise.", no_args_is_help=True
)
app.add_typer(policy_app, name="policy")


@policy_app.command("path")
@handle_errors
def path(
    use_launcher: Annotated[
        bool,
        typer.Option(
            "--launcher",
            help="Print the pack's launcher (an executable --policy-pack; works with every "
            "Pulumi CLI since 3.255) instead of the pack directory.",
        ),
    ] = False,
) -> None:
    """Print the policy pack's path, for `pulumi preview --policy-pack <path>`."""
    from helm_enterprise.policy import launcher, pack_dir

    out.print(str(launcher() if use_launcher else pack_dir()), highlight=False, soft_wrap=True)


@policy_app.command("rules")
@handle_errors
def rules(as_json: JsonOpt = False) -> None:
    """List the pack's rules, default enforcement levels and settings."""
    from helm_enterprise.policy.rules import RULES
    from helm_enterprise.policy.settings import schema_properties

    rows: list[dict[str, Any]] = [
        {
            "name": r.name,
            "enforcement": r.enforcement,
            "severity": r.severity,
            "description": r.description,
            "settings": r.settings().model_dump(by_alias=True, mode="json"),
            "schema": schema_properties(r.settings),
        }
        for r in RULES
    ]
    if as_json:
        emit_json(rows)
        return
    table = Table("policy", "default", "settings (defaults)", "checks")
    for row in rows:
        settings = ", ".join(
            f"{k}=[{len(v)} items]" if isinstance(v, list) and len(v) > 3 else f"{k}={v}"
            for k, v in row["settings"].items()
        )
        table.add_row(row["name"], row["enforcement"], settings, row["description"])
    out.print(table)
