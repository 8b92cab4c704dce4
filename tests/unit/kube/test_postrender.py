from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from helm_enterprise.kube.postrender import install, relabel

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


def test_launcher_runs_as_helm_would(tmp_path: Path) -> None:
    rel = install(tmp_path, "web", {"k": "v"}, {"a": "b"})
    assert rel == "./.helm-enterprise/postrender/web"
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
