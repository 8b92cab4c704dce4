"""The one parser of secret references, and which strings name a secret (not hold one)."""

from __future__ import annotations

import pytest

from helm_enterprise.config.secrets import (
    BackendRef,
    ConfigRef,
    SecretKeyRef,
    VaultRef,
    names_reference,
    parse_secret_ref,
)


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("vault:secret/app#pw@3", VaultRef(path="secret/app", key="pw", version=3)),
        ({"vault": {"path": "secret/app", "key": "pw"}}, VaultRef(path="secret/app", key="pw")),
        ("k8s:ops/hec#token", SecretKeyRef(name="hec", key="token", namespace="ops")),
        ("env:DB_PASSWORD", BackendRef(scheme="env", path="DB_PASSWORD")),
        ("file:/run/s.yaml#pw", BackendRef(scheme="file", path="/run/s.yaml", key="pw")),
        ("aws:prod/db#password", BackendRef(scheme="aws", path="prod/db", key="password")),
        ({"config": "repoPassword"}, ConfigRef(config="repoPassword")),
    ],
)
def test_every_spelling_parses_to_its_model(spelling: object, expected: object) -> None:
    assert parse_secret_ref(spelling) == expected


@pytest.mark.parametrize("literal", ["hunter2", "vault:nomount#pw", "https://host/x#y"])
def test_literals_and_malformed_references_are_value_errors(literal: str) -> None:
    with pytest.raises(ValueError):
        parse_secret_ref(literal)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("vault:secret/db#pw", True),
        ("k8s:ops/hec#token", True),
        ("env:TOKEN", True),
        ("file:/run/secrets/key", True),
        ("config:repoPassword", True),
        ("config:", False),
        ("word:pass#word", False),  # a custom scheme's shape may well be a password
        ("hunter2", False),
    ],
)
def test_names_reference(text: str, names: bool) -> None:
    assert names_reference(text) is names
