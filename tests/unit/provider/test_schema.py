"""The package schema other Pulumi languages see (helm_enterprise.provider)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helm_enterprise import ConfigError
from helm_enterprise.components.context import Platform
from helm_enterprise.config.reference import RELEASE_FIELDS, table_row
from helm_enterprise.config.release import ReleaseConfig
from helm_enterprise.provider import SCHEMA_FILE, provider, schema
from helm_enterprise.provider.components import ReleaseArgs
from tests.unit.pulumi_harness import run_program

DOCS = Path(__file__).resolve().parents[3] / "docs" / "features" / "configuration.md"
RELEASE = "helm-enterprise:index:Release"


def test_the_checked_in_schema_is_the_one_the_code_infers() -> None:
    """Regenerate with `helm-enterprise schema --write` and review the diff."""
    assert json.loads(SCHEMA_FILE.read_text()) == schema(), (
        "helm_enterprise/provider/schema.json is stale: run "
        "`helm-enterprise schema --write` and review the diff"
    )


def test_components_keep_their_python_type_tokens() -> None:
    s = schema()
    assert sorted(s["resources"]) == [
        "helm-enterprise:index:MultiClusterRelease",
        RELEASE,
        "helm-enterprise:index:Tenant",
    ]
    assert all(r["isComponent"] for r in s["resources"].values())
    assert s["name"] == "helm-enterprise"


def test_every_release_field_is_an_input_with_the_docs_description() -> None:
    aliases = {f.alias or n for n, f in ReleaseConfig.model_fields.items()}
    assert set(RELEASE_FIELDS) == aliases
    inputs = schema()["resources"][RELEASE]["inputProperties"]
    assert set(inputs) == aliases
    for name, (_default, meaning) in RELEASE_FIELDS.items():
        assert inputs[name]["description"].startswith(meaning), name
    assert set(ReleaseArgs.__annotations__) == set(ReleaseConfig.model_fields)
    # ...and the docs' table shows exactly these rows.
    section = DOCS.read_text().split("## Release\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows == [table_row(f) for f in RELEASE_FIELDS]


def test_enums_not_literals_and_outputs_may_flow_into_values() -> None:
    s = schema()
    mode = s["types"]["helm-enterprise:index:Mode"]
    assert [e["value"] for e in mode["enum"]] == ["release", "chart"]
    inputs = s["resources"][RELEASE]["inputProperties"]
    assert "plain" not in inputs["values"] and "plain" not in inputs["secretValues"]
    assert "plain" not in inputs["namespace"]
    assert inputs["chart"]["$ref"] == "#/types/helm-enterprise:index:Chart"


def mapped(inputs: dict[str, Any]) -> dict[str, Any]:
    """What the provider's construct passes to the component for these camelCase inputs."""
    p = provider("0.0.0")
    result: dict[str, Any] = p.map_inputs(inputs, p._component_defs["Release"])
    return result


def test_camel_case_inputs_reach_the_component_and_errors_name_the_field(
    platform: Platform,
) -> None:
    from helm_enterprise.provider.components import Mode, Release

    args = mapped(
        {
            "chart": {"path": "charts/hello"},
            "createNamespace": True,
            "mode": "release",
            "values": {"replicaCount": 2},
            "timeouts": {"readiness": "soon"},
        }
    )
    assert args["create_namespace"] is True and args["mode"] is Mode.RELEASE
    assert args["values"] == {"replicaCount": 2}  # chart values keep their keys
    with pytest.raises(ConfigError) as err:
        run_program(lambda: Release("web", args), preview=True)  # type: ignore[arg-type]
    assert str(err.value).startswith("timeouts.readiness: 'soon' is not a duration")
    ok = mapped({"chart": {"path": "charts/hello"}, "mode": "release"})
    run = run_program(lambda: Release("web", ok), preview=True)  # type: ignore[arg-type]
    assert run.of_type(RELEASE)[0].name == "web"
