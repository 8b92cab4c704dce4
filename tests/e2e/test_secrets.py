"""Vault secrets (T1.2) through the real engine and the sandbox's real Vault."""

from __future__ import annotations

import base64
import secrets as pysecrets
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from helm_enterprise.audit import default_log_path
from helm_enterprise.sandbox import _paths
from helm_enterprise.sandbox.chartrepo import ChartRepository
from helm_enterprise.sandbox.vault import VaultServer
from tests.e2e.conftest import Env
from tests.e2e.test_release import hello


def approle(p, vault: VaultServer) -> None:
    role_id, secret_id = vault.approle_credentials()
    p.config(
        "helm-enterprise:vault",
        {
            "address": vault.address,
            "auth": {
                "method": "approle",
                "roleId": role_id,
                "secretId": {"config": "helm-enterprise:vaultSecretId"},
            },
        },
    )
    p.config("helm-enterprise:vaultSecretId", secret_id, secret=True)


def write(vault: VaultServer, path: str, data: dict[str, str], mount: str = "secret") -> None:
    client = vault.client()
    if mount == "secret":
        client.secrets.kv.v2.create_or_update_secret(path=path, secret=data, mount_point=mount)
    else:
        client.secrets.kv.v1.create_or_update_secret(path=path, secret=data, mount_point=mount)


def secret_data(sb: Env, namespace: str, release: str = "hello") -> dict[str, str]:
    data = sb.kubectl_json("-n", namespace, "get", "secret", f"{release}-secret")["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def workload_env(sb: Env, namespace: str, release: str = "hello") -> dict[str, str]:
    """The environment of the pod behind the release's Service (podinfo's ``/env``, read
    through the API server's service proxy). Holds secret values: compare, never print."""
    resp = sb.service_get(namespace, release, "/env")
    assert resp.status_code == 200, f"GET /env through the service proxy: {resp.status_code}"
    return dict(item.split("=", 1) for item in resp.json() if "=" in item)


def leaks(value: str, *texts: str) -> list[str]:
    """Where ``value`` appears: the given texts and every sandbox and audit log."""
    found = [f"text[{i}]" for i, t in enumerate(texts) if value in t]
    for path in [*_paths.logs_dir().glob("*.log"), default_log_path()]:
        if path.exists() and value in path.read_text(errors="replace"):
            found.append(str(path))
    return found


def test_vault_secret_reaches_the_workload_and_nothing_else(
    sb: Env, vault: VaultServer, project, namespace: str
) -> None:
    value = f"pw-{pysecrets.token_hex(8)}"
    write(vault, f"e2e/{namespace}/db", {"password": value, "user": "app"})
    p = project()
    approle(p, vault)
    p.releases(
        [
            hello(
                namespace,
                secretValues={"secret.password": f"vault:secret/e2e/{namespace}/db#password"},
                values={
                    "replicaCount": 1,
                    "message": f"user ${{vault:secret/e2e/{namespace}/db#user}}",
                },
            )
        ]
    )
    result = p.up()
    assert secret_data(sb, namespace) == {"password": value}
    assert (
        sb.kubectl_json("-n", namespace, "get", "configmap", "hello-config")["data"]["message"]
        == "user app"
    )
    assert leaks(value, p.export(), p.text, str(result.outputs)) == []
    # The workload really got it: the pod on the real node has it in its environment.
    first_pods = {pod["metadata"]["name"] for pod in sb.pods(namespace)}
    sees_value = workload_env(sb, namespace).get("SECRET_PASSWORD") == value
    assert sees_value, "the pod does not see the Vault value"
    # Rotation: a new Vault version rolls the pods on the next `pulumi up`.
    before = sb.kubectl_json("-n", namespace, "get", "deployment", "hello")
    rotated = f"pw-{pysecrets.token_hex(8)}"
    write(vault, f"e2e/{namespace}/db", {"password": rotated, "user": "app"})
    p.up()
    after = sb.kubectl_json("-n", namespace, "get", "deployment", "hello")
    key = "helm-enterprise.io/secrets-checksum"
    assert (
        before["spec"]["template"]["metadata"]["annotations"][key]
        != after["spec"]["template"]["metadata"]["annotations"][key]
    )
    assert after["metadata"]["generation"] > before["metadata"]["generation"]
    assert after["status"]["readyReplicas"] == 1
    assert secret_data(sb, namespace) == {"password": rotated}
    # The NEW pod serves the rotated value (compared here, never printed).
    # (The old pod may still be terminating: it is no endpoint of the Service any more.)
    live = {
        pod["metadata"]["name"]
        for pod in sb.pods(namespace)
        if not pod["metadata"].get("deletionTimestamp")
    }
    assert live and first_pods.isdisjoint(live), (first_pods, live)
    sees_rotated = workload_env(sb, namespace).get("SECRET_PASSWORD") == rotated
    assert sees_rotated, "the new pod does not see the rotated value"
    assert leaks(rotated, p.export(), p.text) == []


@pytest.mark.parametrize("method", ["token", "jwt", "kv1"])
def test_auth_methods_and_kv_versions(
    sb: Env, vault: VaultServer, project, namespace: str, method: str
) -> None:
    value = f"v-{pysecrets.token_hex(6)}"
    mount = "kv1" if method == "kv1" else "secret"
    write(vault, f"e2e/{namespace}", {"k": value}, mount=mount)
    p = project()
    if method == "token":
        p.stack.workspace.env_vars["E2E_VAULT_TOKEN"] = vault.client().auth.token.create(
            policies=["helm-enterprise-read"], ttl="10m"
        )["auth"]["client_token"]
        p.config(
            "helm-enterprise:vault",
            {
                "address": vault.address,
                "auth": {"method": "token", "token": {"env": "E2E_VAULT_TOKEN"}},
            },
        )
    elif method == "jwt":
        p.config(
            "helm-enterprise:vault",
            {
                "address": vault.address,
                "auth": {
                    "method": "jwt",
                    "role": "helm-enterprise",
                    "jwt": {"config": "helm-enterprise:ciJwt"},
                },
            },
        )
        p.config("helm-enterprise:ciJwt", vault.mint_jwt("ci-pipeline"), secret=True)
    else:
        approle(p, vault)
    p.releases([hello(namespace, secretValues={"secret.k": f"vault:{mount}/e2e/{namespace}#k"})])
    p.up()
    assert secret_data(sb, namespace) == {"k": value}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unreachable", "Vault at http://127.0.0.1:9 unreachable (path secret/e2e/"),
        ("denied", "denied access to secret/e2e/"),
        ("missing-path", "has no secret at secret/e2e/"),
        ("missing-key", "has no key 'nope' (keys there: k)"),
    ],
)
def test_vault_failures_fail_preview_clearly(
    sb: Env, vault: VaultServer, project, namespace: str, case: str, expected: str
) -> None:
    value = f"v-{pysecrets.token_hex(6)}"
    write(vault, f"e2e/{namespace}", {"k": value})
    p = project()
    approle(p, vault)
    ref = f"vault:secret/e2e/{namespace}#k"
    if case == "unreachable":
        p.config(
            "helm-enterprise:vault",
            {
                "address": "http://127.0.0.1:9",
                "auth": {"method": "token", "token": {"env": "E2E_VAULT_TOKEN"}},
            },
        )
        p.stack.workspace.env_vars["E2E_VAULT_TOKEN"] = "t"
    elif case == "denied":
        p.stack.workspace.env_vars["E2E_VAULT_TOKEN"] = vault.denied_token()
        p.config(
            "helm-enterprise:vault",
            {
                "address": vault.address,
                "auth": {"method": "token", "token": {"env": "E2E_VAULT_TOKEN"}},
            },
        )
    elif case == "missing-path":
        ref = f"vault:secret/e2e/{namespace}-{uuid.uuid4().hex[:4]}#k"
    else:
        ref = f"vault:secret/e2e/{namespace}#nope"
    p.releases([hello(namespace, secretValues={"secret.k": ref})])
    error = p.preview_fails()
    assert expected in error, error
    assert "Traceback" not in error and value not in error
    assert sb.kubectl("get", "namespace", namespace, check=False) == ""


def private_repo_with_vault(
    vault: VaultServer, charts: ChartRepository, project: Any, example: str, app_path: str
) -> tuple[Any, str]:
    """The example's project with what it expects: the repository's credentials and the
    app's password in Vault (at ``secret/<app_path>``: each example its own, since tests
    run side by side), ``repoUrl``, and a read-only Vault token in its environment.
    Returns the project and the app's password (to grep for)."""
    app_password = f"app-{pysecrets.token_hex(6)}"
    write(vault, "charts", {"username": charts.username, "password": charts.password})
    write(vault, app_path, {"password": app_password})
    p = project(example)
    p.config("repoUrl", charts.url("basic"))
    token = vault.client().auth.token.create(policies=["helm-enterprise-read"], ttl="10m")["auth"][
        "client_token"
    ]
    p.stack.workspace.env_vars.update({"VAULT_ADDR": vault.address, "VAULT_TOKEN": token})
    return p, app_password


def test_example_02_private_repo_and_vault(
    sb: Env, vault: VaultServer, charts: ChartRepository, project
) -> None:
    p, app_password = private_repo_with_vault(
        vault, charts, project, "02-private-repo-vault", "hello"
    )
    result = p.up()
    assert result.outputs["status"].value == "deployed"
    # From Vault KV v2 versions, not values: not secret, and 64 hex digits.
    assert len(result.outputs["secretsChecksum"].value) == 64
    assert secret_data(sb, "private-demo", "hello-private") == {"password": app_password}
    assert leaks(app_password, p.export(), p.text) == []
    assert leaks(charts.password, p.export(), p.text) == []
    p.destroy()
    assert Path(p.dir).exists()


def test_kubernetes_auth_with_a_service_account_token(
    sb: Env, vault: VaultServer, project, namespace: str, tmp_path: Path
) -> None:
    """Vault's Kubernetes auth against the sandbox cluster: Vault checks the deployer's
    ServiceAccount token with the API server's TokenReview, then the release reads as it."""
    value = f"v-{pysecrets.token_hex(6)}"
    write(vault, f"e2e/{namespace}", {"k": value})
    sb.kubectl("create", "namespace", namespace)
    for sa in ("vault-reviewer", "deployer"):
        sb.kubectl("-n", namespace, "create", "serviceaccount", sa)
    binding = f"{namespace}-vault-reviewer"
    sb.kubectl(
        "create", "clusterrolebinding", binding, "--clusterrole=system:auth-delegator",
        f"--serviceaccount={namespace}:vault-reviewer",
    )  # fmt: skip
    reviewer_jwt = sb.kubectl("-n", namespace, "create", "token", "vault-reviewer").strip()
    deployer_jwt = tmp_path / "deployer.jwt"
    deployer_jwt.write_text(sb.kubectl("-n", namespace, "create", "token", "deployer").strip())
    deployer_jwt.chmod(0o600)
    kubeconfig = yaml.safe_load(sb.sandbox.cluster("a").kubeconfig.read_text())
    ca_pem = base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"])
    mount = f"k8s-{namespace}"
    root = vault.client()
    root.sys.enable_auth_method("kubernetes", path=mount)
    try:
        root.auth.kubernetes.configure(
            kubernetes_host=sb.sandbox.cluster("a").server,
            kubernetes_ca_cert=ca_pem.decode(),
            token_reviewer_jwt=reviewer_jwt,
            mount_point=mount,
        )
        root.auth.kubernetes.create_role(
            "deployer",
            bound_service_account_names=["deployer"],
            bound_service_account_namespaces=[namespace],
            policies=["helm-enterprise-read"],
            ttl="10m",
            mount_point=mount,
        )
        p = project()
        p.config(
            "helm-enterprise:vault",
            {
                "address": vault.address,
                "auth": {
                    "method": "kubernetes",
                    "mount": mount,
                    "role": "deployer",
                    "jwt": {"file": str(deployer_jwt)},
                },
            },
        )
        release = hello(namespace, createNamespace=False)
        release["secretValues"] = {"secret.k": f"vault:secret/e2e/{namespace}#k"}
        p.releases([release])
        p.up()
        assert secret_data(sb, namespace) == {"k": value}
        assert leaks(value, p.export(), p.text) == []
        # Another ServiceAccount's token is refused by the role, with the mount named.
        deployer_jwt.write_text(
            sb.kubectl("-n", namespace, "create", "token", "vault-reviewer").strip()
        )
        p.config("helm-enterprise:releases", [{**release, "values": {"replicaCount": 1}}])
        error = p.preview_fails() + p.text
        assert f"(kubernetes login) denied access to auth/{mount}" in error
        assert "Traceback" not in error
    finally:
        root.sys.disable_auth_method(path=mount)
        sb.kubectl("delete", "clusterrolebinding", binding, check=False)


def test_env_file_and_k8s_backends_through_the_secret_backend_seam(
    sb: Env, project, namespace: str, tmp_path: Path
) -> None:
    """The backends that need no Vault, through the same protocol as Vault's, on the real
    engine: ``env:`` from the program's environment, ``file:`` under the stack's
    ``secrets.file.root``, and ``k8s:`` read by :class:`KubernetesSecretBackend` (the
    default) from a Secret in another namespace. The values reach the chart's Secret and
    nothing else. ``secrets.k8s.reader: pulumi`` reads the same value through Pulumi."""
    env_value, file_value, k8s_value = (f"{k}-{pysecrets.token_hex(6)}" for k in "efk")
    root = tmp_path / "dev-secrets"
    root.mkdir()
    (root / "db.yaml").write_text(yaml.safe_dump({"password": file_value}))
    source = f"{namespace}-src"
    sb.kubectl("create", "namespace", source)
    try:
        sb.kubectl(
            "-n", source, "create", "secret", "generic", "api", f"--from-literal=key={k8s_value}"
        )
        p = project()
        p.config("helm-enterprise:secrets", {"file": {"root": str(root)}})
        p.stack.workspace.env_vars["HE_E2E_TOKEN"] = env_value
        p.releases(
            [
                hello(
                    namespace,
                    values={"replicaCount": 1},
                    secretValues={
                        "secret.token": "env:HE_E2E_TOKEN",
                        "secret.password": "file:db.yaml#password",
                        "secret.apikey": f"k8s:{source}/api#key",
                    },
                )
            ]
        )
        out = p.up().outputs["releases"].value["hello"]
        assert out["status"] == "deployed"
        assert secret_data(sb, namespace) == {
            "token": env_value,
            "password": file_value,
            "apikey": k8s_value,
        }
        for value in (env_value, file_value, k8s_value):
            assert leaks(value, p.export(), p.text) == [], value

        # Read by the backend, not by a Pulumi read of the Secret.
        def reads() -> list[str]:
            resources = p.export_json()["resources"]
            return [r["urn"] for r in resources if r.get("id") == f"{source}/api"]

        assert reads() == []
        # reader: pulumi reads it with Secret.get through the release's provider instead.
        p.config(
            "helm-enterprise:secrets", {"file": {"root": str(root)}, "k8s": {"reader": "pulumi"}}
        )
        p.up()
        assert secret_data(sb, namespace)["apikey"] == k8s_value
        assert len(reads()) == 1
        assert leaks(k8s_value, p.export(), p.text) == []
        # A reference the backend cannot read fails the preview naming it, not a value.
        p.releases([hello(namespace, secretValues={"secret.token": "env:HE_E2E_UNSET"})])
        error = p.preview_fails()
        assert "environment variable HE_E2E_UNSET is not set" in error
        assert "Traceback" not in error
    finally:
        sb.kubectl("delete", "namespace", source, "--wait=false", check=False)
