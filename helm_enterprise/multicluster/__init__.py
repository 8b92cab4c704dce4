"""Multi-cluster releases, decided apart from acted on (T4.1).

* :mod:`~helm_enterprise.multicluster.plan` — the pure plan: per cluster deploy, keep,
  skip or idle, in rolling order, the failover, the per-cluster values; table-tested.

The component that acts on it is
:class:`~helm_enterprise.components.multicluster.MultiClusterRelease`.
"""

from __future__ import annotations

from helm_enterprise.multicluster.plan import Action, ClusterStep, Plan, cluster_release, decide

__all__ = ["Action", "ClusterStep", "Plan", "cluster_release", "decide"]
