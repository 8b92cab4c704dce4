"""The pure object checks, table-style."""

from __future__ import annotations

from typing import Any

import pytest

from helm_enterprise.policy import objects
from helm_enterprise.policy.objects import ImageRef, KubeObject
from helm_enterprise.policy.settings import (
    ApprovedRegistries,
    ImageTags,
    NoHostNamespaces,
    NoHostPath,
    NoPrivileged,
    RequiredLabels,
    ResourceLimits,
    TenantBoundaries,
)
from tests.unit.policy.helpers import deployment


@pytest.mark.parametrize(
    ("ref", "registry", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", "", ""),
        ("nginx:1.25", "docker.io", "library/nginx", "1.25", ""),
        ("bitnami/redis:7", "docker.io", "bitnami/redis", "7", ""),
        ("registry.local:5000/team/app:v1", "registry.local:5000", "team/app", "v1", ""),
        ("localhost/app", "localhost", "app", "", ""),
        ("ghcr.io/corp/app@sha256:abc", "ghcr.io", "corp/app", "", "sha256:abc"),
        ("ghcr.io/corp/app:1.0@sha256:abc", "ghcr.io", "corp/app", "1.0", "sha256:abc"),
    ],
)
def test_image_reference_parsing(
    ref: str, registry: str, repository: str, tag: str, digest: str
) -> None:
    assert ImageRef.parse(ref) == ImageRef(registry, repository, tag, digest)


@pytest.mark.parametrize(
    ("location", "ok"),
    [
        ("registry.corp/team/app", True),
        ("ghcr.io/corp/app", True),
        ("ghcr.io/corpx/app", False),  # a prefix matches on a path boundary only
        ("docker.io/library/nginx", False),
        ("registry.corp.evil/app", False),
    ],
)
def test_approved_registry_prefixes(location: str, ok: bool) -> None:
    assert objects.approved(location, ["registry.corp", "ghcr.io/corp"]) is ok


def _ko(obj: dict[str, Any], **kw: Any) -> KubeObject:
    return KubeObject(obj, **kw)


def test_compliant_deployment_has_no_violations() -> None:
    ko = _ko(deployment())
    assert (
        objects.check_images(
            ko, registries=ApprovedRegistries(registries=["registry.corp"]), tags=ImageTags()
        )
        == []
    )
    assert objects.check_resources(ko, ResourceLimits()) == []
    assert objects.check_privileged(ko, NoPrivileged()) == []
    assert objects.check_host_namespaces(ko, NoHostNamespaces()) == []
    assert objects.check_host_path(ko, NoHostPath()) == []
    assert objects.check_labels(ko, RequiredLabels()) == []
    assert objects.check_tenant(ko, TenantBoundaries(allowed_namespaces=["shop"])) == []


def test_images_outside_approved_registries_name_container_and_fix() -> None:
    obj = deployment(container={"image": "docker.io/library/nginx:1.25"})
    obj["spec"]["template"]["spec"]["initContainers"] = [{"name": "init", "image": "busybox"}]
    found = objects.check_images(
        _ko(obj, release="web"), registries=ApprovedRegistries(registries=["registry.corp"])
    )
    assert [(v.rule, v.field) for v in found] == [
        ("approved-registries", "spec.template.spec.initContainers[init].image"),
        ("approved-registries", "spec.template.spec.containers[app].image"),
    ]
    v = found[1]
    assert v.resource == "Deployment shop/web" and v.release == "web"
    assert "registry.corp" in v.fix


@pytest.mark.parametrize(
    ("image", "settings", "problem"),
    [
        ("app:latest", ImageTags(), "tag 'latest'"),
        ("app", ImageTags(), "no tag"),
        ("app:LATEST", ImageTags(), "tag 'LATEST'"),
        ("app:dev", ImageTags(forbidden_tags=["dev"]), "tag 'dev'"),
        ("app:1.0", ImageTags(require_digest=True), "not pinned by digest"),
    ],
)
def test_floating_image_tags(image: str, settings: ImageTags, problem: str) -> None:
    found = objects.check_images(_ko(deployment(container={"image": image})), tags=settings)
    assert len(found) == 1 and found[0].rule == "image-tags"
    assert problem in found[0].problem


@pytest.mark.parametrize("image", ["app:1.0", "app@sha256:0123", "app:latest@sha256:0123"])
def test_pinned_images_pass(image: str) -> None:
    assert objects.check_images(_ko(deployment(container={"image": image})), tags=ImageTags()) == []


def test_missing_requests_and_limits() -> None:
    obj = deployment(container={"resources": {"requests": {"cpu": "100m"}}})
    found = objects.check_resources(_ko(obj), ResourceLimits())
    assert [(v.field, v.problem) for v in found] == [
        (
            "spec.template.spec.containers[app].resources.requests",
            "container 'app' has no requests for memory",
        ),
        (
            "spec.template.spec.containers[app].resources.limits",
            "container 'app' has no limits for cpu, memory",
        ),
    ]
    assert "resources.limits.cpu, resources.limits.memory" in found[1].fix


def test_resource_settings_choose_what_is_required() -> None:
    obj = deployment(container={"resources": {"limits": {"memory": "1Gi"}}})
    assert objects.check_resources(_ko(obj), ResourceLimits(requests=[], limits=["memory"])) == []
    obj["spec"]["template"]["spec"]["initContainers"] = [{"name": "init", "image": "x:1"}]
    settings = ResourceLimits(requests=[], limits=["memory"], init_containers=False)
    assert objects.check_resources(_ko(obj), settings) == []


def test_privileged_and_capabilities() -> None:
    obj = deployment(
        container={"securityContext": {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}}}
    )
    found = objects.check_privileged(_ko(obj), NoPrivileged())
    assert [v.field for v in found] == [
        "spec.template.spec.containers[app].securityContext.privileged",
        "spec.template.spec.containers[app].securityContext.capabilities.add",
    ]
    ok = deployment(container={"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}}})
    assert objects.check_privileged(_ko(ok), NoPrivileged()) == []


def test_host_namespaces_and_the_allow_list() -> None:
    obj = deployment(pod={"hostNetwork": True, "hostPID": True, "hostIPC": False})
    found = objects.check_host_namespaces(_ko(obj), NoHostNamespaces())
    assert [v.field for v in found] == [
        "spec.template.spec.hostNetwork",
        "spec.template.spec.hostPID",
    ]
    allowed = objects.check_host_namespaces(_ko(obj), NoHostNamespaces(allow=["hostNetwork"]))
    assert [v.field for v in allowed] == ["spec.template.spec.hostPID"]


def test_host_path_volumes() -> None:
    obj = deployment(
        pod={
            "volumes": [
                {"name": "logs", "hostPath": {"path": "/var/log/app"}},
                {"name": "root", "hostPath": {"path": "/"}},
                {"name": "cache", "emptyDir": {}},
            ]
        }
    )
    found = objects.check_host_path(_ko(obj), NoHostPath())
    assert [v.field for v in found] == [
        "spec.template.spec.volumes[logs].hostPath",
        "spec.template.spec.volumes[root].hostPath",
    ]
    found = objects.check_host_path(_ko(obj), NoHostPath(allowed_paths=["/var/log/"]))
    assert [v.field for v in found] == ["spec.template.spec.volumes[root].hostPath"]


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("Pod", "spec"),
        ("CronJob", "spec.jobTemplate.spec.template.spec"),
        ("PodTemplate", "template.spec"),
        ("StatefulSet", "spec.template.spec"),
    ],
)
def test_every_pod_bearing_kind(kind: str, path: str) -> None:
    spec = {"containers": [{"name": "c", "image": "x:1", "securityContext": {"privileged": True}}]}
    obj: dict[str, Any] = {"kind": kind, "metadata": {"name": "o"}}
    node = obj
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = spec
    found = objects.check_privileged(_ko(obj), NoPrivileged())
    assert [v.field for v in found] == [f"{path}.containers[c].securityContext.privileged"]


def test_objects_without_pods_are_not_pod_checked() -> None:
    cm = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"image": "x:latest"}}
    assert objects.check_images(_ko(cm), tags=ImageTags()) == []
    assert objects.check_resources(_ko(cm), ResourceLimits()) == []


def test_required_labels_on_objects_and_pod_templates() -> None:
    obj = deployment(labels={"app.kubernetes.io/name": "web"})
    settings = RequiredLabels(labels=["app.kubernetes.io/name", "team"], pod_templates=True)
    found = objects.check_labels(_ko(obj), settings)
    assert [(v.field, v.problem) for v in found] == [
        ("metadata.labels", "missing required label(s) team"),
        (
            "spec.template.metadata.labels",
            "missing required label(s) app.kubernetes.io/name, team",
        ),
    ]
    only_services = RequiredLabels(labels=["team"], kinds=["Service"])
    assert objects.check_labels(_ko(obj), only_services) == []


TENANTS = TenantBoundaries(
    tenants={"alpha": ["alpha-web", "alpha-*"], "beta": ["beta"]},
    allowed_namespaces=["shared"],
)


@pytest.mark.parametrize(
    ("tenant", "namespace", "problem"),
    [
        ("alpha", "alpha-web", None),
        ("alpha", "alpha-jobs", None),
        (
            "alpha",
            "beta",
            "namespace 'beta' is outside the namespaces of tenant 'alpha' "
            "(it belongs to tenant 'beta')",
        ),
        ("", "shared", None),
        (
            "",
            "beta",
            "namespace 'beta' is outside the namespaces of releases without a tenant "
            "(it belongs to tenant 'beta')",
        ),
        ("gamma", "gamma", "tenant 'gamma' is not declared in the policy config"),
    ],
)
def test_tenant_namespaces(tenant: str, namespace: str, problem: str | None) -> None:
    found = objects.tenant_problem(tenant, namespace, TENANTS)
    assert (found[0] if found else None) == problem


def test_tenant_objects_stay_inside_and_create_nothing_cluster_wide() -> None:
    # An object rendered into another namespace (a template hard-coding it) escapes.
    escaped = _ko(deployment(namespace="beta"), tenant="alpha", default_namespace="alpha-web")
    found = objects.check_tenant(escaped, TENANTS)
    assert [(v.resource, v.field) for v in found] == [("Deployment beta/web", "metadata.namespace")]
    # Without metadata.namespace the object lands in the release namespace.
    inside = _ko(deployment(namespace=None), tenant="alpha", default_namespace="alpha-web")
    assert objects.check_tenant(inside, TENANTS) == []
    role = {"kind": "ClusterRole", "metadata": {"name": "escalate"}}
    found = objects.check_tenant(_ko(role, tenant="alpha"), TENANTS)
    assert [(v.resource, v.field) for v in found] == [("ClusterRole escalate", "kind")]
    allowed = TenantBoundaries(tenants=TENANTS.tenants, allow_cluster_scoped=True)
    assert objects.check_tenant(_ko(role, tenant="alpha"), allowed) == []
    # Cluster-scoped objects of releases without a tenant are not this rule's business.
    assert objects.check_tenant(_ko(role), TENANTS) == []


def test_ownership_labels_give_release_and_tenant() -> None:
    obj = deployment(
        labels={"helm-enterprise.io/release": "web", "helm-enterprise.io/tenant": "alpha"}
    )
    assert objects.release_of(obj) == "web"
    assert objects.tenant_of(obj) == "alpha"
    assert objects.release_of({"kind": "X"}) == ""


def test_messages_never_carry_env_values() -> None:
    obj = deployment(container={"image": "app:latest", "securityContext": {"privileged": True}})
    found = objects.check_images(_ko(obj), tags=ImageTags()) + objects.check_privileged(
        _ko(obj), NoPrivileged()
    )
    assert found
    assert not any("s3cr3t" in v.text() for v in found)
