"""The AWS Secrets Manager adapter of docs/features/secrets.md, run as written against the
SecretBackend protocol with a fake boto3-style client (the real AWS is never called)."""

from __future__ import annotations

import json
import re
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from helm_enterprise import (
    BackendRef,
    ClusterAccess,
    Platform,
    Release,
    SecretBackend,
    SecretBackendError,
)
from tests.unit.pulumi_harness import run_program

DOC = Path(__file__).resolve().parents[3] / "docs" / "features" / "secrets.md"
REL = "kubernetes:helm.sh/v3:Release"


def run_doc_block(name: str, namespace: dict[str, Any]) -> dict[str, Any]:
    text = DOC.read_text()
    block = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", text, re.S)
    assert block, f"docs/features/secrets.md lost its {name} example"
    exec(compile(block.group(1), str(DOC), "exec"), namespace)
    return namespace


def doc_backend_class() -> Any:
    return run_doc_block("aws-backend", {})["AwsSecretsManagerBackend"]


class ClientError(Exception):
    """What botocore raises: the error code is in ``response``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


class FakeSecretsManager:
    class meta:
        region_name = "eu-west-1"

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.calls: list[str] = []

    def get_secret_value(self, SecretId: str) -> dict[str, str]:
        self.calls.append(SecretId)
        if SecretId not in self.secrets:
            raise ClientError("ResourceNotFoundException")
        return {"SecretString": self.secrets[SecretId]}


def test_doc_example_follows_the_protocol_and_maps_errors() -> None:
    backend = doc_backend_class()(
        FakeSecretsManager({"prod/db": json.dumps({"password": "aws-s3cret"}), "raw": "x"})
    )
    assert isinstance(backend, SecretBackend)
    assert backend.read("prod/db").data == {"password": "aws-s3cret"}
    with pytest.raises(SecretBackendError, match=r"could not read prod/none \(ResourceNotFound"):
        backend.read("prod/none")
    with pytest.raises(SecretBackendError, match="raw is not a JSON map"):
        backend.read("raw")


def test_doc_example_plugged_into_the_platform_feeds_a_release(platform: Platform) -> None:
    client = FakeSecretsManager({"prod/shop/db": json.dumps({"password": "aws-s3cret"})})
    platform.secret_backends["aws"] = doc_backend_class()(client)

    def program() -> object:
        return Release(
            "shop",
            {
                "chart": {"path": "charts/hello"},
                "secret_values": {"db.password": "aws:prod/shop/db#password"},
            },
        ).references

    run = run_program(program)
    rel = run.one(REL)
    assert rel.is_secret("values")
    assert rel.inputs["values"]["db"]["password"] == "aws-s3cret"
    assert run.value == [BackendRef(scheme="aws", path="prod/shop/db", key="password").describe()]
    assert client.calls == ["prod/shop/db"]


def test_doc_usage_block_runs_as_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The doc's program directory: its chart is the repository's hello chart.
    shutil.copytree(DOC.parents[2] / "charts" / "hello", tmp_path / "charts" / "shop")
    monkeypatch.chdir(tmp_path)
    client = FakeSecretsManager({"prod/shop/db": json.dumps({"password": "aws-s3cret"})})
    fake_boto3 = types.ModuleType("boto3")
    fake_boto3.client = lambda service: client  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "boto3", fake_boto3)
    namespace = {"AwsSecretsManagerBackend": doc_backend_class()}
    run = run_program(
        lambda: run_doc_block("aws-usage", namespace)["platform"].cluster_access,
        # The doc's kubeconfig does not exist here: the pre-apply checks warn and skip.
        config={"helm-enterprise:cluster": {"unreachable": "warn"}},
    )
    rel = run.one(REL)
    assert rel.is_secret("values")
    assert rel.inputs["values"]["db"]["password"] == "aws-s3cret"
    assert run.value == ClusterAccess(kubeconfig="~/.kube/prod", context="prod-eu")
