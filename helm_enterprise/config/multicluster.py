"""Multi-cluster releases (T4.1): one definition, several clusters, per-cluster overrides.

::

    config:
      helm-enterprise:clusters:                 # named clusters (optional)
        eu-1: {kubeconfig: ~/.kube/eu-1.yaml, context: eu-1}
        eu-2: {kubeconfig: ~/.kube/eu-2.yaml}
      helm-enterprise:multiClusterReleases:
        - name: web                             # every field of a release, plus:
          namespace: shop
          chart: {name: web, version: 1.4.2, repository: corp}
          values: {replicaCount: 2}
          clusters:                             # order = rolling order
            - {name: eu-1, values: {replicaCount: 4}}        # merged Helm-style
            - {name: eu-2, role: standby}
          strategy: active-passive              # rolling (default) | active-passive
          unreachable: exclude                  # fail (default) | exclude

A cluster entry names a cluster of ``helm-enterprise:clusters`` or gives ``kubeconfig`` /
``context`` itself (inline values win). ``values`` are merged over the release's values
the way ``helm -f base.yaml -f cluster.yaml`` merges them (maps merge, everything else
replaces); ``secretValues`` entries are added to (or replace) the release's.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from helm_enterprise.config._base import Duration, Model
from helm_enterprise.config.release import ReleaseConfig, value_paths
from helm_enterprise.config.secrets import Secret

# Cluster names go into resource names (`<release>-<cluster>`) and audit records.
_CLUSTER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")

Strategy = Literal["rolling", "active-passive"]
Unreachable = Literal["exclude", "fail"]
Role = Literal["primary", "standby"]


class ClusterTarget(Model):
    """One cluster a multi-cluster release deploys to.

    Attributes:
        name: the cluster's name (a DNS label of at most 32 characters); children are
            named ``<release>-<name>``.
        kubeconfig / context: how to reach it; unset: from ``helm-enterprise:clusters``
            (stack config) or the ambient kubeconfig.
        role: ``primary`` (default) or ``standby`` (active-passive only).
        values: merged over the release's values for this cluster (Helm's merge).
        secret_values: added to the release's ``secretValues`` for this cluster.
    """

    name: str
    kubeconfig: str | None = None
    context: str | None = None
    role: Role = "primary"
    values: dict[str, Any] = Field(default_factory=dict)
    secret_values: dict[str, Secret] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _CLUSTER_NAME.match(v):
            raise ValueError(
                f"{v!r} is not a cluster name (lowercase letters, digits and '-', at most 32 "
                "characters)"
            )
        return v

    @field_validator("secret_values")
    @classmethod
    def _secret_paths(cls, v: dict[str, Any]) -> dict[str, Any]:
        return value_paths(v)

    def target(self) -> tuple[str | None, str | None]:
        """(kubeconfig, context): two entries with the same pair are the same cluster."""
        return self.kubeconfig, self.context


class MultiClusterReleaseConfig(ReleaseConfig):
    """A release deployed to several clusters (every :class:`ReleaseConfig` field, plus
    where and how).

    Attributes:
        clusters: the target clusters, in rolling order (at least one).
        strategy: ``rolling`` — every healthy cluster, one at a time, stopping at the first
            failure; ``active-passive`` — the primary when it is healthy, otherwise the
            first healthy standby (failover).
        unreachable: what a rolling deployment does with a cluster that fails the
            pre-flight health check: ``fail`` the run (default) or ``exclude`` it with a
            warning. Active-passive always fails over, and fails when no cluster is
            healthy.
        health_timeout: seconds the pre-flight check waits for each cluster's API.
    """

    clusters: list[ClusterTarget] = Field(min_length=1)
    # Not the progressive delivery of a single release (ReleaseConfig.strategy): across
    # clusters, ``strategy`` is how the clusters are deployed to.
    strategy: Strategy = "rolling"  # type: ignore[assignment]
    unreachable: Unreachable = "fail"
    health_timeout: Duration = Field(default=5, ge=1, le=120)

    @model_validator(mode="after")
    def _clusters(self) -> MultiClusterReleaseConfig:
        issue = cluster_issues(self)
        if issue:
            raise ValueError(f"{issue[0]}: {issue[1]}" if issue[0] else issue[1])
        return self

    def release_config(self) -> ReleaseConfig:
        """The shared definition as a plain :class:`ReleaseConfig` (fields already valid)."""
        shared = set(ReleaseConfig.model_fields) - {"strategy"}  # ours means another thing
        return ReleaseConfig.model_construct(
            _fields_set=self.model_fields_set & shared,
            **{k: getattr(self, k) for k in shared},
        )

    def cluster(self, name: str) -> ClusterTarget:
        return next(c for c in self.clusters if c.name == name)

    def with_named_clusters(
        self, named: Mapping[str, tuple[str | None, str | None]]
    ) -> MultiClusterReleaseConfig:
        """Fill ``kubeconfig``/``context`` of entries that name a cluster of
        ``helm-enterprise:clusters`` (inline values win)."""
        clusters = []
        for c in self.clusters:
            kubeconfig, context = named.get(c.name, (None, None))
            clusters.append(
                c.model_copy(
                    update={
                        "kubeconfig": c.kubeconfig or kubeconfig,
                        "context": c.context or context,
                    }
                )
            )
        return self.model_copy(update={"clusters": clusters})


def cluster_issues(cfg: MultiClusterReleaseConfig) -> tuple[str, str] | None:
    """The first problem with the cluster list and strategy, as (field path, message)."""
    seen: dict[str, int] = {}
    for i, c in enumerate(cfg.clusters):
        if c.name in seen:
            return (
                f"clusters[{i}].name",
                f"cluster {c.name!r} is already listed at [{seen[c.name]}]",
            )
        seen[c.name] = i
    if cfg.depends_on:
        return (
            "dependsOn",
            "not supported on a multi-cluster release; order across clusters is its strategy",
        )
    roles = [c.role for c in cfg.clusters]
    if cfg.strategy == "rolling" and "standby" in roles:
        i = roles.index("standby")
        return (
            f"clusters[{i}].role",
            "standby clusters need strategy: active-passive (rolling deploys to every cluster)",
        )
    if cfg.strategy == "active-passive":
        primaries = [i for i, r in enumerate(roles) if r == "primary"]
        if len(primaries) != 1:
            where = f"clusters[{primaries[1]}].role" if len(primaries) > 1 else "clusters"
            return where, (
                f"active-passive needs exactly one primary cluster, found {len(primaries)} "
                "(mark the others role: standby)"
            )
        if "standby" not in roles:
            return "clusters", "active-passive needs at least one cluster with role: standby"
    return None


def same_cluster_issue(cfg: MultiClusterReleaseConfig) -> tuple[str, str] | None:
    """Two entries reaching the same kubeconfig/context (after named clusters are filled)."""
    targets: dict[tuple[str | None, str | None], str] = {}
    for i, c in enumerate(cfg.clusters):
        other = targets.get(c.target())
        if other is not None:
            return (
                f"clusters[{i}]",
                f"cluster {c.name!r} has the same kubeconfig and context as {other!r}; "
                "give each cluster its own kubeconfig or context",
            )
        targets[c.target()] = c.name
    return None


def stack_issues(
    entries: list[MultiClusterReleaseConfig],
    named_clusters: Collection[str],
    release_names: Collection[str],
    repositories: Collection[str],
) -> list[tuple[str, str]]:
    """Cross-checks of ``helm-enterprise:multiClusterReleases`` against the rest of the
    stack config: named clusters exist, names are unique, repositories are declared."""
    issues: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for i, r in enumerate(entries):
        at = f"multiClusterReleases[{i}]"
        if r.name in release_names:
            issues.append((f"{at}.name", f"release {r.name!r} is also declared in releases"))
        if r.name in seen:
            issues.append(
                (f"{at}.name", f"release {r.name!r} is already declared at [{seen[r.name]}]")
            )
        seen[r.name] = i
        repo = r.chart.repository
        if isinstance(repo, str) and repo not in repositories:
            known = ", ".join(sorted(repositories)) or "none declared"
            issues.append(
                (
                    f"{at}.chart.repository",
                    f"unknown repository {repo!r} (helm-enterprise:repositories has: {known})",
                )
            )
        for j, c in enumerate(r.clusters):
            if c.name not in named_clusters and c.kubeconfig is None and c.context is None:
                known = ", ".join(sorted(named_clusters)) or "none declared"
                issues.append(
                    (
                        f"{at}.clusters[{j}].name",
                        f"unknown cluster {c.name!r} (helm-enterprise:clusters has: {known}); "
                        "declare it there or give kubeconfig/context here",
                    )
                )
    return issues


__all__ = [
    "ClusterTarget",
    "MultiClusterReleaseConfig",
    "Role",
    "Strategy",
    "Unreachable",
    "cluster_issues",
    "same_cluster_issue",
    "stack_issues",
]
