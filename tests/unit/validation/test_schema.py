from __future__ import annotations

from helm_enterprise.validation import check_schema, errors, to_json

SCHEMA = {
    "type": "object",
    "required": ["image"],
    "additionalProperties": False,
    "properties": {
        "replicas": {"type": "integer", "maximum": 5},
        "image": {"type": "object", "properties": {"pullPolicy": {"enum": ["Always", "Never"]}}},
        "secret": {"type": "object"},
    },
}


def test_findings_name_paths_and_never_echo_values() -> None:
    values = {
        "replicas": "super-secret-1",
        "image": {"pullPolicy": "super-secret-2"},
        "extra": "super-secret-3",
    }
    findings = check_schema("web", SCHEMA, values)
    lines = [f.line() for f in findings]
    assert any("values.replicas: must be of type integer" in line for line in lines)
    assert any(
        "values.image.pullPolicy: is not one of the allowed values" in line for line in lines
    )
    assert any("unknown field(s) 'extra'" in line for line in lines)
    assert "super-secret" not in "".join(lines) + to_json(findings)
    assert len(errors(findings)) == 3


def test_valid_values_have_no_findings() -> None:
    assert check_schema("web", SCHEMA, {"image": {}, "replicas": 2}) == []


def test_broken_schema_is_a_warning() -> None:
    findings = check_schema("web", {"type": 12}, {})
    assert [f.severity for f in findings] == ["warning"]
