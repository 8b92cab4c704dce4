"""Ignore rules: JSON pointers, target selectors, CLI syntax, config validation."""

from __future__ import annotations

import pytest

from helm_enterprise.config import StackConfig, validate_model
from helm_enterprise.config.drift import DriftIgnoreRule, DriftPolicy
from helm_enterprise.drift import ObjectRef, RuleSet, parse_flag
from helm_enterprise.drift.paths import from_property_path, matches, split, to_pointer
from helm_enterprise.drift.rules import selector_matches
from helm_enterprise.errors import ConfigError


@pytest.mark.parametrize(
    ("pointer", "path"),
    [
        ("/spec/replicas", ("spec", "replicas")),
        (
            "/metadata/annotations/deployment.kubernetes.io~1revision",
            ("metadata", "annotations", "deployment.kubernetes.io/revision"),
        ),
        ("/a~0b", ("a~b",)),
        ("", ()),
    ],
)
def test_pointer_round_trip(pointer: str, path: tuple[str, ...]) -> None:
    assert split(pointer) == path
    assert to_pointer(path) == pointer


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("spec.replicas", ("spec", "replicas")),
        (
            "spec.template.spec.containers[0].image",
            ("spec", "template", "spec", "containers", "0", "image"),
        ),
        (
            'metadata.annotations["deployment.kubernetes.io/revision"]',
            ("metadata", "annotations", "deployment.kubernetes.io/revision"),
        ),
        ('data["a.b"]', ("data", "a.b")),
    ],
)
def test_pulumi_property_paths(text: str, path: tuple[str, ...]) -> None:
    assert from_property_path(text) == path


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        (("spec", "replicas"), ("spec", "replicas"), True),
        (("spec",), ("spec", "replicas"), True),
        (("spec", "replicas"), ("spec",), False),
        (("a", "*", "c"), ("a", "7", "c", "d"), True),
        (("a", "*", "c"), ("a", "7", "x"), False),
    ],
)
def test_pointer_matching(pattern: tuple[str, ...], path: tuple[str, ...], expected: bool) -> None:
    assert matches(pattern, path) is expected


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", True),
        ("app==web", True),
        ("app=api", False),
        ("app!=api", True),
        ("app,tier=front", True),
        ("!app", False),
        ("!missing", True),
        ("app=web,tier=back", False),
    ],
)
def test_label_selector(selector: str, expected: bool) -> None:
    assert selector_matches(selector, {"app": "web", "tier": "front"}) is expected


REF = ObjectRef("apps/v1", "Deployment", "web-1", "shop", "web")


@pytest.mark.parametrize(
    ("flag", "selected"),
    [
        ("/spec/replicas", True),
        ("Deployment:/spec/replicas", True),
        ("Deployment/web-*:/spec/replicas", True),
        ("Deployment/shop/web-1:/spec/replicas", True),
        ("Deployment/other/web-1:/spec/replicas", False),
        ("StatefulSet:/spec/replicas", False),
    ],
)
def test_cli_rules(flag: str, selected: bool) -> None:
    rules = RuleSet.build([parse_flag(flag)], defaults=False)
    assert (rules.find(REF, ("spec", "replicas")) is not None) is selected


@pytest.mark.parametrize(
    "flag", ["spec/replicas", "Deployment", "Deployment:spec", "a/b/c/d:/x", ":/x"]
)
def test_cli_rule_errors_say_how_to_write_one(flag: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_flag(flag)
    assert str(err.value).startswith("--ignore")


def test_group_and_version_select() -> None:
    rules = RuleSet.build(
        [
            validate_model(
                DriftIgnoreRule,
                {"paths": ["/data"], "target": {"group": "", "version": "v1", "kind": "ConfigMap"}},
            )
        ],
        defaults=False,
    )
    assert rules.find(ObjectRef("v1", "ConfigMap", "c"), ("data", "k"))
    assert rules.find(ObjectRef("example.com/v1", "ConfigMap", "c"), ("data", "k")) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"ignore": [{"paths": ["/a", "spec/replicas"]}]},
            "drift.ignore[0].paths[1]: 'spec/replicas' is not a JSON pointer",
        ),
        (
            {"ignore": [{"paths": ["/a~2"]}]},
            "drift.ignore[0].paths[0]: '/a~2': '~' must be escaped",
        ),
        ({"ignore": [{"paths": []}]}, "drift.ignore[0].paths:"),
        ({"mode": "fix"}, "drift.mode:"),
        (
            {"ignore": [{"paths": ["/a"], "target": {"knd": "X"}}]},
            "drift.ignore[0].target.knd: Extra inputs are not permitted (did you mean 'kind'?)",
        ),
        (
            {"ignore": [{"paths": ["/a"], "target": {"labelSelector": "a=b,,c"}}]},
            "drift.ignore[0].target.labelSelector:",
        ),
    ],
)
def test_stack_config_errors_name_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_model(StackConfig, {"drift": data})
    assert message in str(err.value)


def test_stack_config_accepts_camel_case_policy() -> None:
    cfg = validate_model(
        StackConfig,
        {
            "drift": {
                "mode": "remediate",
                "confirm": True,
                "defaultIgnores": False,
                "ignore": [
                    {
                        "paths": ["/spec/replicas"],
                        "target": {"kind": "Deployment", "labelSelector": "app=web"},
                        "reason": "KEDA",
                    }
                ],
            }
        },
    )
    assert cfg.drift == DriftPolicy(
        mode="remediate",
        confirm=True,
        default_ignores=False,
        ignore=cfg.drift.ignore if cfg.drift else [],
    )
    assert cfg.drift is not None and cfg.drift.ignore[0].target is not None
    assert cfg.drift.ignore[0].target.label_selector == "app=web"


def test_the_replicas_of_a_colour_belong_to_its_rollout() -> None:
    rules = RuleSet.build()
    colour = ObjectRef(
        "apps/v1",
        "Deployment",
        "web-green",
        "shop",
        "web-green",
        labels=(("helm-enterprise.io/colour", "green"),),
    )
    plain = ObjectRef("apps/v1", "Deployment", "web", "shop", "web")
    found = rules.find(colour, split("/spec/replicas"))
    assert found is not None and "rollout" in found.reason
    assert rules.find(plain, split("/spec/replicas")) is None
    assert rules.find(colour, split("/spec/template/spec/containers/0/image")) is None
