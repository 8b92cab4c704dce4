"""The model of one release: chart source, repository auth, values, timeouts, rollback.

The same model validates Python arguments (``Release(name, {...})``) and stack config
(``helm-enterprise:releases`` in ``Pulumi.<stack>.yaml``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from helm_enterprise.config._base import (
    Duration,
    Model,
    first_duplicate,
    format_duration,
    is_namespace_name,
)
from helm_enterprise.config.autoscaling import AutoscalingConfig, VpaConfig, autoscaling_conflict
from helm_enterprise.config.git import GitSource
from helm_enterprise.config.health import HealthPolicy
from helm_enterprise.config.secrets import Secret, SecretRef, coerce_secret_ref, is_reference
from helm_enterprise.config.slo import SloConfig, check_unique_slos
from helm_enterprise.config.strategy import StrategyConfig

_RELEASE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CHART_NAME = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]*$")
_VALUE_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+|\[\d+\])*$")


def value_paths(v: dict[str, Any]) -> dict[str, Any]:
    """``v`` when every key is a values path like ``db.password`` (secretValues keys)."""
    for path in v:
        if not _VALUE_PATH.match(path):
            raise ValueError(f"{path!r} is not a values path like 'db.password'")
    return v


# Sane ranges for T1.3 timeouts (seconds).
TIMEOUT_RANGES = {
    "deploy_start": (10, 3600),
    "readiness": (30, 7200),
    "cleanup": (10, 3600),
}
TIMEOUT_DEFAULTS = {"deploy_start": 300, "readiness": 600, "cleanup": 300}


# -- repository auth (T1.1) ---------------------------------------------------------------


def _identity_or_ref(value: object) -> object:
    """A plain identity, unless it is written as a reference (then it is resolved)."""
    if isinstance(value, str) and not is_reference(value):
        return value
    return coerce_secret_ref(value)


class BasicAuth(Model):
    """HTTP basic auth. The username may be plain (it is an identity, not a secret)."""

    method: Literal["basic"] = "basic"
    username: Annotated[str | SecretRef, BeforeValidator(_identity_or_ref)]
    password: Secret


class BearerAuth(Model):
    """``Authorization: Bearer <token>``. Helm has no native support; the chart is fetched
    by helm_enterprise itself and handed to Helm as a local archive."""

    method: Literal["bearer"] = "bearer"
    token: Secret


class TlsAuth(Model):
    """A TLS client certificate and key (PEM)."""

    method: Literal["tls"] = "tls"
    cert: Secret
    key: Secret


RepoAuth = Annotated[BasicAuth | BearerAuth | TlsAuth, Field(discriminator="method")]


class RepositoryConfig(Model):
    """A Helm chart repository: ``https://`` index or ``oci://`` registry.

    ``auth`` lists one or more methods used together (e.g. a TLS client certificate *and*
    basic auth). ``ca`` is a PEM CA bundle (a public value: a path or a reference).
    TLS is verified unless ``insecure_skip_tls_verify`` is set explicitly.
    """

    url: str
    auth: list[RepoAuth] = Field(default_factory=list)
    ca_file: str | None = None
    ca: Secret | None = None
    insecure_skip_tls_verify: bool = False
    pass_credentials: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parsed = urlparse(v)
        if parsed.scheme not in {"http", "https", "oci"} or not parsed.netloc:
            raise ValueError(
                f"{v!r} is not a chart repository URL; use https://host/path or oci://host/path"
            )
        return v.rstrip("/")

    @field_validator("auth")
    @classmethod
    def _auth(
        cls, v: list[BasicAuth | BearerAuth | TlsAuth]
    ) -> list[BasicAuth | BearerAuth | TlsAuth]:
        methods = [a.method for a in v]
        if (dupe := first_duplicate(methods)) is not None:
            raise ValueError(f"auth method {dupe!r} is listed twice; give it once")
        if "basic" in methods and "bearer" in methods:
            raise ValueError(
                "basic and bearer auth both use the Authorization header; choose one "
                "(either may be combined with tls)"
            )
        return v

    @model_validator(mode="after")
    def _ca(self) -> RepositoryConfig:
        if self.ca_file and self.ca:
            raise ValueError("give the CA as caFile or as ca, not both")
        if self.is_oci and any(a.method == "bearer" for a in self.auth):
            raise ValueError(
                "bearer tokens are not supported for oci:// registries; use basic auth "
                "(registries accept tokens as the password)"
            )
        return self

    @property
    def is_oci(self) -> bool:
        return self.url.startswith("oci://")

    def method_names(self) -> str:
        return "+".join(a.method for a in self.auth) or "anonymous"


# -- chart source -------------------------------------------------------------------------


class ChartSpec(Model):
    """Where the chart comes from: exactly one of a repository, a local path, Git, or an
    ``oci://`` reference in ``name``.

    ``repository`` is a :class:`RepositoryConfig` or the name of one declared under the
    stack's ``helm-enterprise:repositories``.
    """

    name: str | None = None
    version: str | None = None
    repository: RepositoryConfig | str | None = None
    path: str | None = None
    git: GitSource | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ChartSpec:
        oci_name = bool(self.name and self.name.startswith("oci://"))
        sources = [
            s
            for s, present in (
                ("repository", self.repository is not None),
                ("path", self.path is not None),
                ("git", self.git is not None),
                ("name (oci://)", oci_name),
            )
            if present
        ]
        if len(sources) != 1:
            what = "none" if not sources else " and ".join(sources)
            raise ValueError(
                f"give exactly one chart source (repository + name, path, git, or an oci:// "
                f"name); got {what}"
            )
        if self.repository is not None and not self.name:
            raise ValueError("a chart from a repository needs its name")
        if self.name and not oci_name and not _CHART_NAME.match(self.name):
            raise ValueError(f"{self.name!r} is not a valid chart name")
        if self.path is not None and self.version is not None:
            raise ValueError("a local chart's version comes from its Chart.yaml; remove version")
        if self.git is not None and self.version is not None:
            raise ValueError(
                "a Git chart's version comes from its Chart.yaml; remove version and pin the "
                "chart with git.ref (a tag or a commit)"
            )
        return self


# -- timeouts (T1.3) ----------------------------------------------------------------------


def _check_range(field: str, seconds: int | None) -> None:
    if seconds is None:
        return
    low, high = TIMEOUT_RANGES[field]
    if not low <= seconds <= high:
        raise ValueError(
            f"{field.replace('_', ' ')} timeout {format_duration(seconds)} is outside "
            f"{format_duration(low)}..{format_duration(high)}"
        )


class TimeoutValues(Model):
    """Deploy-start, readiness and cleanup timeouts; unset fields inherit."""

    deploy_start: Duration | None = None
    readiness: Duration | None = None
    cleanup: Duration | None = None

    @field_validator("deploy_start", "readiness", "cleanup")
    @classmethod
    def _range(cls, v: int | None, info: ValidationInfo) -> int | None:
        assert info.field_name is not None
        _check_range(info.field_name, v)
        return v


class TimeoutConfig(TimeoutValues):
    """Timeouts with optional per-operation overrides (``install``, ``upgrade``,
    ``uninstall``, ``rollback``). Precedence: operation → release → global → defaults."""

    install: TimeoutValues | None = None
    upgrade: TimeoutValues | None = None
    uninstall: TimeoutValues | None = None
    rollback: TimeoutValues | None = None


Operation = Literal["install", "upgrade", "uninstall", "rollback"]
ReleaseMode = Literal["release", "chart"]
SloGateLevel = Literal["none", "page", "ticket"]


class EffectiveTimeouts(Model):
    deploy_start: int
    readiness: int
    cleanup: int


def effective_timeouts(operation: Operation, *layers: TimeoutConfig | None) -> EffectiveTimeouts:
    """Resolve timeouts for one operation; ``layers`` go from global to release."""
    out = dict(TIMEOUT_DEFAULTS)
    for layer in layers:
        if layer is None:
            continue
        for field in TIMEOUT_DEFAULTS:
            v = getattr(layer, field)
            if v is not None:
                out[field] = v
    # Operation overrides win over every layer's general values, release over global.
    for layer in layers:
        op = getattr(layer, operation) if layer is not None else None
        if op is None:
            continue
        for field in TIMEOUT_DEFAULTS:
            v = getattr(op, field)
            if v is not None:
                out[field] = v
    return EffectiveTimeouts(**out)


# -- rollback (T1.4) ----------------------------------------------------------------------


class RollbackPolicy(Model):
    """How failures are undone.

    * ``atomic`` — a failed install is removed and a failed upgrade rolled back by Helm
      (this is the automatic rollback on readiness failure);
    * ``cleanup_on_fail`` — delete new objects created by a failed upgrade;
    * ``history_limit`` — Helm revisions kept (``max_history``);
    * ``recover_pending`` — a release stuck in pending-install/upgrade/rollback (a killed CI
      job) is marked failed so the next ``pulumi up`` can proceed;
    * ``recover_failed_install`` — a first install that failed may be replaced;
    * ``restore_out_of_band`` — a deployed revision this stack did not make (a hand
      ``helm rollback``/``helm upgrade``) is upgraded back to the desired state by the next
      ``pulumi up`` (release mode; false: only a warning).
    """

    atomic: bool = True
    cleanup_on_fail: bool = True
    history_limit: int = Field(default=10, ge=1, le=256)
    recover_pending: bool = True
    recover_failed_install: bool = True
    restore_out_of_band: bool = True


class ValidationPolicy(Model):
    """Dry-run validation (T1.5) run during ``pulumi preview`` and ``helm-enterprise validate``.

    ``schema`` checks merged values against the chart's values.schema.json;
    ``ownership`` reports releases/objects owned by another release or stack;
    ``server_dry_run`` sends the rendered objects (and one Pod per pod template) to the
    API server with dryRun=All during preview: RBAC, quota, PodSecurity and admission
    problems fail the preview (release mode; chart mode previews every object with the
    provider's own server-side dry run);
    ``policy`` registers the policy summary the CrossGuard pack checks (T4.2); unset, the
    stack's ``helm-enterprise:policySummary`` decides (default off).
    """

    schema_: bool = Field(default=True, alias="schema")
    ownership: bool = True
    server_dry_run: bool = False
    policy: bool | None = None


class RollOnSecretChange(Model):
    """Add a checksum of the injected secrets' identities/versions as a pod annotation so
    pods roll when a secret rotates. ``values_path`` is where the chart reads pod
    annotations (``podAnnotations`` in most charts)."""

    enabled: bool = True
    values_path: str = "podAnnotations"

    @field_validator("values_path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not _VALUE_PATH.match(v):
            raise ValueError(f"{v!r} is not a values path like 'podAnnotations' or 'a.b'")
        return v


class ChartModeOptions(Model):
    """Settings of chart mode (``mode: chart``, ``helm.v4.Chart``), which applies the
    rendered objects itself and so never runs the chart's Helm hooks (pre-/post-install,
    upgrade, delete, rollback Jobs and the like).

    ``hooks`` — what to do about a chart that has hooks, checked on every preview and up:
    ``warn`` (default) deploys without them and warns with each hook's kind/name and
    events; ``refuse`` fails the preview with one line naming them (use release mode to
    have Helm run them).
    """

    hooks: Literal["warn", "refuse"] = "warn"


class StackDependency(Model):
    """A release of another stack this one waits for (``dependsOn`` entry
    ``{stack: org/project/stack, release: db}``): read through a Pulumi stack reference
    (that stack's ``releases`` output), it must be ``deployed`` and, when it has health
    checks, ``healthy``; otherwise this release is not installed or upgraded and the run
    fails naming it."""

    stack: str
    release: str

    @field_validator("stack", "release")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v:
            raise ValueError("must not be empty")
        return v


class ReleaseConfig(Model):
    """One Helm release managed by helm_enterprise."""

    name: str
    namespace: str = "default"
    create_namespace: bool = False
    mode: ReleaseMode = "release"
    chart: ChartSpec
    values: dict[str, Any] = Field(default_factory=dict)
    secret_values: dict[str, Secret] = Field(default_factory=dict)
    timeouts: TimeoutConfig | None = None
    rollback: RollbackPolicy = Field(default_factory=RollbackPolicy)
    validation: ValidationPolicy = Field(default_factory=ValidationPolicy)
    roll_on_secret_change: RollOnSecretChange = Field(default_factory=RollOnSecretChange)
    chart_mode: ChartModeOptions = Field(default_factory=ChartModeOptions)
    wait: bool = True
    wait_for_jobs: bool = False
    # Helm's description of each revision; the stack's mark is appended (rollback/outofband.py).
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    # Releases of the same stack/group by name, or of another stack (StackDependency).
    depends_on: list[str | StackDependency] = Field(default_factory=list)
    adopt: bool = False
    tenant: str | None = None
    protect: bool = False
    retain_on_delete: bool = False
    health: HealthPolicy | None = None
    # T4.3: SLOs (Prometheus rules with Sloth's names) and a gate on their burn-rate alerts:
    # `page` refuses to install/upgrade while a page alert of this release fires, `ticket`
    # while any does.
    slos: list[SloConfig] = Field(default_factory=list)
    slo_gate: SloGateLevel = "none"
    # T3.5: a HorizontalPodAutoscaler (or the chart's own HPA values) and a VPA.
    autoscaling: AutoscalingConfig | None = None
    vpa: VpaConfig | None = None
    # T3.1/T3.2: blue/green or canary between two colours of the release.
    strategy: StrategyConfig | None = None

    @property
    def local_dependencies(self) -> list[str]:
        """``depends_on``'s releases of the same stack (or group), by name."""
        return [d for d in self.depends_on if isinstance(d, str)]

    @property
    def stack_dependencies(self) -> list[StackDependency]:
        """``depends_on``'s releases of other stacks."""
        return [d for d in self.depends_on if isinstance(d, StackDependency)]

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if len(v) > 53 or not _RELEASE_NAME.match(v):
            raise ValueError(
                f"{v!r} is not a valid Helm release name (lowercase letters, digits and '-', "
                "at most 53 characters)"
            )
        return v

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, v: str) -> str:
        if not is_namespace_name(v):
            raise ValueError(f"{v!r} is not a valid namespace name")
        return v

    @field_validator("slos")
    @classmethod
    def _unique_slos(cls, v: list[SloConfig]) -> list[SloConfig]:
        return check_unique_slos(v)

    @field_validator("secret_values")
    @classmethod
    def _secret_paths(cls, v: dict[str, Any]) -> dict[str, Any]:
        return value_paths(v)

    @model_validator(mode="after")
    def _chart_mode_only(self) -> ReleaseConfig:
        # A setting nothing would read is a mistake to report, not to ignore.
        if self.mode != "chart" and "chart_mode" in self.model_fields_set:
            raise ValueError("chartMode: applies to mode: chart only; remove it or set mode: chart")
        conflict = autoscaling_conflict(self.autoscaling, self.vpa)
        if conflict:
            raise ValueError(conflict)
        if self.slo_gate != "none" and not self.slos:
            raise ValueError("sloGate: gates on this release's own SLOs; declare slos")
        if self.slo_gate != "none" and self.mode != "release":
            raise ValueError("sloGate: applies to mode: release (it is checked before Helm runs)")
        if self.strategy is not None:
            problem = strategy_conflict(self)
            if problem:
                raise ValueError(problem)
        return self


def strategy_conflict(cfg: ReleaseConfig) -> str | None:
    """Settings a release with a strategy cannot have (each message starts with the field)."""
    if cfg.mode != "release":
        return "strategy: needs mode: release (each colour is a Helm release)"
    if cfg.autoscaling is not None or cfg.vpa is not None:
        return (
            "autoscaling: not supported with a strategy yet (the rollout sets the replicas "
            "of both colours); remove one of them"
        )
    if cfg.health is not None:
        return (
            "health: a release with a strategy is judged by the strategy's analysis; move "
            "the checks into an analysis (http or prometheus metrics)"
        )
    if not cfg.wait:
        return "wait: a strategy needs Helm to wait for the new colour (remove wait: false)"
    return None
