"""``helm-enterprise validate``'s config stage accepts and rejects what ``pulumi up`` does:
both read stack config through ``config.stack.read_stack_config``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from helm_enterprise.automation.validate import config_findings
from helm_enterprise.errors import ConfigError
from helm_enterprise.program import load_stack_config
from helm_enterprise.validation import errors

RELEASE = {"name": "shop", "namespace": "shop", "chart": {"path": "charts/hello"}}
# The pattern docs/features/secrets.md shows: an AppRole secret id kept as a secret stack
# value (`pulumi config set --secret vaultSecretId ...`) and referenced with {config: key}.
VAULT_FROM_CONFIG = {
    "helm-enterprise:vault": {
        "address": "https://vault.corp.example:8200",
        "auth": {"method": "approle", "roleId": "7d2f", "secretId": {"config": "vaultSecretId"}},
    },
    "helm-enterprise:vaultSecretId": {"secure": "v1:Zm9vYmFy:c2VjcmV0LWlkLWNpcGhlcnRleHQ="},
    "helm-enterprise:releases": [RELEASE],
}

STACKS: dict[str, tuple[dict[str, Any], bool]] = {
    # name: (config of the stack file, accepted)
    "secret referenced with {config: key}": (VAULT_FROM_CONFIG, True),
    "plain key of the stack's author": (
        {"helm-enterprise:team": "shop", "helm-enterprise:releases": [RELEASE]},
        True,
    ),
    "misspelt top-level key (a warning)": ({"helm-enterprise:release": [RELEASE]}, True),
    "structured value set as JSON text": (
        {"helm-enterprise:releases": json.dumps([RELEASE])},
        True,
    ),
    "unknown field in a release": (
        {"helm-enterprise:releases": [{**RELEASE, "chart": {"pth": "charts/hello"}}]},
        False,
    ),
    "unknown repository": (
        {
            "helm-enterprise:releases": [
                {**RELEASE, "chart": {"name": "x", "repository": "nowhere"}}
            ]
        },
        False,
    ),
    "literal Vault credential": (
        {
            "helm-enterprise:vault": {
                "auth": {"method": "approle", "roleId": "7d2f", "secretId": "plain"}
            }
        },
        False,
    ),
}


def stack_file(tmp_path: Path, config: dict[str, Any]) -> Path:
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": config}))
    return tmp_path


@pytest.fixture
def program_config() -> Iterator[None]:
    yield
    pulumi.runtime.set_all_config({}, [])


def program_accepts(config: dict[str, Any]) -> bool:
    """What `pulumi up` sees: Pulumi hands the program every value as text (objects as
    JSON, secrets decrypted and listed as secret keys)."""
    values: dict[str, str] = {}
    secret_keys = []
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key] = "decrypted-secret-id"
            secret_keys.append(key)
        else:
            values[key] = value if isinstance(value, str) else json.dumps(value)
    pulumi.runtime.set_all_config(values, secret_keys)
    try:
        load_stack_config()
    except ConfigError:
        return False
    return True


def test_a_config_reference_to_a_secret_stack_value_is_valid(tmp_path: Path) -> None:
    # Before validate used the program's reader it said: field 'vaultSecretId' ... Extra
    # inputs are not permitted, while `pulumi up` deployed the same stack.
    findings = config_findings(stack_file(tmp_path, VAULT_FROM_CONFIG), "dev")
    assert findings == []


@pytest.mark.parametrize(("config", "accepted"), STACKS.values(), ids=STACKS.keys())
def test_validate_and_the_program_agree(
    tmp_path: Path, program_config: None, config: dict[str, Any], accepted: bool
) -> None:
    findings = config_findings(stack_file(tmp_path, config), "dev")
    assert (not errors(findings)) is accepted, findings
    assert program_accepts(config) is accepted


def test_a_misspelt_key_is_a_warning_naming_the_right_one(tmp_path: Path) -> None:
    findings = config_findings(stack_file(tmp_path, {"helm-enterprise:release": [RELEASE]}), "dev")
    assert [(f.severity, f.field, f.hint) for f in findings] == [
        ("warning", "helm-enterprise:release", "did you mean helm-enterprise:releases?")
    ]


def test_errors_name_the_release_and_field(tmp_path: Path) -> None:
    config = {"helm-enterprise:releases": [{**RELEASE, "chart": {"pth": "charts/hello"}}]}
    (finding,) = config_findings(stack_file(tmp_path, config), "dev")
    assert (finding.severity, finding.release) == ("error", "shop")
    assert finding.field.startswith("releases[0].chart")
