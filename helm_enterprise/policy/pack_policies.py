"""The rules as CrossGuard policies (needs ``pulumi-policy``: ``helm-enterprise[policy]``).

Kept apart from ``pack/__main__.py`` so the list can be built and inspected in tests:
constructing a ``PolicyPack`` starts a server, constructing policies does not.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

from helm_enterprise.policy.rules import RULES, Rule
from helm_enterprise.policy.settings import schema_properties


def policy(rule: Rule) -> ResourceValidationPolicy | StackValidationPolicy:
    """One rule as a resource (or stack) policy with its config schema and default
    enforcement."""
    doc = (rule.settings.__doc__ or "").strip()
    kind = StackValidationPolicy if rule.scope == "stack" else ResourceValidationPolicy
    return kind(
        name=rule.name,
        description=rule.description,
        validate=rule.check,
        enforcement_level=EnforcementLevel(rule.enforcement),
        config_schema=PolicyConfigSchema(properties=schema_properties(rule.settings)),
        severity=Severity(rule.severity),
        remediation_steps=" ".join(doc.split()),
        tags=["helm-enterprise"],
    )


def policies() -> list[Policy]:
    """Every rule of :data:`~helm_enterprise.policy.rules.RULES`, in order."""
    return [policy(r) for r in RULES]
