"""``helm-enterprise rightsize <release>``: requests and limits from observed usage (T3.5).

Reads the release's Pods from the cluster (labelled ``app.kubernetes.io/instance`` or
``helm-enterprise.io/release``, as the rollout watch finds them), their usage from
Prometheus (cAdvisor's series; KRR's simple strategy, see :mod:`helm_enterprise.sizing`)
and, when a VerticalPodAutoscaler of the release has a recommendation, that too. Prints a
table per container and the values patch that applies it, or ``--json``. Exit 0 with
recommendations, 1 without any.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from helm_enterprise.cli import JsonOpt, app, emit_json, err, handle_errors, out
from helm_enterprise.config.slo import parse_prometheus_duration
from helm_enterprise.errors import ConfigError, HelmEnterpriseError


def _pods_and_vpa(api: Any, namespace: str, release: str) -> tuple[list[str], dict[str, Any]]:
    from kubernetes import client as kclient
    from kubernetes.client.exceptions import ApiException

    from helm_enterprise.health.rollout import release_pods

    # The release's Pods as the rollout watch finds them (either label).
    listed = kclient.CoreV1Api(api).list_namespaced_pod(namespace, _request_timeout=15)
    items = [api.sanitize_for_serialization(p) for p in listed.items]
    names = [str(p["metadata"]["name"]) for p in release_pods(items, release)]
    vpa: dict[str, Any] = {}
    try:
        obj = kclient.CustomObjectsApi(api).get_namespaced_custom_object(
            "autoscaling.k8s.io", "v1", namespace, "verticalpodautoscalers", release
        )
        recs = ((obj.get("status") or {}).get("recommendation") or {}).get(
            "containerRecommendations"
        ) or []
        vpa = {r.get("containerName", ""): r for r in recs}
    except ApiException:
        pass  # no VPA (or no CRD): the Prometheus path alone
    return names, vpa


@app.command()
@handle_errors
def rightsize(
    release: Annotated[str, typer.Argument(help="Helm release name.")],
    namespace: Annotated[str, typer.Option("--namespace", "-n")] = "default",
    prometheus: Annotated[
        str, typer.Option("--prometheus", help="Prometheus with cAdvisor's container series.")
    ] = "http://127.0.0.1:9090",
    window: Annotated[
        str, typer.Option("--window", help="How far back to look (1h, 14d).")
    ] = "14d",
    min_samples: Annotated[
        int, typer.Option("--min-samples", help="Fewer samples: no recommendation.")
    ] = 100,
    values_path: Annotated[
        str, typer.Option("--values-path", help="Where the chart takes resources.")
    ] = "resources",
    kubeconfig: Annotated[str | None, typer.Option("--kubeconfig")] = None,
    context: Annotated[str | None, typer.Option("--context")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recommended requests/limits per container, and the values patch that applies them."""
    from helm_enterprise.kube.client import ClusterAccess
    from helm_enterprise.sizing.recommend import recommend, values_patch
    from helm_enterprise.sizing.usage import observed

    try:
        seconds = parse_prometheus_duration(window)
    except ValueError as e:
        raise ConfigError(str(e), path="--window") from None
    access = ClusterAccess(kubeconfig, context)
    api = access.reachable_client()
    if api is None:
        raise HelmEnterpriseError(f"cluster {access.describe()} is not reachable")
    try:
        pods, vpa = _pods_and_vpa(api, namespace, release)
    finally:
        api.close()
    if not pods:
        raise HelmEnterpriseError(f"release {namespace}/{release} has no Pods to measure")
    usage = observed(prometheus.rstrip("/"), namespace, pods, seconds)
    recs = [recommend(u, min_samples) for u in usage]
    patch = values_patch(recs, values_path)
    if as_json:
        emit_json(
            {
                "release": release,
                "namespace": namespace,
                "window": window,
                "pods": pods,
                "usage": [u.__dict__ for u in usage],
                "recommendations": [r.to_dict() for r in recs],
                "vpa": vpa,
                "valuesPatch": patch,
            }
        )
        raise typer.Exit(0 if patch else 1)
    table = Table("container", "cpu p95", "memory peak", "samples", "cpu request", "memory", "why")
    for u, r in zip(usage, recs, strict=True):
        table.add_row(
            u.container,
            "-" if u.cpu_p95_cores is None else f"{u.cpu_p95_cores * 1000:.1f}m",
            "-" if u.memory_peak_bytes is None else f"{u.memory_peak_bytes / 2**20:.1f}Mi",
            str(u.samples),
            r.cpu_request or "-",
            r.memory_request or "-",
            r.reason,
        )
    out.print(table)
    for name, rec in vpa.items():
        out.print(f"VPA {name}: target {rec.get('target')}", highlight=False)
    if patch:
        out.print("values patch:\n" + yaml.safe_dump(patch, sort_keys=False), highlight=False)
    else:
        err.print("no recommendation yet (see why)", highlight=False)
    raise typer.Exit(0 if patch else 1)
