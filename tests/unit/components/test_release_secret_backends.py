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
    KubernetesSecretBackend,
    Platform,
    Release,
    SecretBackendError,
)
from helm_enterprise.components.context import set_default_platform
from helm_enterprise.config import ClusterConfig
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


class _FakeCoreV1:
    """The kubernetes client boundary: CoreV1Api.read_namespaced_secret."""

    reads: list[tuple[str, str]] = []

    def __init__(self, api: object) -> None:
        pass

    def read_namespaced_secret(self, name: str, namespace: str, **_: object) -> Any:
        self.reads.append((namespace, name))
        encoded = base64.b64encode(b"k8s-s3cret").decode()
        return kubernetes.client.V1Secret(data={"token": encoded})


class _FakeApi:
    def close(self) -> None:
        pass


def test_k8s_reference_goes_through_the_backend_protocol(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _FakeCoreV1.reads = []
    monkeypatch.setattr(kubernetes.client, "CoreV1Api", _FakeCoreV1)
    access = ClusterAccess(kubeconfig="/secrets-cluster/kubeconfig")
    monkeypatch.setattr(ClusterAccess, "reachable_client", lambda self, timeout=3.0: _FakeApi())
    platform = Platform(
        secret_backends={"k8s": KubernetesSecretBackend(access)},
        cluster=UNREACHABLE,
        base_dir=REPO,
    )
    mocks = Mocks()
    run = run_program(
        lambda: Release(
            "web",
            {
                "namespace": "demo",
                "chart": LOCAL,
                "secret_values": {"a.token": "k8s:creds#token", "b.token": "k8s:demo/creds#token"},
                "validation": {"ownership": False},
            },
            platform=platform,
        ),
        mocks=mocks,
    )
    rel = run.one(REL)
    assert rel.is_secret("values")
    assert rel.inputs["values"]["a"]["token"] == "k8s-s3cret"
    assert _FakeCoreV1.reads == [("demo", "creds")]  # one read for both uses
    assert mocks.reads == []  # no Secret.get through Pulumi
