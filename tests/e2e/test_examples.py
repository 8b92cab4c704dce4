"""Every program under examples/ is deployed for real (02 needs Vault: test_secrets.py)."""

from __future__ import annotations

import yaml

from tests.e2e.conftest import REPO, Env


def test_01_quickstart(sb: Env, project) -> None:
    p = project("01-quickstart")
    result = p.up()
    assert result.outputs["status"].value == "deployed"
    assert result.outputs["namespace"].value == "quickstart-example"
    dep = sb.kubectl_json("-n", "quickstart-example", "get", "deployment", "hello")
    assert dep["status"]["readyReplicas"] == 2
    p.destroy()
    assert sb.kubectl("get", "namespace", "quickstart-example", check=False) == ""


def test_03_config_only(sb: Env, project) -> None:
    p = project("03-config-only")
    # The example's stack file, merged into the stack's own (which holds its encryption salt).
    stack_file = p.dir / f"Pulumi.{p.stack.name}.yaml"
    doc = yaml.safe_load(stack_file.read_text()) or {}
    example = yaml.safe_load(
        (REPO / "examples" / "03-config-only" / "Pulumi.example.yaml").read_text()
    )
    doc.setdefault("config", {}).update(example["config"])
    stack_file.write_text(yaml.safe_dump(doc))
    result = p.up()
    releases = result.outputs["releases"].value
    assert {name: r["status"] for name, r in releases.items()} == {
        "web": "deployed",
        "worker": "deployed",
    }
    # dependsOn: worker was created after web was ready.
    web = sb.kubectl_json("-n", "config-only", "get", "deployment", "web")
    worker = sb.kubectl_json("-n", "config-only", "get", "deployment", "worker")
    assert web["metadata"]["creationTimestamp"] <= worker["metadata"]["creationTimestamp"]
    assert web["status"]["readyReplicas"] == 2
