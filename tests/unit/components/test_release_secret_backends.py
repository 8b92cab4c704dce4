"""Secret backends passed through the public seam (``Platform(secret_backends=...)``,
``helm-enterprise:secrets``) reach a Release's registered inputs as Pulumi secrets."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest

from helm_enterprise import (
    ClusterAccess,
    ConfigError,
    Platform,
    Release,
    SecretBackendError,
)
from helm_enterprise.components.context import set_default_platform
from helm_enterprise.config import ClusterConfig, validate_model
from helm_enterprise.config.stack import SecretsConfig
from tests.unit.pulumi_harness import Mocks, run_program
from tests.unit.secrets.dict_backend import DictBackend

REL = "kubernetes:helm.sh/v3:Release"
LOCAL = {"path": "charts/hello"}
REPO = Path(__file__).resolve().parents[3]
UNREACHABLE = ClusterConfig(kubeconfig="/nonexistent/kubeconfig", unreachable="warn")


def release(secret_values: dict[str, str], **extra: Any) -> Any:
    return lambda: (
        Release("web", {"chart": LOCAL, "secret_values": secret_values, **extra}).references
    )


def test_env_and_file_values_are_pulumi_secrets(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "db.yaml").write_text("password: file-s3cret\n")
    monkeypatch.setenv("HE_TEST_API_KEY", "env-s3cret")
    run = run_program(
        release(
            {"db.password": f"file:{tmp_path}/db.yaml#password", "api.key": "env:HE_TEST_API_KEY"}
        )
    )
    rel = run.one(REL)
    assert rel.is_secret("values")
    assert rel.inputs["values"]["db"]["password"] == "file-s3cret"
    assert rel.inputs["values"]["api"]["key"] == "env-s3cret"
    assert "helm-enterprise.io/secrets-checksum" in rel.inputs["values"]["podAnnotations"]
    for r in run.resources:
        if r is not rel:
            assert "s3cret" not in repr(r.raw_inputs)


def test_file_root_from_stack_config(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "db.yaml").write_text("password: rooted-s3cret\n")

    def program() -> object:
        platform = Platform.from_stack_config(base_dir=tmp_path, cluster=UNREACHABLE)
        set_default_platform(platform)
        chart = {"path": str(REPO / "charts" / "hello")}
        secret_values = {"db.password": "file:db.yaml#password"}
        return Release("web", {"chart": chart, "secret_values": secret_values}).references

    try:
        run = run_program(program, config={"helm-enterprise:secrets": {"file": {"root": "dev"}}})
    finally:
        set_default_platform(None)
    assert run.one(REL).inputs["values"]["db"]["password"] == "rooted-s3cret"


def test_missing_env_var_names_the_reference(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HE_TEST_UNSET", raising=False)
    with pytest.raises(SecretBackendError, match="environment variable HE_TEST_UNSET is not set"):
        run_program(release({"api.key": "env:HE_TEST_UNSET"}))


def test_custom_backend_passed_to_the_platform_is_used() -> None:
    custom = DictBackend({"prod/db": {"password": "custom-s3cret"}})
    custom.scheme = "corp"
    platform = Platform(secret_backends={"corp": custom}, cluster=UNREACHABLE, base_dir=REPO)
    run = run_program(
        lambda: (
            Release(
                "web",
                {"chart": LOCAL, "secret_values": {"db.password": "corp:prod/db#password"}},
                platform=platform,
            ).references
        )
    )
    rel = run.one(REL)
    assert rel.is_secret("values")
    assert rel.inputs["values"]["db"]["password"] == "custom-s3cret"
    assert custom.reads == [("prod/db", None)]
    assert run.value == ["corp:prod/db#password"]


def test_unknown_scheme_is_a_config_error(platform: Platform) -> None:
    with pytest.raises(ConfigError, match="no corp backend is configured"):
        run_program(release({"db.password": "corp:prod/db#password"}))


class _Cluster:
    """The kubernetes client boundary of the clusters the backend reads: every cluster
    (named by its kubeconfig's file name) holds ``<ns>/creds`` with ``token:
    tok-<cluster>``; ``reads`` records (cluster, namespace, name)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads: list[tuple[str, str, str]] = []
        cluster = self

        class Api:
            def __init__(self, kubeconfig: str | None) -> None:
                self.cluster = Path(kubeconfig or "ambient").name

            def close(self) -> None:
                pass

        class CoreV1:
            def __init__(self, api: Api) -> None:
                self.cluster = api.cluster

            def read_namespaced_secret(self, name: str, namespace: str, **_: object) -> Any:
                cluster.reads.append((self.cluster, namespace, name))
                token = base64.b64encode(f"tok-{self.cluster}".encode()).decode()
                return kubernetes.client.V1Secret(data={"token": token})

        monkeypatch.setattr(kubernetes.client, "CoreV1Api", CoreV1)
        monkeypatch.setattr(
            ClusterAccess, "reachable_client", lambda access, timeout=3.0: Api(access.kubeconfig)
        )


NO_OWNERSHIP = {"validation": {"ownership": False}}


def test_k8s_references_are_read_by_the_backend_from_the_release_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The default: KubernetesSecretBackend, from the stack's cluster, one read per Secret."""
    cluster = _Cluster(monkeypatch)
    platform = Platform(
        cluster=ClusterConfig(kubeconfig="/kube/main", unreachable="warn"), base_dir=REPO
    )
    mocks = Mocks()
    run = run_program(
        lambda: Release(
            "web",
            {
                "namespace": "demo",
                "chart": LOCAL,
                "secret_values": {"a.token": "k8s:creds#token", "b.token": "k8s:demo/creds#token"},
                **NO_OWNERSHIP,
            },
            platform=platform,
        ),
        mocks=mocks,
    )
    rel = run.one(REL)
    assert rel.is_secret("values")
    assert rel.inputs["values"]["a"]["token"] == "tok-main"
    assert cluster.reads == [("main", "demo", "creds")]  # one read for both uses
    assert mocks.reads == []  # no Secret.get through Pulumi


def _multicluster(platform: Platform, names: tuple[str, ...] = ("web",)) -> Any:
    """A program of one multi-cluster release per name, each on clusters eu-1 and eu-2."""
    from helm_enterprise import MultiClusterRelease
    from helm_enterprise.kube.clusters import ClusterHealth, ClusterState

    def program() -> Any:
        return [
            MultiClusterRelease(
                name,
                {
                    "namespace": "shop",
                    "chart": LOCAL,
                    "secret_values": {"db.token": "k8s:creds#token"},
                    "clusters": [{"name": n, "kubeconfig": f"/kube/{n}"} for n in ("eu-1", "eu-2")],
                    **NO_OWNERSHIP,
                },
                platform=platform,
                probe=lambda access, timeout: ClusterHealth(ClusterState.HEALTHY, server="x"),
            ).deployed
            for name in names
        ]

    return program


def test_each_cluster_of_a_multicluster_release_reads_its_own_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = _Cluster(monkeypatch)
    platform = Platform(cluster=UNREACHABLE, base_dir=REPO)
    run = run_program(_multicluster(platform))
    tokens = sorted(r.inputs["values"]["db"]["token"] for r in run.of_type(REL))
    assert tokens == ["tok-eu-1", "tok-eu-2"]
    assert sorted(cluster.reads) == [("eu-1", "shop", "creds"), ("eu-2", "shop", "creds")]


def test_releases_on_the_same_cluster_share_its_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = _Cluster(monkeypatch)
    platform = Platform(cluster=UNREACHABLE, base_dir=REPO)
    run = run_program(_multicluster(platform, ("web", "api")))
    tokens = sorted(r.inputs["values"]["db"]["token"] for r in run.of_type(REL))
    assert tokens == ["tok-eu-1", "tok-eu-1", "tok-eu-2", "tok-eu-2"]
    assert sorted(cluster.reads) == [("eu-1", "shop", "creds"), ("eu-2", "shop", "creds")]


def test_secrets_k8s_names_the_one_cluster_every_release_reads_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = _Cluster(monkeypatch)
    platform = Platform(
        cluster=UNREACHABLE,
        secrets=SecretsConfig.model_validate({"k8s": {"kubeconfig": "/kube/mgmt"}}),
        base_dir=REPO,
    )
    run = run_program(_multicluster(platform))
    tokens = [r.inputs["values"]["db"]["token"] for r in run.of_type(REL)]
    assert tokens == ["tok-mgmt", "tok-mgmt"]
    assert cluster.reads == [("mgmt", "shop", "creds")]  # once for both clusters


def test_reader_pulumi_reads_through_secret_get_with_the_release_provider() -> None:
    mocks = Mocks()
    mocks.secrets["demo/creds"] = {"token": base64.b64encode(b"tok-123").decode()}
    platform = Platform(
        cluster=UNREACHABLE,
        secrets=SecretsConfig.model_validate({"k8s": {"reader": "pulumi"}}),
        base_dir=REPO,
    )
    run = run_program(
        lambda: Release(
            "web",
            {"namespace": "demo", "chart": LOCAL, "secret_values": {"s.token": "k8s:creds#token"}},
            platform=platform,
        ),
        mocks=mocks,
    )
    assert [r.resource_id for r in mocks.reads] == ["demo/creds"]
    rel = run.one(REL)
    assert rel.is_secret("values")
    assert rel.inputs["values"]["s"]["token"] == "tok-123"


def test_reader_pulumi_with_a_cluster_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        validate_model(SecretsConfig, {"k8s": {"reader": "pulumi", "context": "mgmt"}}, "secrets")
    assert "secrets.k8s" in str(err.value) and "reader: backend" in str(err.value)


def test_an_unreachable_cluster_names_the_secret_not_a_value(platform: Platform) -> None:
    with pytest.raises(SecretBackendError) as err:
        run_program(release({"db.token": "k8s:demo/creds#token"}, **NO_OWNERSHIP))
    assert "Kubernetes at /nonexistent/kubeconfig unreachable (Secret demo/creds)" in str(err.value)
