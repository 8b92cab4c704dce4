"""`helm-enterprise validate` for CI: human and --json output, exit codes, real preview."""

from __future__ import annotations

import json
import subprocess

from tests.e2e.conftest import Env, run_cli
from tests.e2e.test_release import hello


def validate(sb: Env, p, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("validate", "-s", p.stack.name, "-C", str(p.dir), *args, env=sb.env)


def test_validate_json_reports_schema_findings_from_the_preview(
    sb: Env, project, namespace: str
) -> None:
    p = project()
    p.releases(
        [hello(namespace, values={"replicaCount": "three", "image": {"pullPolicy": "Sometimes"}})]
    )
    proc = validate(sb, p, "--json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    fields = {(f["check"], f["field"]) for f in report["findings"]}
    assert ("schema", "values.replicaCount") in fields
    assert ("schema", "values.image.pullPolicy") in fields
    assert "Sometimes" not in proc.stdout  # values are never echoed
    assert sb.kubectl("get", "namespace", namespace, check=False) == ""  # nothing applied


def test_validate_config_errors_without_pulumi(sb: Env, project, namespace: str) -> None:
    p = project()
    p.releases([hello(namespace, chart={"name": "hello", "repository": "nowhere"})])
    proc = validate(sb, p, "--config-only")
    assert proc.returncode == 1
    assert "releases[0].chart.repository: unknown repository 'nowhere'" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_validate_clean_stack_exits_zero(sb: Env, project, namespace: str) -> None:
    p = project()
    p.releases([hello(namespace)])
    proc = validate(sb, p)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no findings" in proc.stdout


def test_validate_accepts_a_config_reference_to_a_secret_as_pulumi_up_does(
    sb: Env, project, namespace: str
) -> None:
    # docs/features/secrets.md: `pulumi config set --secret vaultSecretId ...` and
    # `secretId: {config: vaultSecretId}`; validate once rejected the extra key.
    p = project()
    p.releases([hello(namespace)])
    p.config(
        "helm-enterprise:vault",
        {"auth": {"method": "approle", "roleId": "e2e", "secretId": {"config": "vaultSecretId"}}},
    )
    p.config("helm-enterprise:vaultSecretId", "e2e-secret-id-value", secret=True)
    proc = validate(sb, p, "--config-only")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no findings" in proc.stdout
    assert "e2e-secret-id-value" not in proc.stdout + proc.stderr
