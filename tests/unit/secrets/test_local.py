"""The env/file backends and the resolver's scheme registry (no Pulumi involved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helm_enterprise import BackendRef, EnvBackend, FileBackend, SecretBackend
from helm_enterprise.config.secrets import coerce_secret_ref, is_reference
from helm_enterprise.errors import ConfigError, SecretBackendError
from helm_enterprise.secrets import SecretResolver
from tests.unit.secrets.dict_backend import DictBackend


def ref(text: str) -> BackendRef:
    return BackendRef.model_validate(coerce_secret_ref(text))


@pytest.mark.parametrize(
    ("text", "scheme", "path", "key"),
    [
        ("env:DB_PASSWORD", "env", "DB_PASSWORD", ""),
        ("file:/run/secrets/db.yaml#password", "file", "/run/secrets/db.yaml", "password"),
        ("file:certs/ca.pem", "file", "certs/ca.pem", ""),
        ("aws:prod/shop/db#password", "aws", "prod/shop/db", "password"),
    ],
)
def test_references_parse(text: str, scheme: str, path: str, key: str) -> None:
    parsed = ref(text)
    assert (parsed.scheme, parsed.path, parsed.key) == (scheme, path, key)
    assert parsed.describe() == text
    assert is_reference(text)


@pytest.mark.parametrize("text", ["hunter2", "https://host/x#y", "a b:c#d", "config:x#y"])
def test_literals_and_urls_are_not_references(text: str) -> None:
    assert not is_reference(text)
    with pytest.raises(ValueError, match="must not be literals"):
        coerce_secret_ref(text)


def test_builtin_backends_follow_the_protocol(tmp_path: Path) -> None:
    assert isinstance(EnvBackend(), SecretBackend)
    assert isinstance(FileBackend(tmp_path), SecretBackend)


def test_env_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HE_TEST_TOKEN", "t0ken-value")
    monkeypatch.delenv("HE_TEST_MISSING", raising=False)
    resolver = SecretResolver({"env": EnvBackend()})
    assert resolver.value(ref("env:HE_TEST_TOKEN")) == "t0ken-value"
    with pytest.raises(SecretBackendError) as err:
        resolver.value(ref("env:HE_TEST_MISSING"))
    assert str(err.value).startswith("environment variable HE_TEST_MISSING is not set")
    assert err.value.reference == "env:HE_TEST_MISSING"


def test_file_backend_keys_whole_file_and_one_read(tmp_path: Path) -> None:
    (tmp_path / "db.yaml").write_text("password: p4ss-value\nport: 5432\n")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERT-----\n")
    backend = FileBackend(tmp_path)
    reads: list[str] = []
    original = backend.read

    def counting(path: str, version: int | None = None) -> object:
        reads.append(path)
        return original(path, version)

    backend.read = counting  # type: ignore[method-assign]
    resolver = SecretResolver({"file": backend})
    assert resolver.value(ref("file:db.yaml#password")) == "p4ss-value"
    assert resolver.value(ref("file:db.yaml#port")) == "5432"
    assert resolver.value(ref(f"file:{tmp_path}/ca.pem")) == "-----BEGIN CERT-----"
    assert reads == ["db.yaml", f"{tmp_path}/ca.pem"]  # one read per file
    with pytest.raises(SecretBackendError) as err:
        resolver.value(ref("file:db.yaml#user"))
    assert "has no key 'user' (keys there: password, port)" in str(err.value)
    assert "p4ss" not in str(err.value)


def test_file_backend_errors_name_the_file_not_the_content(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"password": "s3cret-value", ')
    resolver = SecretResolver({"file": FileBackend(tmp_path)})
    with pytest.raises(SecretBackendError, match=r"bad\.json is not valid YAML/JSON") as err:
        resolver.value(ref("file:bad.json#password"))
    assert "s3cret" not in str(err.value)
    with pytest.raises(SecretBackendError, match=r"cannot read secret file .*missing\.yaml"):
        resolver.value(ref("file:missing.yaml#password"))


def test_each_scheme_goes_to_its_backend_and_unknown_schemes_are_config_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HE_TEST_TOKEN", "from-env")
    custom = DictBackend({"prod/db": {"password": "from-custom"}})
    resolver = SecretResolver({"env": EnvBackend(), "aws": custom})
    refs = [ref("env:HE_TEST_TOKEN"), ref("aws:prod/db#password")]
    resolver.prefetch(refs)
    assert [resolver.value(r) for r in refs] == ["from-env", "from-custom"]
    assert custom.reads == [("prod/db", None)]
    with pytest.raises(ConfigError, match="no gcp backend is configured"):
        resolver.value(ref("gcp:x#y"))
