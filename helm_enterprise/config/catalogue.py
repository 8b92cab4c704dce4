"""A stack catalogue (X.1, T4.1): one Pulumi stack per tenant or per cluster.

::

    # catalogue.yaml — `helm-enterprise stacks up --catalogue catalogue.yaml`
    project: .                       # the Pulumi project (relative to this file)
    parallel: 4                      # stacks deployed at the same time
    stopOnFailure: false             # true: a failure cancels the stacks not started yet
    unreachable: exclude             # a stack whose cluster is unhealthy: exclude | fail (default)
    config:                          # every stack gets this config...
      helm-enterprise:releases: [{name: web, chart: {path: charts/web}}]
    stacks:
      - name: eu-1                   # ...plus its own (which wins)
        cluster: {kubeconfig: ~/.kube/eu-1.yaml}   # sets helm-enterprise:cluster, checked first
        config: {helm-enterprise:timeouts: {readiness: 15m}}
        secrets: {helm-enterprise:dbPassword: {env: EU1_DB_PASSWORD}}

Config keys are Pulumi's (``namespace:key``; a bare key is the project's namespace).
Secrets are never written in the catalogue: each names where its value comes from
(``{env: VAR}`` or ``{file: path}``) and is set as a secret stack value.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from helm_enterprise.config._base import Model
from helm_enterprise.config.stack import ClusterConfig, CredentialSource

_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_CONFIG_KEY = re.compile(r"^([A-Za-z0-9_.-]+:)?[A-Za-z0-9_.-]+$")


def _keys(values: dict[str, Any]) -> dict[str, Any]:
    for key in values:
        if not _CONFIG_KEY.match(key):
            raise ValueError(f"{key!r} is not a config key like 'namespace:key' or 'key'")
    return values


class CatalogueStack(Model):
    """One stack of the catalogue."""

    name: str
    config: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, CredentialSource] = Field(default_factory=dict)
    cluster: ClusterConfig | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _STACK_NAME.match(v):
            raise ValueError(
                f"{v!r} is not a stack name (letters, digits, '_', '.', '-'; at most 100)"
            )
        return v

    @field_validator("config")
    @classmethod
    def _config(cls, v: dict[str, Any]) -> dict[str, Any]:
        return _keys(v)

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, v: dict[str, CredentialSource]) -> dict[str, CredentialSource]:
        for key, source in _keys(v).items():
            if source.config:
                raise ValueError(
                    f"{key}: a catalogue secret comes from {{env: VAR}} or {{file: path}}"
                )
        return v


class StackCatalogue(Model):
    """Stacks to create or update from one project, in parallel (see the module docs)."""

    project: str | None = None
    parallel: int = Field(default=4, ge=1, le=32)
    stop_on_failure: bool = False
    unreachable: Literal["exclude", "fail"] = "fail"
    config: dict[str, Any] = Field(default_factory=dict)
    stacks: list[CatalogueStack] = Field(min_length=1)

    @field_validator("config")
    @classmethod
    def _config(cls, v: dict[str, Any]) -> dict[str, Any]:
        return _keys(v)

    @model_validator(mode="after")
    def _unique(self) -> StackCatalogue:
        seen: dict[str, int] = {}
        for i, s in enumerate(self.stacks):
            if s.name in seen:
                raise ValueError(
                    f"stacks[{i}].name: stack {s.name!r} is already listed at [{seen[s.name]}]"
                )
            seen[s.name] = i
        return self


__all__ = ["CatalogueStack", "StackCatalogue"]
