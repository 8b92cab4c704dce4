"""The components from Pulumi YAML through the package's resource plugin (issue 15).

The sandbox's YAML language host (built from github.com/pulumi/pulumi-yaml) runs
examples/06-yaml; the engine starts ``pulumi-resource-helm-enterprise`` (the package's
console script) for the ``helm-enterprise:index:*`` resources, and the same components as
in Python construct the tenant and the release.
"""

from __future__ import annotations

import json
import secrets as pysecrets
from pathlib import Path

from helm_enterprise.sandbox.chartrepo import ChartRepository
from helm_enterprise.sandbox.vault import VaultServer
from tests.e2e.conftest import Env, run_cli
from tests.e2e.test_secrets import leaks, secret_data, write


def test_yaml_program_deploys_a_tenant_and_a_private_release_with_a_vault_secret(
    sb: Env, vault: VaultServer, charts: ChartRepository, project
) -> None:
    app_password = f"app-{pysecrets.token_hex(6)}"
    write(vault, "charts", {"username": charts.username, "password": charts.password})
    write(vault, "hello", {"password": app_password})
    p = project("06-yaml")
    p.config("repoUrl", charts.url("basic"))
    token = vault.client().auth.token.create(policies=["helm-enterprise-read"], ttl="10m")["auth"][
        "client_token"
    ]
    p.stack.workspace.env_vars.update({"VAULT_ADDR": vault.address, "VAULT_TOKEN": token})

    result = p.up()
    assert result.outputs["status"].value == "deployed"
    assert result.outputs["namespace"].value == "yaml-demo"
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

    # A bad value fails the preview naming the field as the YAML program spells it.
    program = Path(p.dir) / "Pulumi.yaml"
    program.write_text(program.read_text().replace("readiness: 5m", "readiness: soon"))
    error = p.preview_fails()
    assert "timeouts.readiness: 'soon' is not a duration" in error, error
    assert "Traceback" not in error
    program.write_text(program.read_text().replace("readiness: soon", "readiness: 5m"))

    p.destroy()
    assert sb.kubectl("get", "namespace", "yaml-demo", check=False) == ""
