"""The pure decision: desired + live + ignore rules → finding (table tests)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from helm_enterprise.config.drift import DriftIgnoreRule
from helm_enterprise.drift import (
    REDACTED,
    Change,
    DriftState,
    ObjectRef,
    RuleSet,
    ScaleTarget,
    decide,
    decide_refresh,
)


def deployment(**spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "labels": {"app": "web", "helm-enterprise.io/release": "web"},
            "annotations": {"helm-enterprise.io/owner": "p/prod/web"},
        },
        "spec": {
            "replicas": 2,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.25",
                            "imagePullPolicy": "IfNotPresent",
                            "resources": {"requests": {"cpu": "500m", "memory": "64Mi"}},
                        }
                    ]
                }
            },
        },
    }
    obj["spec"].update(spec)
    return obj


def live_of(desired: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A live object: desired plus server bookkeeping, status and the given edits."""
    live = copy.deepcopy(desired)
    live["metadata"].update(
        resourceVersion="123",
        uid="u-1",
        generation=7,
        creationTimestamp="2024-01-01T00:00:00Z",
        managedFields=[],
    )
    live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "3"
    live["status"] = {"replicas": 2, "readyReplicas": 2}
    for pointer, value in changes.items():
        node = live
        *parents, last = pointer.split("__")
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[last] = value
    return live


REF = ObjectRef("apps/v1", "Deployment", "web", "shop", "web", labels=(("app", "web"),))
NO_RULES = RuleSet()
DEFAULTS = RuleSet.build()


def rules(*raw: dict[str, Any], scale: tuple[ScaleTarget, ...] = ()) -> RuleSet:
    return RuleSet.build([DriftIgnoreRule.model_validate(r) for r in raw], scale_targets=scale)


def fields(finding: Any) -> dict[str, tuple[str, Any, Any]]:
    return {c.path: (c.change.value, c.old, c.new) for c in finding.changes}


IMAGE = "/spec/template/spec/containers/0/image"

CASES = [
    # name, live edits, rules, expected state, expected fields
    ("identical apart from bookkeeping", {}, DEFAULTS, DriftState.IN_SYNC, {}),
    (
        "image and replicas edited",
        {"spec__replicas": 5, "spec__template__spec__containers__0__image": "nginx:1.26"},
        DEFAULTS,
        DriftState.DRIFTED,
        {"/spec/replicas": ("changed", 2, 5), IMAGE: ("changed", "nginx:1.25", "nginx:1.26")},
    ),
    (
        "replicas of an HPA target are ignored by default",
        {"spec__replicas": 5},
        rules(scale=(ScaleTarget("shop", "Deployment", "web", "web-hpa"),)),
        DriftState.IN_SYNC,
        {},
    ),
    (
        "an HPA on another object does not hide replicas",
        {"spec__replicas": 5},
        rules(scale=(ScaleTarget("shop", "Deployment", "api", "api-hpa"),)),
        DriftState.DRIFTED,
        {"/spec/replicas": ("changed", 2, 5)},
    ),
    (
        "user rule with a wildcard and a matching target",
        {"spec__template__spec__containers__0__image": "nginx:1.26"},
        rules(
            {"paths": ["/spec/template/spec/containers/*/image"], "target": {"kind": "Deployment"}}
        ),
        DriftState.IN_SYNC,
        {},
    ),
    (
        "user rule whose target does not select the object",
        {"spec__template__spec__containers__0__image": "nginx:1.26"},
        rules({"paths": ["/spec/template/spec/containers/*/image"], "target": {"name": "api-*"}}),
        DriftState.DRIFTED,
        {IMAGE: ("changed", "nginx:1.25", "nginx:1.26")},
    ),
    (
        "a rule on a parent path ignores everything below it",
        {"spec__template__spec__containers__0__imagePullPolicy": "Always"},
        rules({"paths": ["/spec/template"], "target": {"labelSelector": "app=web"}}),
        DriftState.IN_SYNC,
        {},
    ),
    (
        "label selector that does not match",
        {"spec__template__spec__containers__0__imagePullPolicy": "Always"},
        rules({"paths": ["/spec/template"], "target": {"labelSelector": "app!=web"}}),
        DriftState.DRIFTED,
        {"/spec/template/spec/containers/0/imagePullPolicy": ("changed", "IfNotPresent", "Always")},
    ),
    (
        "an annotation removed by hand",
        {"metadata__annotations": {"deployment.kubernetes.io/revision": "3"}},
        DEFAULTS,
        DriftState.DRIFTED,
        {"/metadata/annotations/helm-enterprise.io~1owner": ("removed", "p/prod/web", None)},
    ),
    (
        "the revision annotation is only ignored while default rules are on",
        {},
        NO_RULES,
        DriftState.DRIFTED,
        {"/metadata/annotations/deployment.kubernetes.io~1revision": ("added", None, "3")},
    ),
    (
        "a list that changed length is reported as a whole",
        {"spec__template__spec__containers": []},
        DEFAULTS,
        DriftState.DRIFTED,
        {"/spec/template/spec/containers": ("changed", "<list>", [])},
    ),
]


@pytest.mark.parametrize(
    ("name", "edits", "ruleset", "state", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_decide_table(
    name: str, edits: dict[str, Any], ruleset: RuleSet, state: DriftState, expected: dict[str, Any]
) -> None:
    desired = deployment()
    finding = decide(desired, live_of(desired, **edits), ruleset, REF)
    assert finding.state is state, finding
    got = fields(finding)
    for path, (change, old, new) in expected.items():
        assert got[path][0] == change
        if old != "<list>":
            assert got[path][1] == old
        assert got[path][2] == new
    assert set(got) == set(expected)


def test_missing_object() -> None:
    finding = decide(deployment(), None, DEFAULTS, REF)
    assert finding.state is DriftState.MISSING and finding.drifted and finding.changes == ()


def test_ignored_fields_are_listed_with_the_rule_reason_but_no_value() -> None:
    desired = deployment()
    ruleset = rules(scale=(ScaleTarget("shop", "Deployment", "web", "web-hpa"),))
    finding = decide(desired, live_of(desired, spec__replicas=9), ruleset, REF)
    assert finding.state is DriftState.IN_SYNC
    assert "/spec/replicas (scaled by HorizontalPodAutoscaler shop/web-hpa)" in finding.ignored
    assert "9" not in json.dumps(finding.to_dict()["ignored"])


MANIFEST_MODE = [
    ("quantities are compared by value", {"cpu": "0.5"}, {"cpu": "500m"}, DriftState.IN_SYNC),
    ("a changed quantity is drift", {"cpu": "0.5"}, {"cpu": "1"}, DriftState.DRIFTED),
    ("int and string spellings", {"port": 8080}, {"port": "8080"}, DriftState.IN_SYNC),
    (
        "fields only the server set are not compared",
        {"a": 1},
        {"a": 1, "defaulted": "x"},
        DriftState.IN_SYNC,
    ),
    ("an empty map the server dropped", {"a": 1, "extra": {}}, {"a": 1}, DriftState.IN_SYNC),
    ("null in the manifest", {"a": 1, "n": None}, {"a": 1}, DriftState.IN_SYNC),
    ("booleans are not numbers", {"flag": True}, {"flag": 1}, DriftState.DRIFTED),
]


@pytest.mark.parametrize(
    ("name", "desired", "live", "state"), MANIFEST_MODE, ids=[c[0] for c in MANIFEST_MODE]
)
def test_manifest_mode_normalises(
    name: str, desired: dict[str, Any], live: dict[str, Any], state: DriftState
) -> None:
    ref = ObjectRef("v1", "ConfigMap", "c", "ns")

    def wrap(data: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data}

    assert decide(wrap(desired), wrap(live), NO_RULES, ref, exhaustive=False).state is state


def test_exhaustive_mode_reports_fields_only_live_has() -> None:
    ref = ObjectRef("v1", "ConfigMap", "c", "ns")
    desired = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1"},
    }
    live = copy.deepcopy(desired)
    live["data"]["b"] = "2"
    assert decide(desired, live, NO_RULES, ref, exhaustive=False).state is DriftState.IN_SYNC
    finding = decide(desired, live, NO_RULES, ref)
    assert fields(finding) == {"/data/b": ("added", None, "2")}


SECRET = ObjectRef("v1", "Secret", "db", "shop", "web")


def secret(**data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "type": "Opaque",
        "data": data,
    }


@pytest.mark.parametrize(
    ("desired", "live", "change"),
    [
        (secret(password="b2xk"), secret(password="bmV3LXZhbHVl"), Change.CHANGED),
        (secret(password="b2xk", token="dA=="), secret(password="b2xk"), Change.REMOVED),
        (secret(password="b2xk"), secret(password="b2xk", extra="c2VjcmV0"), Change.ADDED),
    ],
)
def test_secret_values_never_reach_a_finding(desired: Any, live: Any, change: Change) -> None:
    finding = decide(desired, live, NO_RULES, SECRET)
    assert finding.state is DriftState.DRIFTED
    (c,) = finding.changes
    assert c.change is change and c.redacted and c.path.startswith("/data/")
    assert REDACTED in (c.old, c.new)
    text = json.dumps(finding.to_dict()) + " ".join(c.describe_values())
    for value in ("b2xk", "bmV3LXZhbHVl", "dA==", "c2VjcmV0"):
        assert value not in text


def test_secret_metadata_is_not_redacted() -> None:
    desired, live = secret(a="eA=="), secret(a="eA==")
    live["metadata"]["labels"] = {"team": "x"}
    (c,) = decide(desired, live, NO_RULES, SECRET).changes
    assert (c.path, c.new, c.redacted) == ("/metadata/labels", {"team": "x"}, False)


def test_a_configmap_named_like_a_secret_field_is_not_redacted() -> None:
    ref = ObjectRef("v1", "ConfigMap", "c", "ns")
    desired = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"k": "1"},
    }
    live = {**desired, "data": {"k": "2"}}
    (c,) = decide(desired, live, NO_RULES, ref).changes
    assert (c.old, c.new, c.redacted) == ("1", "2", False)


def test_who_changed_a_field_comes_from_managed_fields() -> None:
    desired = deployment()
    live = live_of(
        desired, spec__replicas=3, spec__template__spec__containers__0__image="nginx:1.26"
    )
    live["metadata"]["managedFields"] = [
        {
            "manager": "helm",
            "operation": "Update",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}},
        },
        {
            "manager": "kubectl",
            "operation": "Update",
            "subresource": "scale",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
        },
        {
            "manager": "kubectl-set",
            "operation": "Update",
            "fieldsV1": {
                "f:spec": {
                    "f:template": {
                        "f:spec": {"f:containers": {'k:{"name":"web"}': {"f:image": {}}}}
                    }
                }
            },
        },
    ]
    finding = decide(desired, live, NO_RULES, REF)
    by = {c.path: c.by for c in finding.changes}
    assert by["/spec/replicas"] == ("kubectl (scale)",)
    assert by[IMAGE] == ("kubectl-set",)


# -- chart mode: refresh events --------------------------------------------------------


def test_refresh_delete_is_missing() -> None:
    f = decide_refresh("delete", deployment(), None, DEFAULTS, REF)
    assert f.state is DriftState.MISSING


@pytest.mark.parametrize("op", ["same", "read", "create"])
def test_refresh_other_ops_are_in_sync(op: str) -> None:
    d = deployment()
    assert decide_refresh(op, d, d, DEFAULTS, REF).state is DriftState.IN_SYNC


def test_refresh_update_compares_inputs() -> None:
    old = deployment()
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    f = decide_refresh("update", old, new, DEFAULTS, REF, detailed_diff=["spec.replicas"])
    assert fields(f) == {"/spec/replicas": ("changed", 2, 3)}


def test_refresh_masked_secret_values_come_from_the_engine_paths_and_stay_redacted() -> None:
    old = secret(password="[secret]")
    new = secret(password="[secret]")
    f = decide_refresh("update", old, new, NO_RULES, SECRET, detailed_diff=['data["password"]'])
    (c,) = f.changes
    assert (c.path, c.redacted, c.old, c.new) == ("/data/password", True, REDACTED, REDACTED)


def test_refresh_ignore_rules_apply_to_engine_paths() -> None:
    old = deployment()
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 4
    ruleset = rules({"paths": ["/spec/replicas"]})
    f = decide_refresh("update", old, new, ruleset, REF, detailed_diff=["spec.replicas"])
    assert f.state is DriftState.IN_SYNC and f.ignored == ("/spec/replicas",)
