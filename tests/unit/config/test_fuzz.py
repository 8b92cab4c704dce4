"""Property: arbitrary stack config produces a model or a ConfigError, nothing else."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from helm_enterprise.config import StackConfig, validate_model
from helm_enterprise.errors import ConfigError

KEYS = [
    "releases",
    "repositories",
    "vault",
    "timeouts",
    "cluster",
    "name",
    "chart",
    "path",
    "repository",
    "url",
    "auth",
    "method",
    "username",
    "password",
    "token",
    "values",
    "secretValues",
    "version",
    "namespace",
    "mode",
    "readiness",
    "cleanup",
    "deployStart",
    "rollback",
    "atomic",
    "historyLimit",
    "dependsOn",
    "upgrade",
    "vault",
    "key",
    "config",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**6),
    st.floats(allow_nan=True),
    st.sampled_from(
        [
            "web",
            "charts/hello",
            "https://h",
            "oci://r/c",
            "vault:secret/a#b",
            "5m",
            "basic",
            "bearer",
            "tls",
            "release",
            "chart",
            "k8s:ns/n#k",
            "",
            "../x",
        ]
    ),
    st.text(max_size=12),
)
json_like = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), children, max_size=5
        ),
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["releases", "repositories", "vault", "timeouts", "cluster", "other"]),
        json_like,
        max_size=4,
    )
)
def test_only_config_errors(data: dict[str, Any]) -> None:
    try:
        validate_model(StackConfig, data)
    except ConfigError as err:
        assert str(err)
        assert err.issues


release = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["web", "api", "x" * 60, "Bad"]),
        "chart": st.one_of(
            st.just({"path": "c"}),
            st.fixed_dictionaries({"name": st.text(max_size=8), "repository": json_like}),
        ),
    },
    optional={
        "timeouts": st.dictionaries(
            st.sampled_from(["readiness", "cleanup", "deployStart", "install"]),
            json_like,
            max_size=3,
        ),
        "secretValues": st.dictionaries(st.text(max_size=8), json_like, max_size=3),
        "values": json_like,
        "rollback": json_like,
        "mode": scalars,
    },
)


@settings(max_examples=400, deadline=None)
@given(st.lists(release, max_size=3))
def test_release_shaped_input_only_config_errors(releases: list[dict[str, Any]]) -> None:
    try:
        validate_model(StackConfig, {"releases": releases})
    except ConfigError as err:
        assert err.path
