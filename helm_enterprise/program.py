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

import os
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from helm_enterprise.components.context import CONFIG_NAMESPACE, Platform, set_default_platform
from helm_enterprise.components.group import ReleaseGroup
from helm_enterprise.components.multicluster import from_stack_config
from helm_enterprise.components.release import Release
from helm_enterprise.components.tenant import Tenant, check_tenants
from helm_enterprise.config.stack import POLICY_SUMMARY_ENV, StackConfig, read_stack_config
from helm_enterprise.secrets.inject import vault_refs
from helm_enterprise.sources import git as git_sources


def load_stack_config() -> StackConfig:
    """The current stack's ``helm-enterprise:*`` config, validated as one model (the same
    reader ``helm-enterprise validate`` uses on the stack file)."""
    return read_stack_config(config_value)


def config_value(key: str) -> Any:
    """``helm-enterprise:<key>`` parsed as JSON (objects, lists, numbers, booleans), or the
    plain string when it is not JSON: ``coordinatedRollback: group`` is stored as the text
    ``group``, which ``get_object`` alone refuses."""
    cfg = pulumi.Config(CONFIG_NAMESPACE)
    try:
        return cfg.get_object(key)
    except pulumi.config.ConfigTypeError:
        return cfg.get(key)


def topological(config: StackConfig) -> list[int]:
    """Release indexes so that every release comes after what it depends on."""
    by_name = {r.name: i for i, r in enumerate(config.releases)}
    order: list[int] = []
    seen: set[int] = set()

    def visit(i: int) -> None:
        if i in seen:
            return
        seen.add(i)
        for dep in config.releases[i].local_dependencies:
            visit(by_name[dep])
        order.append(i)

    for i in range(len(config.releases)):
        visit(i)
    return order


def build_tenants(
    config: StackConfig, platform: Platform, provider: pulumi.ProviderResource | None
) -> dict[str, Tenant]:
    """Register every tenant of ``config`` (T2.2) and export their outputs as ``tenants``;
    returns them by name.

    All of them are checked (identity, namespaces, against the cluster) before the first
    registers anything: a refused tenant must not leave another's new namespaces behind.
    """
    check_tenants([(t.name, t) for t in config.tenants], platform=platform)
    tenants = {
        t.name: Tenant(
            t.name,
            t,
            pulumi.ResourceOptions(provider=provider),
            platform=platform,
            field=f"tenants[{i}]",
        )
        for i, t in enumerate(config.tenants)
    }
    if tenants:
        pulumi.export(
            "tenants",
            {
                name: {"namespaces": t.namespaces, "tier": t.tier, "quota": t.quota}
                for name, t in tenants.items()
            },
        )
    return tenants


def build(config: StackConfig, platform: Platform) -> dict[str, Release]:
    """Register every tenant and release of ``config``; returns the releases by name."""
    resolver = platform.resolver()
    if resolver is not None:
        resolver.prefetch(ref for r in config.releases for ref in vault_refs(r))
    # Every release's Git chart is fetched in parallel from here on (T2.1).
    git_sources.prefetch(config.releases, resolver)
    provider = None
    if config.cluster and (config.cluster.kubeconfig or config.cluster.context):
        provider = k8s.Provider(
            "helm-enterprise-cluster",
            kubeconfig=config.cluster.kubeconfig,
            context=config.cluster.context,
        )
    # Tenants first: a tenant's releases depend on it (created after, deleted before).
    tenants = build_tenants(config, platform, provider)
    # One group: dependsOn names its releases, and a failure rolls back as configured (T3.4).
    group = ReleaseGroup("releases", rollback=config.coordinated_rollback)
    releases: dict[str, Release] = {}
    for i in topological(config):
        r = config.releases[i]
        deps: list[pulumi.Resource] = [tenants[r.tenant]] if r.tenant is not None else []
        releases[r.name] = Release(
            r.name,
            r,
            pulumi.ResourceOptions(provider=provider, depends_on=deps),
            platform=platform,
            field=f"releases[{i}]",
            group=group,
        )
    return releases


def main() -> None:
    """Entry point of the root program."""
    config = load_stack_config()
    platform = Platform(
        vault=config.vault,
        secrets=config.secrets,
        repositories=dict(config.repositories),
        timeouts=config.timeouts,
        cluster=config.cluster,
        tenants={t.name: t for t in config.tenants},
        tiers=dict(config.tiers),
        audit=config.audit,
        policy_summary=config.policy_summary or os.environ.get(POLICY_SUMMARY_ENV) == "1",
        prometheus=config.prometheus,
    )
    set_default_platform(platform)
    platform.install_audit()
    releases = build(config, platform)
    multi = from_stack_config(config.multi_cluster_releases, config.clusters, platform)
    if not releases and not config.tenants and not multi:
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
                "commit": rel.commit,
                # What a stack that depends on this release checks (dependsOn: {stack: ...}).
                "health": rel.health.apply(lambda h: h["state"] if h else None),
                # T3.1/T3.2: the rollout's phase, step, weights and why it paused/aborted.
                "strategy": rel.strategy,
            }
            for name, rel in releases.items()
        },
    )
    if multi:
        pulumi.export(
            "multiClusterReleases",
            {
                name: {
                    "plan": m.plan,
                    "deployed": m.deployed,
                    "statuses": m.statuses,
                    "revisions": m.revisions,
                    "failover": m.failover,
                }
                for name, m in multi.items()
            },
        )
