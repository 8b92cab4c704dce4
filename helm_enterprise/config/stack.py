"""Stack-level configuration: everything under the ``helm-enterprise:`` config namespace.

::

    config:
      helm-enterprise:cluster: {kubeconfig: ~/.kube/config, context: prod}
      helm-enterprise:vault: {address: https://vault:8200, auth: {method: approle, ...}}
      helm-enterprise:timeouts: {readiness: 15m}
      helm-enterprise:repositories:
        corp: {url: https://charts.corp, auth: [{method: basic, username: ci, password: ...}]}
      helm-enterprise:releases:
        - name: web
          chart: {name: podinfo, version: 6.5.0, repository: corp}
      helm-enterprise:audit: {sinks: [{type: syslog, host: siem.corp}]}  # see config.audit
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from helm_enterprise.config._base import Model, validate_model
from helm_enterprise.config.audit import AuditConfig
from helm_enterprise.config.drift import DriftPolicy
from helm_enterprise.config.multicluster import MultiClusterReleaseConfig, stack_issues
from helm_enterprise.config.release import ReleaseConfig, RepositoryConfig, TimeoutConfig
from helm_enterprise.config.tenant import TenantConfig, TierConfig, release_issue, tenant_issues


def _coerce_credential(value: object) -> object:
    """A Vault login credential: ``{env: NAME}``, ``{file: PATH}`` or ``{config: KEY}``."""
    if isinstance(value, str):
        raise ValueError(
            "a Vault login credential must not be a literal; use {env: VAR}, {file: path} "
            "or {config: key} (a secret stack config value)"
        )
    return value


POLICY_SUMMARY_ENV = "HELM_ENTERPRISE_POLICY_SUMMARY"


class CredentialSource(Model):
    """Where a Vault login credential comes from. Exactly one field."""

    env: str | None = None
    file: str | None = None
    config: str | None = None

    @model_validator(mode="after")
    def _one(self) -> CredentialSource:
        given = [k for k in ("env", "file", "config") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of env, file or config")
        return self

    def describe(self) -> str:
        if self.env:
            return f"env:{self.env}"
        if self.file:
            return f"file:{self.file}"
        return f"config:{self.config}"


Credential = Annotated[CredentialSource, BeforeValidator(_coerce_credential)]


class TokenAuth(Model):
    method: Literal["token"] = "token"
    token: Credential = Field(default_factory=lambda: CredentialSource(env="VAULT_TOKEN"))


class AppRoleAuth(Model):
    method: Literal["approle"] = "approle"
    mount: str = "approle"
    role_id: str
    secret_id: Credential


class KubernetesAuth(Model):
    method: Literal["kubernetes"] = "kubernetes"
    mount: str = "kubernetes"
    role: str
    jwt: Credential = Field(
        default_factory=lambda: CredentialSource(
            file="/var/run/secrets/kubernetes.io/serviceaccount/token"
        )
    )


class JwtAuth(Model):
    """JWT/OIDC login (CI identity tokens such as GitHub Actions OIDC)."""

    method: Literal["jwt"] = "jwt"
    mount: str = "jwt"
    role: str
    jwt: Credential


VaultAuth = Annotated[
    TokenAuth | AppRoleAuth | KubernetesAuth | JwtAuth, Field(discriminator="method")
]


class VaultConfig(Model):
    """How to reach and log in to Vault. ``address`` defaults to ``$VAULT_ADDR``."""

    address: str | None = None
    namespace: str | None = None
    ca_file: str | None = None
    tls_skip_verify: bool = False
    auth: VaultAuth = Field(default_factory=TokenAuth)
    kv_version: Literal[1, 2] | None = None
    timeout: float = Field(default=10.0, gt=0, le=300)
    max_parallel_reads: int = Field(default=8, ge=1, le=64)

    @field_validator("address")
    @classmethod
    def _addr(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not a Vault address; use https://host:8200")
        return v.rstrip("/") if v else v


UnreachableCluster = Literal["warn-on-preview", "fail", "warn"]


CoordinatedRollback = Literal["none", "dependents", "group"]


class PrometheusConfig(Model):
    """``helm-enterprise:prometheus``: the Prometheus of the releases' SLOs (T4.3).

    ``address`` — its HTTP API (``http://prometheus:9090``), for SLO gates and
    ``helm-enterprise slo status``. Where the rules go (``rules``): ``files`` writes one rule
    file per release into ``ruleFilesDir`` (a directory in its ``rule_files``) and, with
    ``reload``, ``POST <address>/-/reload`` (``--web.enable-lifecycle``); ``prometheusRule``
    creates a ``monitoring.coreos.com/v1`` PrometheusRule per release for the Prometheus
    Operator, labelled with ``ruleLabels`` (what its ``ruleSelector`` matches). Default:
    ``files`` when ``ruleFilesDir`` is set, else ``prometheusRule``.
    """

    address: str | None = None
    rules: Literal["files", "prometheusRule"] | None = None
    rule_files_dir: str | None = None
    reload: bool = True
    rule_labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("address")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v.rstrip("/") if v else v

    @model_validator(mode="after")
    def _where(self) -> PrometheusConfig:
        if self.rules == "files" and self.rule_files_dir is None:
            raise ValueError("ruleFilesDir: rules: files writes rule files there; set it")
        if self.rule_target == "files" and self.reload and self.address is None:
            raise ValueError("address: reloading Prometheus (reload: true) needs its address")
        return self

    @property
    def rule_target(self) -> Literal["files", "prometheusRule"]:
        if self.rules is not None:
            return self.rules
        return "files" if self.rule_files_dir is not None else "prometheusRule"


class ClusterConfig(Model):
    """Which cluster to deploy to. Unset: the ambient kubeconfig (``$KUBECONFIG``).

    ``unreachable`` — what a release's pre-apply checks (ownership, stuck-release
    recovery) do when this cluster does not answer: ``warn-on-preview`` (default) skips
    them with a warning during ``pulumi preview`` (a preview of a cluster that does not
    exist yet is a normal CI case) and fails ``pulumi up`` with one line; ``fail`` fails
    both; ``warn`` skips them with a warning in both (the explicit opt-out). A cluster that
    answers but refuses the credentials (401) or a permission (403) always fails: that is
    not "unreachable".
    """

    kubeconfig: str | None = None
    context: str | None = None
    unreachable: UnreachableCluster = "warn-on-preview"


class FileSecretsConfig(Model):
    """The ``file:`` backend: ``root`` is where relative ``file:`` paths start (default:
    the program's directory)."""

    root: str | None = None


K8sSecretReader = Literal["backend", "pulumi"]


class KubernetesSecretsConfig(Model):
    """How ``k8s:`` references are read.

    ``reader: backend`` (default): by :class:`KubernetesSecretBackend`, once per run and
    batched with the other secrets, from the cluster each release deploys to (the stack's
    ``cluster``; each cluster of a multi-cluster release), or from the one cluster
    ``kubeconfig``/``context`` name. ``reader: pulumi``: by Pulumi (``Secret.get``) with
    each release's own provider, for a cluster the program creates itself (its kubeconfig
    is only known during the deployment).
    """

    reader: K8sSecretReader = "backend"
    kubeconfig: str | None = None
    context: str | None = None

    @model_validator(mode="after")
    def _one_cluster_only_for_the_backend(self) -> KubernetesSecretsConfig:
        if self.reader == "pulumi" and (self.kubeconfig or self.context):
            raise ValueError(
                "kubeconfig/context name the cluster the backend reads from; with "
                "reader: pulumi each release's provider decides (remove them, or use "
                "reader: backend)"
            )
        return self


class SecretsConfig(Model):
    """``helm-enterprise:secrets``: the built-in secret backends other than Vault (which
    has ``helm-enterprise:vault``). ``env:`` needs no settings."""

    file: FileSecretsConfig = Field(default_factory=FileSecretsConfig)
    k8s: KubernetesSecretsConfig = Field(default_factory=KubernetesSecretsConfig)


class StackConfig(Model):
    """Everything a stack can set under ``helm-enterprise:``."""

    releases: list[ReleaseConfig] = Field(default_factory=list)
    repositories: dict[str, RepositoryConfig] = Field(default_factory=dict)
    vault: VaultConfig | None = None
    secrets: SecretsConfig | None = None
    timeouts: TimeoutConfig | None = None
    cluster: ClusterConfig | None = None
    # Multi-cluster (T4.1): named clusters and releases deployed to several of them.
    clusters: dict[str, ClusterConfig] = Field(default_factory=dict)
    multi_cluster_releases: list[MultiClusterReleaseConfig] = Field(default_factory=list)
    drift: DriftPolicy | None = None
    tenants: list[TenantConfig] = Field(default_factory=list)
    tiers: dict[str, TierConfig] = Field(default_factory=dict)
    audit: AuditConfig | None = None
    # Register every release's policy summary for the CrossGuard pack (T4.2); also on when
    # POLICY_SUMMARY_ENV is "1" (`validate --policy` sets it for its preview).
    policy_summary: bool = False
    # T3.4: when a release fails, roll back the ones this run upgraded (components/group.py).
    coordinated_rollback: CoordinatedRollback = "none"
    prometheus: PrometheusConfig | None = None

    @model_validator(mode="after")
    def _cross_checks(self) -> StackConfig:
        seen: dict[tuple[str, str], int] = {}
        names = {r.name for r in self.releases}
        for i, r in enumerate(self.releases):
            key = (r.namespace, r.name)
            if key in seen:
                raise ValueError(
                    f"releases[{i}]: release {r.name!r} in namespace {r.namespace!r} is "
                    f"already declared at releases[{seen[key]}]"
                )
            seen[key] = i
            repo = r.chart.repository
            if isinstance(repo, str) and repo not in self.repositories:
                known = ", ".join(sorted(self.repositories)) or "none declared"
                raise ValueError(
                    f"releases[{i}].chart.repository: unknown repository {repo!r} "
                    f"(helm-enterprise:repositories has: {known})"
                )
            for dep in r.local_dependencies:
                if dep not in names:
                    raise ValueError(
                        f"releases[{i}].dependsOn: no release named {dep!r} in this stack"
                    )
        cycle = find_cycle({r.name: r.local_dependencies for r in self.releases})
        if cycle:
            raise ValueError(
                f"releases: dependency cycle {' → '.join(cycle)} (remove one of these dependsOn)"
            )
        return self

    @model_validator(mode="after")
    def _tenant_checks(self) -> StackConfig:
        # Tenants (T2.2): tiers exist, one tenant per namespace, releases stay inside theirs.
        issues = tenant_issues(self.tenants, self.tiers)
        tenants = {t.name: t for t in self.tenants}
        for i, r in enumerate(self.releases):
            issue = release_issue(
                f"releases[{i}]", r.namespace, r.tenant, r.create_namespace, tenants
            )
            if issue:
                issues.append(issue)
        if issues:
            path, message = issues[0]
            raise ValueError(f"{path}: {message}")
        return self

    @model_validator(mode="after")
    def _multi_cluster_checks(self) -> StackConfig:
        issues = stack_issues(
            self.multi_cluster_releases,
            set(self.clusters),
            {r.name for r in self.releases},
            set(self.repositories),
        )
        if issues:
            path, message = issues[0]
            raise ValueError(f"{path}: {message}")
        return self


STACK_KEYS: tuple[str, ...] = tuple(f.alias or name for name, f in StackConfig.model_fields.items())
"""The keys of the ``helm-enterprise:`` config namespace the root program reads (camelCase,
as in stack files): exactly the fields of :class:`StackConfig`."""


def read_stack_config(get: Callable[[str], Any]) -> StackConfig:
    """The stack's :class:`StackConfig`, from ``get(key)``: the value of
    ``helm-enterprise:<key>`` parsed like Pulumi's ``Config.get_object``, or None if unset.

    The one reader of stack config, shared by the root program (``get`` is
    ``pulumi.Config("helm-enterprise").get_object``) and ``helm-enterprise validate`` (``get``
    reads the stack file), so the two accept and reject the same stacks. Only
    :data:`STACK_KEYS` are read: other keys of the namespace belong to the stack's author,
    e.g. a secret referenced as ``{config: vaultSecretId}``. Raises ``ConfigError``.
    """
    data = {key: value for key in STACK_KEYS if (value := get(key)) is not None}
    return validate_model(StackConfig, data)


def misspelt_keys(keys: Iterable[str]) -> list[tuple[str, str]]:
    """``(key, known key)`` for each key that is not one of :data:`STACK_KEYS` but looks
    like a misspelling of one (``release`` → ``releases``). The program ignores such keys
    like any other key of the stack's author; ``validate`` warns about them."""
    found = []
    for key in keys:
        close = [] if key in STACK_KEYS else difflib.get_close_matches(key, STACK_KEYS, 1, 0.8)
        if close:
            found.append((key, close[0]))
    return found


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if state.get(dep) is None:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for n in graph:
        if state.get(n) is None:
            found = visit(n)
            if found:
                return found
    return None
