"""What a stack deployed, from its exported state."""

from __future__ import annotations

from helm_enterprise.drift import ScaleTarget
from helm_enterprise.drift.inventory import HelmReleaseRef, from_state, refresh_ref

STACK = "urn:pulumi:prod::proj::pulumi:pulumi:Stack::proj-prod"
WEB = "urn:pulumi:prod::proj::helm-enterprise:index:Release::web"
CHART = (
    "urn:pulumi:prod::proj::helm-enterprise:index:Release$kubernetes:helm.sh/v4:Chart::web-chart"
)
DEPLOY = (
    "urn:pulumi:prod::proj::helm-enterprise:index:Release$kubernetes:helm.sh/v4:Chart"
    "$kubernetes:apps/v1:Deployment::web-chart:shop/web"
)
HPA = (
    "urn:pulumi:prod::proj::helm-enterprise:index:Release$kubernetes:helm.sh/v4:Chart"
    "$kubernetes:autoscaling/v2:HorizontalPodAutoscaler::web-chart:shop/web"
)
API = "urn:pulumi:prod::proj::helm-enterprise:index:Release::api"
UNDER_API = "urn:pulumi:prod::proj::helm-enterprise:index:Release$kubernetes:"
API_HELM = UNDER_API + "helm.sh/v3:Release::api-release"
API_NS = UNDER_API + "core/v1:Namespace::api-namespace"
READ = UNDER_API + "core/v1:Secret::api-read-ops-creds"
LOOSE = "urn:pulumi:prod::proj::kubernetes:core/v1:ConfigMap::loose"

STATE = [
    {"urn": STACK, "type": "pulumi:pulumi:Stack"},
    {"urn": WEB, "type": "helm-enterprise:index:Release", "parent": STACK},
    {"urn": CHART, "type": "kubernetes:helm.sh/v4:Chart", "parent": WEB},
    {
        "urn": DEPLOY,
        "type": "kubernetes:apps/v1:Deployment",
        "parent": CHART,
        "outputs": {
            "metadata": {
                "name": "web",
                "namespace": "shop",
                "labels": {"helm-enterprise.io/release": "web"},
            }
        },
    },
    {
        "urn": HPA,
        "type": "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "parent": CHART,
        "outputs": {
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
            },
        },
    },
    {"urn": API, "type": "helm-enterprise:index:Release", "parent": STACK},
    {
        "urn": API_HELM,
        "type": "kubernetes:helm.sh/v3:Release",
        "parent": API,
        "outputs": {"name": "api", "namespace": "backend", "values": {"password": "s3cret"}},
    },
    {
        "urn": API_NS,
        "type": "kubernetes:core/v1:Namespace",
        "parent": API,
        "outputs": {"metadata": {"name": "backend"}},
    },
    {
        "urn": READ,
        "type": "kubernetes:core/v1:Secret",
        "parent": API,
        "external": True,
        "outputs": {},
    },
    {
        "urn": LOOSE,
        "type": "kubernetes:core/v1:ConfigMap",
        "parent": STACK,
        "outputs": {"metadata": {"name": "loose", "namespace": "misc"}},
    },
    {
        "urn": "urn:pulumi:prod::proj::pulumi:providers:kubernetes::default",
        "type": "pulumi:providers:kubernetes",
    },
]


def test_inventory_from_state() -> None:
    inv = from_state(STATE)
    assert inv.helm_releases == [HelmReleaseRef("api", "backend", API_HELM, "api")]
    assert inv.objects == {DEPLOY: "web", HPA: "web", API_NS: "api", LOOSE: None}
    assert READ not in inv.objects  # read with .get: not ours
    assert inv.scale_targets == [ScaleTarget("shop", "Deployment", "web", "web")]
    assert inv.namespaces == {"shop", "backend", "misc"}


def test_refresh_ref_from_inputs_or_urn() -> None:
    ref = refresh_ref(
        DEPLOY,
        "kubernetes:apps/v1:Deployment",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
        },
        "web",
    )
    assert (ref.api_version, ref.kind, ref.namespace, ref.name, ref.release, ref.via, ref.urn) == (
        "apps/v1",
        "Deployment",
        "shop",
        "web",
        "web",
        "refresh",
        DEPLOY,
    )
    bare = refresh_ref(API_NS, "kubernetes:core/v1:Namespace", None, "api")
    assert (bare.api_version, bare.kind, bare.name) == ("v1", "Namespace", "api-namespace")


def test_inventory_keeps_the_applied_revision_of_a_helm_release() -> None:
    helm = {
        **STATE[6],
        "outputs": {
            "name": "api",
            "namespace": "backend",
            "status": {"revision": 4, "version": "1.2.0", "status": "deployed"},
        },
    }
    (rel,) = from_state([STATE[0], STATE[5], helm]).helm_releases
    assert (rel.revision, rel.chart_version) == (4, "1.2.0")
