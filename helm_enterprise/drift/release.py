"""Release mode: Helm's stored manifest against the live objects.

``pulumi refresh`` of a ``helm.v3.Release`` reads only Helm's release record, so a
``kubectl edit`` of a Deployment it created is invisible to Pulumi. Here, for the
release's latest *deployed* revision, every object of its rendered manifest (as Helm
stored it, post-renderer labels included; hooks are not part of it) is

1. read live — absent means ``MISSING``;
2. dry-run applied (server-side, forced, Helm's field manager) — the object as
   re-applying the release would leave it;
3. compared with the live object by :func:`helm_enterprise.drift.compare.decide`.

:func:`remediate` re-applies the manifest objects that drifted or are missing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from helm_enterprise.drift.compare import decide, unknown
from helm_enterprise.drift.findings import DriftState, ObjectFinding, ObjectRef
from helm_enterprise.drift.live import Cluster, DryRunNotAllowed
from helm_enterprise.drift.rules import RuleSet
from helm_enterprise.errors import DriftError, HelmEnterpriseError


def manifest_objects(manifest: str) -> list[dict[str, Any]]:
    """The objects of a rendered manifest (a YAML stream), ``List`` kinds flattened."""
    out: list[dict[str, Any]] = []
    try:
        docs = list(yaml.safe_load_all(manifest))
    except yaml.YAMLError as err:
        raise DriftError(
            f"the stored manifest is not valid YAML: {err.__class__.__name__}"
        ) from None
    for doc in docs:
        if not isinstance(doc, dict) or not doc.get("kind"):
            continue
        if doc["kind"].endswith("List") and isinstance(doc.get("items"), list):
            out += [i for i in doc["items"] if isinstance(i, dict) and i.get("kind")]
        else:
            out.append(doc)
    return out


def ref_for(obj: Mapping[str, Any], release: str) -> ObjectRef:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    return ObjectRef(
        api_version=str(obj.get("apiVersion", "")),
        kind=str(obj.get("kind", "")),
        name=str(meta.get("name", "")),
        namespace=meta.get("namespace"),
        release=release,
        via="manifest",
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
    )


@dataclasses.dataclass
class ReleaseDrift:
    """Findings for one Helm release, with the manifest objects (for remediation)."""

    release: str
    namespace: str
    revision: int | None
    findings: list[ObjectFinding]
    desired: dict[ObjectRef, dict[str, Any]] = dataclasses.field(repr=False, default_factory=dict)


def detect(cluster: Cluster, namespace: str, release: str, rules: RuleSet) -> ReleaseDrift:
    """Compare every object of ``release``'s deployed manifest with the cluster."""
    release_ref = ObjectRef("helm.sh/v3", "Release", release, namespace, release, via="manifest")
    try:
        record = cluster.deployed_record(namespace, release)
        objects = manifest_objects(record.manifest) if record is not None else []
    except HelmEnterpriseError as err:
        return ReleaseDrift(release, namespace, None, [unknown(release_ref, str(err))])
    if record is None:
        message = "the release has no deployed revision in the cluster"
        return ReleaseDrift(release, namespace, None, [unknown(release_ref, message)])
    result = ReleaseDrift(release, namespace, record.revision, [])
    for raw in objects:
        ref = ref_for(raw, release)
        try:
            obj = cluster.place(raw, namespace)
            ref = ref_for(obj, release)
            result.desired[ref] = obj
            result.findings.append(_compare(cluster, obj, ref, rules))
        except HelmEnterpriseError as err:
            result.findings.append(unknown(ref, str(err)))
    return result


def _compare(
    cluster: Cluster, obj: dict[str, Any], ref: ObjectRef, rules: RuleSet
) -> ObjectFinding:
    live = cluster.get(obj)
    if live is None:
        return decide(obj, None, rules, ref)
    try:
        desired = cluster.dry_run(obj)
    except DryRunNotAllowed as err:
        finding = decide(obj, live, rules, ref, exhaustive=False)
        note = f"compared with the manifest only ({err})"
        return dataclasses.replace(finding, message=note)
    return decide(desired, live, rules, ref)


@dataclasses.dataclass(frozen=True)
class Remediated:
    """The outcome of re-applying one object."""

    ref: ObjectRef
    ok: bool
    message: str = ""


def remediate(
    cluster: Cluster, drift: ReleaseDrift, findings: Iterable[ObjectFinding] | None = None
) -> list[Remediated]:
    """Re-apply (forced server-side apply) every drifted or missing manifest object."""
    out: list[Remediated] = []
    for f in drift.findings if findings is None else findings:
        if f.state not in (DriftState.DRIFTED, DriftState.MISSING):
            continue
        obj = drift.desired.get(f.ref)
        if obj is None:
            out.append(Remediated(f.ref, False, "no desired object to re-apply"))
            continue
        try:
            cluster.apply(obj)
        except HelmEnterpriseError as err:
            out.append(Remediated(f.ref, False, str(err)))
        else:
            out.append(Remediated(f.ref, True))
    return out
