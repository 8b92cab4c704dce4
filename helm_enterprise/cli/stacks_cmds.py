"""``helm-enterprise stacks up``: one stack per tenant or cluster, from a catalogue (X.1)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from helm_enterprise.cli import JsonOpt, app, emit_json, err, handle_errors, out
from helm_enterprise.errors import ConfigError

stacks_app = typer.Typer(
    help="Many stacks of one project (per tenant, per cluster) from a catalogue.",
    no_args_is_help=True,
)
app.add_typer(stacks_app, name="stacks")

_STYLE = {"succeeded": "green", "failed": "red", "excluded": "yellow", "cancelled": "yellow"}


def load_catalogue(path: Path) -> Any:
    """The catalogue file, validated (ConfigError naming the field otherwise)."""
    from helm_enterprise.config._base import validate_model
    from helm_enterprise.config.catalogue import StackCatalogue

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}", path="--catalogue") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}", path="--catalogue") from None
    return validate_model(StackCatalogue, data or {})


@stacks_app.command("up")
@handle_errors
def up(
    catalogue: Annotated[
        Path, typer.Option("--catalogue", "-f", help="Catalogue file (YAML), see docs.")
    ],
    cwd: Annotated[
        Path | None,
        typer.Option("--cwd", "-C", help="Pulumi project directory (default: the catalogue's)."),
    ] = None,
    parallel: Annotated[
        int | None, typer.Option("--parallel", "-p", min=1, max=32, help="Stacks at a time.")
    ] = None,
    preview: Annotated[
        bool, typer.Option("--preview", help="Preview only, change nothing.")
    ] = False,
    stop_on_failure: Annotated[
        bool | None,
        typer.Option(
            "--stop-on-failure/--keep-going",
            help="Cancel stacks not started yet after a failure (default: the catalogue's).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or update every stack of the catalogue, in parallel; exit 1 if any failed."""
    from helm_enterprise.automation.stacks import (
        AutomationOperator,
        Operation,
        StackEvent,
        run_stacks,
    )

    cat = load_catalogue(catalogue)
    project = cwd or (catalogue.parent / (cat.project or ".")).resolve()
    if not (project / "Pulumi.yaml").exists():
        raise ConfigError(f"no Pulumi.yaml in {project}", path="project", hint="set --cwd")
    operation: Operation = "preview" if preview else "up"
    operator = AutomationOperator(project)  # refuses unsafe Pulumi logging before any output
    names = [s.name for s in cat.stacks]
    lock = threading.Lock()

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=as_json,
        transient=False,
    ) as progress:
        total = progress.add_task(f"{operation} {len(names)} stacks", total=len(names))

        def on_event(event: StackEvent) -> None:
            with lock:
                if event.kind == "progress":
                    progress.update(total, description=f"[dim]{event.stack}[/dim] {event.message}")
                    return
                style = _STYLE.get(event.kind, "")
                text = f"[{style}]{event.kind}[/{style}]" if style else event.kind
                progress.console.print(
                    f"{event.stack}: {text} {event.message}".rstrip(), highlight=False
                )
                if event.kind in _STYLE:
                    progress.advance(total)

        summary = run_stacks(
            cat,
            operator,
            operation=operation,
            parallel=parallel,
            stop_on_failure=stop_on_failure,
            on_event=on_event,
        )

    if as_json:
        emit_json(summary.to_dict())
    else:
        table = Table("stack", "result", "duration", "changes", "error")
        for r in summary.results:
            style = _STYLE[r.result]
            changes = ", ".join(f"{k} {v}" for k, v in sorted(r.changes.items()) if v)
            table.add_row(
                r.stack,
                f"[{style}]{r.result}[/{style}]",
                f"{r.duration:.1f}s",
                changes,
                r.error or "",
            )
        out.print(table)
        counts = summary.to_dict()["counts"]
        out.print(
            ", ".join(f"{v} {k}" for k, v in counts.items() if v) + f" in {summary.duration:.0f}s",
            highlight=False,
        )
    raise typer.Exit(0 if summary.ok else 1)
