"""Helm post-renderer that puts helm_enterprise's ownership labels on every object.

In release mode Helm renders and applies the objects itself; a post-renderer is the one
place where every object passes through. Helm runs it as a program: manifests on stdin,
manifests on stdout. :func:`install` writes a small launcher per release under the
program directory (``.helm-enterprise/postrender/<release>``) — the path recorded in state
is relative and so the same on every machine; the launcher is rewritten on every run.

Usage (by Helm): ``python -m helm_enterprise.kube.postrender <labels-json> <annotations-json>``
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

LAUNCHER_DIR = Path(".helm-enterprise") / "postrender"


def relabel(stream: str, labels: Mapping[str, str], annotations: Mapping[str, str]) -> str:
    """Add ``labels``/``annotations`` to every object of a YAML stream."""
    docs: list[Any] = []
    for doc in yaml.safe_load_all(stream):
        if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict):
            meta = doc["metadata"]
            meta["labels"] = {**(meta.get("labels") or {}), **labels}
            meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
        if doc is not None:
            docs.append(doc)
    return yaml.safe_dump_all(docs, sort_keys=False)


def install(
    base_dir: Path, release: str, labels: Mapping[str, str], annotations: Mapping[str, str]
) -> str:
    """Write the launcher for one release; return its path relative to ``base_dir``."""
    rel = LAUNCHER_DIR / release
    target = base_dir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    args = " ".join(
        shlex.quote(a)
        for a in (
            sys.executable,
            "-m",
            "helm_enterprise.kube.postrender",
            json.dumps(dict(labels), sort_keys=True),
            json.dumps(dict(annotations), sort_keys=True),
        )
    )
    content = (
        f"#!/bin/sh\n# helm-enterprise post-renderer for release {release}; regenerated each run\n"
        f"exec {args}\n"
    )
    if not target.exists() or target.read_text() != content:
        tmp = target.with_suffix(".tmp")
        tmp.write_text(content)
        tmp.chmod(0o755)
        tmp.replace(target)
    return f"./{rel}"


def main(argv: list[str]) -> int:
    labels, annotations = json.loads(argv[1]), json.loads(argv[2])
    sys.stdout.write(relabel(sys.stdin.read(), labels, annotations))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
