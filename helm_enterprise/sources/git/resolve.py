"""The resolver plugged into :func:`helm_enterprise.sources.resolve_chart` for ``chart.git``:
credentials, the (joined) fetch, and the chart copied under the program directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path

import pulumi

from helm_enterprise._cache import publish_tree
from helm_enterprise.config.git import GitAuth
from helm_enterprise.config.release import ChartSpec
from helm_enterprise.secrets.inject import SecretInjector
from helm_enterprise.sources import (
    PROJECT_CHART_DIR,
    ResolvedChart,
    SourceContext,
    relative_to_base,
    with_dependencies,
)
from helm_enterprise.sources.git.auth import GitCredentials
from helm_enterprise.sources.git.cache import Checkout
from helm_enterprise.sources.git.paths import path_key
from helm_enterprise.sources.git.runs import submit


def _credentials(
    auth: GitAuth | None, injector: SecretInjector
) -> GitCredentials | pulumi.Output[GitCredentials]:
    if auth is None:
        return GitCredentials()
    field = "token" if auth.token is not None else "ssh_key"
    ref = auth.token if auth.token is not None else auth.ssh_key
    assert ref is not None
    value = injector.resolve(ref)
    if isinstance(value, pulumi.Output):
        return value.apply(lambda v: GitCredentials(**{field: v}))
    return GitCredentials(**{field: value})


def project_copy(checkout: Checkout, base_dir: Path) -> str:
    """Copy the chart under the program directory; the path relative to it, for Helm."""
    rel = PROJECT_CHART_DIR / f"git-{checkout.commit[:16]}-{path_key(checkout.subpath)}"
    target = base_dir / rel
    if not target.is_dir():
        publish_tree(checkout.path, target)
    return str(rel)


def _no_repository_opts(assets: bool) -> None:
    return None


def resolve_git(spec: ChartSpec, ctx: SourceContext) -> ResolvedChart:
    """The :data:`~helm_enterprise.sources.SourceResolver` for ``chart.git``.

    Credentials known now (Vault) start the fetch immediately; those that are Outputs
    (Kubernetes Secrets, stack config) start it once resolved. Either way Pulumi awaits the
    fetch without blocking other releases.
    """
    source = spec.git
    assert source is not None
    creds = _credentials(source.auth, ctx.injector)

    def awaited(c: GitCredentials) -> Awaitable[Checkout]:
        return asyncio.wrap_future(submit(source, c))

    fetched: pulumi.Output[Checkout]
    if isinstance(creds, pulumi.Output):
        fetched = creds.apply(awaited)
    else:
        known = creds
        submit(source, known)  # start now; the apply below joins it
        fetched = pulumi.Output.from_input(True).apply(lambda _: awaited(known))
    # Only credentials are secret; the commit and the chart's path must stay readable.
    checkout: pulumi.Output[Checkout] = pulumi.Output.unsecret(fetched).apply(_announce)
    # The chart's own dependencies, fetched like the chart (T3.4); usually none.
    complete: pulumi.Output[Path] = checkout.apply(
        lambda c: with_dependencies(ctx.base_dir / project_copy(c, ctx.base_dir), ctx)
    )
    return ResolvedChart(
        kind="git",
        chart=complete.apply(lambda p: relative_to_base(p, ctx)),
        version=None,
        repository_opts=_no_repository_opts,
        source=checkout.apply(lambda c: c.source),
        local_files=lambda: complete,
        commit=checkout.apply(lambda c: c.commit),
    )


def _announce(checkout: Checkout) -> Checkout:
    how = "from the cache" if checkout.cached else "fetched"
    pulumi.log.info(f"chart {checkout.source} ({checkout.kind.value} {checkout.ref!r}, {how})")
    return checkout
