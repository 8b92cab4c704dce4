"""Every rule called directly, as CrossGuard calls it, on the three kinds of resources it
reads: Kubernetes objects, helm_enterprise policy summaries and foreign Helm releases."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE, UnknownValueError

from helm_enterprise.errors import PolicyError
from helm_enterprise.policy import rules
from helm_enterprise.policy.pack_policies import policies
from helm_enterprise.policy.rules import RULES
from helm_enterprise.policy.violations import Violation, finding_from_event
from tests.unit.policy.helpers import CHART_URN, COMPONENT_URN, Collect, args, deployment

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def summary(objects: list[dict[str, Any]] | None = None, **facts: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schemaVersion": 1,
        "release": "web",
        "namespace": "shop",
        "mode": "release",
        "tenant": "",
        "chart": {"kind": "repo", "name": "hello", "version": "1.0.0", "gitRef": ""},
        "values": {"literalPaths": [], "privateKeyPaths": []},
        "secretPaths": [],
        "objects": objects,
        "rendered": objects is not None,
    }
    base.update(facts)
    return {"summary": base}


def run(check: Any, a: Any) -> Collect:
    report = Collect()
    check(a, report)
    return report


BAD_POD = deployment(
    container={
        "image": "docker.io/library/nginx:latest",
        "resources": {},
        "securityContext": {"privileged": True},
    },
    pod={"hostNetwork": True, "volumes": [{"name": "h", "hostPath": {"path": "/etc"}}]},
    labels={},
)

OBJECT_RULES = [
    (rules.check_approved_registries, {"registries": ["registry.corp"]}, "containers[app].image"),
    (rules.check_image_tags, None, "containers[app].image"),
    (rules.check_resource_limits, None, "containers[app].resources.requests"),
    (rules.check_no_privileged, None, "containers[app].securityContext.privileged"),
    (rules.check_no_host_namespaces, None, "spec.template.spec.hostNetwork"),
    (rules.check_no_host_path, None, "spec.template.spec.volumes[h].hostPath"),
    (rules.check_required_labels, None, "metadata.labels"),
    (rules.check_tenant_boundaries, {"allowedNamespaces": ["other"]}, "metadata.namespace"),
]


@pytest.mark.parametrize(("check", "config", "field"), OBJECT_RULES)
def test_object_rules_on_a_chart_mode_object(check: Any, config: Any, field: str) -> None:
    report = run(check, args(DEPLOYMENT, BAD_POD, parent=CHART_URN, config=config))
    assert any(f.endswith(field) for _, f in report.fields()), report.messages
    assert all(urn is None for urn in report.urns)  # attached to the checked resource
    ok = run(check, args(DEPLOYMENT, deployment(), parent=CHART_URN, config=config))
    if check is not rules.check_tenant_boundaries:
        assert ok.messages == []


@pytest.mark.parametrize(("check", "config", "field"), OBJECT_RULES)
def test_object_rules_on_release_mode_objects_from_the_summary(
    check: Any, config: Any, field: str
) -> None:
    rendered = dict(BAD_POD, metadata={"name": "web", "labels": {}})  # no namespace rendered
    where = "Deployment shop/web"  # the release namespace
    if check is rules.check_tenant_boundaries:
        # The release is allowed where it is; the template writes its object elsewhere.
        rendered["metadata"]["namespace"] = where_to = "kube-system"
        config = {"allowedNamespaces": ["shop"]}
        where = f"Deployment {where_to}/web"
    a = args(rules.SUMMARY, summary([rendered]), parent=COMPONENT_URN, config=config)
    found = run(check, a).violations()
    assert any(v.field.endswith(field) for v in found), found
    # Named after the rendered object and its release.
    assert {(v.resource, v.release) for v in found} == {(where, "web")}


def test_the_components_own_objects_are_not_checked() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    report = run(
        rules.check_required_labels, args("kubernetes:core/v1:Namespace", ns, parent=COMPONENT_URN)
    )
    assert report.messages == []
    tenant = "urn:pulumi:dev::proj::helm-enterprise:index:Tenant::alpha"
    report = run(
        rules.check_tenant_boundaries,
        args(
            "kubernetes:core/v1:Namespace",
            {**ns, "metadata": {"name": "alpha-web", "labels": {"helm-enterprise.io/tenant": "a"}}},
            parent=tenant,
            config={"tenants": {"a": ["alpha-web"]}},
        ),
    )
    assert report.messages == []
    # The same object registered by the program itself is.
    report = run(rules.check_required_labels, args("kubernetes:core/v1:Namespace", ns))
    assert len(report.messages) == 1


def test_chart_mode_objects_take_release_and_tenant_from_ownership_labels() -> None:
    obj = deployment(
        namespace="beta",
        labels={
            "app.kubernetes.io/name": "web",
            "helm-enterprise.io/release": "web",
            "helm-enterprise.io/tenant": "alpha",
        },
    )
    config = {"tenants": {"alpha": ["alpha-*"], "beta": ["beta"]}}
    report = run(
        rules.check_tenant_boundaries, args(DEPLOYMENT, obj, parent=CHART_URN, config=config)
    )
    [v] = report.violations()
    assert v.release == "web"
    assert v.problem == (
        "namespace 'beta' is outside the namespaces of tenant 'alpha' (it belongs to tenant 'beta')"
    )


def test_tenant_release_outside_its_namespaces_is_reported_once_per_release() -> None:
    rendered = [deployment(namespace=None), {"kind": "Service", "metadata": {"name": "web"}}]
    config = {"tenants": {"alpha": ["alpha"]}}
    a = args(rules.SUMMARY, summary(rendered, tenant="alpha"), config=config)
    found = run(rules.check_tenant_boundaries, a).violations()
    assert [(v.resource, v.field) for v in found] == [("Release shop/web", "namespace")]


def test_foreign_release_namespace_unknown_during_preview_is_skipped() -> None:
    foreign = {"name": "app", "namespace": UNKNOWN_STRING_VALUE, "chart": "app", "values": {}}
    a = args(rules.HELM_RELEASE, foreign, config={"allowedNamespaces": ["team-*"]})
    assert run(rules.check_tenant_boundaries, a).messages == []
    a = args(rules.HELM_RELEASE, {**foreign, "namespace": "kube-system"}, config=a.get_config())
    assert run(rules.check_tenant_boundaries, a).fields() == [
        ("Release kube-system/app", "namespace")
    ]


def test_tenant_rule_needs_configuration() -> None:
    a = args(rules.SUMMARY, summary([deployment()], tenant="alpha"))
    assert run(rules.check_tenant_boundaries, a).messages == []


def test_chart_version_rule_on_summaries_and_foreign_releases() -> None:
    a = args(rules.SUMMARY, summary(None, chart={"kind": "repo", "version": "^1.0"}))
    assert run(rules.check_chart_version_pinned, a).fields() == [
        ("Release shop/web", "chart.version")
    ]
    local = args(rules.SUMMARY, summary(None, chart={"kind": "local", "version": ""}))
    assert run(rules.check_chart_version_pinned, local).messages == []
    foreign = {
        "name": "redis",
        "namespace": "cache",
        "chart": "redis",
        "repositoryOpts": {"repo": "https://charts.example"},
        "values": {},
    }
    report = run(rules.check_chart_version_pinned, args(rules.HELM_RELEASE, foreign))
    assert report.fields() == [("Release cache/redis", "chart.version")]
    pinned = dict(foreign, version="17.3.2")
    assert run(rules.check_chart_version_pinned, args(rules.HELM_RELEASE, pinned)).messages == []
    oci = dict(foreign, chart="oci://registry.corp/charts/redis", repositoryOpts={})
    assert len(run(rules.check_chart_version_pinned, args(rules.HELM_RELEASE, oci)).messages) == 1
    path = dict(foreign, chart="./charts/redis", repositoryOpts={}, version="0.1.0")
    assert run(rules.check_chart_version_pinned, args(rules.HELM_RELEASE, path)).messages == []


def test_helm_releases_of_the_component_are_checked_through_their_summary() -> None:
    ours = {"name": "web", "namespace": "shop", "chart": "hello", "values": {"password": "x"}}
    for check in (rules.check_chart_version_pinned, rules.check_no_plaintext_secrets):
        assert run(check, args(rules.HELM_RELEASE, ours, parent=COMPONENT_URN)).messages == []


def test_plaintext_secrets_from_summary_paths_and_foreign_values() -> None:
    a = args(
        rules.SUMMARY,
        summary(
            None,
            values={"literalPaths": ["db.password", "db.host"], "privateKeyPaths": []},
            secretPaths=["secret.password"],
        ),
    )
    assert run(rules.check_no_plaintext_secrets, a).fields() == [
        ("Release shop/web", "values.db.password")
    ]
    foreign = {"name": "app", "namespace": "ns", "chart": "app", "values": {"apiKey": "abc"}}
    report = run(rules.check_no_plaintext_secrets, args(rules.HELM_RELEASE, foreign))
    assert report.fields() == [("Release ns/app", "values.apiKey")]
    assert "abc" not in report.messages[0]


def test_foreign_release_images_from_values() -> None:
    foreign = {
        "name": "app",
        "namespace": "ns",
        "chart": "app",
        "version": "1.0.0",
        "values": {"image": {"repository": "nginx", "tag": "latest"}},
    }
    tags = run(rules.check_image_tags, args(rules.HELM_RELEASE, foreign))
    regs = run(
        rules.check_approved_registries,
        args(rules.HELM_RELEASE, foreign, config={"registries": ["registry.corp"]}),
    )
    assert tags.fields() == regs.fields() == [("Release ns/app", "values.image")]


def test_registry_rule_does_nothing_until_configured() -> None:
    assert run(rules.check_approved_registries, args(DEPLOYMENT, BAD_POD)).messages == []


def test_values_unknown_during_preview_are_skipped() -> None:
    obj = deployment(container={"image": UNKNOWN_STRING_VALUE, "resources": UNKNOWN_OBJECT_VALUE})
    for check in (rules.check_image_tags, rules.check_resource_limits):
        assert run(check, args(DEPLOYMENT, obj)).messages == []


def test_an_unknown_summary_lets_crossguard_say_the_policy_could_not_run() -> None:
    a = args(rules.SUMMARY, {"summary": UNKNOWN_OBJECT_VALUE})
    with pytest.raises(UnknownValueError):
        rules.check_no_privileged(a, Collect())


def test_invalid_config_is_a_policy_error_naming_the_policy() -> None:
    a = args(DEPLOYMENT, deployment(), config={"registries": "registry.corp"})
    with pytest.raises(PolicyError, match=r"approved-registries.*registries"):
        rules.check_approved_registries(a, Collect())
    a = args(DEPLOYMENT, deployment(), config={"labels": ["team"], "typo": 1})
    with pytest.raises(PolicyError, match="typo"):
        rules.check_required_labels(a, Collect())


def test_enforcement_levels_come_from_the_config_document() -> None:
    labels = rules.rule("required-labels")
    assert rules.enforcement(labels, None) == "advisory"
    assert rules.enforcement(labels, {"required-labels": "mandatory"}) == "mandatory"
    assert rules.enforcement(labels, {"required-labels": {"enforcementLevel": "disabled"}}) == (
        "disabled"
    )
    assert rules.enforcement(labels, {"all": "advisory"}) == "advisory"
    with pytest.raises(KeyError, match="known"):
        rules.rule("nope")


def test_object_findings_for_tools_with_manifests() -> None:
    config = {"required-labels": {"labels": ["team"]}, "no-host-path": "disabled"}
    findings = rules.object_findings([BAD_POD], config, release="web")
    by_rule = {(f.severity, f.message.split(":")[0]) for f in findings}
    assert ("error", "no-privileged") in by_rule
    assert ("warning", "required-labels") in by_rule
    assert not any(m == "no-host-path" for _, m in by_rule)
    assert {f.check for f in findings} == {"policy"} and {f.release for f in findings} == {"web"}


def test_pack_policies_mirror_the_rule_table() -> None:
    built = policies()
    assert [p.name for p in built] == [r.name for r in RULES]
    assert len({r.name for r in RULES}) == len(RULES)
    by_name = {p.name: p for p in built}
    assert by_name["required-labels"].enforcement_level.value == "advisory"
    assert by_name["no-privileged"].enforcement_level.value == "mandatory"
    schema = by_name["tenant-boundaries"].config_schema.properties
    assert set(schema) == {"tenants", "allowedNamespaces", "allowClusterScoped"}
    assert "$ref" not in str(schema)
    for r in RULES:
        r.load(None)  # defaults are valid


def test_one_rule_table_feeds_every_view() -> None:
    # Name, settings, check and object check of a rule live in one Rule of RULES: the
    # module's check functions, check_object and the pack are views of it.
    for name in ("resource-limits", "no-privileged", "no-host-namespaces", "no-host-path"):
        check = getattr(rules, f"check_{name.replace('-', '_')}")
        assert check is rules.rule(name).check
    assert rules.check_required_labels is rules.rule("required-labels").check
    config = {
        "approved-registries": {"registries": ["registry.corp"]},
        "tenant-boundaries": {"allowedNamespaces": ["other"]},
        "required-labels": {"labels": ["team"]},
    }
    found = rules.check_object(BAD_POD, config)
    assert {r.name for r, _ in found} == {r.name for r in RULES if r.object_check is not None}
    assert all(v.rule == r.name for r, v in found)


def test_violation_text_round_trip_and_events() -> None:
    v = Violation("no-privileged", "Deployment shop/web", "spec.x", "why", "how", "web")
    assert Violation.parse("no-privileged", "Description line.\n" + v.text()) == v
    assert Violation.parse("x", "something else") is None
    f = finding_from_event("no-privileged", "Desc\n" + v.text(), "mandatory")
    assert (f.severity, f.check, f.release, f.field, f.hint) == (
        "error",
        "policy",
        "web",
        "Deployment shop/web: spec.x",
        "how",
    )
    other = finding_from_event(
        "aws-rule", "Desc\nbucket is public", "advisory", "urn:pulumi:s::p::aws:s3:Bucket::b"
    )
    assert (other.severity, other.field, other.message) == (
        "warning",
        "b",
        "aws-rule: bucket is public",
    )


def test_a_release_without_its_summary_is_a_stack_violation() -> None:
    from types import SimpleNamespace as NS

    def component(name: str) -> Any:
        return NS(
            resource_type=rules.COMPONENT, urn=f"urn:{name}", name=name, parent=None, props={}
        )

    def helm(parent: Any, name: str) -> Any:
        props = {"name": name, "namespace": "shop"}
        return NS(
            resource_type=rules.HELM_RELEASE, urn=f"urn:{name}-release", name=f"{name}-release",
            parent=parent, props=props,
        )  # fmt: skip

    covered, bare, chart_mode = component("web"), component("api"), component("jobs")
    resources = [
        covered,
        helm(covered, "web"),
        NS(resource_type=rules.SUMMARY, urn="urn:web-policy", parent=covered, props={}),
        bare,
        helm(bare, "api"),
        chart_mode,  # chart mode: objects visible, version and values are not
        helm(None, "foreign"),  # not ours: its values are checked by the release rules
    ]
    found: list[tuple[str, str | None]] = []
    rules.check_rendered_objects_checked(NS(resources=resources), lambda m, u: found.append((m, u)))
    assert [u for _, u in found] == ["urn:api", "urn:jobs"]
    api, jobs = (Violation.parse("rendered-objects-checked", m) for m, _ in found)
    assert api is not None and api.resource == "Release api"
    assert "the objects Helm applies" in api.problem
    assert "helm-enterprise:policySummary: true" in api.fix
    assert jobs is not None and "objects" not in jobs.problem
    [stack_policy] = [p for p in policies() if p.name == "rendered-objects-checked"]
    assert type(stack_policy).__name__ == "StackValidationPolicy"


def test_violations_land_in_the_audit_trail(tmp_path: Any) -> None:
    from helm_enterprise.audit import AuditLog, Auditor, set_auditor

    log = AuditLog(tmp_path / "trail.jsonl")
    set_auditor(Auditor(log))
    run(rules.check_no_privileged, args(DEPLOYMENT, BAD_POD, parent=CHART_URN))
    [record] = [r for r in log.records() if r["action"] == "policy-violation"]
    assert record["rule"] == "no-privileged" and record["result"] == "violation"
    assert record["object"] == "Deployment shop/web"
    assert record["field"].endswith("securityContext.privileged")
    assert log.verify().ok
