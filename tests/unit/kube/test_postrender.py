from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from helm_enterprise.kube.postrender import install, launcher_path, relabel

MANIFESTS = """---
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  labels: {app: x, helm-enterprise.io/release: stale}
---
# an empty document from a template that rendered nothing
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: b}
spec: {template: {metadata: {labels: {app: x}}}}
"""


def test_relabel_every_object_keeps_the_rest() -> None:
    out = list(
        yaml.safe_load_all(
            relabel(MANIFESTS, {"helm-enterprise.io/release": "web"}, {"o": "p/s/web"})
        )
    )
    assert [d["kind"] for d in out] == ["ConfigMap", "Deployment"]
    assert out[0]["metadata"]["labels"] == {"app": "x", "helm-enterprise.io/release": "web"}
    assert out[1]["metadata"]["annotations"] == {"o": "p/s/web"}
    assert out[1]["spec"]["template"]["metadata"]["labels"] == {"app": "x"}  # selectors untouched


def test_a_colour_labels_pod_templates_and_may_start_at_another_size(tmp_path: Path) -> None:
    """A colour of a release with a strategy: its Pods carry the rollout's labels (the
    Services select by them), the declared size is recorded, a canary starts empty."""
    colour = {"helm-enterprise.io/rollout": "web", "helm-enterprise.io/colour": "green"}
    deployment = MANIFESTS.replace("spec: {template:", "spec: {replicas: 4, template:")
    workload = {"templateLabels": colour, "replicas": 0}
    out = list(yaml.safe_load_all(relabel(deployment, {}, {}, workload)))
    dep = out[1]
    assert dep["spec"]["template"]["metadata"]["labels"] == {"app": "x", **colour}
    assert dep["spec"]["replicas"] == 0
    assert dep["metadata"]["annotations"]["helm-enterprise.io/replicas"] == "4"
    assert "spec" not in out[0]  # only Deployments are shaped
    # No size given: the declared one stays; a size above the declared one is capped.
    kept = list(yaml.safe_load_all(relabel(deployment, {}, {}, {"templateLabels": colour})))
    assert kept[1]["spec"]["replicas"] == 4
    capped = {"templateLabels": colour, "replicas": 9}
    assert list(yaml.safe_load_all(relabel(deployment, {}, {}, capped)))[1]["spec"]["replicas"] == 4
    # The options are part of the launcher's identity and reach Helm's run of it.
    assert launcher_path("web", {}, {}, workload) != launcher_path("web", {}, {})
    rel = install(tmp_path, "web-green", {}, {}, workload)
    proc = subprocess.run(
        [str(tmp_path / rel)],
        input=deployment,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    assert list(yaml.safe_load_all(proc.stdout))[1]["spec"]["replicas"] == 0


def test_launcher_runs_as_helm_would(tmp_path: Path) -> None:
    rel = install(tmp_path, "web", {"k": "v"}, {"a": "b"})
    assert rel == f"./{launcher_path('web', {'k': 'v'}, {'a': 'b'})}"
    launcher = tmp_path / rel
    assert os.access(launcher, os.X_OK)
    proc = subprocess.run(
        [str(launcher)],
        input=MANIFESTS,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    docs = list(yaml.safe_load_all(proc.stdout))
    assert all(d["metadata"]["labels"]["k"] == "v" for d in docs)
    assert sys.executable in launcher.read_text()


def test_a_launcher_removed_between_runs_of_one_process_is_written_again(tmp_path: Path) -> None:
    """A process checks each launcher once (Automation API programs run many times in one
    process); one removed since (a cleaned checkout) is written again."""
    rel = install(tmp_path, "web", {"k": "v"}, {})
    (tmp_path / rel).unlink()
    assert install(tmp_path, "web", {"k": "v"}, {}) == rel
    assert os.access(tmp_path / rel, os.X_OK)


def test_each_stack_and_tenant_has_its_own_launcher(tmp_path: Path) -> None:
    """Stacks of one project run in parallel from one directory: a release's launcher is
    named after its labels, so no stack's Helm runs another stack's (and a label change is
    a new path, i.e. an upgrade that relabels the objects)."""

    def labels(stack: str, tenant: str) -> dict[str, str]:
        return {"helm-enterprise.io/stack": stack, "helm-enterprise.io/tenant": tenant}

    owner = {"helm-enterprise.io/owner": "proj/p3/web"}
    p3 = install(tmp_path, "web", labels("p3", "t3"), owner)
    p6 = install(tmp_path, "web", labels("p6", "t6"), owner)
    other_tenant = install(tmp_path, "web", labels("p3", "t6"), owner)
    assert len({p3, p6, other_tenant}) == 3
    assert all(p.startswith("./.helm-enterprise/postrender/web-") for p in (p3, p6))
    # Each file holds its own labels, and installing again leaves it as it is.
    assert '"helm-enterprise.io/stack": "p3"' in (tmp_path / p3).read_text()
    assert '"helm-enterprise.io/stack": "p6"' in (tmp_path / p6).read_text()
    before = (tmp_path / p3).stat()
    assert install(tmp_path, "web", labels("p3", "t3"), owner) == p3
    after = (tmp_path / p3).stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    # The path does not depend on the machine (it is recorded in state), only on the labels.
    assert launcher_path("web", labels("p3", "t3"), owner) == Path(p3.removeprefix("./"))
    assert sys.executable not in p3
    # No temporary file is left behind.
    assert sorted(f.name.startswith(".") for f in (tmp_path / p3).parent.iterdir()) == [
        False,
        False,
        False,
    ]


def test_parallel_installs_never_expose_a_partial_or_foreign_launcher(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> tuple[int, str]:
        stack = f"p{i % 6}"
        rel = install(tmp_path, "web", {"helm-enterprise.io/stack": stack}, {})
        return i % 6, (tmp_path / rel).read_text()

    with ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(one, range(120)))
    for i, text in seen:
        assert text.endswith("\n") and f'"helm-enterprise.io/stack": "p{i}"' in text
    assert len(list((tmp_path / ".helm-enterprise" / "postrender").iterdir())) == 6
