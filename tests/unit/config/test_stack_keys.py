"""The stack keys the program reads come from the model, and the docs list the same ones."""

from __future__ import annotations

import re
from pathlib import Path

from helm_enterprise.config.stack import STACK_KEYS, StackConfig, misspelt_keys, read_stack_config

DOCS = Path(__file__).resolve().parents[3] / "docs" / "features" / "configuration.md"


def test_stack_keys_are_the_model_fields_in_camel_case() -> None:
    assert len(STACK_KEYS) == len(StackConfig.model_fields)
    assert "multiClusterReleases" in STACK_KEYS and "policySummary" in STACK_KEYS


def test_read_stack_config_asks_for_every_stack_key_and_nothing_else() -> None:
    asked: list[str] = []

    def get(key: str) -> object:
        asked.append(key)
        return None

    read_stack_config(get)
    assert asked == list(STACK_KEYS)


def test_misspelt_keys_are_suggested_from_the_model() -> None:
    assert misspelt_keys(["release", "policySumary", "vaultSecretId"]) == [
        ("release", "releases"),
        ("policySumary", "policySummary"),
    ]


def test_the_docs_table_lists_exactly_the_stack_keys() -> None:
    text = DOCS.read_text()
    section = text.split("## Stack keys", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", section, re.M)
    assert sorted(documented) == sorted(STACK_KEYS)
