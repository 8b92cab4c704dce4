"""The tenancy gate of a release: its tenant first, then the rendered chart, then Helm.

:func:`release_scope` checks a release's config against its tenant before the Release
component registers anything (its namespace belongs to the tenant; a tenant's namespace is
only used by the tenant's releases) and returns the tenant and tier to check against.
:func:`gate_values` renders the chart and checks every object; :func:`check_transformed`
checks one object as it passes the chart-mode transform.

Why render here: in release mode Helm renders and applies in one step, so nothing of ours
sees the objects before they reach the cluster; in chart mode objects are registered one
by one as they pass the Chart's transform, so a problem found at the fifth object comes
after the first four were registered. Rendering the chart once more through the
provider's own ``kubernetes:helm:template`` function (what ``helm template`` does, with the
cluster's API versions when it is reachable) lets the checks see every object, in both
modes, before the Helm resource exists. The Helm resource's ``values`` input is derived
from this check, like the values.schema.json gate: a violation fails ``pulumi preview``.

This is one more render of the chart per tenant release and run, from local files (a
repository chart is fetched once into the content-addressed chart cache).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi

from helm_enterprise.config.release import ReleaseConfig
from helm_enterprise.config.tenant import TenantConfig, TierConfig, resolve_tier
from helm_enterprise.errors import ConfigError, ValidationError, truncate
from helm_enterprise.kube.render import Rendered, rendered_output
from helm_enterprise.tenancy.checks import check_object, check_release_namespace
from helm_enterprise.tenancy.quota import check_rendered
from helm_enterprise.validation import Finding, errors, report


@dataclasses.dataclass(frozen=True)
class TenantScope:
    """The tenant a release was declared for, and its tier."""

    tenant: TenantConfig
    tier: TierConfig


def release_scope(
    cfg: ReleaseConfig,
    tenants: Mapping[str, TenantConfig],
    tiers: Mapping[str, TierConfig],
    field: str = "",
) -> TenantScope | None:
    """The release's tenant scope (None without a tenant); :class:`ConfigError` naming
    ``namespace``/``tenant``/``createNamespace`` and the allowed values otherwise."""
    findings = check_release_namespace(cfg, tenants, field)
    report(findings)
    if findings:
        first = findings[0]
        raise ConfigError(first.message, path=first.field)
    if cfg.tenant is None:
        return None
    tenant = tenants[cfg.tenant]
    return TenantScope(tenant, resolve_tier(tenant, dict(tiers)))


def check_transformed(scope: TenantScope, release: str, obj: Mapping[str, Any]) -> None:
    """One object as the chart-mode transform sees it (the render gate checked them all
    before; this holds for what is actually registered)."""
    raise_on_errors(release, scope.tenant.name, check_object(obj, release, scope.tenant))


def raise_on_errors(release: str, tenant: str, findings: Sequence[Finding]) -> None:
    """Report findings (``helm-enterprise validate``) and raise for errors."""
    report(findings)
    bad = errors(findings)
    if bad:
        raise ValidationError(
            f"{release}: does not fit tenant {tenant!r}:\n  " + "\n  ".join(f.line() for f in bad),
            findings=bad,
        )


def gate_values(
    parent: pulumi.Resource,
    release: str,
    namespace: str,
    scope: TenantScope,
    chart_path: pulumi.Output[Path],
    values: pulumi.Input[dict[str, Any]],
    rendered: pulumi.Output[Rendered] | None = None,
) -> pulumi.Output[dict[str, Any]]:
    """``values``, once the rendered chart passed every tenancy check; else the Output
    fails with a :class:`ValidationError` listing the findings. ``rendered`` is the
    release's render when the component already has one (shared with the policy
    summary); otherwise the chart at ``chart_path`` is rendered here."""
    if rendered is None:
        rendered = rendered_output(
            chart_path, values, release=release, namespace=namespace, parent=parent
        )

    def check(args: list[Any]) -> dict[str, Any]:
        result, vals = args
        if result.objects is None:
            raise ValidationError(
                f"{release}: the chart could not be rendered to check it against tenant "
                f"{scope.tenant.name!r}: {truncate(result.error or '', 300)}"
            )
        findings = check_rendered(result.objects, release, scope.tenant, scope.tier)
        for f in findings:
            if f.severity == "warning":
                pulumi.log.warn(f.line(), resource=parent)
            elif f.severity == "info":
                pulumi.log.info(f.line(), resource=parent)
        raise_on_errors(release, scope.tenant.name, findings)
        out: dict[str, Any] = vals
        return out

    return pulumi.Output.all(rendered, values).apply(check)
