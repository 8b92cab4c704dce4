"""Tenant config (T2.2): every mistake is one ConfigError naming the field and what is allowed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from helm_enterprise.config import StackConfig, validate_model
from helm_enterprise.config.tenant import (
    BUILTIN_TIERS,
    DEFAULT_LIMIT_RANGE,
    TenancyConfig,
    TenantConfig,
    TierConfig,
    parse_quantity,
    resolve_tier,
)
from helm_enterprise.errors import ConfigError


def tenant(**kw: object) -> dict[str, object]:
    return {"name": "alpha", "namespaces": ["alpha-web"], **kw}


def rel(**kw: object) -> dict[str, object]:
    return {
        "name": "web",
        "namespace": "alpha-web",
        "tenant": "alpha",
        "chart": {"path": "charts/hello"},
        **kw,
    }


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        (
            {"tenants": [tenant(tier="huge")]},
            "tenants[0].tier",
            "unknown tier 'huge'; allowed: large, medium, small",
        ),
        (
            {"tenants": [tenant(tier="xxl")], "tiers": {"xl": {"quota": {"pods": "9"}}}},
            "tenants[0].tier",
            "allowed: large, medium, small, xl",
        ),
        ({"tenants": [tenant(name="Alpha")]}, "tenants[0].name", "not a valid tenant name"),
        ({"tenants": [tenant(name="a" * 41)]}, "tenants[0].name", "at most 40"),
        ({"tenants": [tenant(namespaces=[])]}, "tenants[0].namespaces", "at least 1"),
        (
            {"tenants": [tenant(namespaces=["ok", "Bad_ns"])]},
            "tenants[0].namespaces[1]",
            "not a valid namespace name",
        ),
        (
            {"tenants": [tenant(namespaces=["kube-system"])]},
            "tenants[0].namespaces[0]",
            "system namespace",
        ),
        ({"tenants": [tenant(namespaces=["a", "a"])]}, "tenants[0].namespaces", "listed twice"),
        (
            {"tenants": [tenant(), tenant(namespaces=["other"])]},
            "tenants[1].name",
            "already declared at tenants[0]",
        ),
        (
            {"tenants": [tenant(), tenant(name="beta", namespaces=["beta", "alpha-web"])]},
            "tenants[1].namespaces[1]",
            "'alpha-web' already belongs to tenant 'alpha' (tenants[0])",
        ),
        ({"tenants": [tenant(groups={"devs": "owner"})]}, "tenants[0].groups.devs", "'edit'"),
        (
            {"tenants": [tenant(groups={"system:masters": "admin"})]},
            "tenants[0].groups",
            "reserved",
        ),
        ({"tenants": [tenant(podSecurity="strict")]}, "tenants[0].podSecurity", "'restricted'"),
        (
            {"tenants": [tenant(allowedStorageClasses=["Fast SSD"])]},
            "tenants[0].allowedStorageClasses",
            "not a valid storage class",
        ),
        ({"tenants": [tenant(podsecurity="x")]}, "tenants[0].podsecurity", "'podSecurity'"),
        (
            {"tenants": [tenant(tier={"quota": {"requests.cpu": "lots"}})]},
            "tenants[0].tier.quota.requests.cpu",
            "not a Kubernetes quantity",
        ),
        (
            {"tenants": [tenant(tier={"quota": {"Requests CPU": "1"}})]},
            "tenants[0].tier.quota",
            "not a ResourceQuota key",
        ),
        (
            {
                "tenants": [
                    tenant(
                        tier={
                            "quota": {"pods": "1"},
                            "limitRange": {"default": {"cpu": "2"}, "max": {"cpu": "1"}},
                        }
                    )
                ]
            },
            "tenants[0].tier.limitRange.default.cpu",
            "exceeds max 1",
        ),
        (
            {"tenants": [tenant()], "releases": [rel(tenant="zeta")]},
            "releases[0].tenant",
            "unknown tenant 'zeta'; allowed: alpha",
        ),
        (
            {"tenants": [tenant()], "releases": [rel(namespace="elsewhere")]},
            "releases[0].namespace",
            "not a namespace of tenant 'alpha'; allowed: alpha-web",
        ),
        (
            {
                "tenants": [tenant(), tenant(name="beta", namespaces=["beta-web"])],
                "releases": [rel(namespace="beta-web")],
            },
            "releases[0].namespace",
            "(it belongs to tenant 'beta')",
        ),
        (
            {"tenants": [tenant()], "releases": [rel(tenant=None)]},
            "releases[0].tenant",
            "belongs to tenant 'alpha'; declare the release for it",
        ),
        (
            {"tenants": [tenant()], "releases": [rel(createNamespace=True)]},
            "releases[0].createNamespace",
            "created by tenant 'alpha'",
        ),
    ],
)
def test_stack_config_errors_name_the_field(data: object, path: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_model(StackConfig, data)
    assert err.value.path == path, str(err.value)
    assert fragment in str(err.value)
    # One line: CI logs and `pulumi preview` show it as it is.
    assert "\n" not in str(err.value)


def test_valid_stack_with_tenants_user_tiers_and_releases() -> None:
    cfg = validate_model(
        StackConfig,
        {
            "tiers": {"xl": {"quota": {"requests.cpu": "64", "pods": "500"}}},
            "tenants": [
                tenant(
                    tier="medium",
                    groups={"alpha-devs": "edit", "auditors": "view"},
                    allowedStorageClasses=["fast"],
                    labels={"cost-center": "4711"},
                ),
                tenant(name="beta", namespaces=["beta-a", "beta-b"], tier="xl"),
                tenant(name="gamma", namespaces=["gamma"], tier={"quota": {"pods": "3"}}),
            ],
            "releases": [rel(), rel(name="api", namespace="beta-b", tenant="beta")],
        },
    )
    alpha, beta, gamma = cfg.tenants
    assert alpha.pod_security == "restricted"  # the default: restricted
    assert alpha.network.default_deny and alpha.network.allow_dns
    assert resolve_tier(beta, cfg.tiers).quota["pods"] == "500"
    assert gamma.tier_name == "custom" and resolve_tier(gamma).quota == {"pods": "3"}
    assert resolve_tier(alpha) is BUILTIN_TIERS["medium"]


def test_tiers_differ_only_in_their_quota() -> None:
    # Moving a tenant between built-in tiers must change only its ResourceQuotas.
    assert all(t.effective_limit_range() == DEFAULT_LIMIT_RANGE for t in BUILTIN_TIERS.values())
    small, medium, large = (BUILTIN_TIERS[n] for n in ("small", "medium", "large"))
    for key in small.quota:
        assert parse_quantity(small.quota[key]) <= parse_quantity(medium.quota[key])
        assert parse_quantity(medium.quota[key]) <= parse_quantity(large.quota[key])


def test_builtin_constants_are_valid() -> None:
    # Built with model_construct (no validation at import): validate them here.
    for tier in BUILTIN_TIERS.values():
        assert validate_model(TierConfig, tier.model_dump(by_alias=True)) == tier
    lr = DEFAULT_LIMIT_RANGE.model_dump(by_alias=True)
    assert validate_model(TierConfig, {"quota": {"pods": "1"}, "limitRange": lr}).limit_range == (
        DEFAULT_LIMIT_RANGE
    )


def test_user_tier_may_replace_a_builtin() -> None:
    mine = TierConfig(quota={"pods": "1"})
    t = validate_model(TenantConfig, tenant(tier="small"))
    assert resolve_tier(t, {"small": mine}) is mine


def test_resolve_tier_names_the_field() -> None:
    t = validate_model(TenantConfig, tenant(tier="huge"))
    with pytest.raises(ConfigError) as err:
        resolve_tier(t, {}, "tenants[3]")
    assert err.value.path == "tenants[3].tier"
    assert "allowed: large, medium, small" in str(err.value)


def test_tenancy_config_checks_tenants_without_releases() -> None:
    with pytest.raises(ConfigError) as err:
        validate_model(
            TenancyConfig, {"tenants": [tenant(), tenant(name="b", namespaces=["alpha-web"])]}
        )
    assert err.value.path == "tenants[1].namespaces[0]"


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", Decimal("0.5")), ("2", Decimal(2)), ("1Gi", Decimal(2**30)), ("1k", Decimal(1000))],
)
def test_quantities(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["lots", "-1", "", "1.2.3", True])
def test_bad_quantities(text: object) -> None:
    with pytest.raises(ValueError, match=r"quantity|negative"):
        parse_quantity(text)
