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


def test_the_typed_surface_and_the_python_one_agree_with_the_models() -> None:
    """One source of truth: the provider's enums hold exactly the models' Literal values,
    and both argument TypedDicts (Python's and the provider's) name exactly the models'
    fields, so a field added to a model fails here until both surfaces carry it."""
    from typing import get_args

    from helm_enterprise.components import multicluster as py_multi
    from helm_enterprise.components import release as py_release
    from helm_enterprise.components import tenant as py_tenant
    from helm_enterprise.config import multicluster as multi_cfg
    from helm_enterprise.config import release as release_cfg
    from helm_enterprise.config import tenant as tenant_cfg
    from helm_enterprise.provider import components as typed

    pairs = [
        (typed.Mode, release_cfg.ReleaseMode),
        (typed.SloGate, release_cfg.SloGateLevel),
        (typed.PodSecurity, tenant_cfg.PodSecurityLevel),
        (typed.ClusterRole, multi_cfg.Role),
        (typed.ClusterStrategy, multi_cfg.Strategy),
        (typed.Unreachable, multi_cfg.Unreachable),
    ]
    for enum_type, literal in pairs:
        assert {m.value for m in enum_type} == set(get_args(literal)), enum_type.__name__

    release_fields = set(ReleaseConfig.model_fields)
    assert set(py_release.ReleaseArgs.__annotations__) == release_fields
    assert set(typed.ReleaseArgs.__annotations__) == release_fields
    tenant_fields = set(tenant_cfg.TenantConfig.model_fields)
    assert set(py_tenant.TenantArgs.__annotations__) == tenant_fields
    assert set(typed.TenantArgs.__annotations__) == tenant_fields
    multi_fields = set(multi_cfg.MultiClusterReleaseConfig.model_fields) - release_fields
    assert set(py_multi.MultiClusterReleaseArgs.__annotations__) - release_fields == multi_fields
    # The provider renames `strategy` (how clusters are deployed to) to clusterStrategy.
    renamed = multi_fields - {"strategy"} | {"cluster_strategy"}
    assert set(typed.MultiClusterReleaseArgs.__annotations__) - release_fields == renamed
    cluster_fields = set(multi_cfg.ClusterTarget.model_fields)
    assert set(py_multi.ClusterArgs.__annotations__) == cluster_fields
    assert set(typed.TargetCluster.__annotations__) == cluster_fields


def test_every_output_is_described_from_the_component_docs() -> None:
    from helm_enterprise.components.multicluster import MultiClusterRelease
    from helm_enterprise.provider import output_docs

    for token, resource in schema()["resources"].items():
        for name, prop in resource["properties"].items():
            assert prop.get("description"), f"{token}.{name} has no description"
            assert ":class:" not in prop["description"]
    outputs = schema()["resources"]["helm-enterprise:index:MultiClusterRelease"]["properties"]
    docs = output_docs(MultiClusterRelease)
    assert outputs["statuses"]["description"] == docs["revisions"]
    assert outputs["failover"]["description"].endswith("else None.")
