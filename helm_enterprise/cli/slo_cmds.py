"""``helm-enterprise slo``: what the releases' SLOs say now, and their OpenSLO form (T4.3).

``slo status`` reads the SLOs declared in a stack's config and asks the stack's Prometheus
(``helm-enterprise:prometheus.address``, or ``--prometheus``) for each: objective, SLI now,
error budget remaining, burn rate per window, alerts firing. Exit 1 when an alert fires.
``slo export`` prints them as OpenSLO documents. Both take ``--json``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from helm_enterprise.cli import JsonOpt, app, emit_json, handle_errors, out
from helm_enterprise.config.slo import SloConfig
from helm_enterprise.config.stack import StackConfig
from helm_enterprise.errors import ConfigError

slo_app = typer.Typer(help="Service level objectives of the releases.", no_args_is_help=True)
app.add_typer(slo_app, name="slo")

StackOpt = Annotated[str, typer.Option("--stack", "-s", help="Stack whose config declares them.")]
CwdOpt = Annotated[Path, typer.Option("--cwd", "-C", help="Pulumi project directory.")]
ReleaseOpt = Annotated[
    str | None, typer.Option("--release", "-r", help="Only this release's SLOs.")
]


def _percent(value: float | None) -> str:
    return "no data" if value is None else f"{value * 100:.2f}%"


def _declared(
    config: StackConfig, stack: str, release: str | None
) -> list[tuple[str, list[SloConfig]]]:
    found = [(r.name, list(r.slos)) for r in config.releases if r.slos]
    if release is not None:
        found = [f for f in found if f[0] == release]
    if not found:
        where = f"release {release} of stack {stack}" if release else f"stack {stack}"
        raise ConfigError(f"{where} declares no slos", path="releases[].slos")
    return found


@slo_app.command("status")
@handle_errors
def status(
    stack: StackOpt = "dev",
    cwd: CwdOpt = Path(),
    release: ReleaseOpt = None,
    prometheus: Annotated[
        str | None, typer.Option("--prometheus", help="Prometheus address (default: stack's).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Objective, SLI now, budget remaining, burn rates and firing alerts of each SLO."""
    from helm_enterprise.automation.validate import stack_config
    from helm_enterprise.slo.status import slo_status

    config = stack_config(cwd, stack)
    address = prometheus
    if address is None:
        prom = config.prometheus
        if prom is None or prom.address is None:
            raise ConfigError(
                "no Prometheus to ask",
                path="prometheus.address",
                hint="set helm-enterprise:prometheus.address or pass --prometheus",
            )
        address = prom.address
    statuses = []
    for name, slos in _declared(config, stack, release):
        for slo in slos:
            statuses.append(slo_status(address.rstrip("/"), name, slo))
    firing = any(s.firing for s in statuses)
    if as_json:
        emit_json({"prometheus": address, "slos": [s.to_dict() for s in statuses]})
        raise typer.Exit(1 if firing else 0)
    table = Table(
        "release", "slo", "objective", "SLI (error ratio)", "budget left", "burn rates", "firing"
    )
    for s in statuses:
        rates = ", ".join(
            f"{w} {'-' if r is None else f'{r:.1f}x'}" for w, r in s.burn_rates.items()
        )
        table.add_row(
            s.release,
            s.slo,
            f"{s.objective:g}% / {s.window}",
            _percent(s.sli),
            _percent(s.budget_remaining),
            rates,
            ", ".join(s.firing) or "-",
        )
    out.print(table)
    raise typer.Exit(1 if firing else 0)


@slo_app.command("export")
@handle_errors
def export(
    stack: StackOpt = "dev",
    cwd: CwdOpt = Path(),
    release: ReleaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The SLOs as OpenSLO ``openslo/v1`` documents (YAML, or a JSON list)."""
    from helm_enterprise.automation.validate import stack_config
    from helm_enterprise.slo.openslo import documents

    docs = []
    for name, slos in _declared(stack_config(cwd, stack), stack, release):
        docs += documents(name, slos)
    if as_json:
        emit_json(docs)
    else:
        sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False))
