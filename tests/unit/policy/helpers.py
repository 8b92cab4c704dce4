"""Calling a rule the way CrossGuard does: a real ``ResourceValidationArgs`` whose props
are wrapped in pulumi_policy's unknown-checking proxy, and a collecting report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy

from helm_enterprise.policy.violations import Violation

STACK = "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev"
COMPONENT_URN = "urn:pulumi:dev::proj::helm-enterprise:index:Release::web"
CHART_URN = (
    "urn:pulumi:dev::proj::helm-enterprise:index:Release$kubernetes:helm.sh/v4:Chart::web-chart"
)


def args(
    resource_type: str,
    props: Mapping[str, Any],
    *,
    name: str = "res",
    parent: str | None = STACK,
    config: Mapping[str, Any] | None = None,
) -> ResourceValidationArgs:
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)
    return ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(dict(props)),
        f"urn:pulumi:dev::proj::{resource_type}::{name}",
        name,
        opts,
        None,
        dict(config) if config is not None else None,
    )


class Collect:
    """A ``report_violation`` that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.urns: list[str | None] = []

    def __call__(self, message: str, urn: str | None = None) -> None:
        self.messages.append(message)
        self.urns.append(urn)

    def violations(self, rule: str = "rule") -> list[Violation]:
        parsed = [Violation.parse(rule, m) for m in self.messages]
        assert all(p is not None for p in parsed), self.messages
        return [p for p in parsed if p is not None]

    def fields(self) -> list[tuple[str, str]]:
        return [(v.resource, v.field) for v in self.violations()]


def deployment(
    name: str = "web",
    namespace: str | None = "shop",
    *,
    container: Mapping[str, Any] | None = None,
    pod: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A compliant Deployment; ``container``/``pod`` override parts of it."""
    c = {
        "name": "app",
        "image": "registry.corp/team/app:1.4.2",
        "resources": {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "128Mi"},
        },
        "securityContext": {"allowPrivilegeEscalation": False},
        "env": [{"name": "PASSWORD", "value": "s3cr3t-in-env"}],
        **(container or {}),
    }
    meta: dict[str, Any] = {
        "name": name,
        "labels": dict(labels if labels is not None else {"app.kubernetes.io/name": name}),
        "annotations": {"note": "annotation-value"},
    }
    if namespace is not None:
        meta["namespace"] = namespace
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [c], **(pod or {})},
            }
        },
    }
