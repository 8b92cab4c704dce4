"""Helm post-renderer that puts helm_enterprise's ownership labels on every object.

In release mode Helm renders and applies the objects itself; a post-renderer is the one
place where every object passes through. Helm runs it as a program: manifests on stdin,
manifests on stdout. :func:`install` writes a small launcher under the program directory
(``.helm-enterprise/postrender/<release>-<digest>``); the path recorded in state is
relative and so the same on every machine.

Why the digest: the labels name the stack and the tenant, and several stacks of one
project run at the same time from the same directory (``helm-enterprise stacks up``). One
file per release, rewritten each run, let a stack's Helm run another stack's launcher —
its objects labelled as the other stack's, and refused as someone else's on the next run.
The name is a digest of the labels and annotations, so every stack (and cluster, and
tenant) has its own file, and two runs that write the same name write the same labels; it
is written to a private temporary file and renamed into place, so Helm never runs a
half-written one. A change of labels is a new path, and so an upgrade that relabels the
objects. The interpreter line is not in the digest (the path must not depend on the
machine): a file is only rewritten for another interpreter, with the same labels.

For a colour of a release with a strategy (T3.1/T3.2) it also labels the Pod templates
of Deployments (the Services of the rollout select Pods by those labels), records each
Deployment's declared replicas in ``helm-enterprise.io/replicas`` and, when asked, starts
the Deployment at another size (a canary starts with no Pods; a blue/green preview at
``previewReplicaCount``).

Usage (by Helm): ``python -m helm_enterprise.kube.postrender <labels-json> <annotations-json>
[<workload-json>]``
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

LAUNCHER_DIR = Path(".helm-enterprise") / "postrender"
# Launchers this process has written or found up to date: a program of many releases with
# the same labels checks each file once (its name holds the digest of what it runs).
_current: set[Path] = set()


ANNOTATION_REPLICAS = "helm-enterprise.io/replicas"


def relabel(
    stream: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    workload: Mapping[str, Any] | None = None,
) -> str:
    """Add ``labels``/``annotations`` to every object of a YAML stream; with ``workload``
    (``{"templateLabels": {...}, "replicas": n | null}``) also label the Pod template of
    every Deployment, record its declared replicas, and set ``replicas`` when given."""
    docs: list[Any] = []
    for doc in yaml.safe_load_all(stream):
        if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict):
            meta = doc["metadata"]
            meta["labels"] = {**(meta.get("labels") or {}), **labels}
            meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
            if workload and doc.get("kind") == "Deployment":
                _shape_workload(doc, workload)
        if doc is not None:
            docs.append(doc)
    return yaml.safe_dump_all(docs, sort_keys=False)


def _shape_workload(doc: dict[str, Any], workload: Mapping[str, Any]) -> None:
    spec = doc.setdefault("spec", {})
    template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
    template_meta["labels"] = {
        **(template_meta.get("labels") or {}),
        **(workload.get("templateLabels") or {}),
    }
    declared = spec.get("replicas", 1)
    doc["metadata"]["annotations"][ANNOTATION_REPLICAS] = str(declared)
    if workload.get("replicas") is not None:
        spec["replicas"] = min(int(workload["replicas"]), int(declared))


def launcher_path(
    release: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    workload: Mapping[str, Any] | None = None,
) -> Path:
    """Where the launcher of a release with these labels lives, relative to the program
    directory: ``.helm-enterprise/postrender/<release>-<digest of labels and annotations>``."""
    shape: dict[str, Any] = {"labels": dict(labels), "annotations": dict(annotations)}
    if workload:
        shape["workload"] = dict(workload)
    spec = json.dumps(shape, sort_keys=True)
    return LAUNCHER_DIR / f"{release}-{hashlib.sha256(spec.encode()).hexdigest()[:16]}"


def install(
    base_dir: Path,
    release: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    workload: Mapping[str, Any] | None = None,
) -> str:
    """Write the launcher for one release and its labels (unless it is there already);
    return its path relative to ``base_dir``."""
    rel = launcher_path(release, labels, annotations, workload)
    target = base_dir / rel
    if target in _current and target.exists():
        return f"./{rel}"
    args = " ".join(
        shlex.quote(a)
        for a in (
            sys.executable,
            "-m",
            "helm_enterprise.kube.postrender",
            json.dumps(dict(labels), sort_keys=True),
            json.dumps(dict(annotations), sort_keys=True),
            *([json.dumps(dict(workload), sort_keys=True)] if workload else []),
        )
    )
    content = f"#!/bin/sh\n# helm-enterprise post-renderer for release {release}\nexec {args}\n"
    try:
        if target.read_text() == content:
            _current.add(target)
            return f"./{rel}"
    except OSError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
        Path(tmp).chmod(0o755)  # Helm executes it
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _current.add(target)
    return f"./{rel}"


def main(argv: list[str]) -> int:
    labels, annotations = json.loads(argv[1]), json.loads(argv[2])
    workload = json.loads(argv[3]) if len(argv) > 3 else None
    sys.stdout.write(relabel(sys.stdin.read(), labels, annotations, workload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
