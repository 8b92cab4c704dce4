"""``helm-enterprise sandbox ...`` and ``helm-enterprise quickstart``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from helm_enterprise.cli import JsonOpt, app, emit_json, err, handle_errors, out, sandbox_app

ComponentsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--component",
        "-c",
        help="Only these: clusters, vault, chartrepo, git, prometheus (repeatable).",
    ),
]


def _progress(message: str) -> None:
    err.print(f"[dim]>[/dim] {message}", highlight=False)


@sandbox_app.command("toolchain")
@handle_errors
def toolchain(
    family: Annotated[
        list[str] | None, typer.Option("--family", "-f", help="Only these families.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if up to date.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build (or reuse) every binary the sandbox runs, into ~/.cache/helm-enterprise."""
    from helm_enterprise.sandbox.toolchain import ensure

    tc = ensure(family, progress=_progress, force=force)
    rows: list[dict[str, Any]] = [
        {
            "family": s.family,
            "source": s.source,
            "seconds": s.seconds,
            "bytes": s.bytes,
            "binaries": list(s.binaries),
        }
        for s in tc.stamps.values()
    ]
    if as_json:
        emit_json({"bin": str(tc.layout.bin), "families": rows})
        return
    table = Table("family", "source", "build s", "MB", "binaries")
    for r in rows:
        table.add_row(
            r["family"],
            r["source"],
            f"{r['seconds']:.0f}",
            f"{r['bytes'] / 1e6:.0f}",
            " ".join(r["binaries"]),
        )
    out.print(table)
    out.print(f"binaries: {tc.layout.bin}", highlight=False)


@sandbox_app.command("up")
@handle_errors
def up(
    component: ComponentsOpt = None,
    clusters: Annotated[int, typer.Option("--clusters", help="How many clusters (1 or 2).")] = 1,
) -> None:
    """Start the local platform (idempotent; builds the toolchain first if needed)."""
    from helm_enterprise.sandbox.platform import COMPONENTS, Sandbox

    sb = Sandbox(clusters=clusters)
    sb.up(component or COMPONENTS, progress=_progress)
    out.print(
        "sandbox is up; `helm-enterprise sandbox status` lists components and logs", highlight=False
    )


@sandbox_app.command("down")
@handle_errors
def down(
    component: ComponentsOpt = None,
    purge: Annotated[
        bool, typer.Option("--purge", help="Also delete state (certificates, data).")
    ] = False,
) -> None:
    """Stop every sandbox process (also after a crash)."""
    from helm_enterprise.sandbox.platform import COMPONENTS, Sandbox

    Sandbox(clusters=2).down(component or COMPONENTS, purge=purge)
    out.print("sandbox stopped", highlight=False)


@sandbox_app.command("status")
@handle_errors
def status(component: ComponentsOpt = None, as_json: JsonOpt = False) -> None:
    """What runs, whether it is ready, and where its log is."""
    from helm_enterprise.sandbox.platform import COMPONENTS, Sandbox

    rows = Sandbox(clusters=2).status(component or COMPONENTS)
    if as_json:
        emit_json(rows)
        return
    table = Table("component", "process", "pid", "state", "log")
    for r in rows:
        table.add_row(
            str(r["component"]),
            str(r.get("name", "")),
            str(r.get("pid") or "-"),
            str(r.get("state", "ready" if r.get("ready") else "-")),
            str(r.get("log") or "-"),
        )
    out.print(table)


@app.command()
@handle_errors
def quickstart(
    stack: Annotated[str, typer.Option("--stack", "-s")] = "quickstart",
    as_json: JsonOpt = False,
) -> None:
    """The main job: deploy the root program's quickstart stack (sandbox if no cluster)."""
    from helm_enterprise.cli.quickstart import run_quickstart

    result = run_quickstart(stack, progress=_progress)
    if as_json:
        emit_json(result)
        return
    out.print(f"\n[bold]{result['summary']}[/bold]", highlight=False)
    for line in result["next"]:
        out.print(f"  {line}", highlight=False)
