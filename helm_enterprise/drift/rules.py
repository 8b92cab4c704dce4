"""Ignore rules: fields whose changes are not drift.

A rule is a list of JSON pointers plus a target selector (the format Flux's helm-controller
uses, see :mod:`helm_enterprise.config.drift`). Three sources, in this order:

1. the **default rules** (:data:`DEFAULT_RULES`) for fields that controllers, the API
   server or well-known webhooks own: a Deployment's revision annotation, allocated
   Service IPs and node ports, CA bundles injected into webhook configurations, the
   replicas of a progressive release's colours (the rollout sets them);
2. **derived rules**: ``/spec/replicas`` of every object a HorizontalPodAutoscaler scales
   (:func:`hpa_rules`, from the HPAs found in the cluster or the stack);
3. the user's rules: stack config ``helm-enterprise:drift.ignore``, ``--ignore-file``,
   ``--ignore``.

Defaults and derived rules can be switched off together (``defaultIgnores: false``).
Server bookkeeping (``/status``, ``/metadata/managedFields``, ``resourceVersion``...) is
never compared at all (see :mod:`helm_enterprise.drift.compare`).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Iterable, Sequence

from helm_enterprise.config._base import validate_model
from helm_enterprise.config.drift import DriftIgnoreRule, DriftTarget
from helm_enterprise.drift.findings import ObjectRef
from helm_enterprise.drift.paths import Path, matches, split
from helm_enterprise.errors import ConfigError
from helm_enterprise.kube.live import ScaleTarget


@dataclasses.dataclass(frozen=True)
class Rule:
    """A compiled ignore rule."""

    paths: tuple[Path, ...]
    target: DriftTarget | None = None
    reason: str = ""

    @classmethod
    def of(cls, config: DriftIgnoreRule) -> Rule:
        return cls(tuple(split(p) for p in config.paths), config.target, config.reason)

    def selects(self, ref: ObjectRef) -> bool:
        t = self.target
        if t is None:
            return True
        checks = (
            t.group is None or t.group == ref.group,
            t.version is None or t.version == ref.version,
            t.kind is None or t.kind == ref.kind,
            t.name is None or fnmatch.fnmatchcase(ref.name, t.name),
            t.namespace is None or fnmatch.fnmatchcase(ref.namespace or "", t.namespace),
            t.release is None or fnmatch.fnmatchcase(ref.release or "", t.release),
            t.label_selector is None or selector_matches(t.label_selector, dict(ref.labels)),
        )
        return all(checks)

    def ignores(self, ref: ObjectRef, path: Path) -> bool:
        return self.selects(ref) and any(matches(p, path) for p in self.paths)


def selector_matches(selector: str, labels: dict[str, str]) -> bool:
    """Equality-based label selector: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``."""
    for raw in selector.split(","):
        term = raw.strip()
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            ok = labels.get(key) != value
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            ok = labels.get(key) == value
        elif term.startswith("!"):
            ok = term[1:].strip() not in labels
        else:
            ok = term in labels
        if not ok:
            return False
    return True


def _rule(paths: Sequence[str], reason: str, **target: str) -> Rule:
    return Rule.of(
        DriftIgnoreRule(
            paths=list(paths), target=DriftTarget(**target) if target else None, reason=reason
        )
    )


DEFAULT_RULES: tuple[Rule, ...] = (
    _rule(
        ["/metadata/annotations/deployment.kubernetes.io~1revision"],
        "set by the Deployment controller",
    ),
    _rule(
        ["/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"],
        "kubectl apply bookkeeping",
    ),
    _rule(
        ["/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt"],
        "kubectl rollout restart",
    ),
    _rule(
        [
            "/spec/clusterIP",
            "/spec/clusterIPs",
            "/spec/ipFamilies",
            "/spec/ipFamilyPolicy",
            "/spec/ports/*/nodePort",
            "/spec/healthCheckNodePort",
        ],
        "allocated by the API server",
        group="",
        kind="Service",
    ),
    _rule(
        ["/webhooks/*/clientConfig/caBundle"],
        "CA bundle injected (cert-manager cainjector)",
        kind="MutatingWebhookConfiguration",
    ),
    _rule(
        ["/webhooks/*/clientConfig/caBundle"],
        "CA bundle injected (cert-manager cainjector)",
        kind="ValidatingWebhookConfiguration",
    ),
    _rule(
        ["/spec/conversion/webhook/clientConfig/caBundle"],
        "CA bundle injected (cert-manager cainjector)",
        kind="CustomResourceDefinition",
    ),
    _rule(["/spec/caBundle"], "CA bundle injected", kind="APIService"),
    _rule(["/secrets"], "token controller", group="", kind="ServiceAccount"),
    # T3.1/T3.2: a colour's size is the rollout's (traffic weights, scale-down), not Helm's.
    _rule(
        ["/spec/replicas"],
        "set by the release's blue/green or canary rollout",
        kind="Deployment",
        label_selector="helm-enterprise.io/colour",
    ),
)


def hpa_rules(targets: Iterable[ScaleTarget]) -> list[Rule]:
    """``/spec/replicas`` of each HPA target belongs to the autoscaler."""
    return [
        _rule(
            ["/spec/replicas"],
            f"scaled by HorizontalPodAutoscaler {t.namespace}/{t.hpa}",
            kind=t.kind,
            name=t.name,
            namespace=t.namespace,
        )
        for t in sorted(set(targets), key=lambda t: (t.namespace, t.kind, t.name, t.hpa))
    ]


@dataclasses.dataclass(frozen=True)
class RuleSet:
    """The rules in force for one stack."""

    rules: tuple[Rule, ...] = ()

    @classmethod
    def build(
        cls,
        user: Iterable[DriftIgnoreRule] = (),
        *,
        defaults: bool = True,
        scale_targets: Iterable[ScaleTarget] = (),
    ) -> RuleSet:
        rules: list[Rule] = []
        if defaults:
            rules += DEFAULT_RULES
            rules += hpa_rules(scale_targets)
        rules += [Rule.of(r) for r in user]
        return cls(tuple(rules))

    def find(self, ref: ObjectRef, path: Path) -> Rule | None:
        """The first rule that ignores ``path`` of ``ref``."""
        return next((r for r in self.rules if r.ignores(ref, path)), None)


def parse_flag(text: str, field: str = "--ignore") -> DriftIgnoreRule:
    """A rule from the command line: ``POINTER`` (every object), ``KIND:POINTER``,
    ``KIND/NAME:POINTER`` or ``KIND/NAMESPACE/NAME:POINTER``."""
    text = text.strip()
    if text.startswith("/"):
        return validate_model(DriftIgnoreRule, {"paths": [text]}, field)
    selector, sep, pointer = text.partition(":")
    parts = selector.split("/")
    if not sep or not selector or len(parts) > 3 or not all(parts):
        raise ConfigError(
            f"{text!r} is not an ignore rule",
            path=field,
            hint="use POINTER, KIND:POINTER, KIND/NAME:POINTER or KIND/NAMESPACE/NAME:POINTER,"
            " e.g. Deployment/web:/spec/replicas",
        )
    target: dict[str, str] = {"kind": parts[0]}
    if len(parts) == 2:
        target["name"] = parts[1]
    elif len(parts) == 3:
        target["namespace"], target["name"] = parts[1], parts[2]
    return validate_model(
        DriftIgnoreRule, {"paths": [pointer], "target": target, "reason": "--ignore"}, field
    )
