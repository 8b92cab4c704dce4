"""The policy summary of a release: what CrossGuard cannot see by itself.

In release mode Helm renders and applies the chart inside the provider, so CrossGuard sees
only the ``kubernetes:helm.sh/v3:Release`` inputs, never the objects. :func:`policy_summary`
renders the chart during preview and ``up`` with the provider's own ``helm template``
(the ``kubernetes:helm:template`` invoke ``helm.v3.Chart`` uses) and keeps a *summary* of
every object: kind, name, namespace, labels and the parts of pod specs the rules read
(images, resources, security contexts, host namespaces, hostPath volumes). Never Secret or
ConfigMap data, environment variables, commands or annotations — nothing a value could
hide in.

The summary also records release facts in both modes: name, namespace, tenant, the chart
source kind and the *requested* version, the paths (not values) of plain strings in the
release's ``values`` and the paths filled from ``secretValues``. The Release component
registers it as the input of a ``helm-enterprise:index:PolicySummary`` child, which every
rule of the pack checks (:mod:`helm_enterprise.policy.rules`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi

from helm_enterprise.config.release import ReleaseConfig
from helm_enterprise.errors import truncate
from helm_enterprise.kube.kinds import POD_SPEC_PATHS
from helm_enterprise.kube.render import Rendered, rendered_output
from helm_enterprise.policy.objects import CONTAINER_LISTS
from helm_enterprise.policy.values import literal_paths
from helm_enterprise.sources import ResolvedChart

SUMMARY_VERSION = 1

_CONTAINER_KEYS = ("name", "image", "resources", "securityContext")
_POD_KEYS = ("hostNetwork", "hostPID", "hostIPC")


def _container(c: Mapping[str, Any]) -> dict[str, Any]:
    return {k: c[k] for k in _CONTAINER_KEYS if k in c}


def _volume(v: Mapping[str, Any]) -> dict[str, Any]:
    out = {"name": v.get("name")}
    if isinstance(v.get("hostPath"), Mapping):
        out["hostPath"] = dict(v["hostPath"])
    return out


def _pod_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: spec[k] for k in _POD_KEYS if k in spec}
    volumes = spec.get("volumes")
    if isinstance(volumes, list):
        out["volumes"] = [_volume(v) for v in volumes if isinstance(v, Mapping)]
    for key in CONTAINER_LISTS:
        items = spec.get(key)
        if isinstance(items, list):
            out[key] = [_container(c) for c in items if isinstance(c, Mapping)]
    return out


def _get(node: Any, *path: str) -> Any:
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def prune(obj: Mapping[str, Any], labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The parts of one rendered object the rules read; ``labels`` are added to its
    metadata as helm_enterprise's post-renderer adds them when Helm applies it."""
    meta: dict[str, Any] = {
        k: v for k in ("name", "namespace") if isinstance(v := _get(obj, "metadata", k), str)
    }
    own = _get(obj, "metadata", "labels")
    meta["labels"] = {**(own if isinstance(own, Mapping) else {}), **(labels or {})}
    out: dict[str, Any] = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": meta,
    }
    path = POD_SPEC_PATHS.get(str(obj.get("kind")))
    spec = _get(obj, *path) if path else None
    if path is None or not isinstance(spec, Mapping):
        return out
    target = out
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = _pod_spec(spec)
    if len(path) > 1:  # a workload: its pod template's labels
        template_labels = _get(obj, *path[:-1], "metadata", "labels")
        if isinstance(template_labels, Mapping):
            target["metadata"] = {"labels": dict(template_labels)}
    return out


def summarize_objects(
    objects: Sequence[Any], labels: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """:func:`prune` over a rendered manifest's documents (non-objects skipped)."""
    return [prune(o, labels) for o in objects if isinstance(o, Mapping) and o.get("kind")]


def release_facts(cfg: ReleaseConfig, chart_kind: str) -> dict[str, Any]:
    """What the release-level rules need, without any value."""
    literal, private_keys = literal_paths(cfg.values)
    spec = cfg.chart
    return {
        "schemaVersion": SUMMARY_VERSION,
        "release": cfg.name,
        "namespace": cfg.namespace,
        "mode": cfg.mode,
        "tenant": cfg.tenant or "",
        "chart": {
            "kind": chart_kind,
            "name": spec.name or Path(spec.path or "").name,
            "version": spec.version or "",
            "gitRef": spec.git.ref if spec.git is not None else "",
        },
        "values": {"literalPaths": literal, "privateKeyPaths": private_keys},
        "secretPaths": sorted(cfg.secret_values),
    }


def policy_summary(
    cfg: ReleaseConfig,
    chart: ResolvedChart,
    values: pulumi.Input[Mapping[str, Any]],
    labels: Mapping[str, str],
    parent: pulumi.Resource,
    rendered: pulumi.Output[Rendered] | None = None,
) -> pulumi.Output[dict[str, Any]]:
    """The summary the Release component registers for CrossGuard.

    ``rendered`` is the release's render when the component already has one (shared with
    the tenancy gate); otherwise the chart is rendered here.

    Release mode renders the chart from ``chart.local_files()`` (the copy the schema check
    reads) with ``values`` — the final values, secrets included: they go to the
    provider's renderer only and nothing of them is kept — and summarises the objects
    with the ownership ``labels`` the post-renderer adds. A repository chart with schema
    validation off is not rendered (helm_enterprise does not fetch it then). Chart mode
    renders nothing (``objects`` is ``None``): CrossGuard sees each object as its own
    resource.

    A chart that cannot be rendered gives ``objects: None`` and ``rendered: False`` with
    a warning on ``parent``; the Helm release reports the error itself.
    """
    facts = release_facts(cfg, chart.kind)
    if cfg.mode != "release":
        return pulumi.Output.from_input({**facts, "objects": None, "rendered": False})
    if chart.kind == "repo" and not cfg.validation.schema_:
        # Helm fetches this chart itself and nothing else of ours reads it: fetching it
        # here only for the summary would add a download (and a new way to fail).
        pulumi.log.info(
            "policy summary: objects not rendered (repository chart, schema validation off)",
            resource=parent,
        )
        return pulumi.Output.from_input({**facts, "objects": None, "rendered": False})

    def build(result: Rendered) -> dict[str, Any]:
        if result.objects is None:  # a render failure: no object checks, say so
            pulumi.log.warn(
                f"policy summary: chart could not be rendered, object rules skipped: "
                f"{truncate(result.error or '', 300)}",
                resource=parent,
            )
            return {**facts, "objects": None, "rendered": False}
        return {**facts, "objects": summarize_objects(result.objects, labels), "rendered": True}

    if rendered is None:
        # The chart's local copy: the one the values.schema.json check reads.
        rendered = rendered_output(
            chart.local_files(), values, release=cfg.name, namespace=cfg.namespace, parent=parent
        )
    return rendered.apply(build)
