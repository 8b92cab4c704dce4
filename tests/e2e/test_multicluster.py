"""Multi-cluster (T4.1, journey 7) and the stack-per-cluster runner (X.1) on clusters a and b.

Sandbox cluster ``a`` plays ``eu-1`` and ``b`` plays ``eu-2``. "A cluster is down" is cluster
b's API server stopped (``Cluster.outage``): other tests may use b, so every outage covers
only the runs that need it and is ended (the API server restarted and the cluster usable)
also when the test fails.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from helm_enterprise.audit import AuditLog
from tests.e2e.conftest import REPO, Env, run_cli
from tests.e2e.test_release import hello as release_on_real_node


def hello(namespace: str, **extra: Any) -> dict[str, Any]:
    """The hello release on kwok's fake nodes. These tests stop cluster b's API server:
    they are about the control plane and the engine, and kwok makes Pods Ready again
    after an outage at once, where a real kubelet cut off for a minute has timing of its
    own (the node goes NotReady and its Pods unready until its next status sync)."""
    release: dict[str, Any] = release_on_real_node(namespace, **extra)
    values = dict(release.get("values") or {})
    values["sandbox"] = {"node": "fake", **(values.get("sandbox") or {})}
    return {**release, "values": values}


def kubeconfigs(sb: Env) -> dict[str, str]:
    return {
        "eu-1": str(sb.sandbox.cluster("a").kubeconfig),
        "eu-2": str(sb.sandbox.cluster("b").kubeconfig),
    }


def deployment(sb: Env, cluster: str, namespace: str) -> dict[str, Any]:
    data: dict[str, Any] = sb.kubectl_json(
        "-n", namespace, "get", "deployment", "hello", cluster=cluster
    )
    return data


def message(sb: Env, cluster: str, namespace: str) -> str:
    cm = sb.kubectl_json("-n", namespace, "get", "configmap", "hello-config", cluster=cluster)
    return str(cm["data"]["message"])


def helm_releases(sb: Env, cluster: str, namespace: str) -> list[str]:
    """Helm's release records in ``namespace`` (read with kubectl, not our code)."""
    secrets = sb.kubectl_json(
        "-n", namespace, "get", "secrets", "-l", "owner=helm", cluster=cluster
    )
    return sorted(s["metadata"]["name"] for s in secrets["items"])


def outage(sb: Env) -> Any:
    """Cluster b's API server is down inside the block."""
    return sb.sandbox.cluster("b").outage(progress=lambda m: print(f"[sandbox] {m}"))


def events(audit: Path, action: str) -> list[dict[str, Any]]:
    return [e for e in AuditLog(audit).records() if e["action"] == action]


def test_example_rolling_with_overrides_then_a_cluster_down(
    sb: Env, project, tmp_path: Path
) -> None:
    """examples/05-multi-cluster: both healthy → both deployed, in order, with their
    overrides; eu-2 down → `fail` stops the run, `exclude` deploys eu-1 and keeps eu-2
    as it was; eu-2 back → it catches up."""
    ns = "multi-cluster-example"
    audit = tmp_path / "audit.jsonl"
    p = project("05-multi-cluster")
    p.stack.workspace.env_vars["HELM_ENTERPRISE_AUDIT_LOG"] = str(audit)
    p.config("kubeconfigs", kubeconfigs(sb))

    out = p.up().outputs
    assert out["plan"].value == {"eu-1": "deploy", "eu-2": "deploy"}
    assert out["statuses"].value == {"eu-1": "deployed", "eu-2": "deployed"}
    # Overrides: eu-1 runs 2 replicas, eu-2 the definition's 1 plus its own pod label.
    eu1, eu2 = deployment(sb, "a", ns), deployment(sb, "b", ns)
    assert eu1["status"]["readyReplicas"] == 2
    assert eu2["status"]["readyReplicas"] == 1
    assert eu2["spec"]["template"]["metadata"]["labels"]["region"] == "eu-2"
    assert "region" not in eu1["spec"]["template"]["metadata"]["labels"]
    # One at a time: eu-2 was created only after eu-1 was ready.
    available = next(c for c in eu1["status"]["conditions"] if c["type"] == "Available")
    assert available["lastTransitionTime"] <= eu2["metadata"]["creationTimestamp"]
    deployed = events(audit, "multi-cluster-deploy")
    assert [(e["cluster"], e["position"]) for e in deployed] == [("eu-1", 1), ("eu-2", 2)]

    p.config("message", "v2")
    with outage(sb):
        # unreachable: fail (the example's default) — nothing is changed anywhere.
        error = p.up_fails()
        assert "hello: eu-2 is unreachable" in error
        assert "Connection refused" in error and "unreachable: exclude" in error
        assert "Traceback" not in error
        assert message(sb, "a", ns) == "hello from the EU"

        # unreachable: exclude — eu-1 is upgraded, eu-2 is kept as it was, with a warning.
        p.config("unreachable", "exclude")
        out = p.up().outputs
        assert out["plan"].value == {"eu-1": "deploy", "eu-2": "keep"}
        assert out["deployed"].value == ["eu-1"]
        assert message(sb, "a", ns) == "v2"
        assert "cluster eu-2 excluded, unreachable" in p.text
        assert "stays as last deployed" in p.text
    excluded = events(audit, "cluster-excluded")
    assert excluded[-1]["cluster"] == "eu-2" and excluded[-1]["action_taken"] == "keep"
    assert "Connection refused" in excluded[-1]["why"]
    assert [e["result"] for e in events(audit, "multi-cluster-plan")][-2:] == ["failed", "planned"]
    assert message(sb, "b", ns) == "hello from the EU"  # untouched while it was away
    assert [h["revision"] for h in sb.helm_history("hello", ns, cluster="b")] == [1]

    # eu-2 is back: the next run brings it up to date.
    out = p.up().outputs
    assert out["plan"].value == {"eu-1": "deploy", "eu-2": "deploy"}
    assert message(sb, "b", ns) == "v2"
    assert [h["revision"] for h in sb.helm_history("hello", ns, cluster="b")] == [1, 2]
    assert AuditLog(audit).verify().ok

    p.destroy()
    for cluster in ("a", "b"):
        assert sb.kubectl("get", "namespace", ns, cluster=cluster, check=False) == ""


def test_active_passive_fails_over_to_the_standby_and_back(
    sb: Env, project, namespace: str, tmp_path: Path
) -> None:
    """Stack config (helm-enterprise:clusters + multiClusterReleases): the primary eu-2 takes
    the release; with eu-2 down the standby eu-1 takes it; with eu-2 back it returns there
    and the standby's copy is removed."""
    audit = tmp_path / "audit.jsonl"
    p = project()
    p.stack.workspace.env_vars["HELM_ENTERPRISE_AUDIT_LOG"] = str(audit)
    p.config(
        "helm-enterprise:clusters",
        {name: {"kubeconfig": path} for name, path in kubeconfigs(sb).items()},
    )
    p.config(
        "helm-enterprise:multiClusterReleases",
        [
            {
                **hello(namespace),
                "strategy": "active-passive",
                "clusters": [{"name": "eu-2"}, {"name": "eu-1", "role": "standby"}],
            }
        ],
    )

    def run() -> dict[str, Any]:
        value: dict[str, Any] = p.up().outputs["multiClusterReleases"].value["hello"]
        return value

    out = run()
    assert out["plan"] == {"eu-2": "deploy", "eu-1": "idle"} and out["failover"] is None
    assert deployment(sb, "b", namespace)["status"]["readyReplicas"] == 2
    assert sb.kubectl("get", "namespace", namespace, cluster="a", check=False) == ""

    with outage(sb):
        out = run()
        assert out["plan"] == {"eu-2": "keep", "eu-1": "deploy"}
        assert out["failover"] == "eu-2 -> eu-1"
        assert out["statuses"] == {"eu-1": "deployed"}
        assert deployment(sb, "a", namespace)["status"]["readyReplicas"] == 2
        assert "failover — primary eu-2 is unreachable" in p.text
        assert "deploying to standby eu-1" in p.text
    failover = events(audit, "failover")
    assert (failover[-1]["primary"], failover[-1]["standby"]) == ("eu-2", "eu-1")

    # The primary is back: the release returns to it, the standby's copy goes.
    out = run()
    assert out["plan"] == {"eu-2": "deploy", "eu-1": "idle"} and out["failover"] is None
    assert helm_releases(sb, "b", namespace) != []
    assert sb.kubectl("get", "namespace", namespace, cluster="a", check=False) == ""


def _wait_for(what: str, check: Any, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _ready_pods(sb: Env, namespace: str, annotation: str) -> int:
    """Ready Pods on eu-2 whose template carries ``annotation``."""
    pods = sb.kubectl_json("-n", namespace, "get", "pods", cluster="b")["items"]
    return sum(
        1
        for pod in pods
        if annotation in (pod["metadata"].get("annotations") or {})
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in pod.get("status", {}).get("conditions") or []
        )
    )


def _diagnosis(sb: Env, namespace: str) -> str:
    """eu-2's Helm history, Pods and Nodes, for a failure message."""
    pods = sb.kubectl("-n", namespace, "get", "pods,rs", "-o", "wide", cluster="b")
    conditions = sb.kubectl(
        "-n",
        namespace,
        "get",
        "pods",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.status.phase} "
        "{.status.conditions}{'\\n'}{end}",
        cluster="b",
    )
    events = sb.kubectl("-n", namespace, "get", "events", cluster="b")
    nodes = sb.kubectl("get", "nodes", cluster="b")
    history = [
        (h["revision"], h["status"], h["description"][:160])
        for h in sb.helm_history("hello", namespace, cluster="b")
    ]
    return f"{history}\n{pods}\n{conditions}\n{events}\n{nodes}"


def test_cluster_lost_while_helm_waits_then_the_next_run_converges(
    sb: Env, project, namespace: str, tmp_path: Path
) -> None:
    """Issue 10: eu-2's API server dies for a minute while Helm waits for eu-2's slow
    rollout (one new Pod Ready, the other not yet), audit trail on. The run fails with
    one-line errors and no traceback, and Helm's record stays pending-upgrade. With eu-2
    back, the next `pulumi up` recovers the record and converges — eu-2 deployed with the
    desired values — and a preview then shows no changes."""
    slow = "sandbox.helm-enterprise.io/ready-after"
    audit = tmp_path / "audit.jsonl"
    p = project()
    p.config("helm-enterprise:audit", {"log": str(audit)})
    p.config(
        "helm-enterprise:clusters",
        {name: {"kubeconfig": path} for name, path in kubeconfigs(sb).items()},
    )

    def define(message: str, ready_after: str = "") -> None:
        eu2: dict[str, Any] = {"name": "eu-2"}
        if ready_after:
            eu2["values"] = {"sandbox": {"readyAfter": ready_after}}
        release = hello(namespace, values={"replicaCount": 2, "message": message})
        release["timeouts"] = {"readiness": "30s"}
        p.config(
            "helm-enterprise:multiClusterReleases",
            [{**release, "clusters": [{"name": "eu-1"}, eu2]}],
        )

    define("v1")
    p.up()
    define("v2", ready_after="10s")
    failure: list[str] = []
    upgrade = threading.Thread(target=lambda: failure.append(p.up_fails()))
    upgrade.start()
    try:
        # Helm waits on eu-2: the first new Pod is Ready, the second one not yet.
        _wait_for(
            "the first new Pod on eu-2",
            lambda: _ready_pods(sb, namespace, slow) >= 1,
        )
        with outage(sb):
            started = time.monotonic()
            upgrade.join(timeout=240)
            assert not upgrade.is_alive(), "the run did not end while eu-2 was down"
            # Down for a minute, as reported: longer than the node-lifecycle controller's
            # grace period (50s), and every client of eu-2's API backs off meanwhile.
            time.sleep(max(0.0, 60 - (time.monotonic() - started)))
    finally:
        upgrade.join(timeout=240)
    # The run's errors, each one line: Helm's, and ours from the audit trail (the rollback
    # Helm may have done cannot be read). The engine then interrupts the program, which
    # waits to serve hooks: no KeyboardInterrupt traceback follows.
    error = failure[0]
    assert 'Helm release "' + namespace + '/hello" failed' in error
    assert "audit: after the failed update of hello: cluster" in error
    assert "Traceback" not in error and "KeyboardInterrupt" not in error, error
    assert any(e["result"] == "failed" for e in events(audit, "update"))
    assert sb.helm_history("hello", namespace, cluster="b")[-1]["status"] == "pending-upgrade"

    # eu-2 is back: the next run recovers the stuck revision and converges.
    try:
        out = p.up().outputs["multiClusterReleases"].value["hello"]
    except auto.errors.CommandError as err:
        raise AssertionError(f"{str(err)[-3000:]}\n{_diagnosis(sb, namespace)}") from None
    assert "stuck in pending-upgrade; marking it failed" in p.text
    assert out["statuses"] == {"eu-1": "deployed", "eu-2": "deployed"}
    assert message(sb, "b", namespace) == "v2"
    dep = deployment(sb, "b", namespace)
    assert dep["spec"]["template"]["metadata"]["annotations"][slow] == "10s"
    assert dep["status"]["readyReplicas"] == 2
    assert sb.helm_history("hello", namespace, cluster="b")[-1]["status"] == "deployed"
    p.stack.preview(expect_no_changes=True, on_output=p.output.append, color="never")


def test_stack_per_cluster_runner_deploys_stacks_in_parallel(
    sb: Env, project, namespace: str, tmp_path: Path
) -> None:
    """X.1 / stack-per-cluster: `helm-enterprise stacks up` creates one stack per cluster
    from a catalogue, runs them in parallel and prints a JSON summary."""
    p = project()
    suffix = uuid.uuid4().hex[:6]
    names = {"a": f"eu-1-{suffix}", "b": f"eu-2-{suffix}"}
    paths = kubeconfigs(sb)
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(
        yaml.safe_dump(
            {
                "parallel": 2,
                "config": {"helm-enterprise:releases": [hello(namespace)]},
                "stacks": [
                    {"name": names["a"], "cluster": {"kubeconfig": paths["eu-1"]}},
                    {
                        "name": names["b"],
                        "cluster": {"kubeconfig": paths["eu-2"]},
                        "config": {
                            "helm-enterprise:releases": [
                                hello(namespace, values={"replicaCount": 1, "message": "eu-2"})
                            ]
                        },
                    },
                ],
            }
        )
    )
    audit = tmp_path / "audit.jsonl"
    try:
        proc = run_cli(
            *("stacks", "up", "-f", str(catalogue), "--cwd", str(p.dir), "--json"),
            env={**sb.env, "HELM_ENTERPRISE_AUDIT_LOG": str(audit)},
            timeout=1200,
            cwd=REPO,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        summary = json.loads(proc.stdout)
        assert summary["ok"] is True
        assert [(s["stack"], s["result"]) for s in summary["stacks"]] == [
            (names["a"], "succeeded"),
            (names["b"], "succeeded"),
        ]
        assert all(s["changes"].get("create", 0) >= 3 for s in summary["stacks"])
        assert f"{names['a']}: succeeded" in proc.stderr  # human progress on stderr
        # Each stack deployed to its own cluster, with its own config.
        assert deployment(sb, "a", namespace)["status"]["readyReplicas"] == 2
        assert deployment(sb, "b", namespace)["status"]["readyReplicas"] == 1
        assert message(sb, "b", namespace) == "eu-2"
        # In parallel: the two runs overlapped.
        runs = {e["stack"]: e for e in events(audit, "stack-operation")}
        assert set(runs) == set(names.values())
        started = [e for e in events(audit, "stack-operation") if e["phase"] == "before"]
        finished = [e for e in events(audit, "stack-operation") if e["phase"] == "after"]
        assert max(e["time"] for e in started) < min(e["time"] for e in finished)
    finally:
        command = auto.PulumiCommand(root=str(sb.sandbox.toolchain().layout.root))
        ws = auto.LocalWorkspace(work_dir=str(p.dir), env_vars=sb.env, pulumi_command=command)
        for name in names.values():
            try:
                st = auto.Stack.select(name, ws)
            except auto.errors.StackNotFoundError:
                continue
            st.destroy(color="never")
            ws.remove_stack(name)
