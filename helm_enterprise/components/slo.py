"""A release's SLOs (T4.3) as part of the ``Release`` component: the rule file, and the gate
that stops an install or upgrade while a burn-rate alert of the release fires.

Not a component of its own: the rules and the gate belong to the release (its children,
its values), and both need the stack's ``helm-enterprise:prometheus``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi

from helm_enterprise.audit.hooks import start_callback_server
from helm_enterprise.components.context import Platform
from helm_enterprise.config.release import ReleaseConfig
from helm_enterprise.errors import ConfigError, SloError
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
) -> tuple[pulumi.Input[dict[str, Any]], pulumi.ResourceHookBinding | None]:
    """Register ``cfg``'s SLO rules (when it has SLOs); return ``values`` and, with an SLO
    gate, the hooks that check it just before Helm installs or upgrades the release (a run
    that does not change the release is not stopped; a preview warns). ConfigError, before
    anything is registered, when the stack has no ``helm-enterprise:prometheus`` (or, for
    rules, no ``ruleFilesDir``)."""
    where = f"{field}." if field else ""
    prom = platform.prometheus
    if prom is None:
        raise ConfigError(
            f"{cfg.name}: slos and sloGate need the stack's Prometheus",
            path=f"{where}slos" if cfg.slos else f"{where}sloGate",
            hint="set helm-enterprise:prometheus: {address: http://..., ruleFilesDir: ...}",
        )
    if cfg.slos:
        if prom.rule_files_dir is None:
            raise ConfigError(
                f"{cfg.name}: slos need a directory Prometheus reads rule files from",
                path="prometheus.ruleFilesDir",
                hint="set helm-enterprise:prometheus.ruleFilesDir to a directory in its rule_files",
            )
        SloRulesResource(
            f"{release._name}-slo-rules",
            rules=release_rules(cfg.name, cfg.slos),
            file=rule_file(prom.rule_files_dir, pulumi.get_project(), pulumi.get_stack(), cfg.name),
            address=prom.address,
            reload=prom.reload,
            opts=pulumi.ResourceOptions(parent=release),
        )
    if cfg.slo_gate == "none":
        return values, None
    address, gate = prom.address, cfg.slo_gate

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
