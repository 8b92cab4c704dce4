from __future__ import annotations

from helm_enterprise.config.secrets import find_templates, render_template, walk_templates


def test_templates_found_rendered_and_escaped() -> None:
    text = "postgres://app:${vault:secret/db#pw}@db/${vault:secret/db#name@2} and $${literal}"
    refs = find_templates(text)
    assert [r.describe() for r in refs] == ["vault:secret/db#pw", "vault:secret/db#name@2"]
    out = render_template(text, {"vault:secret/db#pw": "P", "vault:secret/db#name@2": "N"})
    assert out == "postgres://app:P@db/N and ${literal}"


def test_walk_reports_value_paths() -> None:
    values = {"a": {"b": ["x", "${vault:s/a#k}"]}, "c": "plain"}
    assert [(p, r.describe()) for p, r in walk_templates(values)] == [("a.b[1]", "vault:s/a#k")]
