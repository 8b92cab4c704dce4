"""Rendering a chart as Helm would install it, through the kubernetes provider.

pulumi-kubernetes exposes Helm's ``template`` as the invoke ``kubernetes:helm:template``
(``helm.v3.Chart`` uses it). Dry-run checks that need the objects of a release-mode
release — tenancy, the policy summary, the server-side dry run, chart mode's hook check —
render through it, so what they check is what Helm will apply: the same Helm library, the
same provider and cluster capabilities. The Release component renders at most once per run
and hands the one :class:`Rendered` to every check that needs it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pulumi

TEMPLATE_INVOKE = "kubernetes:helm:template"


def without_nulls(value: Any) -> Any:
    """Values with ``null`` entries removed, as ``helm.v3.Release`` (allowNullValues off)
    sends them to Helm — where a null would otherwise remove a chart default."""
    if isinstance(value, Mapping):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value if v is not None]
    return value


def _provider_version() -> str | None:
    try:
        return version("pulumi_kubernetes")
    except PackageNotFoundError:  # pragma: no cover - the SDK is a dependency
        return None


async def render(
    chart_path: str | Path,
    values: Mapping[str, Any],
    *,
    release: str,
    namespace: str,
    parent: pulumi.Resource | None = None,
) -> list[dict[str, Any]]:
    """The objects of a local chart (directory or ``.tgz``), hooks included, rendered
    with ``values`` (nulls dropped) by the provider ``parent`` uses."""
    opts = {
        "path": str(chart_path),
        "namespace": namespace,
        "release_name": release,
        "values": without_nulls(dict(values)),
    }
    result = await pulumi.runtime.invoke_async(
        TEMPLATE_INVOKE,
        {"jsonOpts": json.dumps(opts, default=str)},
        pulumi.InvokeOptions(parent=parent, version=_provider_version()),
    )
    objects = (result or {}).get("result") if isinstance(result, Mapping) else None
    return [integral(o) for o in (objects or []) if isinstance(o, dict)]


def integral(value: Any) -> Any:
    """Numbers as the manifest had them: Pulumi's wire format carries every number as a
    double, so ``containerPort: 8080`` arrives as ``8080.0``, which typed clients refuse."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True)
class Rendered:
    """A render's outcome: the objects, or why there are none (``error``)."""

    objects: list[dict[str, Any]] | None
    error: str | None = None


async def render_captured(
    chart_path: str | Path,
    values: Mapping[str, Any] | None,
    *,
    release: str,
    namespace: str,
    parent: pulumi.Resource | None = None,
) -> Rendered:
    """:func:`render`, with a failure captured in :class:`Rendered` so that each consumer
    decides what a failed render means for it (a warning, or a failed gate)."""
    try:
        objects = await render(
            chart_path, values or {}, release=release, namespace=namespace, parent=parent
        )
    except Exception as err:  # captured, not swallowed: consumers report it
        return Rendered(None, f"{type(err).__name__}: {err}")
    return Rendered(objects)


def rendered_output(
    chart_path: pulumi.Input[Path],
    values: pulumi.Input[Mapping[str, Any]],
    *,
    release: str,
    namespace: str,
    parent: pulumi.Resource | None = None,
) -> pulumi.Output[Rendered]:
    """Render once, as an Output (see :func:`render_captured`)."""

    async def go(args: list[Any]) -> Rendered:
        path, vals = args
        return await render_captured(
            path, vals, release=release, namespace=namespace, parent=parent
        )

    return pulumi.Output.all(chart_path, values).apply(go)
