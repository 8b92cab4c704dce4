"""Checks on Kubernetes objects (a rendered manifest's documents, as dicts).

Pure functions from one object (plus the rule's settings) to :class:`Violation` objects.
The policy pack runs them on every Kubernetes resource CrossGuard sees (chart mode, plain
objects) and on the rendered objects a release-mode release summarises
(:mod:`helm_enterprise.policy.render`); nothing here needs Pulumi.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from helm_enterprise.kube.kinds import CLUSTER_SCOPED, POD_SPEC_PATHS
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
from helm_enterprise.policy.violations import Violation

LABEL_RELEASE = "helm-enterprise.io/release"
LABEL_TENANT = "helm-enterprise.io/tenant"


class Unknown:
    """A value Pulumi does not know yet (during preview); checks skip it."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclasses.dataclass(frozen=True)
class KubeObject:
    """One object to check, with what is known about where it comes from.

    ``release``/``tenant`` come from the release summary (release mode) or from the
    ownership labels helm_enterprise puts on every object (chart mode).
    ``default_namespace`` is where a namespaced object without ``metadata.namespace``
    lands.
    """

    obj: Mapping[str, Any]
    release: str = ""
    tenant: str = ""
    default_namespace: str = ""

    @property
    def kind(self) -> str:
        kind = self.obj.get("kind")
        return kind if isinstance(kind, str) else ""

    @property
    def metadata(self) -> Mapping[str, Any]:
        meta = self.obj.get("metadata")
        return meta if isinstance(meta, Mapping) else {}

    @property
    def name(self) -> str:
        name = self.metadata.get("name")
        return name if isinstance(name, str) else "?"

    @property
    def namespaced(self) -> bool:
        return self.kind not in CLUSTER_SCOPED

    @property
    def namespace(self) -> str:
        if not self.namespaced:
            return ""
        ns = self.metadata.get("namespace")
        return ns if isinstance(ns, str) and ns else self.default_namespace

    @property
    def labels(self) -> Mapping[str, Any]:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, Mapping) else {}

    def describe(self) -> str:
        """``Deployment shop/web`` (``ClusterRole admin`` when cluster-scoped)."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind or 'object'} {where}"

    def violation(self, rule: str, field: str, problem: str, fix: str) -> Violation:
        return Violation(rule, self.describe(), field, problem, fix, self.release)


def _get(node: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _list(value: Any) -> Sequence[Any]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return value
    return ()


def pod_spec(obj: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """``(field path, pod spec)`` of a pod-bearing object, else ``None``."""
    kind = obj.get("kind")
    path = POD_SPEC_PATHS.get(kind) if isinstance(kind, str) else None
    if path is None:
        return None
    spec = _get(obj, *path)
    return (".".join(path), spec) if isinstance(spec, Mapping) else None


def pod_template_labels(obj: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """``(field path, labels)`` of a workload's pod template (not for bare Pods)."""
    kind = obj.get("kind")
    path = POD_SPEC_PATHS.get(kind) if isinstance(kind, str) else None
    if path is None or len(path) < 2:
        return None
    meta = _get(obj, *path[:-1], "metadata")
    labels = _get(meta, "labels")
    return (
        ".".join([*path[:-1], "metadata", "labels"]),
        labels if isinstance(labels, Mapping) else {},
    )


def containers(
    spec_path: str, spec: Mapping[str, Any], *, init: bool = True
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(field path, container)`` for every container of a pod spec; the path names the
    container (``spec.template.spec.containers[web]``)."""
    for key in CONTAINER_LISTS:
        if key == "initContainers" and not init:
            continue
        for i, c in enumerate(_list(spec.get(key))):
            if isinstance(c, Mapping):
                name = c.get("name")
                label = name if isinstance(name, str) and name else str(i)
                yield f"{spec_path}.{key}[{label}]", c


# -- images -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ImageRef:
    """A parsed image reference, Docker's defaults applied (``nginx`` is
    ``docker.io/library/nginx``)."""

    registry: str
    repository: str
    tag: str
    digest: str

    @property
    def location(self) -> str:
        return f"{self.registry}/{self.repository}"

    @classmethod
    def parse(cls, ref: str) -> ImageRef:
        rest, _, digest = ref.strip().partition("@")
        first, slash, remainder = rest.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            registry, path = first, remainder
        else:
            registry, path = "docker.io", rest
        name, colon, tag = path.rpartition(":")
        if not colon or "/" in tag:
            name, tag = path, ""
        if registry == "docker.io" and "/" not in name:
            name = f"library/{name}"
        return cls(registry, name, tag, digest)


def approved(location: str, registries: Sequence[str]) -> bool:
    """Whether ``registry/repository`` is under one of the approved prefixes."""
    return any(location == r or location.startswith(r.rstrip("/") + "/") for r in registries)


def image_problems(
    image: str, *, registries: ApprovedRegistries | None = None, tags: ImageTags | None = None
) -> list[tuple[str, str, str]]:
    """``(rule, problem, fix)`` for one image reference (registry and/or tag rules)."""
    out: list[tuple[str, str, str]] = []
    ref = ImageRef.parse(image)
    if (
        registries is not None
        and registries.registries
        and not approved(ref.location, registries.registries)
    ):
        allowed = ", ".join(registries.registries)
        out.append(
            (
                "approved-registries",
                f"image {image!r} is not from an approved registry",
                f"use an image from {allowed} (charts usually take it from values "
                "image.registry / image.repository); mirror the image there if needed",
            )
        )
    if tags is not None:
        forbidden = {t.lower() for t in tags.forbidden_tags}
        if tags.require_digest and not ref.digest:
            out.append(
                (
                    "image-tags",
                    f"image {image!r} is not pinned by digest",
                    "reference the image as <repository>@sha256:<digest> (values image.digest "
                    "in many charts)",
                )
            )
        elif not ref.digest and (not ref.tag or ref.tag.lower() in forbidden):
            what = f"tag {ref.tag!r}" if ref.tag else "no tag (Kubernetes pulls 'latest')"
            out.append(
                (
                    "image-tags",
                    f"image {image!r} has {what}, which floats: every pull may run other code",
                    'pin a release tag (values image.tag, e.g. "1.25.3") or a digest (@sha256:...)',
                )
            )
    return out


def check_images(
    ko: KubeObject, *, registries: ApprovedRegistries | None = None, tags: ImageTags | None = None
) -> list[Violation]:
    """Registry and tag rules on every container image of a pod-bearing object."""
    found = pod_spec(ko.obj)
    if found is None:
        return []
    out: list[Violation] = []
    for path, c in containers(*found):
        image = c.get("image")
        if not isinstance(image, str) or not image:
            continue
        for rule, problem, fix in image_problems(image, registries=registries, tags=tags):
            out.append(ko.violation(rule, f"{path}.image", problem, fix))
    return out


# -- resources ----------------------------------------------------------------------------


def check_resources(ko: KubeObject, settings: ResourceLimits) -> list[Violation]:
    """Every container declares the required requests and limits."""
    found = pod_spec(ko.obj)
    if found is None:
        return []
    out: list[Violation] = []
    for path, c in containers(*found, init=settings.init_containers):
        resources = c.get("resources")
        if isinstance(resources, Unknown):
            continue
        name = path.rsplit("[", 1)[-1].rstrip("]")
        for section, wanted in (("requests", settings.requests), ("limits", settings.limits)):
            have = _get(resources, section)
            if isinstance(have, Unknown):
                continue
            have = have if isinstance(have, Mapping) else {}
            missing = [r for r in wanted if have.get(r) in (None, "")]
            if missing:
                out.append(
                    ko.violation(
                        "resource-limits",
                        f"{path}.resources.{section}",
                        f"container {name!r} has no {section} for {', '.join(missing)}",
                        "set "
                        + ", ".join(f"resources.{section}.{r}" for r in missing)
                        + f" for container {name!r} (most charts: values resources.{section})",
                    )
                )
    return out


# -- pod security ---------------------------------------------------------------------------


def check_privileged(ko: KubeObject, settings: NoPrivileged) -> list[Violation]:
    """No privileged container, no forbidden added capability."""
    found = pod_spec(ko.obj)
    if found is None:
        return []
    out: list[Violation] = []
    forbidden = {c.upper() for c in settings.forbidden_capabilities}
    for path, c in containers(*found):
        sc = c.get("securityContext")
        if _get(sc, "privileged") is True:
            out.append(
                ko.violation(
                    "no-privileged",
                    f"{path}.securityContext.privileged",
                    "the container runs privileged: it has every capability and access to "
                    "the node's devices",
                    "remove privileged or set it to false (values securityContext.privileged "
                    "in most charts); grant single capabilities instead if one is needed",
                )
            )
        added = [str(a).upper() for a in _list(_get(sc, "capabilities", "add"))]
        bad = sorted({a.removeprefix("CAP_") for a in added} & forbidden)
        if bad:
            out.append(
                ko.violation(
                    "no-privileged",
                    f"{path}.securityContext.capabilities.add",
                    f"the container adds capabilities {', '.join(bad)}",
                    "remove them from securityContext.capabilities.add; add only the "
                    "specific capability the workload needs",
                )
            )
    return out


def check_host_namespaces(ko: KubeObject, settings: NoHostNamespaces) -> list[Violation]:
    """No pod shares the node's network, PID or IPC namespace."""
    found = pod_spec(ko.obj)
    if found is None:
        return []
    path, spec = found
    out: list[Violation] = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key) is True and key not in settings.allow:
            out.append(
                ko.violation(
                    "no-host-namespaces",
                    f"{path}.{key}",
                    f"the pod uses the node's {key.removeprefix('host')} namespace",
                    f"remove {key} or set it to false in the chart values; expose the "
                    "workload through a Service instead",
                )
            )
    return out


def check_host_path(ko: KubeObject, settings: NoHostPath) -> list[Violation]:
    """No hostPath volume outside the allowed prefixes."""
    found = pod_spec(ko.obj)
    if found is None:
        return []
    path, spec = found
    out: list[Violation] = []
    for i, vol in enumerate(_list(spec.get("volumes"))):
        host = _get(vol, "hostPath", "path")
        if not isinstance(host, str):
            continue
        allowed = any(
            host == p.rstrip("/") or host.startswith(p.rstrip("/") + "/")
            for p in settings.allowed_paths
        )
        if allowed:
            continue
        name = _get(vol, "name")
        label = name if isinstance(name, str) and name else str(i)
        out.append(
            ko.violation(
                "no-host-path",
                f"{path}.volumes[{label}].hostPath",
                f"the pod mounts the node's directory {host}",
                "use a PersistentVolumeClaim, emptyDir, ConfigMap or Secret volume instead "
                "(check the chart's persistence/volumes values)",
            )
        )
    return out


# -- labels ---------------------------------------------------------------------------------


def check_labels(ko: KubeObject, settings: RequiredLabels) -> list[Violation]:
    """The required labels are present (on the object, optionally on pod templates)."""
    if settings.kinds and ko.kind not in settings.kinds:
        return []
    out: list[Violation] = []
    places: list[tuple[str, Mapping[str, Any]]] = [("metadata.labels", ko.labels)]
    if settings.pod_templates:
        template = pod_template_labels(ko.obj)
        if template is not None:
            places.append(template)
    for field, labels in places:
        if isinstance(labels, Unknown):
            continue
        missing = [label for label in settings.labels if label not in labels]
        if missing:
            out.append(
                ko.violation(
                    "required-labels",
                    field,
                    f"missing required label(s) {', '.join(missing)}",
                    "add them under labels: of the release (helm-enterprise puts release "
                    "labels on every object) or through the chart's labels values",
                )
            )
    return out


# -- namespaces and tenants -----------------------------------------------------------------


def matches(namespace: str, patterns: Sequence[str]) -> bool:
    """Whether a namespace is one of ``patterns`` (names or globs like ``team-a-*``)."""
    return any(fnmatch.fnmatchcase(namespace, p) for p in patterns)


def allowed_namespaces(tenant: str, settings: TenantBoundaries) -> list[str] | None:
    """The namespaces a release may use: its tenant's, or ``allowedNamespaces`` without a
    tenant (``None``: no restriction)."""
    if tenant:
        return list(settings.tenants.get(tenant, []))
    return list(settings.allowed_namespaces) or None


def tenant_problem(
    tenant: str, namespace: str, settings: TenantBoundaries
) -> tuple[str, str] | None:
    """``(problem, fix)`` when ``namespace`` is outside what the tenant (or a release
    without a tenant) may use."""
    if tenant and tenant not in settings.tenants:
        known = ", ".join(sorted(settings.tenants)) or "none"
        return (
            f"tenant {tenant!r} is not declared in the policy config",
            f"declare it under tenant-boundaries.tenants (declared: {known}) or fix the "
            "release's tenant",
        )
    allowed = allowed_namespaces(tenant, settings)
    if allowed is None or matches(namespace, allowed):
        return None
    owner = next(
        (t for t, patterns in sorted(settings.tenants.items()) if matches(namespace, patterns)),
        "",
    )
    whose = f" (it belongs to tenant {owner!r})" if owner and owner != tenant else ""
    subject = f"tenant {tenant!r}" if tenant else "releases without a tenant"
    return (
        f"namespace {namespace!r} is outside the namespaces of {subject}{whose}",
        f"deploy into one of {', '.join(allowed) or '(none)'}"
        + (" or declare the release under the tenant that owns it" if tenant else ""),
    )


def check_tenant(ko: KubeObject, settings: TenantBoundaries) -> list[Violation]:
    """An object stays inside its release's tenant: namespace, and no cluster-scoped
    objects unless allowed."""
    if not ko.namespaced:
        if ko.tenant and not settings.allow_cluster_scoped:
            return [
                ko.violation(
                    "tenant-boundaries",
                    "kind",
                    f"tenant {ko.tenant!r} may not create cluster-scoped {ko.kind} objects",
                    "remove the object from the chart (values often have rbac.create / "
                    "crds.install switches) or have the platform team install it",
                )
            ]
        return []
    if not ko.namespace:
        return []
    problem = tenant_problem(ko.tenant, ko.namespace, settings)
    if problem is None:
        return []
    explicit = isinstance(ko.metadata.get("namespace"), str)
    field = "metadata.namespace" if explicit else "namespace"
    return [ko.violation("tenant-boundaries", field, *problem)]


def tenant_of(obj: Mapping[str, Any]) -> str:
    labels = _get(obj, "metadata", "labels")
    tenant = _get(labels, LABEL_TENANT)
    return tenant if isinstance(tenant, str) else ""


def release_of(obj: Mapping[str, Any]) -> str:
    labels = _get(obj, "metadata", "labels")
    release = _get(labels, LABEL_RELEASE)
    return release if isinstance(release, str) else ""
