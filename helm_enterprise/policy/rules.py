"""The rules of the helm_enterprise policy pack: plain ``check_x(args, report_violation)``.

Each rule is one CrossGuard resource policy with one configuration. It looks at whatever
of a resource tells it something:

* a Kubernetes object (``kubernetes:apps/v1:Deployment``, ...): chart-mode objects, and
  any object a stack registers directly. Objects a helm_enterprise component registers
  itself from validated config (a release's namespace and ownership record, a tenant's
  namespaces, quotas and roles) are not checked;
* a ``helm-enterprise:index:PolicySummary`` (one per helm_enterprise release, see
  :mod:`helm_enterprise.policy.render`): the release's facts in both modes, and in release
  mode the rendered objects, checked with the same object checks;
* a ``kubernetes:helm.sh/v3:Release`` *not* created by helm_enterprise: its inputs
  (chart, version, namespace, values — images are read from well-known values keys).

``args`` is a ``pulumi_policy.ResourceValidationArgs`` or anything with the same
attributes (``resource_type``, ``props``, ``urn``, ``name``, ``opts.parent``,
``get_config()``), so tests call each rule directly. Messages come from
:class:`~helm_enterprise.policy.violations.Violation`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from helm_enterprise.audit.events import emit, warn
from helm_enterprise.config._base import Model
from helm_enterprise.policy import objects as obj_checks
from helm_enterprise.policy import values as value_checks
from helm_enterprise.policy.objects import UNKNOWN, KubeObject, Unknown
from helm_enterprise.policy.settings import (
    ApprovedRegistries,
    ChartVersionPinned,
    ImageTags,
    NoHostNamespaces,
    NoHostPath,
    NoPlaintextSecrets,
    NoPrivileged,
    RenderedObjectsChecked,
    RequiredLabels,
    ResourceLimits,
    TenantBoundaries,
    load,
)
from helm_enterprise.policy.violations import Violation
from helm_enterprise.validation import Finding

COMPONENT = "helm-enterprise:index:Release"
OWN_TYPES = "helm-enterprise:"
SUMMARY = "helm-enterprise:index:PolicySummary"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"

# Pulumi types under kubernetes: that are not cluster objects.
_NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize")


Report = Callable[[str, str | None], None]
"""CrossGuard's ``report_violation(message, urn)`` (``urn=None``: the checked resource)."""


# -- reading CrossGuard's arguments -------------------------------------------------------


def _unknown_error(err: Exception) -> bool:
    # pulumi_policy's proxies raise UnknownValueError for values not known during preview.
    return type(err).__name__ == "UnknownValueError"


def plain(value: Any) -> Any:
    """CrossGuard's property proxies as plain dicts and lists; values not known yet
    (preview) become :data:`~helm_enterprise.policy.objects.UNKNOWN`."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:
            try:
                out[key] = plain(value[key])
            except Exception as err:
                if not _unknown_error(err):
                    raise
                out[key] = UNKNOWN
        return out
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items: list[Any] = []
        for i in range(len(value)):
            try:
                items.append(plain(value[i]))
            except Exception as err:
                if not _unknown_error(err):
                    raise
                items.append(UNKNOWN)
        return items
    return value


def _type_of(urn: str) -> str:
    """The resource type in a URN (``urn:pulumi:stack::project::parent$type::name``)."""
    parts = urn.split("::")
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""


def _parent_type(args: Any) -> str:
    opts = getattr(args, "opts", None)
    parent = getattr(opts, "parent", None)
    return _type_of(parent) if isinstance(parent, str) else ""


def _config(args: Any) -> Mapping[str, Any]:
    get = getattr(args, "get_config", None)
    config = get() if callable(get) else None
    return config if isinstance(config, Mapping) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclasses.dataclass(frozen=True)
class ReleaseView:
    """One release as the release-level rules see it.

    ``values`` is the raw values tree for releases not created by helm_enterprise; for
    helm_enterprise releases it is ``None`` and ``literal_paths``/``private_key_paths``
    come from the summary.
    """

    resource: str
    release: str
    namespace: str
    tenant: str
    chart_kind: str
    version: Any
    git_ref: str = ""
    values: Any = None
    literal_paths: tuple[str, ...] = ()
    private_key_paths: tuple[str, ...] = ()


def _summary(args: Any) -> Mapping[str, Any] | None:
    if args.resource_type != SUMMARY:
        return None
    # Accessed directly: when the summary is not known during preview, CrossGuard's
    # proxy raises and the pack reports that the policy could not run.
    summary = plain(args.props["summary"])
    return summary if isinstance(summary, Mapping) else None


def _helm_chart_kind(props: Mapping[str, Any]) -> str:
    chart = _str(props.get("chart"))
    opts = props.get("repositoryOpts")
    repo = _str(opts.get("repo")) if isinstance(opts, Mapping) else ""
    if chart.startswith("oci://"):
        return "oci"
    if repo:
        return "repo"
    if chart.startswith((".", "/")) or chart.endswith((".tgz", ".tar.gz")):
        return "local"
    return "repo"


def release_views(args: Any) -> list[ReleaseView]:
    """The release a resource describes (a summary, or a foreign Helm release)."""
    summary = _summary(args)
    if summary is not None:
        chart = summary.get("chart") or {}
        vals = summary.get("values") or {}
        name, ns = _str(summary.get("release")), _str(summary.get("namespace"))
        return [
            ReleaseView(
                resource=f"Release {ns}/{name}",
                release=name,
                namespace=ns,
                tenant=_str(summary.get("tenant")),
                chart_kind=_str(chart.get("kind")),
                version=chart.get("version"),
                git_ref=_str(chart.get("gitRef")),
                literal_paths=tuple(vals.get("literalPaths") or ()),
                private_key_paths=tuple(vals.get("privateKeyPaths") or ()),
            )
        ]
    if args.resource_type == HELM_RELEASE and _parent_type(args) != COMPONENT:
        props = plain(args.props)
        name = _str(props.get("name")) or args.name
        ns = props.get("namespace") or "default"  # Helm's default; "" when not known yet
        ns = _str(ns)
        return [
            ReleaseView(
                resource=f"Release {ns}/{name}",
                release=name,
                namespace=ns,
                tenant="",
                chart_kind=_helm_chart_kind(props),
                version=props.get("version"),
                values=props.get("values") or {},
            )
        ]
    return []


def kube_objects(args: Any) -> list[KubeObject]:
    """The Kubernetes objects a resource is or summarises."""
    summary = _summary(args)
    if summary is not None:
        objs = summary.get("objects")
        if not isinstance(objs, list):
            return []
        release, ns = _str(summary.get("release")), _str(summary.get("namespace"))
        tenant = _str(summary.get("tenant"))
        return [
            KubeObject(o, release=release, tenant=tenant, default_namespace=ns)
            for o in objs
            if isinstance(o, Mapping)
        ]
    t = args.resource_type
    if not t.startswith("kubernetes:") or t.startswith(_NOT_OBJECTS):
        return []
    if _parent_type(args).startswith(OWN_TYPES):
        # What helm_enterprise registers itself from validated config: a release's
        # namespace and ownership record, a tenant's namespaces, quotas and roles.
        return []
    obj = plain(args.props)
    if not isinstance(obj, Mapping) or isinstance(obj.get("kind"), Unknown):
        return []
    return [KubeObject(obj, release=obj_checks.release_of(obj), tenant=obj_checks.tenant_of(obj))]


def _report(
    report_violation: Report, violations: Iterable[Violation], urn: str | None = None
) -> None:
    """Hand each violation to CrossGuard and to the audit trail (``policy-violation``;
    the pack's process records to the local log and to the sinks that
    ``HELM_ENTERPRISE_AUDIT_CONFIG`` names). Recording never fails a check."""
    for v in violations:
        report_violation(v.text(), urn)
        try:
            emit(
                "policy-violation",
                phase="after",
                result="violation",
                release=v.release or None,
                rule=v.rule,
                object=v.resource,
                field=v.field,
                problem=v.problem,
            )
        except Exception as err:
            warn(f"audit: could not record a policy violation: {type(err).__name__}")


# -- the rules ------------------------------------------------------------------------------


def check_approved_registries(args: Any, report_violation: Report) -> None:
    """Images come from approved registries (objects; well-known values keys of foreign
    Helm releases). Does nothing until ``registries`` is configured."""
    settings = load(ApprovedRegistries, _config(args), "approved-registries")
    if not settings.registries:
        return
    found: list[Violation] = []
    for ko in kube_objects(args):
        found += obj_checks.check_images(ko, registries=settings)
    for rv in release_views(args):
        if rv.values is not None:
            found += value_checks.check_value_images(
                rv.resource, rv.release, rv.values, registries=settings
            )
    _report(report_violation, found)


def check_image_tags(args: Any, report_violation: Report) -> None:
    """No floating image tags (``latest``, none), optionally digests only."""
    settings = load(ImageTags, _config(args), "image-tags")
    found: list[Violation] = []
    for ko in kube_objects(args):
        found += obj_checks.check_images(ko, tags=settings)
    for rv in release_views(args):
        if rv.values is not None:
            found += value_checks.check_value_images(
                rv.resource, rv.release, rv.values, tags=settings
            )
    _report(report_violation, found)


def check_chart_version_pinned(args: Any, report_violation: Report) -> None:
    """Chart versions are exact (no ranges, no ``latest``, not missing)."""
    settings = load(ChartVersionPinned, _config(args), "chart-version-pinned")
    for rv in release_views(args):
        _report(
            report_violation,
            value_checks.check_chart_version(
                rv.resource, rv.release, rv.chart_kind, rv.version, settings, git_ref=rv.git_ref
            ),
        )


def check_no_plaintext_secrets(args: Any, report_violation: Report) -> None:
    """No plain-text secret-looking values in a release's values."""
    settings = load(NoPlaintextSecrets, _config(args), "no-plaintext-secrets")
    for rv in release_views(args):
        if rv.values is not None:
            found = value_checks.check_plaintext_values(
                rv.resource, rv.release, rv.values, settings
            )
        else:
            found = value_checks.check_plaintext_secrets(
                rv.resource, rv.release, rv.literal_paths, rv.private_key_paths, settings
            )
        _report(report_violation, found)


def check_tenant_boundaries(args: Any, report_violation: Report) -> None:
    """A tenant's release, and everything it renders, stays in the tenant's namespaces."""
    settings = load(TenantBoundaries, _config(args), "tenant-boundaries")
    if not settings.tenants and not settings.allowed_namespaces:
        return
    found: list[Violation] = []
    outside: set[str] = set()
    for rv in release_views(args):
        if not rv.namespace:
            continue
        problem = obj_checks.tenant_problem(rv.tenant, rv.namespace, settings)
        if problem is not None:
            outside.add(rv.namespace)
            found.append(
                Violation("tenant-boundaries", rv.resource, "namespace", *problem, rv.release)
            )
    for ko in kube_objects(args):
        if ko.namespaced and ko.namespace in outside:
            continue  # already reported for the release as a whole
        found += obj_checks.check_tenant(ko, settings)
    _report(report_violation, found)


def check_rendered_objects_checked(args: Any, report_violation: Report) -> None:
    """Stack policy: every helm_enterprise release registers its policy summary."""
    resources = list(getattr(args, "resources", None) or [])
    summarised = {getattr(r.parent, "urn", None) for r in resources if r.resource_type == SUMMARY}
    release_mode = {
        getattr(r.parent, "urn", None) for r in resources if r.resource_type == HELM_RELEASE
    }
    for r in resources:
        if r.resource_type != COMPONENT or r.urn in summarised:
            continue
        unseen = (
            "the objects Helm applies (release mode renders them inside the provider), "
            if r.urn in release_mode
            else ""
        )
        violation = Violation(
            "rendered-objects-checked",
            f"Release {r.name}",
            "validation.policy",
            f"this release registers no policy summary, so the pack cannot check {unseen}"
            "its requested chart version or which values are plain text",
            "set helm-enterprise:policySummary: true in the stack config (or "
            "validation.policy: true on the release)",
            r.name,
        )
        _report(report_violation, [violation], r.urn)


# -- the table the pack is built from ---------------------------------------------------------

Enforcement = Literal["advisory", "mandatory", "disabled"]
ObjectCheck = Callable[[KubeObject, Any], list[Violation]]
"""One rule's check of one Kubernetes object with the rule's settings (``check_object``
and, for rules that only look at objects, the rule's whole check)."""


@dataclasses.dataclass(frozen=True)
class Rule:
    """One policy of the pack: name, description, settings model, the check function,
    the object check (None: the rule does not look at single objects), default
    enforcement, severity and scope. Everything about a rule is here: the pack, the CLI's
    rule list and :func:`check_object` read this one table."""

    name: str
    description: str
    check: Callable[[Any, Report], None]
    settings: type[Model]
    object_check: ObjectCheck | None = None
    enforcement: Enforcement = "mandatory"
    severity: Literal["low", "medium", "high", "critical"] = "high"
    scope: Literal["resource", "stack"] = "resource"  # stack: sees every resource at once

    def load(self, config: Mapping[str, Any] | None) -> Model:
        return load(self.settings, config, self.name)


def _objects_rule(
    name: str,
    description: str,
    settings: type[Model],
    object_check: ObjectCheck,
    *,
    enforcement: Enforcement = "mandatory",
    severity: Literal["low", "medium", "high", "critical"] = "high",
) -> Rule:
    """A rule whose whole check is ``object_check`` with its settings on every object a
    resource is or summarises."""

    def rule_check(args: Any, report_violation: Report) -> None:
        loaded = load(settings, _config(args), name)
        for ko in kube_objects(args):
            _report(report_violation, object_check(ko, loaded))

    rule_check.__doc__ = description
    rule_check.__name__ = rule_check.__qualname__ = f"check_{name.replace('-', '_')}"
    return Rule(
        name,
        description,
        rule_check,
        settings,
        object_check,
        enforcement=enforcement,
        severity=severity,
    )


RULES: tuple[Rule, ...] = (
    Rule(
        "approved-registries",
        "Container images must come from an approved registry.",
        check_approved_registries,
        ApprovedRegistries,
        lambda ko, s: obj_checks.check_images(ko, registries=s),
    ),
    Rule(
        "image-tags",
        "Container images must be pinned: no 'latest', no missing tag.",
        check_image_tags,
        ImageTags,
        lambda ko, s: obj_checks.check_images(ko, tags=s),
    ),
    _objects_rule(
        "resource-limits",
        "Containers must declare resource requests and limits.",
        ResourceLimits,
        obj_checks.check_resources,
        severity="medium",
    ),
    _objects_rule(
        "no-privileged",
        "Containers must not run privileged or add dangerous capabilities.",
        NoPrivileged,
        obj_checks.check_privileged,
        severity="critical",
    ),
    _objects_rule(
        "no-host-namespaces",
        "Pods must not use the node's network, PID or IPC namespace.",
        NoHostNamespaces,
        obj_checks.check_host_namespaces,
        severity="critical",
    ),
    _objects_rule(
        "no-host-path",
        "Pods must not mount directories of the node (hostPath).",
        NoHostPath,
        obj_checks.check_host_path,
        severity="critical",
    ),
    Rule(
        "chart-version-pinned",
        "Charts must be pinned to an exact version (no ranges, no 'latest').",
        check_chart_version_pinned,
        ChartVersionPinned,
        severity="medium",
    ),
    Rule(
        "no-plaintext-secrets",
        "Secret-looking release values must come from secretValues, not plain text.",
        check_no_plaintext_secrets,
        NoPlaintextSecrets,
        severity="critical",
    ),
    Rule(
        "tenant-boundaries",
        "A tenant's release and its objects must stay in the tenant's namespaces.",
        check_tenant_boundaries,
        TenantBoundaries,
        lambda ko, s: obj_checks.check_tenant(ko, s) if s.tenants or s.allowed_namespaces else [],
        severity="critical",
    ),
    _objects_rule(
        "required-labels",
        "Objects must carry the required labels.",
        RequiredLabels,
        obj_checks.check_labels,
        enforcement="advisory",
        severity="low",
    ),
    Rule(
        "rendered-objects-checked",
        "Release-mode releases must expose their rendered objects to the pack.",
        check_rendered_objects_checked,
        RenderedObjectsChecked,
        severity="high",
        scope="stack",
    ),
)


def rule(name: str) -> Rule:
    """A rule by name (KeyError naming the known ones otherwise)."""
    for r in RULES:
        if r.name == name:
            return r
    raise KeyError(f"no policy {name!r}; known: {', '.join(r.name for r in RULES)}")


# The rules that only look at objects, by the names callers and tests know them.
check_resource_limits = rule("resource-limits").check
check_no_privileged = rule("no-privileged").check
check_no_host_namespaces = rule("no-host-namespaces").check
check_no_host_path = rule("no-host-path").check
check_required_labels = rule("required-labels").check


def enforcement(r: Rule, config: Mapping[str, Any] | None) -> str:
    """The enforcement level of a rule under a pack config (``--policy-pack-config``
    format: a level, or an object with ``enforcementLevel``; ``all`` sets every rule)."""
    config = config or {}
    for key in (r.name, "all"):
        entry = config.get(key)
        level = entry.get("enforcementLevel") if isinstance(entry, Mapping) else entry
        if isinstance(level, str):
            return level
    return r.enforcement


def check_object(
    obj: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
    *,
    release: str = "",
    tenant: str = "",
    namespace: str = "",
) -> list[tuple[Rule, Violation]]:
    """Every enabled object rule on one Kubernetes object, configured like the pack
    (a ``--policy-pack-config`` document). For tools that have manifests, not a program."""
    config = config or {}
    ko = KubeObject(obj, release=release, tenant=tenant, default_namespace=namespace)
    found: list[tuple[Rule, Violation]] = []
    for r in RULES:
        if r.object_check is None or enforcement(r, config) == "disabled":
            continue
        entry = config.get(r.name)
        settings = r.load(entry if isinstance(entry, Mapping) else None)
        found += [(r, v) for v in r.object_check(ko, settings)]
    return found


def object_findings(
    objs: Iterable[Mapping[str, Any]],
    config: Mapping[str, Any] | None = None,
    *,
    release: str = "",
    tenant: str = "",
    namespace: str = "",
) -> list[Finding]:
    """:func:`check_object` over rendered objects, as dry-run findings (``check="policy"``;
    mandatory rules give errors, advisory ones warnings)."""
    out: list[Finding] = []
    for o in objs:
        for r, v in check_object(o, config, release=release, tenant=tenant, namespace=namespace):
            out.append(v.finding("error" if enforcement(r, config) == "mandatory" else "warning"))
    return out
