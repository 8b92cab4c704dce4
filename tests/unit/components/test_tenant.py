"""The Tenant component and tenant releases, checked on what Pulumi's monitor receives."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from helm_enterprise import ConfigError, Release, Tenant, ValidationError
from helm_enterprise.components import tenant as tenant_module
from helm_enterprise.components.context import Platform
from helm_enterprise.config import StackConfig, validate_model
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.program import build
from helm_enterprise.tenancy import LiveNamespace, tenant_labels
from tests.unit.pulumi_harness import Mocks, Run, run_program

TENANT = "helm-enterprise:index:Tenant"
NS = "kubernetes:core/v1:Namespace"
QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMITS = "kubernetes:core/v1:LimitRange"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
VAP = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
VAPB = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
REL = "kubernetes:helm.sh/v3:Release"
LOCAL = {"path": "charts/hello"}

ALPHA: dict[str, Any] = {
    "namespaces": ["alpha-web", "alpha-jobs"],
    "tier": "medium",
    "groups": {"alpha-devs": "edit", "auditors": "view"},
}


class TemplateMocks(Mocks):
    """Answers the provider's ``kubernetes:helm:template`` with given objects."""

    def __init__(self, rendered: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.rendered = rendered or []

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        self.calls.append(args)
        if args.token == "kubernetes:helm:template":
            return {"result": self.rendered}
        return {}


def run(program: Any, mocks: Mocks | None = None, **kw: Any) -> Run:
    return run_program(program, mocks=mocks or TemplateMocks(), **kw)


def test_tenant_graph(platform: Platform) -> None:
    def program() -> object:
        t = Tenant("alpha", ALPHA)
        return {"quota": t.quota, "tier": t.tier, "ns": t.namespaces, "roles": t.roles}

    r = run(program)
    comp = r.one(TENANT)
    children = [x for x in r.resources if x is not comp]
    assert {x.parent for x in children} == {comp.urn}
    # Every child's name carries the tenant's name.
    assert all(x.name.startswith("alpha-") for x in children)
    counts = {typ: len(r.of_type(typ)) for typ in (NS, QUOTA, LIMITS, NETPOL, ROLE, BINDING)}
    assert counts == {NS: 2, QUOTA: 2, LIMITS: 2, NETPOL: 4, ROLE: 4, BINDING: 4}
    assert r.of_type(VAP) == []  # storage classes unrestricted

    ns = next(x for x in r.of_type(NS) if x.name == "alpha-ns-alpha-web")
    labels = ns.inputs["metadata"]["labels"]
    assert labels["helm-enterprise.io/tenant"] == "alpha"
    assert labels["helm-enterprise.io/managed-by"] == "helm-enterprise"
    assert labels["helm-enterprise.io/tenant-resource"] == "alpha"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert "helm-enterprise.io/release" not in labels  # a tenant is not a release

    quota = next(x for x in r.of_type(QUOTA) if x.name == "alpha-quota-alpha-web")
    assert quota.inputs["metadata"] == {
        "name": "tenant-alpha",
        "namespace": "alpha-web",
        "labels": tenant_labels("proj", "dev", "alpha", "alpha"),
        "annotations": {"helm-enterprise.io/owner": "proj/dev/tenant:alpha"},
    }
    assert quota.inputs["spec"]["hard"]["requests.cpu"] == "8"  # medium
    # Namespaced children follow their Namespace (created after, deleted before).
    assert ns.urn in quota.dependencies

    binding = next(x for x in r.of_type(BINDING) if x.name == "alpha-binding-edit-alpha-web")
    assert binding.inputs["subjects"] == [
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "alpha-devs"}
    ]
    assert binding.inputs["roleRef"]["name"] == "tenant-alpha-edit"
    assert r.value == {
        "quota": dict(quota.inputs["spec"]["hard"]),
        "tier": "medium",
        "ns": ["alpha-web", "alpha-jobs"],
        "roles": {"alpha-devs": "edit", "auditors": "view"},
    }


def test_component_name_other_than_the_tenant_still_names_children_by_tenant(
    platform: Platform,
) -> None:
    r = run(
        lambda: Tenant(
            "team",
            {
                "name": "alpha",
                "namespaces": ["alpha-web"],
                "allowed_storage_classes": ["fast"],
                "network": {"default_deny": False},
            },
        )
    )
    names = sorted(x.name for x in r.resources if x.type != TENANT)
    assert all(n.startswith("team-alpha-") for n in names), names
    assert r.of_type(NETPOL) == []
    policy = r.one(VAP)
    assert policy.inputs["metadata"]["name"] == "helm-enterprise-tenant-alpha-storage"
    assert policy.urn in r.one(VAPB).dependencies


def test_tier_change_changes_only_the_quota(platform: Platform) -> None:
    def inputs(tier: str) -> dict[str, Any]:
        platform.tenants.clear()
        r = run(lambda: Tenant("alpha", {**ALPHA, "tier": tier}))
        return {x.name: x.inputs for x in r.resources if x.type != TENANT}

    medium, large = inputs("medium"), inputs("large")
    assert medium.keys() == large.keys()
    changed = sorted(name for name in medium if medium[name] != large[name])
    assert changed == ["alpha-quota-alpha-jobs", "alpha-quota-alpha-web"]


@pytest.mark.parametrize(
    ("args", "path", "fragment"),
    [
        ({**ALPHA, "tier": "huge"}, "tier", "allowed: large, medium, small"),
        ({**ALPHA, "namespaces": ["Bad"]}, "namespaces[0]", "not a valid namespace"),
        ({**ALPHA, "groups": {"g": "root"}}, "groups.g", "'admin', 'edit' or 'view'"),
    ],
)
def test_invalid_args_register_nothing(
    platform: Platform, args: dict[str, Any], path: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as err:
        run(lambda: Tenant("alpha", args))
    assert err.value.path == path and fragment in str(err.value)
    assert registered_types() == []


def test_a_namespace_has_one_tenant(platform: Platform) -> None:
    def program() -> None:
        Tenant("alpha", ALPHA)
        Tenant("beta", {"namespaces": ["beta", "alpha-jobs"]}, field="tenants[1]")

    with pytest.raises(ConfigError) as err:
        run(program)
    assert err.value.path == "tenants[1].namespaces[1]"
    assert "already belongs to tenant 'alpha'" in str(err.value)


# -- identity (the live cluster is observed through read_namespaces) ------------------------


class _Api:
    def close(self) -> None:
        pass


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> list[LiveNamespace]:
    """What the 'cluster' holds: a reachable client and these namespaces."""
    observed: list[LiveNamespace] = []
    monkeypatch.setattr(ClusterAccess, "reachable_client", lambda self, timeout=3.0: _Api())
    monkeypatch.setattr(
        tenant_module, "read_namespaces", lambda api, project, stack, name, names: observed
    )
    return observed


def test_changed_tenant_name_is_a_config_error(
    platform: Platform, cluster: list[LiveNamespace]
) -> None:
    cluster.append(LiveNamespace("alpha-web", tenant_labels("proj", "dev", "team", "alpha")))
    with pytest.raises(ConfigError) as err:
        run(lambda: Tenant("team", {**ALPHA, "name": "omega"}, field="tenants[0]"))
    assert err.value.path == "tenants[0].name"
    assert "identity is immutable" in str(err.value) and "keep name: alpha" in str(err.value)
    assert registered_types() == []
    # Unchanged: fine.
    platform.tenants.clear()
    r = run(lambda: Tenant("team", {**ALPHA, "name": "alpha"}))
    assert r.one(TENANT).name == "team"


def test_namespace_of_another_stack_is_a_config_error(
    platform: Platform, cluster: list[LiveNamespace]
) -> None:
    cluster.append(LiveNamespace("alpha-jobs", tenant_labels("proj", "prod", "beta", "beta")))
    with pytest.raises(ConfigError) as err:
        run(lambda: Tenant("alpha", ALPHA))
    assert err.value.path == "namespaces[1]"
    assert "belongs to tenant 'beta' (stack proj/prod)" in str(err.value)


def registered_types() -> list[str]:
    """What the last (failed) program registered: its recording monitor stays installed."""
    monitor = pulumi.runtime.settings.SETTINGS.monitor
    return [x.type for x in getattr(monitor, "registered", [])]


# -- releases of a tenant ------------------------------------------------------------------


def tenant_release(**kw: Any) -> dict[str, Any]:
    return {"namespace": "alpha-web", "tenant": "alpha", "chart": LOCAL, **kw}


def test_release_outside_its_tenant_registers_nothing(platform: Platform) -> None:
    def program() -> None:
        Tenant("alpha", ALPHA)
        Release("web", tenant_release(namespace="shop"))

    with pytest.raises(ConfigError) as err:
        run(program)
    assert err.value.path == "namespace"
    assert "allowed: alpha-web, alpha-jobs" in str(err.value)


def test_release_renders_and_fits_its_tenant(platform: Platform) -> None:
    mocks = TemplateMocks(
        [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "alpha-web"},
                "spec": {
                    "replicas": 2,
                    "template": {"spec": {"containers": [{"name": "c"}]}},
                },
            }
        ]
    )

    def program() -> object:
        t = Tenant("alpha", ALPHA)
        return Release("web", tenant_release(), pulumi.ResourceOptions(depends_on=[t])).status

    r = run(program, mocks)
    assert r.value == "deployed"
    (call,) = [c for c in mocks.calls if c.token == "kubernetes:helm:template"]
    assert '"namespace": "alpha-web"' in call.args["jsonOpts"]
    assert '"release_name": "web"' in call.args["jsonOpts"]
    rel = r.one(REL)
    assert rel.inputs["namespace"] == "alpha-web"
    quota = next(x for x in r.of_type(QUOTA) if x.name == "alpha-quota-alpha-web")
    assert quota.urn in rel.dependencies


@pytest.mark.parametrize("mode", ["release", "chart"])
def test_oversized_release_fails_before_the_helm_resource(platform: Platform, mode: str) -> None:
    big = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "alpha-web"},
        "spec": {
            "replicas": 20,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "1"}},
                        }
                    ]
                }
            },
        },
    }
    crd = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "escape"},
    }
    mocks = TemplateMocks([big, crd])

    def program() -> None:
        Tenant("alpha", ALPHA)
        Release("web", tenant_release(mode=mode))

    with pytest.raises(ValidationError) as err:
        run(program, mocks)
    text = str(err.value)
    assert "does not fit tenant 'alpha'" in text
    assert "quota.requests.cpu: exceeds ResourceQuota alpha-web/tenant-alpha (tier medium)" in text
    assert "needs requests.cpu 20, the quota allows 8" in text
    assert "cluster-scoped ClusterRole" in text
    types = registered_types()
    assert TENANT in types
    assert REL not in types and "kubernetes:helm.sh/v4:Chart" not in types


def test_program_creates_tenants_first_and_releases_depend_on_them(platform: Platform) -> None:
    config = validate_model(
        StackConfig,
        {
            "tenants": [{"name": "alpha", **ALPHA}],
            "releases": [{"name": "web", **tenant_release()}],
        },
    )
    platform.tenants.update({t.name: t for t in config.tenants})
    r = run(lambda: build(config, platform))
    types = [x.type for x in r.resources]
    assert types.index(TENANT) < types.index("helm-enterprise:index:Release")
    rel = r.one(REL)
    tenant_children = {x.urn for x in r.resources if x.parent == r.one(TENANT).urn}
    assert tenant_children <= set(rel.dependencies)


def test_transform_hook_checks_each_registered_object() -> None:
    # Under mocks transforms do not run: the hook the chart-mode transform calls is
    # checked directly (the render gate checked the same objects before).
    from helm_enterprise.config.tenant import BUILTIN_TIERS, TenantConfig
    from helm_enterprise.tenancy.gate import TenantScope, check_transformed

    scope = TenantScope(
        validate_model(TenantConfig, {"name": "alpha", **ALPHA}), BUILTIN_TIERS["small"]
    )
    check_transformed(scope, "web", {"kind": "ConfigMap", "metadata": {"namespace": "alpha-web"}})
    with pytest.raises(ValidationError, match="outside tenant 'alpha'"):
        check_transformed(
            scope, "web", {"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "other"}}
        )
    with pytest.raises(ValidationError, match="cluster-scoped ClusterRole"):
        check_transformed(scope, "web", {"kind": "ClusterRole", "metadata": {"name": "x"}})


def test_tenants_from_stack_config_reach_python_releases() -> None:
    from helm_enterprise.components.context import set_default_platform

    set_default_platform(None)
    try:
        with pytest.raises(ConfigError) as err:
            run(
                lambda: Release("web", tenant_release(namespace="elsewhere")),
                config={
                    "helm-enterprise:tenants": [{"name": "alpha", **ALPHA}],
                    "helm-enterprise:cluster": {"kubeconfig": "/nonexistent/kubeconfig"},
                },
            )
        assert err.value.path == "namespace"
        assert "not a namespace of tenant 'alpha'" in str(err.value)
    finally:
        set_default_platform(None)


# -- the whole set of tenants, before any registers ------------------------------------------


def _live_by_resource(
    monkeypatch: pytest.MonkeyPatch, live: dict[str, list[LiveNamespace]]
) -> list[str]:
    """A reachable 'cluster' whose namespaces read_namespaces finds per Tenant resource name
    (created by it, or named); returns the resource names read, in order."""
    reads: list[str] = []
    monkeypatch.setattr(ClusterAccess, "reachable_client", lambda self, timeout=3.0: _Api())

    def read(api: object, project: str, stack: str, name: str, names: list[str]) -> object:
        reads.append(name)
        pool = [ns for observed in live.values() for ns in observed]
        return [
            ns
            for ns in pool
            if ns.labels.get("helm-enterprise.io/tenant-resource") == name or ns.name in names
        ]

    monkeypatch.setattr(tenant_module, "read_namespaces", read)
    return reads


def test_refused_tenant_b_leaves_no_trace_of_tenant_a(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Up before: alpha in a1, beta in b1. Now alpha moves to a2 (new) and beta claims a1:
    # beta is refused, and alpha's new namespace (declared first) is not registered either.
    _live_by_resource(
        monkeypatch,
        {
            "alpha": [LiveNamespace("a1", tenant_labels("proj", "dev", "alpha", "alpha"))],
            "beta": [LiveNamespace("b1", tenant_labels("proj", "dev", "beta", "beta"))],
        },
    )
    config = validate_model(
        StackConfig,
        {
            "tenants": [
                {"name": "alpha", "namespaces": ["a2"]},
                {"name": "beta", "namespaces": ["b1", "a1"]},
            ]
        },
    )
    platform.tenants.update({t.name: t for t in config.tenants})
    with pytest.raises(ConfigError) as err:
        run(lambda: build(config, platform))
    assert err.value.path == "tenants[1].name"
    assert "identity is immutable: a1 was created by this stack for tenant 'alpha'" in str(
        err.value
    )
    assert registered_types() == []


def test_check_tenants_in_python_checks_all_then_constructors_skip_the_cluster(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helm_enterprise import check_tenants

    reads = _live_by_resource(
        monkeypatch,
        {"alpha": [LiveNamespace("a1", tenant_labels("proj", "dev", "alpha", "alpha"))]},
    )
    refused = [("alpha", {"namespaces": ["a2"]}), ("beta", {"namespaces": ["a1"]})]

    def refused_program() -> None:
        check_tenants(refused)
        for name, args in refused:
            Tenant(name, args)

    with pytest.raises(ConfigError) as err:
        run(refused_program)
    assert err.value.path == "tenants[1].name" and "tenant 'alpha'" in str(err.value)
    assert registered_types() == []
    assert reads == ["alpha", "beta"]

    # Accepted: both checked once, before either registers; the constructors do not read
    # the cluster again.
    platform.tenants.clear()
    reads.clear()
    fine: list[tuple[str, dict[str, Any]]] = [
        ("alpha", {"namespaces": ["a1", "a2"]}),
        ("beta", {"namespaces": ["b1"]}),
    ]

    def program() -> None:
        check_tenants(fine)
        for name, args in fine:
            Tenant(name, args)

    r = run(program)
    assert len(r.of_type(TENANT)) == 2 and len(r.of_type(NS)) == 3
    assert reads == ["alpha", "beta"]


@pytest.mark.parametrize(
    ("specs", "path", "fragment"),
    [
        (
            [("alpha", {"namespaces": ["a1"]}), ("beta", {"namespaces": ["b1"], "tier": "huge"})],
            "tenants[1].tier",
            "unknown tier 'huge'",
        ),
        (
            [("alpha", {"namespaces": ["a1"]}), ("beta", {"namespaces": ["a1"]})],
            "tenants[1].namespaces[0]",
            "already belongs to tenant 'alpha'",
        ),
        (
            [("alpha", {"namespaces": ["a1"]}), ("alpha", {"namespaces": ["a1"]})],
            "tenants[1]",
            "two tenants use the resource name 'alpha'",
        ),
    ],
)
def test_check_tenants_config_problems_register_nothing(
    platform: Platform, specs: list[tuple[str, dict[str, Any]]], path: str, fragment: str
) -> None:
    from helm_enterprise import check_tenants

    def program() -> None:
        check_tenants(specs)
        for name, args in specs:
            Tenant(name, args)

    with pytest.raises(ConfigError) as err:
        run(program)
    assert err.value.path == path and fragment in str(err.value)
    assert registered_types() == []
