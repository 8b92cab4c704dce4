"""The config-driven program: a stack described by YAML alone.

``__main__.py`` next to ``Pulumi.yaml`` calls :func:`main`, which reads everything under
``helm-enterprise:`` in ``Pulumi.<stack>.yaml``, validates all of it before registering
anything, reads every Vault reference of every release in one batch, and creates the
releases in dependency order::

    config:
      helm-enterprise:releases:
        - name: hello
          namespace: demo
          createNamespace: true
          chart: {path: ./charts/hello}
          values: {replicaCount: 2}
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from helm_enterprise.components.context import CONFIG_NAMESPACE, Platform, set_default_platform
from helm_enterprise.components.release import Release
from helm_enterprise.config._base import validate_model
from helm_enterprise.config.stack import StackConfig
from helm_enterprise.secrets.inject import vault_refs


def load_stack_config() -> StackConfig:
    """Every ``helm-enterprise:*`` key of the current stack, validated as one model."""
    cfg = pulumi.Config(CONFIG_NAMESPACE)
    data: dict[str, Any] = {}
    for key in ("releases", "repositories", "vault", "timeouts", "cluster"):
        value = cfg.get_object(key)
        if value is not None:
            data[key] = value
    return validate_model(StackConfig, data)


def topological(config: StackConfig) -> list[int]:
    """Release indexes so that every release comes after what it depends on."""
    by_name = {r.name: i for i, r in enumerate(config.releases)}
    order: list[int] = []
    seen: set[int] = set()

    def visit(i: int) -> None:
        if i in seen:
            return
        seen.add(i)
        for dep in config.releases[i].depends_on:
            visit(by_name[dep])
        order.append(i)

    for i in range(len(config.releases)):
        visit(i)
    return order


def build(config: StackConfig, platform: Platform) -> dict[str, Release]:
    """Register every release of ``config``; returns them by name."""
    resolver = platform.resolver()
    if resolver is not None:
        resolver.prefetch(ref for r in config.releases for ref in vault_refs(r))
    provider = None
    if config.cluster and (config.cluster.kubeconfig or config.cluster.context):
        provider = k8s.Provider(
            "helm-enterprise-cluster",
            kubeconfig=config.cluster.kubeconfig,
            context=config.cluster.context,
        )
    releases: dict[str, Release] = {}
    for i in topological(config):
        r = config.releases[i]
        deps: list[pulumi.Resource] = [releases[d] for d in r.depends_on]
        releases[r.name] = Release(
            r.name,
            r,
            pulumi.ResourceOptions(provider=provider, depends_on=deps),
            platform=platform,
            field=f"releases[{i}]",
        )
    return releases


def main() -> None:
    """Entry point of the root program."""
    config = load_stack_config()
    platform = Platform(
        vault=config.vault,
        repositories=dict(config.repositories),
        timeouts=config.timeouts,
        cluster=config.cluster,
    )
    set_default_platform(platform)
    releases = build(config, platform)
    if not releases:
        pulumi.log.warn(
            "no releases configured: add helm-enterprise:releases to Pulumi.<stack>.yaml "
            "(see examples/03-config-only)"
        )
    pulumi.export(
        "releases",
        {
            name: {
                "status": rel.status,
                "revision": rel.revision,
                "namespace": rel.namespace,
                "chart": rel.chart_name,
                "version": rel.chart_version,
                "source": rel.resolved_source,
            }
            for name, rel in releases.items()
        },
    )
