"""Helm hooks in a rendered chart and chart mode's decision about them; and the cheap
"does this chart mention hooks at all" test that saves a render."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from helm_enterprise.kube.helm_hooks import Hook, decide, hooks_in
from helm_enterprise.sources.chartfile import may_mention

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "charts" / "hooks"
HELLO = Path(__file__).resolve().parents[3] / "charts" / "hello"


def obj(kind: str, name: str, hook: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if hook is not None:
        meta["annotations"] = {"helm.sh/hook": hook, "other": "x"}
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


def test_hooks_in_finds_lifecycle_hooks_sorted_and_skips_tests() -> None:
    objects = [
        obj("ConfigMap", "plain"),
        obj("Job", "migrate", "pre-install"),
        obj("Pod", "smoke", "test"),
        obj("Pod", "old-style", "test-success"),
        obj("ConfigMap", "notify", " post-install , post-upgrade "),
        obj("Job", "cleanup", "pre-delete,test"),
    ]
    assert hooks_in(objects) == [
        Hook("ConfigMap", "notify", ("post-install", "post-upgrade")),
        Hook("Job", "cleanup", ("pre-delete", "test")),
        Hook("Job", "migrate", ("pre-install",)),
    ]
    assert hooks_in([obj("Deployment", "web")]) == []


@pytest.mark.parametrize(
    ("policy", "severity", "fragment"),
    [
        ("warn", "warning", "chart mode does not run the chart's Helm hooks; not applied: "),
        ("refuse", "error", "the chart has Helm hooks that chart mode does not run: "),
    ],
)
def test_decide_names_every_hook(policy: Any, severity: str, fragment: str) -> None:
    hooks = [Hook("Job", "podinfo-hook", ("pre-install",)), Hook("Job", "b", ("post-upgrade",))]
    finding = decide("web", hooks, policy, "releases[0].chartMode.hooks")
    assert finding is not None
    assert finding.severity == severity and finding.check == "chart-hooks"
    assert finding.field == "releases[0].chartMode.hooks"
    assert finding.message == fragment + "Job/podinfo-hook (pre-install), Job/b (post-upgrade)"
    assert "mode: release" in finding.hint
    assert "\n" not in finding.line()


def test_no_hooks_no_finding() -> None:
    assert decide("web", [], "refuse", "chartMode.hooks") is None


def test_may_mention_directory_archive_and_subchart(tmp_path: Path) -> None:
    assert may_mention(FIXTURE, "helm.sh/hook")
    assert not may_mention(HELLO, "helm.sh/hook")
    # A packaged chart, and a hook only in a packaged subchart of a chart directory.
    archive = tmp_path / "hooks-0.1.0.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(FIXTURE, arcname="hooks")
    assert may_mention(archive, "helm.sh/hook")
    parent = tmp_path / "parent"
    shutil.copytree(HELLO, parent)
    (parent / "charts").mkdir(exist_ok=True)
    shutil.copy(archive, parent / "charts" / archive.name)
    assert may_mention(parent, "helm.sh/hook")
    # Markdown (a README explaining hooks) is not a template.
    docs = tmp_path / "docs-only"
    shutil.copytree(HELLO, docs)
    (docs / "README.md").write_text("This chart has no helm.sh/hook annotations.\n")
    assert not may_mention(docs, "helm.sh/hook")


def test_may_mention_is_conservative_when_unreadable(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tgz"
    broken.write_bytes(b"not a tarball")
    assert may_mention(broken, "helm.sh/hook")
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        info = tarfile.TarInfo("c/Chart.yaml")
        body = b"name: c\nversion: 1.0.0\n"
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    clean = tmp_path / "clean.tgz"
    clean.write_bytes(data.getvalue())
    assert not may_mention(clean, "helm.sh/hook")
