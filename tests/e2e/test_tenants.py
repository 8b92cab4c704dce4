"""Tenants (T2.2) on the real engine and the sandbox cluster, with real authentication.

Tenant users authenticate with client certificates signed by the cluster CA
(``Cluster.user_kubeconfig``); RBAC, Pod Security admission, ResourceQuota/LimitRanger and
ValidatingAdmissionPolicy are the API server's own, and the chart's pods run for real on
the cluster's real node. NetworkPolicies are stored but not enforced (the real node's CNI
bridge plugin does not implement them), so their presence and shape are tested, not traffic.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from tests.e2e.conftest import REPO, Env, run_cli
from tests.e2e.test_release import hello


def tenant_name() -> str:
    return f"t{uuid.uuid4().hex[:6]}"


def tenant(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespaces": [f"{name}-web"],
        "tier": "small",
        "groups": {f"{name}-devs": "edit"},
        **extra,
    }


def tenant_release(tenant_id: str, namespace: str, **extra: Any) -> dict[str, Any]:
    rel = hello(namespace, tenant=tenant_id, **extra)
    rel.pop("createNamespace")
    return rel


def as_user(
    sb: Env, user: str, groups: list[str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """kubectl authenticated as ``user`` in ``groups`` (a client certificate)."""
    kubeconfig = sb.sandbox.cluster("a").user_kubeconfig(user, groups)
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        env=sb.env,
        timeout=120,
        check=False,
        input=stdin,
    )


def admin_apply(sb: Env, manifest: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    kubeconfig = str(sb.sandbox.cluster("a").kubeconfig)
    return subprocess.run(
        ["kubectl", "--kubeconfig", kubeconfig, "apply", "-f", "-"],
        capture_output=True,
        text=True,
        env=sb.env,
        timeout=120,
        check=False,
        input=json.dumps(manifest),
    )


def pod(name: str, namespace: str, cpu: str = "100m", privileged: bool = False) -> dict[str, Any]:
    security: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": 101,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if privileged:
        security = {"privileged": True}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            # The hello chart's pod as it would run on the real node (where admission, not
            # a fake node, decides).
            "nodeSelector": {"sandbox.helm-enterprise.io/node": "real"},
            "tolerations": [
                {
                    "key": "sandbox.helm-enterprise.io/node",
                    "operator": "Equal",
                    "value": "real",
                    "effect": "NoSchedule",
                }
            ],
            "containers": [
                {
                    "name": "c",
                    "image": "registry.helm-enterprise.test/library/podinfo:6.9.2",
                    "resources": {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}},
                    "securityContext": security,
                }
            ],
        },
    }


def test_tenant_isolation_rbac_pss_quota(sb: Env, project) -> None:
    a, b = tenant_name(), tenant_name()
    a_ns, b_ns = f"{a}-web", f"{b}-web"
    p = project()
    p.config(
        "helm-enterprise:tenants",
        [tenant(a, allowedStorageClasses=["fast"]), tenant(b, tier="medium")],
    )
    one = {"replicaCount": 1}
    p.releases([tenant_release(a, a_ns, values=one)])
    result = p.up()
    assert result.outputs["releases"].value["hello"]["status"] == "deployed"
    assert result.outputs["tenants"].value[a]["tier"] == "small"
    # The restricted Pod Security Standard admits the chart's pod, and it runs for real:
    # Ready on the real node, answering through its Service; the quota holds it.
    dep = sb.kubectl_json("-n", a_ns, "get", "deployment", "hello")
    assert dep["status"]["readyReplicas"] == 1
    [running] = sb.pods(a_ns)
    assert running["spec"]["nodeName"] == "a-real-0"
    ready = {c["type"]: c["status"] for c in running["status"]["conditions"]}
    assert ready["Ready"] == "True"
    assert sb.service_get(a_ns, "hello", "/healthz").status_code == 200
    assert dep["metadata"]["labels"]["helm-enterprise.io/tenant"] == a

    # What the tenant got.
    labels = sb.kubectl_json("get", "namespace", a_ns)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["helm-enterprise.io/tenant"] == a
    quota = sb.kubectl_json("-n", a_ns, "get", "resourcequota", f"tenant-{a}")
    assert quota["spec"]["hard"]["requests.cpu"] == "2"
    assert quota["status"]["used"]["pods"] == "1"
    limits = sb.kubectl_json("-n", a_ns, "get", "limitrange", f"tenant-{a}")
    assert limits["spec"]["limits"][0]["defaultRequest"] == {"cpu": "100m", "memory": "128Mi"}
    # NetworkPolicies: stored, not enforced here (no CNI) — their shape is what is checked.
    policies = {
        n["metadata"]["name"]: n["spec"]
        for n in sb.kubectl_json("-n", a_ns, "get", "networkpolicy")["items"]
    }
    assert policies[f"tenant-{a}-deny-all"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }
    allow = policies[f"tenant-{a}-allow-tenant"]
    assert allow["ingress"] == [
        {"from": [{"namespaceSelector": {"matchLabels": {"helm-enterprise.io/tenant": a}}}]}
    ]
    binding = sb.kubectl_json("-n", a_ns, "get", "rolebinding", f"tenant-{a}-edit")
    assert [s["name"] for s in binding["subjects"]] == [f"{a}-devs"]

    # RBAC, with a real client certificate: own namespace yes, the other tenant's no.
    dev = [f"{a}-devs"]
    ok = as_user(sb, "ana", dev, "-n", a_ns, "create", "configmap", "notes", "--from-literal=k=v")
    assert ok.returncode == 0, ok.stderr
    denied = as_user(sb, "ana", dev, "-n", b_ns, "create", "configmap", "notes")
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    assert "forbidden" in as_user(sb, "ana", dev, "-n", b_ns, "get", "pods").stderr.lower()
    # The tenant's boundary is not the tenant's to remove.
    escape = as_user(sb, "ana", dev, "-n", a_ns, "delete", "networkpolicy", f"tenant-{a}-deny-all")
    assert escape.returncode != 0 and "forbidden" in escape.stderr.lower()
    grow = as_user(sb, "ana", dev, "-n", a_ns, "delete", "resourcequota", f"tenant-{a}")
    assert grow.returncode != 0 and "forbidden" in grow.stderr.lower()

    # Pod Security admission rejects a privileged pod in the restricted namespace (even
    # from the cluster admin: admission, not RBAC).
    priv = admin_apply(sb, pod("root", a_ns, privileged=True))
    assert priv.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in priv.stderr
    assert "privileged" in priv.stderr

    # The quota, enforced by the API server: the error names the quota.
    big = as_user(sb, "ana", dev, "apply", "-f", "-", stdin=json.dumps(pod("big", a_ns, "3")))
    assert big.returncode != 0
    assert f"exceeded quota: tenant-{a}" in big.stderr and "requests.cpu" in big.stderr

    # Storage classes: only the allowed ones (a ValidatingAdmissionPolicy).
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": a_ns},
        "spec": {
            "storageClassName": "slow",
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    slow = as_user(sb, "ana", dev, "apply", "-f", "-", stdin=json.dumps(pvc))
    assert slow.returncode != 0 and f"tenant {a} may use storage classes: fast" in slow.stderr
    pvc["spec"]["storageClassName"] = "fast"
    fast = as_user(sb, "ana", dev, "apply", "-f", "-", stdin=json.dumps(pvc))
    assert fast.returncode == 0, fast.stderr

    # An oversized release is stopped before Helm, naming the quota: 30 pods of the chart
    # (limits 200m each: 6 CPUs) in a namespace whose quota allows 20 pods and 4 CPUs.
    p.releases(
        [
            tenant_release(a, a_ns, values=one),
            tenant_release(a, a_ns, name="big", values={"replicaCount": 30}),
        ]
    )
    error = p.preview_fails()
    assert f"exceeds ResourceQuota {a_ns}/tenant-{a} (tier small)" in error
    assert "quota.pods" in error and "the release needs pods 30, the quota allows 20" in error
    assert "Traceback" not in error
    error = p.up_fails()
    assert "quota.limits.cpu" in error
    assert sb.kubectl("-n", a_ns, "get", "deployment", "big", check=False) == ""

    p.destroy()
    assert sb.kubectl("get", "namespace", a_ns, check=False) == ""


def _preview_text(p) -> tuple[str, dict[str, int]]:
    out: list[str] = []
    result = p.stack.preview(on_output=out.append, color="never", diff=True)
    return "\n".join(out), dict(result.change_summary)


def test_priya_onboards_a_tenant(sb: Env, project) -> None:
    """Journey 1: preview shows what will be created; a tier change shows only the quota;
    an unknown tier or someone else's namespace stops preview with one line."""
    name = tenant_name()
    ns = f"{name}-web"
    p = project()
    t = tenant(name, tier="medium", groups={f"{name}-devs": "edit", "auditors": "view"})
    t["allowedStorageClasses"] = ["fast"]
    p.config("helm-enterprise:tenants", [t])
    text, summary = _preview_text(p)
    for shown in (
        "kubernetes:core/v1:Namespace",
        "kubernetes:core/v1:ResourceQuota",
        "kubernetes:core/v1:LimitRange",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "kubernetes:rbac.authorization.k8s.io/v1:Role",
        "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
        "pod-security.kubernetes.io/enforce",
        '"restricted"',
        f"{name}-devs",
    ):
        assert shown in text, shown
    assert summary.get("create", 0) >= 10
    assert sb.kubectl("get", "namespace", ns, check=False) == ""  # preview touched nothing
    p.up()

    # More CPU: the tier changes, the quota (and nothing else) is updated.
    t["tier"] = "large"
    p.config("helm-enterprise:tenants", [t])
    text, summary = _preview_text(p)
    assert summary == {"same": summary["same"], "update": 1}, summary
    steps = [
        line.strip()
        for line in text.splitlines()
        if re.search(r": \((update|create|delete|replace|create-replacement)\)$", line.strip())
    ]
    assert steps == ["~ kubernetes:core/v1:ResourceQuota: (update)"], steps
    assert '~ requests.cpu          : "8" => "32"' in text
    p.up()
    hard = sb.kubectl_json("-n", ns, "get", "resourcequota", f"tenant-{name}")["spec"]["hard"]
    assert hard["requests.cpu"] == "32"

    # An unknown tier: one line naming the field and the allowed values; nothing touched.
    p.config("helm-enterprise:tenants", [{**t, "tier": "huge"}])
    error = p.preview_fails()
    line = "tenants[0].tier: unknown tier 'huge'; allowed: large, medium, small"
    assert line in error and "Traceback" not in error
    assert next(x for x in error.splitlines() if line in x).count(line) == 1

    # A namespace that belongs to another tenant of this stack ...
    other = tenant(tenant_name())
    other["namespaces"] = [ns]
    p.config("helm-enterprise:tenants", [t, other])
    error = p.preview_fails()
    assert f"tenants[1].namespaces[0]: namespace '{ns}' already belongs to tenant '{name}'" in error

    # ... or to a tenant of another stack (seen in the cluster).
    q = project(stack="other")
    q.config("helm-enterprise:tenants", [other])
    error = q.preview_fails()
    assert f"tenants[0].namespaces[0]: namespace '{ns}' belongs to tenant '{name}'" in error

    # A release of that other stack declared for no tenant may go there, but not silently.
    q.stack.remove_config("helm-enterprise:tenants")
    q.releases([hello(ns, createNamespace=False)])
    seen = len(q.output)
    q.preview()
    text = "\n".join(q.output[seen:])
    assert (
        f"releases[0].namespace: namespace '{ns}' belongs to tenant '{name}' (stack "
        f"helm-enterprise/{p.stack.name}), but this release declares no tenant" in text
    ), text

    # The tenant's identity is immutable: renaming it is an error, not a replacement.
    p.config("helm-enterprise:tenants", [{**t, "name": f"{name}x"}])
    error = p.preview_fails()
    assert (
        f"tenants[0].name: a tenant's identity is immutable: {ns} was created by this stack "
        f"for tenant '{name}'" in error
    )
    assert f"keep name: {name}" in error
    p.config("helm-enterprise:tenants", [t])
    assert set(p.preview().change_summary) <= {"same"}
    assert (
        sb.kubectl_json("get", "namespace", ns)["metadata"]["labels"]["helm-enterprise.io/tenant"]
        == name
    )


def _escape_chart(root: Path) -> None:
    """A chart that reaches outside its tenant: a ClusterRole and a ConfigMap elsewhere."""
    chart = root / "charts" / "escape"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v2", "name": "escape", "version": "0.1.0"})
    )
    (chart / "values.yaml").write_text(yaml.safe_dump({"otherNamespace": "", "cluster": False}))
    (chart / "templates" / "objects.yaml").write_text(
        """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-here
data: {a: b}
{{- if .Values.otherNamespace }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-there
  namespace: {{ .Values.otherNamespace }}
data: {a: b}
{{- end }}
{{- if .Values.cluster }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ .Release.Name }}-everything
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
{{- end }}
"""
    )


@pytest.mark.parametrize("mode", ["release", "chart"])
def test_release_cannot_escape_its_tenant(sb: Env, project, mode: str) -> None:
    a = tenant_name()
    a_ns = f"{a}-web"
    p = project()
    _escape_chart(p.dir)
    p.config("helm-enterprise:tenants", [tenant(a)])
    rel = {"name": "esc", "namespace": a_ns, "tenant": a, "mode": mode}
    rel["chart"] = {"path": "charts/escape"}

    # Inside the tenant: deployed (in chart mode every object passed the transform hook).
    p.releases([rel])
    p.up()
    here = sb.kubectl_json("-n", a_ns, "get", "configmap", "esc-here")
    assert here["metadata"]["labels"]["helm-enterprise.io/tenant"] == a

    # Values that reach outside: stopped before any Helm work, each object named.
    for values, fragment in (
        ({"otherNamespace": "kube-system"}, "namespace 'kube-system' is outside tenant"),
        ({"cluster": True}, "cluster-scoped ClusterRole"),
    ):
        p.releases([{**rel, "values": values}])
        error = p.preview_fails()
        assert fragment in error, error
        assert f"does not fit tenant '{a}'" in error
    p.releases([{**rel, "values": {"cluster": True}}])
    p.up_fails()
    assert sb.kubectl("get", "clusterrole", "esc-everything", check=False) == ""
    # And a release may only target its tenant's namespaces (config, before anything).
    p.releases([{**rel, "namespace": "kube-system"}])
    error = p.preview_fails()
    assert (
        f"releases[0].namespace: namespace 'kube-system' is not a namespace of tenant '{a}'"
        in error
    )
    assert f"allowed: {a_ns}" in error


def test_04_tenants_example(sb: Env, project) -> None:
    p = project("04-tenants")
    stack_file = p.dir / f"Pulumi.{p.stack.name}.yaml"
    doc = yaml.safe_load(stack_file.read_text()) or {}
    example = yaml.safe_load((REPO / "examples" / "04-tenants" / "Pulumi.example.yaml").read_text())
    doc.setdefault("config", {}).update(example["config"])
    stack_file.write_text(yaml.safe_dump(doc))
    result = p.up()
    tenants = result.outputs["tenants"].value
    assert tenants["shop"]["tier"] == "medium"
    assert tenants["shop"]["namespaces"] == ["shop-web", "shop-jobs"]
    assert result.outputs["releases"].value["storefront"]["status"] == "deployed"
    dep = sb.kubectl_json("-n", "shop-web", "get", "deployment", "storefront")
    assert dep["status"]["readyReplicas"] == 2
    hard = sb.kubectl_json("-n", "shop-jobs", "get", "resourcequota", "tenant-shop")["spec"]
    assert hard["hard"]["requests.cpu"] == "8"
    analytics = sb.kubectl_json("get", "namespace", "analytics")["metadata"]["labels"]
    assert analytics["pod-security.kubernetes.io/enforce"] == "baseline"
    denied = as_user(sb, "sam", ["analytics-team"], "-n", "shop-web", "get", "pods")
    assert "forbidden" in denied.stderr.lower()
    allowed = as_user(sb, "sam", ["analytics-team"], "-n", "analytics", "get", "pods")
    assert allowed.returncode == 0, allowed.stderr
    p.destroy()
    assert sb.kubectl("get", "namespace", "shop-web", check=False) == ""


def test_refused_tenant_change_writes_nothing_without_preview(sb: Env, project) -> None:
    """Tenant A moves to a new namespace while B claims A's old one, run as CI does:
    ``up`` with no preview (the Automation API's ``up`` passes ``--skip-preview``). B is
    refused, and A's new namespace is not created: every tenant is checked before the
    first registers anything."""
    a, b = tenant_name(), tenant_name()
    lean = {"tier": "small", "network": {"defaultDeny": False}}
    p = project()
    p.config(
        "helm-enterprise:tenants",
        [
            {"name": a, "namespaces": [f"{a}-1"], **lean},
            {"name": b, "namespaces": [f"{b}-1"], **lean},
        ],
    )
    p.up()
    p.config(
        "helm-enterprise:tenants",
        [
            {"name": a, "namespaces": [f"{a}-2"], **lean},
            {"name": b, "namespaces": [f"{b}-1", f"{a}-1"], **lean},
        ],
    )
    error = p.up_fails()
    line = (
        f"tenants[1].name: a tenant's identity is immutable: {a}-1 was created by this stack "
        f"for tenant '{a}'"
    )
    assert line in error and "Traceback" not in error, error
    assert next(x for x in error.splitlines() if line in x).count(line) == 1
    assert sb.kubectl("get", "namespace", f"{a}-2", check=False) == ""
    # A's old namespace is untouched (still A's), and so is B's.
    labels = sb.kubectl_json("get", "namespace", f"{a}-1")["metadata"]["labels"]
    assert labels["helm-enterprise.io/tenant"] == a
    assert sb.kubectl_json("get", "namespace", f"{b}-1")["metadata"]["name"] == f"{b}-1"


def test_parallel_tenant_stacks_label_only_their_own_objects(
    sb: Env, project, tmp_path: Path
) -> None:
    """Six tenant stacks of one project through `helm-enterprise stacks up`, all at once,
    each with a release of the same name: every object Helm applied carries its own
    stack's and tenant's ownership (each release has its own post-renderer file). With one
    shared file, a stack's Helm ran the launcher another stack had just rewritten (one
    trial run in two with six stacks; the unit tests pin the path choice itself)."""
    p = project()
    suffix = uuid.uuid4().hex[:6]
    stacks = {f"tp{i}-{suffix}": f"t{i}{suffix}" for i in range(6)}
    lean = {"tier": "small", "network": {"defaultDeny": False}}
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(
        yaml.safe_dump(
            {
                "parallel": len(stacks),
                "stacks": [
                    {
                        "name": stack,
                        "config": {
                            "helm-enterprise:tenants": [
                                {"name": t, "namespaces": [f"{t}-web"], **lean}
                            ],
                            "helm-enterprise:releases": [
                                tenant_release(t, f"{t}-web", values={"replicaCount": 1})
                            ],
                        },
                    }
                    for stack, t in stacks.items()
                ],
            }
        )
    )
    project_name = yaml.safe_load((p.dir / "Pulumi.yaml").read_text())["name"]
    t0 = time.monotonic()
    try:
        proc = run_cli(
            *("stacks", "up", "-f", str(catalogue), "--cwd", str(p.dir), "--json"),
            env=sb.env,
            timeout=1200,
            cwd=REPO,
        )
        print(f"stacks up: {time.monotonic() - t0:.0f}s")
        assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
        summary = json.loads(proc.stdout)
        assert [s["result"] for s in summary["stacks"]] == ["succeeded"] * len(stacks)
        for stack, t in stacks.items():
            items = sb.kubectl_json(
                "-n",
                f"{t}-web",
                "get",
                "deployment,service,configmap,secret",
                "-l",
                "helm-enterprise.io/release=hello",
            )["items"]
            kinds = sorted(o["kind"] for o in items)
            assert "Deployment" in kinds and "Service" in kinds, kinds
            for obj in items:
                where = f"{obj['kind']}/{obj['metadata']['name']} in {t}-web"
                labels = obj["metadata"]["labels"]
                assert labels["helm-enterprise.io/stack"] == stack, where
                assert labels["helm-enterprise.io/tenant"] == t, where
                assert obj["metadata"]["annotations"]["helm-enterprise.io/owner"] == (
                    f"{project_name}/{stack}/hello"
                ), where
    finally:
        command = auto.PulumiCommand(root=str(sb.sandbox.toolchain().layout.root))
        ws = auto.LocalWorkspace(work_dir=str(p.dir), env_vars=sb.env, pulumi_command=command)

        def destroy(name: str) -> None:
            try:
                st = auto.Stack.select(name, ws)
            except auto.errors.StackNotFoundError:
                return
            st.destroy(color="never")
            ws.remove_stack(name)

        with ThreadPoolExecutor(len(stacks)) as pool:
            list(pool.map(destroy, stacks))
        print(f"with destroy: {time.monotonic() - t0:.0f}s")
