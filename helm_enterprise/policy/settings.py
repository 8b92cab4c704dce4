"""Configuration of each policy: the parameters users set in a policy config file.

``pulumi preview --policy-pack <pack> --policy-pack-config policy.json`` with::

    {
      "approved-registries": {"enforcementLevel": "mandatory",
                              "registries": ["registry.corp.example", "ghcr.io/corp"]},
      "required-labels": {"enforcementLevel": "advisory", "labels": ["team"]},
      "no-host-path": "disabled"
    }

``enforcementLevel`` is handled by CrossGuard; everything else is validated by the models
below (camelCase keys; unknown keys are errors). The pack publishes each model's JSON
schema, so the CLI rejects a malformed config file before any policy runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import Field, field_validator

from helm_enterprise.config._base import Model, validate_model
from helm_enterprise.errors import ConfigError, PolicyError


class ApprovedRegistries(Model):
    """``registries``: approved image locations — a registry host (``registry.corp``) or a
    host and path prefix (``ghcr.io/corp``). Empty (the default): the rule does not apply
    until it is configured."""

    registries: list[str] = Field(default_factory=list)

    @field_validator("registries")
    @classmethod
    def _normalise(cls, v: list[str]) -> list[str]:
        return [r.split("://", 1)[-1].strip("/") for r in v if r.strip("/")]


class ImageTags(Model):
    """``forbiddenTags``: tags that float (default ``latest``); an image without a tag is
    ``latest`` too. ``requireDigest``: every image must be pinned by ``@sha256:...``."""

    forbidden_tags: list[str] = Field(default_factory=lambda: ["latest"])
    require_digest: bool = False


class ResourceLimits(Model):
    """Resources every container must request (``requests``) and be limited to
    (``limits``); ``initContainers`` includes init containers."""

    requests: list[str] = Field(default_factory=lambda: ["cpu", "memory"])
    limits: list[str] = Field(default_factory=lambda: ["cpu", "memory"])
    init_containers: bool = True


class NoPrivileged(Model):
    """Privileged containers are always violations; ``forbiddenCapabilities`` are Linux
    capabilities a container may not add (default ``ALL`` and ``SYS_ADMIN``)."""

    forbidden_capabilities: list[str] = Field(default_factory=lambda: ["ALL", "SYS_ADMIN"])


class NoHostNamespaces(Model):
    """``allow`` lists host namespaces that are accepted (``hostNetwork``, ``hostPID``,
    ``hostIPC``); default none."""

    allow: list[Literal["hostNetwork", "hostPID", "hostIPC"]] = Field(default_factory=list)


class NoHostPath(Model):
    """``allowedPaths``: host path prefixes that may be mounted (default none)."""

    allowed_paths: list[str] = Field(default_factory=list)


class ChartVersionPinned(Model):
    """Chart versions must be exact SemVer versions; ``allowPrerelease`` accepts
    ``1.2.0-rc.1``. Git chart sources must name a tag or a full commit, not a branch."""

    allow_prerelease: bool = True


DEFAULT_SECRET_KEYS = [
    r"passw(or)?d",
    r"passphrase",
    r"secret",
    r"token",
    r"api[-_]?key",
    r"private[-_]?key",
    r"access[-_]?key",
    r"credentials?",
    r"connection[-_]?string",
    r"auth[-_]?key",
]
DEFAULT_IGNORED_KEYS = [
    r"^existing",
    r"name$",
    r"ref$",
    r"(file|path|dir)$",
    r"enabled$",
    r"^create",
    r"checksum",
    r"mount",
    r"^(use|auto|generate)",
]


class RenderedObjectsChecked(Model):
    """No settings. A stack policy: a helm_enterprise release in release mode must register
    its policy summary (``helm-enterprise:policySummary: true`` or ``validation.policy``),
    otherwise the pack never sees the objects Helm applies and the object rules pass it
    unchecked. Set the rule to ``advisory`` or ``disabled`` to accept that."""


class NoPlaintextSecrets(Model):
    """A values key matching ``keyPatterns`` (regular expressions, case-insensitive) and
    none of ``ignoreKeyPatterns`` must not hold a plain string: secrets go in
    ``secretValues`` (Vault, Kubernetes Secret or secret stack config). ``allowedPaths``
    exempts value paths (``auth.username``). A PEM private key is a violation anywhere."""

    key_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_SECRET_KEYS))
    ignore_key_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_IGNORED_KEYS))
    allowed_paths: list[str] = Field(default_factory=list)

    @field_validator("key_patterns", "ignore_key_patterns")
    @classmethod
    def _regex(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"{pattern!r} is not a regular expression: {err}") from None
        return v


class TenantBoundaries(Model):
    """``tenants`` maps a tenant to the namespaces it owns (names or globs such as
    ``team-a-*``); a tenant's release and every object it renders must stay inside them,
    and may not create cluster-scoped objects unless ``allowClusterScoped``.
    ``allowedNamespaces`` (names or globs) applies to releases without a tenant; empty
    means any. A release naming a tenant that is not listed is a violation."""

    tenants: dict[str, list[str]] = Field(default_factory=dict)
    allowed_namespaces: list[str] = Field(default_factory=list)
    allow_cluster_scoped: bool = False


class RequiredLabels(Model):
    """``labels`` every object must carry (default ``app.kubernetes.io/name``); ``kinds``
    limits the rule to some kinds (default: every kind). ``podTemplates`` also checks the
    pod template labels of workloads."""

    labels: list[str] = Field(default_factory=lambda: ["app.kubernetes.io/name"])
    kinds: list[str] = Field(default_factory=list)
    pod_templates: bool = False


S = TypeVar("S", bound=Model)


def load(model: type[S], raw: Mapping[str, Any] | None, policy: str) -> S:
    """The settings of one policy from CrossGuard's config (``None``: defaults).

    Raises:
        PolicyError: the config does not match the model (names the field and policy).
    """
    items = raw.items() if isinstance(raw, Mapping) else ()
    data = {k: v for k, v in items if k != "enforcementLevel"}
    try:
        return validate_model(model, data)
    except ConfigError as err:
        raise PolicyError(f"policy config of {policy!r}: {err}") from None


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k not in ("title", "$defs")}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def schema_properties(model: type[Model]) -> dict[str, dict[str, Any]]:
    """The JSON schema of a settings model's fields (camelCase, references inlined), as
    CrossGuard's ``PolicyConfigSchema.properties`` wants it."""
    schema = model.model_json_schema(by_alias=True)
    props = _inline(schema.get("properties", {}), schema.get("$defs", {}))
    assert isinstance(props, dict)
    return props
