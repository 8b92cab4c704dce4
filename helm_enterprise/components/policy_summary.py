"""``helm-enterprise:index:PolicySummary``: what the policy pack needs to know about a release.

A child of every :class:`~helm_enterprise.components.release.Release`. Its one input,
``summary``, is built by :func:`helm_enterprise.policy.render.policy_summary`: the
release's facts (namespace, tenant, requested chart version, paths of plain and secret
values) and, in release mode, a summary of the objects Helm will apply. CrossGuard sees a
resource's inputs when the resource is registered, so every rule of the pack checks
release-mode objects exactly like chart-mode ones, with the same configuration, before
the Helm resource — whose values pass :meth:`PolicySummary.gate` — is registered. It
creates nothing in the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

import pulumi

TYPE_TOKEN = "helm-enterprise:index:PolicySummary"  # noqa: S105 - a type token, not a secret

T = TypeVar("T")


class PolicySummary(pulumi.ComponentResource):
    """The policy view of one release (``helm-enterprise:index:PolicySummary``).

    Args:
        resource_name: ``<release resource name>-policy``.
        summary: the summary (see :mod:`helm_enterprise.policy.render`); never values.
        opts: ``parent`` must be the Release component.

    Outputs:
        summary: the same summary, for stack policies and ``pulumi stack export``.
    """

    summary: pulumi.Output[dict[str, Any]]

    def __init__(
        self,
        resource_name: str,
        summary: pulumi.Input[Mapping[str, Any]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, resource_name, {"summary": summary}, opts)
        self.summary = pulumi.Output.from_input(summary).apply(dict)
        self.register_outputs({"summary": self.summary})

    def gate(self, value: pulumi.Input[T]) -> pulumi.Output[T]:
        """``value`` once the engine has accepted this summary.

        CrossGuard checks the summary when it is registered; during ``pulumi up`` a
        mandatory violation stops the deployment right there. ``depends_on`` would not
        wait for it (a component without children has no dependencies to wait for), so
        the Helm resource takes its values through this gate instead.
        """
        return pulumi.Output.all(self.urn, value).apply(lambda both: cast(T, both[1]))


__all__ = ["PolicySummary"]
