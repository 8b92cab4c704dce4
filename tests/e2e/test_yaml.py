"""The components from Pulumi YAML through the package's resource plugin (issue 15).

The sandbox's YAML language host (built from github.com/pulumi/pulumi-yaml) runs
examples/06-yaml; the engine starts ``pulumi-resource-helm-enterprise`` (the package's
console script) for the ``helm-enterprise:index:*`` resources, and the same components as
in Python construct the tenant and the release.
"""

from __future__ import annotations

import json
from pathlib import Path

from helm_enterprise.sandbox.chartrepo import ChartRepository
from helm_enterprise.sandbox.vault import VaultServer
from tests.e2e.conftest import Env, run_cli
from tests.e2e.test_policy import preview_with_pack, violations
from tests.e2e.test_secrets import leaks, private_repo_with_vault, secret_data


def test_yaml_program_deploys_a_tenant_and_a_private_release_with_a_vault_secret(
    sb: Env, vault: VaultServer, charts: ChartRepository, project
) -> None:
    p, app_password = private_repo_with_vault(vault, charts, project, "06-yaml", "yaml-hello")
    result = p.up()
    assert result.outputs["status"].value == "deployed"
    assert result.outputs["namespace"].value == "yaml-demo"
    # Outputs beyond the annotated ones (the component's properties) reach YAML too.
    assert result.outputs["source"].value == f"{charts.url('basic')}/hello:0.1.0"
    assert result.outputs["injected"].value == ["vault:secret/yaml-hello#password"]
    dep = sb.kubectl_json("-n", "yaml-demo", "get", "deployment", "hello-yaml")
    assert dep["status"].get("readyReplicas") == 1
    assert secret_data(sb, "yaml-demo", "hello-yaml") == {"password": app_password}
    assert leaks(app_password, p.export(), p.text) == []
    assert leaks(charts.password, p.export(), p.text) == []

    # The same types and names as a Python program's: moving between them replaces nothing.
    urns = [r["urn"] for r in p.export_json()["resources"]]
    stack, project_name = p.stack.name, "he-yaml"
    prefix = f"urn:pulumi:{stack}::{project_name}::"
    assert f"{prefix}helm-enterprise:index:Release::web" in urns
    assert (
        f"{prefix}helm-enterprise:index:Release$kubernetes:helm.sh/v3:Release::web-release" in urns
    )
    assert f"{prefix}helm-enterprise:index:Tenant::team" in urns

    # helm-enterprise drift works on the YAML stack as on Python stacks.
    drift = run_cli("drift", "-s", stack, "-C", str(p.dir), "--json", env=p.env)
    assert drift.returncode == 0, drift.stdout + drift.stderr
    summary = json.loads(drift.stdout)["stacks"][0]["summary"]
    assert summary["drifted"] == 0 and summary["in-sync"] >= 4, summary

    # The policy pack sees the YAML stack's rendered objects as a Python stack's.
    p.config("helm-enterprise:policySummary", True)
    (Path(p.dir) / "policy.json").write_text(json.dumps({"required-labels": {"labels": ["team"]}}))
    preview_with_pack(p)
    labels = violations(p.text, "required-labels")
    assert {v["resource"] for v in labels} >= {"Deployment yaml-demo/hello-yaml"}, p.text

    # A bad value fails the preview naming the field as the YAML program spells it.
    program = Path(p.dir) / "Pulumi.yaml"
    program.write_text(program.read_text().replace("readiness: 5m", "readiness: soon"))
    error = p.preview_fails()
    assert "timeouts.readiness: 'soon' is not a duration" in error, error
    assert "Traceback" not in error
    program.write_text(program.read_text().replace("readiness: soon", "readiness: 5m"))

    p.destroy()
    assert sb.kubectl("get", "namespace", "yaml-demo", check=False) == ""
