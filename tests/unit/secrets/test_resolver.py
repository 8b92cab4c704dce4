from __future__ import annotations

import hvac.exceptions
import pytest
import requests

from helm_enterprise.config import SecretKeyRef, VaultConfig, VaultRef
from helm_enterprise.errors import ConfigError, SecretBackendError
from helm_enterprise.secrets import SecretData, SecretResolver, VaultBackend
from helm_enterprise.secrets.vault import classify
from tests.unit.secrets.dict_backend import DictBackend


def ref(path: str, key: str, version: int | None = None) -> VaultRef:
    return VaultRef(path=path, key=key, version=version)


def test_one_read_per_distinct_path_and_version() -> None:
    backend = DictBackend({f"secret/p{i}": {"a": str(i), "b": "x"} for i in range(5)})
    resolver = SecretResolver({"vault": backend}, max_workers=4)
    refs = [ref(f"secret/p{i % 5}", k) for i in range(50) for k in ("a", "b")]
    resolver.prefetch(refs)
    resolver.prefetch(refs)
    assert sorted(backend.reads) == sorted((f"secret/p{i}", None) for i in range(5))
    assert resolver.value(ref("secret/p3", "a")) == "3"
    resolver.value(ref("secret/p3", "a", version=2))  # a pinned version is another read
    assert len(backend.reads) == 6


def test_a_scoped_resolver_shares_the_cache_but_not_the_replaced_backend() -> None:
    """One cluster's view (``Platform.for_cluster``): its own ``k8s`` backend, the same
    Vault reads as the program's."""
    vault = DictBackend({"secret/db": {"pw": "v"}})
    main = DictBackend({"ns/creds": {"token": "main"}})
    main.scheme = "k8s"
    eu = DictBackend({"ns/creds": {"token": "eu"}})
    eu.scheme = "k8s"
    program = SecretResolver({"vault": vault, "k8s": main})
    cluster = program.scoped("eu", lambda: {"k8s": eu})
    k8s_ref = SecretKeyRef(namespace="ns", name="creds", key="token")
    assert program.value(k8s_ref) == "main"
    assert cluster.value(k8s_ref) == "eu"  # not the program's cached read
    assert program.value(ref("secret/db", "pw")) == cluster.value(ref("secret/db", "pw"))
    assert vault.reads == [("secret/db", None)]  # read once for both
    assert main.reads == eu.reads == [("ns/creds", None)]
    # Another release on the same cluster gets the same view, and its reads.
    again = program.scoped("eu", lambda: {"k8s": DictBackend({})})
    assert again is cluster and again.value(k8s_ref) == "eu"
    assert eu.reads == [("ns/creds", None)]


def test_missing_key_names_keys_not_values() -> None:
    resolver = SecretResolver(
        {"vault": DictBackend({"secret/db": {"user": "u", "password": "p4ss"}})}
    )
    with pytest.raises(SecretBackendError) as err:
        resolver.value(ref("secret/db", "pw"))
    assert "has no key 'pw' (keys there: password, user)" in str(err.value)
    assert "p4ss" not in str(err.value)


def test_failed_read_is_raised_for_every_use_and_not_retried() -> None:
    backend = DictBackend({})
    resolver = SecretResolver({"vault": backend})
    for _ in range(2):
        with pytest.raises(SecretBackendError, match="no secret at secret/none"):
            resolver.value(ref("secret/none", "k"))
    assert backend.reads == [("secret/none", None)]


def test_no_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no vault backend is configured"):
        SecretResolver({}).value(ref("secret/a", "b"))


def test_secret_data_repr_hides_values() -> None:
    assert "hunter2" not in repr(SecretData({"password": "hunter2"}, 3))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (requests.ConnectionError("boom"), "Vault at http://v:8200 unreachable (path secret/app)"),
        (hvac.exceptions.Forbidden("permission denied"), "denied access to secret/app"),
        (hvac.exceptions.InvalidPath(), "has no secret at secret/app"),
        (hvac.exceptions.Unauthorized(), "rejected the login"),
        (hvac.exceptions.VaultDown(), "sealed"),
    ],
)
def test_classify(error: Exception, expected: str) -> None:
    assert expected in str(classify(error, where="Vault at http://v:8200", path="secret/app"))


def test_vault_backend_needs_an_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    with pytest.raises(ConfigError, match="no Vault address"):
        VaultBackend(VaultConfig())


def test_unreachable_vault_fails_fast_with_address_and_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "t")
    backend = VaultBackend(VaultConfig(address="http://127.0.0.1:9", timeout=2, kv_version=2))
    with pytest.raises(SecretBackendError) as err:
        backend.read("secret/app")
    assert str(err.value).startswith("Vault at http://127.0.0.1:9 unreachable")
