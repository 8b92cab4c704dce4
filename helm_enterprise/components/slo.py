"""A release's SLOs (T4.3) as part of the ``Release`` component: the rule file, and the gate
that stops an install or upgrade while a burn-rate alert of the release fires.

Not a component of its own: the rules and the gate belong to the release (its children,
its values), and both need the stack's ``helm-enterprise:prometheus``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_kubernetes as k8s

from helm_enterprise.audit.hooks import start_callback_server
from helm_enterprise.components.context import Platform
from helm_enterprise.config.release import ReleaseConfig
from helm_enterprise.config.stack import PrometheusConfig
from helm_enterprise.errors import ConfigError, SloError
from helm_enterprise.kube.client import ClusterAccess, crd_installed
from helm_enterprise.slo.resource import SloRulesResource, rule_file
from helm_enterprise.slo.rules import release_rules
from helm_enterprise.slo.status import gate_problems

if TYPE_CHECKING:
    from helm_enterprise.components.release import Release


def slo_rules_and_gate(
    release: Release,
    cfg: ReleaseConfig,
    platform: Platform,
    values: pulumi.Input[dict[str, Any]],
    field: str,
    labels: dict[str, str],
) -> tuple[pulumi.Input[dict[str, Any]], pulumi.ResourceHookBinding | None]:
    """Register ``cfg``'s SLO rules (when it has SLOs); return ``values`` and, with an SLO
    gate, the hooks that check it just before Helm installs or upgrades the release (a run
    that does not change the release is not stopped; a preview warns). ConfigError, before
    anything is registered, when the stack has no ``helm-enterprise:prometheus`` (or, for
    a gate, no ``address``)."""
    where = f"{field}." if field else ""
    prom = platform.prometheus
    if prom is None:
        raise ConfigError(
            f"{cfg.name}: slos and sloGate need the stack's Prometheus",
            path=f"{where}slos" if cfg.slos else f"{where}sloGate",
            hint="set helm-enterprise:prometheus (address, and ruleFilesDir or rules: "
            "prometheusRule)",
        )
    if cfg.slos:
        _rules(release, cfg, prom, labels, platform.cluster_access)
    if cfg.slo_gate == "none":
        return values, None
    if prom.address is None:
        raise ConfigError(
            f"{cfg.name}: sloGate asks Prometheus whether an alert fires",
            path="prometheus.address",
            hint="set helm-enterprise:prometheus.address",
        )
    address: str = prom.address
    gate = cfg.slo_gate

    def problems() -> str | None:
        try:
            found = gate_problems(address, cfg.name, gate)
        except SloError as err:
            raise SloError(f"{cfg.name}: SLO gate ({gate}) could not be checked: {err}") from None
        if not found:
            return None
        return f"{cfg.name}: SLO gate ({gate}): not installed or upgraded while " + "; ".join(found)

    def before(_args: pulumi.ResourceHookArgs) -> None:
        message = problems()
        if message:
            raise SloError(message)

    def preview(vals: dict[str, Any]) -> dict[str, Any]:
        # What `pulumi up` would meet, said during preview (never a failure there).
        try:
            message = problems()
        except SloError as err:
            message = str(err)
        if message:
            pulumi.log.warn(
                message + " (checked again when pulumi up changes it)", resource=release
            )
        return vals

    if pulumi.runtime.is_dry_run():
        values = pulumi.Output.from_input(values).apply(preview)
    start_callback_server()  # before any hook exists (see helm_enterprise.audit.hooks)
    hook = pulumi.ResourceHook(f"slo-gate-{release._name}", before)
    return values, pulumi.ResourceHookBinding(before_create=[hook], before_update=[hook])


PROMETHEUS_RULE_CRD = "prometheusrules.monitoring.coreos.com"


def _rules(
    release: Release,
    cfg: ReleaseConfig,
    prom: PrometheusConfig,
    labels: dict[str, str],
    access: ClusterAccess,
) -> None:
    """The release's SLO rules where the stack's Prometheus reads them: a rule file, or a
    PrometheusRule object (``<release>-slos`` in its namespace) for the Prometheus Operator."""
    rules = release_rules(cfg.name, cfg.slos)
    if prom.rule_target == "files":
        assert prom.rule_files_dir is not None
        SloRulesResource(
            f"{release._name}-slo-rules",
            rules=rules,
            file=rule_file(prom.rule_files_dir, pulumi.get_project(), pulumi.get_stack(), cfg.name),
            address=prom.address or "",
            reload=prom.reload,
            opts=pulumi.ResourceOptions(parent=release),
        )
        return
    # Refused only when the cluster says the CRD is absent; one that cannot be asked now
    # (a preview without the cluster) is left to the apply.
    installed, _why = crd_installed(access, PROMETHEUS_RULE_CRD)
    if installed is False:
        raise ConfigError(
            f"{cfg.name}: slos: the cluster has no PrometheusRule CRD ({PROMETHEUS_RULE_CRD})",
            path="prometheus.rules",
            hint="install the Prometheus Operator's CRDs, or set prometheus.ruleFilesDir "
            "(rules: files)",
        )
    k8s.apiextensions.CustomResource(
        f"{release._name}-slo-rules",
        api_version="monitoring.coreos.com/v1",
        kind="PrometheusRule",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=f"{cfg.name}-slos",
            namespace=cfg.namespace,
            labels={**labels, **prom.rule_labels},
        ),
        spec=rules,
        opts=pulumi.ResourceOptions(parent=release),
    )
