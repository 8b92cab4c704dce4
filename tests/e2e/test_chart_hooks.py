"""Chart mode and Helm hooks on the real engine: helm.v4.Chart leaves a chart's hooks out,
and the Release says which (``chartMode.hooks: warn``) or stops the preview (``refuse``).
Previews only: nothing is applied."""

from __future__ import annotations

import shutil

from tests.e2e.conftest import REPO, Env


def test_chart_mode_names_the_hooks_it_skips(sb: Env, project, namespace: str) -> None:
    p = project()
    shutil.copytree(REPO / "tests" / "fixtures" / "charts" / "hooks", p.dir / "charts" / "hooks")
    rel = {
        "name": "hooks",
        "namespace": namespace,
        "createNamespace": True,
        "mode": "chart",
        "chart": {"path": "charts/hooks"},
    }
    hooks = "ConfigMap/hooks-notify (post-install, post-upgrade), Job/hooks-migrate (pre-install)"

    # warn (default): the preview goes ahead without the hooks, and says which.
    p.releases([rel])
    p.preview()
    assert f"chart mode does not run the chart's Helm hooks; not applied: {hooks}" in p.text, p.text
    assert "hooks-test" not in p.text  # a `helm test` hook is not lost
    # What the warning claims, seen in the engine's plan: the Chart's objects, no hook.
    planned = [line for line in p.output if "kubernetes:core/v1:ConfigMap" in line]
    assert [line for line in planned if "hooks-config" in line], p.text
    assert not [line for line in planned if "hooks-notify" in line], planned
    assert "kubernetes:batch/v1:Job" not in p.text

    # refuse: the preview fails with one line naming them.
    p.releases([{**rel, "chartMode": {"hooks": "refuse"}}])
    error = p.preview_fails()
    line = (
        f"releases[0].chartMode.hooks: hooks: the chart has Helm hooks that chart mode does "
        f"not run: {hooks} (use mode: release to have Helm run them"
    )
    assert line in error, error
    assert "Traceback" not in error
    assert sb.kubectl("get", "namespace", namespace, check=False) == ""
