"""Release-level checks: chart versions, secret-looking values, images named in values."""

from __future__ import annotations

from typing import Any

import pytest

from helm_enterprise.policy import values
from helm_enterprise.policy.objects import UNKNOWN
from helm_enterprise.policy.settings import (
    ApprovedRegistries,
    ChartVersionPinned,
    ImageTags,
    NoPlaintextSecrets,
)

PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIB...\n-----END RSA PRIVATE KEY-----"


def test_leaves_and_classification() -> None:
    tree = {
        "a": {"b": [1, {"c": "x"}]},
        "ref": "vault:kv/app#password",
        "tpl": "postgres://u:${vault:kv/db#pw}@db",
        "empty": "",
        "flag": True,
        "none": None,
    }
    assert dict(values.leaves(tree)) == {
        "a.b[0]": 1,
        "a.b[1].c": "x",
        "ref": "vault:kv/app#password",
        "tpl": "postgres://u:${vault:kv/db#pw}@db",
        "empty": "",
        "flag": True,
        "none": None,
    }
    assert values.classify("x") == values.LITERAL
    assert values.classify("vault:kv/app#password") == values.REFERENCE
    assert values.classify("k8s:ns/secret#key") == values.REFERENCE
    assert values.classify("a ${vault:kv/db#pw}") == values.REFERENCE
    assert values.classify(object()) == values.DYNAMIC  # e.g. a pulumi.Output
    assert values.classify("  ") is None
    assert values.classify(3) is None


def test_literal_paths_record_where_not_what() -> None:
    literal, keys = values.literal_paths(
        {"db": {"password": "hunter2", "host": "db"}, "tls": {"key": PEM}, "n": 1}
    )
    assert literal == ["db.password", "db.host", "tls.key"]
    assert keys == ["tls.key"]


@pytest.mark.parametrize(
    ("path", "secret"),
    [
        ("db.password", True),
        ("auth.rootPassword", True),
        ("apiKey", True),
        ("api_key", True),
        ("oauth.clientSecret", True),
        ("github.token", True),
        ("aws.secretAccessKey", True),
        ("redis.auth.existingSecret", False),
        ("auth.secretName", False),
        ("tokenPath", False),
        ("passwordFile", False),
        ("secret.enabled", False),
        ("createSecret", False),
        ("podAnnotations.checksum/secret", False),
        ("serviceAccount.name", False),
        ("image.tag", False),
        ("users[0].passwords[0]", True),
        ("password[1]", True),
    ],
)
def test_secret_looking_keys(path: str, secret: bool) -> None:
    assert values.secret_key(path, NoPlaintextSecrets()) is secret


def test_plaintext_secrets_report_paths_never_values() -> None:
    tree = {
        "db": {"password": "hunter2", "host": "db.internal"},
        "auth": {"existingSecret": "app-auth", "token": "vault:kv/app#token"},
        "tls": {"cert": PEM},
        "admin": {"password": ""},
    }
    found = values.check_plaintext_values("Release shop/web", "web", tree, NoPlaintextSecrets())
    assert [(v.field, v.problem.split(":")[0]) for v in found] == [
        ("values.db.password", "a plain-text value at a secret-looking key"),
        ("values.tls.cert", "a PEM private key"),
    ]
    assert all(v.rule == "no-plaintext-secrets" and v.release == "web" for v in found)
    assert "secretValues" in found[0].fix
    text = "\n".join(v.text() for v in found)
    assert "hunter2" not in text and "MIIB" not in text


def test_plaintext_secret_settings() -> None:
    tree = {"db": {"password": "x"}, "ldap": {"bindDn": "cn=admin"}}
    settings = NoPlaintextSecrets(key_patterns=["bindDn"], allowed_paths=["db.password"])
    found = values.check_plaintext_values("r", "web", tree, settings)
    assert [v.field for v in found] == ["values.ldap.bindDn"]


def test_invalid_key_pattern_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a regular expression"):
        NoPlaintextSecrets(key_patterns=["("])


def test_images_named_in_values() -> None:
    tree: dict[str, Any] = {
        "global": {"imageRegistry": "mirror.corp"},
        "image": {"repository": "team/app", "tag": "1.0"},
        "sidecar": {"image": "busybox:latest"},
        "metrics": {"exporterImage": {"registry": "quay.io", "repository": "x/exp"}},
        "worker": {"image": {"repository": "team/worker", "digest": "sha256:abc"}},
        "gitSource": {"repository": "git@example"},
    }
    assert list(values.images_in_values(tree)) == [
        ("image", "mirror.corp/team/app:1.0", True),
        ("sidecar.image", "busybox:latest", True),
        ("metrics.exporterImage", "quay.io/x/exp", False),
        ("worker.image", "mirror.corp/team/worker@sha256:abc", True),
    ]


def test_value_images_registry_and_tags() -> None:
    tree = {"image": {"repository": "docker.io/library/nginx", "tag": "latest"}}
    found = values.check_value_images(
        "Release shop/web",
        "web",
        tree,
        registries=ApprovedRegistries(registries=["registry.corp"]),
        tags=ImageTags(),
    )
    assert [(v.rule, v.field) for v in found] == [
        ("approved-registries", "values.image"),
        ("image-tags", "values.image"),
    ]
    # A map without a tag: the chart's own default applies, not a violation.
    assert (
        values.check_value_images("r", "w", {"image": {"repository": "x/y"}}, tags=ImageTags())
        == []
    )


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        ("1.4.2", None),
        ("v1.4.2", None),
        ("1.4.2-rc.1", None),
        ("1.4.2+build.7", None),
        (None, "no chart version"),
        ("", "no chart version"),
        ("latest", "floats"),
        ("*", "floats"),
        ("^1.4", "is a range"),
        ("~1.4.2", "is a range"),
        (">=1.0 <2.0", "is a range"),
        ("1.4.x", "is a range"),
        ("1.4", "is not a SemVer version"),
        ("01.4.2", "is not a SemVer version"),
    ],
)
def test_chart_versions(version: str | None, problem: str | None) -> None:
    found = values.version_problem(version, ChartVersionPinned())
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found[0]


def test_prerelease_can_be_refused_and_unknown_is_skipped() -> None:
    found = values.version_problem("1.0.0-beta.1", ChartVersionPinned(allow_prerelease=False))
    assert found is not None and "pre-release" in found[0]
    assert values.version_problem(UNKNOWN, ChartVersionPinned()) is None


def test_chart_version_rule_per_source_kind() -> None:
    s = ChartVersionPinned()
    assert values.check_chart_version("r", "w", "local", None, s) == []
    [v] = values.check_chart_version("Release shop/web", "web", "repo", "^1.0", s)
    assert (v.rule, v.resource, v.field, v.release) == (
        "chart-version-pinned",
        "Release shop/web",
        "chart.version",
        "web",
    )
    [g] = values.check_chart_version("r", "w", "git", None, s, git_ref="main")
    assert g.field == "chart.git.ref" and "'main'" in g.problem
    assert values.check_chart_version("r", "w", "git", None, s, git_ref="v1.2.3") == []
    assert values.check_chart_version("r", "w", "git", None, s, git_ref="a" * 40) == []
