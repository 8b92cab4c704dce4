"""Chart sources: HTTP(S) repositories, OCI registries, local paths — and the seam for Git.

:func:`resolve_chart` turns a release's :class:`ChartSpec` into a :class:`ResolvedChart`:
what Helm gets (chart, version, repository options with credentials), a printable
``source`` for outputs and audit, and a way to get the chart's files locally for dry-run
validation. Other source kinds plug in through :func:`register_source` (Git, T2.1).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import pulumi

from helm_enterprise.config.release import (
    BasicAuth,
    BearerAuth,
    ChartSpec,
    RepositoryConfig,
    TlsAuth,
)
from helm_enterprise.errors import ConfigError
from helm_enterprise.secrets.inject import SecretInjector
from helm_enterprise.sources import dependencies
from helm_enterprise.sources.credentials import RepoCredentials, materialize
from helm_enterprise.sources.fetch import fetch_http_chart, fetch_oci_chart

__all__ = [
    "RepoCredentials",
    "ResolvedChart",
    "SourceContext",
    "register_source",
    "resolve_chart",
]

Kind = Literal["repo", "oci", "local", "git"]

# Charts fetched by helm_enterprise for Helm (bearer-token repositories) are placed under
# the program directory so the path recorded in state is the same on every machine.
PROJECT_CHART_DIR = Path(".helm-enterprise") / "charts"


@dataclasses.dataclass(frozen=True)
class ResolvedChart:
    """A chart source resolved for Helm."""

    kind: Kind
    chart: pulumi.Input[str]
    version: str | None
    repository_opts: Callable[[bool], Mapping[str, pulumi.Input[Any]] | None]
    """Repository options for pulumi-kubernetes; the argument says whether CA/cert/key are
    wanted as assets (``helm.v4.Chart``) instead of file paths (``helm.v3.Release``)."""
    source: pulumi.Input[str]
    local_files: Callable[[], pulumi.Output[Path]]
    """Fetch (or locate) the chart on this machine, for validation. Lazy: only called when
    a check needs the chart's files."""
    commit: pulumi.Input[str] | None = None
    """The commit deployed, for Git sources (also part of ``source``)."""


@dataclasses.dataclass(frozen=True)
class SourceContext:
    """What a source resolver may use."""

    injector: SecretInjector
    repositories: Mapping[str, RepositoryConfig]
    scope: str  # "<project>.<stack>.<release>", scopes credential files
    field: str  # config path of the chart spec, for error messages
    base_dir: Path


SourceResolver = Callable[[ChartSpec, SourceContext], ResolvedChart]
_extra_sources: dict[str, SourceResolver] = {}


def register_source(kind: str, resolver: SourceResolver) -> None:
    """Plug in a source kind (``git`` is registered by :mod:`helm_enterprise.sources.git`)."""
    _extra_sources[kind] = resolver


def repository_of(spec: ChartSpec, ctx: SourceContext) -> RepositoryConfig | None:
    repo = spec.repository
    if isinstance(repo, str):
        if repo not in ctx.repositories:
            known = ", ".join(sorted(ctx.repositories)) or "none declared"
            raise ConfigError(
                f"unknown repository {repo!r} (declared: {known})",
                path=f"{ctx.field}.repository",
            )
        return ctx.repositories[repo]
    return repo


Creds = RepoCredentials | pulumi.Output[RepoCredentials]
"""Plain when every credential is known now (Vault, read in the batch), else an Output."""

T = TypeVar("T")
U = TypeVar("U")


def lift(value: T | pulumi.Output[T], fn: Callable[[T], U]) -> U | pulumi.Output[U]:
    """``fn(value)`` now when the value is known, else through ``apply``."""
    if isinstance(value, pulumi.Output):
        return value.apply(fn)
    return fn(value)


def credentials(repo: RepositoryConfig | None, injector: SecretInjector) -> Creds:
    """Resolve every credential of a repository.

    The result holds secret values: whoever takes one out wraps it as a Pulumi secret
    (see :func:`_native_opts`); RepoCredentials' repr hides them.
    """
    if repo is None:
        return RepoCredentials()
    parts: dict[str, str | pulumi.Output[str]] = {}
    for auth in repo.auth:
        if isinstance(auth, BasicAuth):
            parts["username"] = (
                auth.username if isinstance(auth.username, str) else injector.resolve(auth.username)
            )
            parts["password"] = injector.resolve(auth.password)
        elif isinstance(auth, BearerAuth):
            parts["token"] = injector.resolve(auth.token)
        elif isinstance(auth, TlsAuth):
            parts["cert_pem"] = injector.resolve(auth.cert)
            parts["key_pem"] = injector.resolve(auth.key)
    if repo.ca is not None:
        parts["ca_pem"] = injector.resolve(repo.ca)
    if not any(isinstance(v, pulumi.Output) for v in parts.values()):
        return RepoCredentials(**{k: str(v) for k, v in parts.items()})
    keys = sorted(parts)
    return pulumi.Output.all(*(parts[k] for k in keys)).apply(
        lambda vals: RepoCredentials(**dict(zip(keys, vals, strict=True)))
    )


def _native_opts(
    repo: RepositoryConfig,
    creds: Creds,
    scope: str,
    with_repo: bool,
) -> Callable[[bool], Mapping[str, pulumi.Input[Any]] | None]:
    """Repository options in pulumi-kubernetes' shape (built on demand)."""

    def pem(filename: str, pick: Callable[[RepoCredentials], str | None], assets: bool) -> Any:
        if assets:
            return pulumi.Output.secret(lift(creds, lambda c: pulumi.StringAsset(pick(c) or "")))
        # Helm's v3 Release reads these from disk: private files, removed at exit.
        return lift(creds, lambda c: materialize(scope, filename, pick(c) or ""))

    def build(assets: bool) -> Mapping[str, pulumi.Input[Any]] | None:
        opts: dict[str, pulumi.Input[Any]] = {}
        if with_repo:
            opts["repo"] = repo.url
        methods = {a.method for a in repo.auth}
        if "basic" in methods:
            opts["username"] = lift(creds, lambda c: c.username or "")
            opts["password"] = pulumi.Output.secret(lift(creds, lambda c: c.password or ""))
        if "tls" in methods:
            opts["cert_file"] = pem("client.crt", lambda c: c.cert_pem, assets)
            opts["key_file"] = pem("client.key", lambda c: c.key_pem, assets)
        if repo.ca_file:
            opts["ca_file"] = pulumi.FileAsset(repo.ca_file) if assets else repo.ca_file
        elif repo.ca is not None:
            opts["ca_file"] = pem("ca.crt", lambda c: c.ca_pem, assets)
        return opts or None

    return build


def _project_copy(archive: Path, base_dir: Path) -> str:
    """Copy a fetched archive under the program dir; return the path relative to it.

    The name carries the archive's digest, so the copy is never rewritten; it is copied to
    a private temporary name and renamed, because stacks of the same project run at the
    same time (``helm-enterprise stacks up``) and one Helm must not read another's
    half-written copy."""
    rel = PROJECT_CHART_DIR / archive.name
    target = base_dir / rel
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{archive.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            shutil.copyfile(archive, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return str(rel)


def _prefetched(
    kind: Kind,
    fetched: tuple[Path, str] | pulumi.Output[tuple[Path, str]],
    ctx: SourceContext,
    describe: Callable[[str], str],
) -> ResolvedChart:
    """A chart helm_enterprise fetched itself: Helm gets the archive (by a path under the
    program directory, the same on every machine) and no credentials at all."""
    return ResolvedChart(
        kind=kind,
        chart=lift(fetched, lambda f: _project_copy(f[0], ctx.base_dir)),
        version=None,
        repository_opts=_no_opts,
        source=lift(fetched, lambda f: describe(f[1])),
        local_files=lambda: pulumi.Output.from_input(lift(fetched, lambda f: f[0])),
    )


def _no_opts(assets: bool) -> None:
    return None


def with_dependencies(chart_dir: Path, ctx: SourceContext) -> Path | pulumi.Output[Path]:
    """``chart_dir``, or a copy under the program directory whose ``charts/`` holds the
    dependencies its ``Chart.yaml`` declares and it lacks, fetched with the credentials of
    the declared repositories (:mod:`helm_enterprise.sources.dependencies`)."""

    def fetch(repo: RepositoryConfig, ref: str, version: str) -> Path | pulumi.Output[Path]:
        creds = credentials(repo, ctx.injector)
        if repo.is_oci:
            return lift(creds, lambda c: fetch_oci_chart(repo, c, ref, version)[0])
        return lift(creds, lambda c: fetch_http_chart(repo, c, ref, version or None)[0])

    return dependencies.with_dependencies(
        chart_dir,
        repositories=ctx.repositories,
        fetch=fetch,
        target_root=ctx.base_dir / PROJECT_CHART_DIR,
        field=ctx.field,
    )


def relative_to_base(path: Path, ctx: SourceContext) -> str:
    """A chart path as Helm gets it: relative to the program directory (where the provider
    runs), so state does not change between machines and checkouts."""
    return str(path.relative_to(ctx.base_dir)) if path.is_relative_to(ctx.base_dir) else str(path)


def resolve_chart(spec: ChartSpec, ctx: SourceContext) -> ResolvedChart:
    """Resolve a chart spec (raises ConfigError for problems visible without I/O)."""
    if spec.git is not None:
        if "git" not in _extra_sources:
            # Imported here, not at the top: sources.git builds on this module.
            from helm_enterprise.sources import git  # noqa: F401 - registers "git"
        return _extra_sources["git"](spec, ctx)
    if spec.path is not None:
        path = (ctx.base_dir / spec.path).resolve()
        if not path.exists():
            raise ConfigError(
                f"local chart {spec.path} does not exist (resolved to {path})",
                path=f"{ctx.field}.path",
            )
        complete = with_dependencies(path, ctx)
        # Helm gets the path relative to the program directory (where the provider runs),
        # as written unless dependencies were added, so state does not change between
        # machines and checkouts.
        return ResolvedChart(
            kind="local",
            chart=spec.path
            if complete is path
            else lift(complete, lambda p: relative_to_base(p, ctx)),
            version=None,
            repository_opts=_no_opts,
            source=f"file://{path}",
            local_files=lambda: pulumi.Output.from_input(complete),
        )

    repo = repository_of(spec, ctx)
    assert spec.name is not None
    if spec.name.startswith("oci://") or (repo is not None and repo.is_oci):
        ref = spec.name if spec.name.startswith("oci://") else f"{repo.url}/{spec.name}"  # type: ignore[union-attr]
        if not spec.version:
            raise ConfigError(
                "an OCI chart needs a version (registries have no index to pick from)",
                path=f"{ctx.field}.version",
            )
        oci_repo = repo or RepositoryConfig(url=ref.rsplit("/", 1)[0])
        creds = credentials(repo, ctx.injector)
        version = spec.version
        # pulumi-kubernetes' Release reads OCI credentials only from a registry config
        # file, not from repositoryOpts: pull the chart ourselves (the same credentials
        # and TLS rules as every other source) and give Helm the archive.
        oci_fetched = lift(creds, lambda c: fetch_oci_chart(oci_repo, c, ref, version))
        return _prefetched("oci", oci_fetched, ctx, lambda v: f"{ref}:{v}")

    assert repo is not None
    creds = credentials(repo, ctx.injector)
    name = spec.name
    if any(isinstance(a, BearerAuth) for a in repo.auth):
        # Helm cannot send a bearer token: fetch the archive ourselves and give Helm a file.
        fetched = lift(creds, lambda c: fetch_http_chart(repo, c, name, spec.version))
        return _prefetched("repo", fetched, ctx, lambda v: f"{repo.url}/{name}:{v}")
    return ResolvedChart(
        kind="repo",
        chart=name,
        version=spec.version,
        repository_opts=_native_opts(repo, creds, ctx.scope, with_repo=True),
        source=f"{repo.url}/{name}:{spec.version or 'latest'}",
        local_files=lambda: pulumi.Output.from_input(creds).apply(
            lambda c: fetch_http_chart(repo, c, name, spec.version)[0]
        ),
    )


def scope_for(project: str, stack: str, release: str) -> str:
    return hashlib.sha256(f"{project}/{stack}/{release}".encode()).hexdigest()[:12]
