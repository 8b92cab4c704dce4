"""``helm-enterprise drift``: report, warn about or remediate drift of one or many stacks.

Only parses arguments, calls :func:`helm_enterprise.automation.drift.run` and formats
its report: a table (or ``--json``) on stdout, progress on stderr. Exit codes: 0 no drift
(``warn``: drift only reported; ``remediate``: nothing left), 1 drift, 2 the check could
not run completely or bad usage.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from helm_enterprise.cli import app, emit_json, err, out
from helm_enterprise.config._base import validate_model
from helm_enterprise.config.drift import DriftIgnoreRule, DriftMode
from helm_enterprise.drift.findings import DriftState
from helm_enterprise.drift.report import DriftRun, StackReport
from helm_enterprise.errors import ConfigError, HelmEnterpriseError

EXIT_ERROR = 2


def _ignore_file(path: Path) -> list[DriftIgnoreRule]:
    """Rules from a YAML/JSON file: a list of rules, or ``{ignore: [...]}``."""
    field = str(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", path=field) from None
    except yaml.YAMLError:
        raise ConfigError("not valid YAML or JSON", path=field) from None
    if isinstance(data, dict):
        data = data.get("ignore", [])
    if not isinstance(data, list):
        raise ConfigError("expected a list of ignore rules (or {ignore: [...]})", path=field)
    return [validate_model(DriftIgnoreRule, r, f"{field}[{i}]") for i, r in enumerate(data)]


def _confirm(question: str) -> bool:
    """Ask on the terminal; without one (CI), decline instead of waiting forever."""
    if not sys.stdin.isatty():
        err.print(f"{question} — no terminal to ask: not re-applied (pass --yes)", markup=False)
        return False
    return bool(typer.confirm(question, default=False, err=True))


def _rows(report: StackReport) -> list[tuple[str, ...]]:
    """Table rows: stack, release, object, field, desired, live, changed by."""
    rows: list[tuple[str, ...]] = []
    for f in report.findings:
        obj, rel = f.ref.describe(), f.ref.release or "-"
        if f.state is DriftState.MISSING:
            rows.append((report.stack, rel, obj, "(object missing)", "exists", "-", ""))
        elif f.state is DriftState.UNKNOWN:
            rows.append((report.stack, rel, obj, "(not compared)", f.message, "", ""))
        for c in f.changes:
            old, new = c.describe_values()
            rows.append((report.stack, rel, obj, c.path, old, new, ", ".join(c.by)))
    return rows


def _lines(report: StackReport) -> list[str]:
    """The same as unwrapped lines, for logs of scheduled jobs (no terminal)."""
    lines: list[str] = []
    for f in report.findings:
        head = f"{report.stack} {f.ref.release or '-'} {f.ref.describe()}"
        if f.state is DriftState.MISSING:
            lines.append(f"{head}: missing (desired, not in the cluster)")
        elif f.state is DriftState.UNKNOWN:
            lines.append(f"{head}: not compared: {f.message}")
        for c in f.changes:
            old, new = c.describe_values()
            by = f" (by {', '.join(c.by)})" if c.by else ""
            lines.append(f"{head} {c.path}: {old} -> {new}{by}")
    return lines


def _print_human(run: DriftRun) -> None:
    if out.is_terminal:
        rows = [row for report in run.stacks for row in _rows(report)]
        if rows:
            table = Table("stack", "release", "object", "field", "desired", "live", "changed by")
            for row in rows:
                table.add_row(*(Text(cell) for cell in row))  # values are not markup
            out.print(table)
    else:
        for report in run.stacks:
            for line in _lines(report):
                out.print(line, highlight=False, markup=False)
    for report in run.stacks:
        s = report.summary()
        line = (
            f"stack {report.stack}: {s['drifted']} drifted, {s['missing']} missing, "
            f"{s['in-sync']} in sync"
        )
        if s["unknown"]:
            line += f", {s['unknown']} not compared"
        ignored = sum(len(f.ignored) for f in report.findings)
        if ignored:
            line += f" ({ignored} field change(s) ignored by rule)"
        style = "yellow" if report.mode == "warn" and report.drifted else ""
        out.print(f"[{style}]{escape(line)}[/{style}]" if style else escape(line), highlight=False)
        if report.remediation or report.remaining is not None:
            ok = sum(1 for r in report.remediation if r.ok)
            out.print(
                f"  remediated {ok}/{len(report.remediation)} object(s); "
                f"drift remaining: {len(report.outstanding)}",
                highlight=False,
            )
            for r in report.remediation:
                if not r.ok:
                    out.print(
                        f"  [red]failed[/red] {escape(f'{r.ref.describe()}: {r.message}')}",
                        highlight=False,
                    )
        for note in report.notes:
            out.print(f"  note: {note}", highlight=False, markup=False)
        for e in report.errors:
            err.print(f"[red]error:[/red] {escape(f'{report.stack}: {e}')}", highlight=False)


@app.command()
def drift(
    stack: Annotated[
        list[str] | None, typer.Option("--stack", "-s", help="Stack to check (repeatable).")
    ] = None,
    all_stacks: Annotated[bool, typer.Option("--all", help="Every stack of the project.")] = False,
    cwd: Annotated[Path, typer.Option("--cwd", "-C", help="Pulumi project directory.")] = Path(),
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode", help="report | warn | remediate (default: the stack's config, else report)."
        ),
    ] = None,
    remediate: Annotated[
        bool, typer.Option("--remediate", help="Same as --mode remediate.")
    ] = False,
    confirm: Annotated[
        bool | None,
        typer.Option("--confirm/--no-confirm", help="Ask before re-applying (remediate)."),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Answer confirmations with yes.")
    ] = False,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore",
            help="Ignore rule: POINTER, KIND:POINTER, KIND/NAME:POINTER (repeatable), "
            "e.g. Deployment/web:/spec/replicas.",
        ),
    ] = None,
    ignore_file: Annotated[
        Path | None, typer.Option("--ignore-file", help="YAML/JSON list of ignore rules.")
    ] = None,
    no_default_ignores: Annotated[
        bool,
        typer.Option("--no-default-ignores", help="Report fields controllers/webhooks own too."),
    ] = False,
    kubeconfig: Annotated[
        str | None, typer.Option("--kubeconfig", help="Override helm-enterprise:cluster.")
    ] = None,
    context: Annotated[str | None, typer.Option("--context")] = None,
    parallel: Annotated[int, typer.Option("--parallel", min=1, max=16)] = 1,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable output on stdout.")
    ] = False,
) -> None:
    """Detect drift between the stacks' desired state and the cluster. Exit 1 on drift."""
    from helm_enterprise.automation.drift import DriftOptions, list_stacks, run
    from helm_enterprise.drift.rules import parse_flag
    from helm_enterprise.kube.client import ClusterAccess

    try:
        chosen: DriftMode | None = None
        if remediate:
            chosen = "remediate"
        elif mode is not None:
            if mode not in ("report", "warn", "remediate"):
                raise ConfigError(
                    f"{mode!r} is not a mode", path="--mode", hint="report, warn or remediate"
                )
            chosen = mode  # type: ignore[assignment]
        rules = [parse_flag(text) for text in ignore or []]
        if ignore_file is not None:
            rules += _ignore_file(ignore_file)
        names = list(stack or [])
        if all_stacks:
            names += [n for n in list_stacks(cwd) if n not in names]
        if not names:
            raise ConfigError("name a stack", path="--stack", hint="--stack NAME, or --all")
        options = DriftOptions(
            mode=chosen,
            confirm=confirm,
            assume_yes=yes,
            ignore=rules,
            default_ignores=False if no_default_ignores else None,
            access=ClusterAccess(kubeconfig, context) if kubeconfig or context else None,
        )

        def progress(text: str) -> None:
            err.print(f"[dim]{escape(text)}[/dim]", highlight=False)

        result = run(
            cwd,
            names,
            options,
            confirm=_confirm,
            progress=progress,
            parallel=1 if confirm else parallel,
        )
    except HelmEnterpriseError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}", highlight=False)
        raise typer.Exit(EXIT_ERROR) from None
    if as_json:
        emit_json(result.to_dict())
    else:
        _print_human(result)
    raise typer.Exit(result.exit_code())
