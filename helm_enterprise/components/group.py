"""``helm_enterprise.ReleaseGroup``: releases deployed together (T3.4).

A group knows its releases by name, so a release can say ``depends_on: ["db"]`` (stack
config and Python alike) and wait for ``db`` to be ready: deployed, its Pods Ready and its
health checks passed (Pulumi waits for every child of the ``Release`` component it depends
on). Pulumi deletes in the reverse order of the same dependencies.

The group also coordinates rollback: when one of its releases fails during ``pulumi up``
(its Helm install or upgrade, its rollout or its health checks), the releases of this run
that already upgraded are rolled back with Helm to the revisions they had before the run,
dependents first (:mod:`helm_enterprise.rollback.coordinated` decides which and to what).
It runs from an error hook the engine calls when the step fails, so it happens inside the
failing ``pulumi up``; every rollback is an audit record (trigger ``coordinated``) and a
warning on the failed release. The next ``pulumi up`` upgrades them again (their new
revisions are marked as not made by the stack, see ``rollback.restoreOutOfBand``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import pulumi

from helm_enterprise.audit import emit, resolve_actor
from helm_enterprise.audit.hooks import start_callback_server
from helm_enterprise.config.release import ReleaseConfig, StackDependency
from helm_enterprise.errors import ConfigError, DependencyError
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.rollback import coordinated
from helm_enterprise.rollback.helm import cluster_history, rollback

if TYPE_CHECKING:
    from helm_enterprise.components.release import Release

POLICIES = ("none", "dependents", "group")


@dataclasses.dataclass
class _Member:
    release: Release
    access: ClusterAccess
    rollback_timeout: int
    settle_seconds: int

    @property
    def namespace(self) -> str:
        return self.release.config.namespace

    @property
    def depends_on(self) -> list[str]:
        return self.release.config.local_dependencies

    @property
    def has_history(self) -> bool:
        """Release mode: chart mode keeps no Helm history to go back to."""
        return self.release.config.mode == "release"


class ReleaseGroup:
    """Releases deployed together, by name, with a coordinated rollback policy.

    Args:
        name: names the group's error hook (one per group and program).
        rollback: what happens to the others when a release of the group fails:
            ``none`` (default), ``dependents`` (the releases the failed one depends on,
            directly or not) or ``group`` (every release of the group) are rolled back to
            the revisions they had before the run, dependents first.

    Pass it to each :class:`~helm_enterprise.Release` (``group=``); a release's
    ``depends_on`` then names releases of the group declared before it.

    Raises:
        ConfigError: an unknown policy.
    """

    def __init__(
        self, name: str = "releases", rollback: Literal["none", "dependents", "group"] = "none"
    ) -> None:
        if rollback not in POLICIES:
            raise ConfigError(
                f"unknown coordinated rollback policy {rollback!r}",
                path="coordinatedRollback",
                hint="one of: " + ", ".join(POLICIES),
            )
        self.name = name
        self.policy: coordinated.Policy = rollback
        self.run_started = dt.datetime.now(dt.UTC)
        self._members: dict[str, _Member] = {}
        self._resources: dict[str, str] = {}  # child resource name → release name
        self._hook: pulumi.ErrorHook | None = None
        self._lock = threading.Lock()
        self._handled: set[str] = set()

    # -- membership ---------------------------------------------------------------------

    def dependencies(self, release: str, names: list[str], field: str) -> list[Release]:
        """The releases ``names`` (``release``'s ``depends_on``); a ConfigError names the
        field when one is not (yet) in the group."""
        found = []
        for i, dep in enumerate(names):
            member = self._members.get(dep)
            if member is None:
                known = ", ".join(sorted(self._members)) or "none yet"
                raise ConfigError(
                    f"{release}: depends on {dep!r}, which is not a release of group "
                    f"{self.name!r} (declared so far: {known})",
                    path=f"{field}.dependsOn[{i}]" if field else f"dependsOn[{i}]",
                    hint="declare the release it depends on first, with the same group=",
                )
            found.append(member.release)
        return found

    def add(
        self,
        release: Release,
        *,
        access: ClusterAccess,
        rollback_timeout: int,
        settle_seconds: int,
    ) -> None:
        name = release.config.name
        if name in self._members:
            raise ConfigError(
                f"group {self.name!r} already has a release named {name!r}",
                path="name",
                hint="release names are unique within a group",
            )
        self._members[name] = _Member(release, access, rollback_timeout, settle_seconds)

    def watch(self, release: str, resource_name: str) -> pulumi.ResourceHookBinding | None:
        """Hooks for one of ``release``'s steps that can fail (the Helm release, the
        rollout watch, the health checks): its failure starts the coordinated rollback.
        None when the policy is ``none``."""
        if self.policy == "none":
            return None
        self._resources[resource_name] = release
        return pulumi.ResourceHookBinding(on_error=[self._error_hook()])

    def _error_hook(self) -> pulumi.ErrorHook:
        with self._lock:
            if self._hook is None:
                start_callback_server()  # before any hook exists (see audit/hooks.py)
                self._hook = pulumi.ErrorHook(
                    f"helm-enterprise-{self.name}-coordinated", self._failed
                )
            return self._hook

    # -- the rollback -------------------------------------------------------------------

    def _failed(self, args: pulumi.ErrorHookArgs) -> bool:
        release = self._resources.get(args.name)
        if release is None or pulumi.runtime.is_dry_run():
            return False
        with self._lock:  # one coordinated rollback per failed release and run
            if release in self._handled:
                return False
            self._handled.add(release)
        error = args.errors[0] if args.errors else f"{args.failed_operation or 'update'} failed"
        try:
            outcomes = self.roll_back_for(release, error)
        except Exception as err:  # a hook never hides the failure it was called for
            pulumi.log.warn(f"coordinated rollback after {release} failed could not run: {err}")
            return False
        if outcomes:
            pulumi.log.warn(
                f"coordinated rollback ({self.policy}) after {release} failed:\n  "
                + "\n  ".join(o.line() for o in outcomes),
                resource=self._members[release].release,
            )
        return False  # never retry the failed step

    def roll_back_for(self, failed: str, error: str) -> list[coordinated.Outcome]:
        """Roll back the members the policy names after ``failed`` failed with ``error``."""
        # Every member is in the graph, so a chart-mode release in the middle of a chain
        # still leads to what it depends on; only releases with Helm history are acted on.
        graph = {n: m.depends_on for n, m in self._members.items()}
        order = coordinated.members(failed, graph, self.policy)
        why = f"{failed} failed: {error}"
        who = resolve_actor()
        plan = [
            self._coordinated_member(name, who) for name in order if self._members[name].has_history
        ]
        return coordinated.coordinate(plan, cause=why, run_started=self.run_started)

    def _coordinated_member(self, name: str, who: str) -> coordinated.Member:
        m = self._members[name]
        read = cluster_history(m.access)

        def back(target: int, reason: str) -> int:
            done = rollback(
                name,
                m.namespace,
                to_revision=target,
                access=m.access,
                who=who,
                record=emit,
                reason=reason,
                timeout_seconds=m.rollback_timeout,
                trigger="coordinated",
                history=read,
            )
            return done.new_revision

        return coordinated.Member(
            name=name,
            namespace=m.namespace,
            history=lambda: read(m.namespace, name),
            rollback=back,
            settle_seconds=m.settle_seconds,
        )


# -- dependencies on other stacks ----------------------------------------------------------


def stack_dependency_problem(dep: StackDependency, releases: object) -> str | None:
    """Why the release ``dep`` names is not ready, from its stack's ``releases`` output
    (None when ready, or while the output is not known, during a preview)."""
    if releases is None:
        return (
            f"stack {dep.stack} exports no releases (is it a helm-enterprise stack, and deployed?)"
        )
    if not isinstance(releases, Mapping):
        return f"stack {dep.stack}'s releases output is not a map"
    entry = releases.get(dep.release)
    if not isinstance(entry, Mapping):
        known = ", ".join(sorted(map(str, releases))) or "none"
        return f"stack {dep.stack} has no release {dep.release!r} (it has: {known})"
    status, health = entry.get("status"), entry.get("health")
    where = f"release {dep.release} of stack {dep.stack}"
    if status != "deployed":
        return f"{where} is {status or 'not deployed'} (revision {entry.get('revision')})"
    if health not in (None, "healthy"):
        return f"{where} is deployed but its health checks say {health}"
    return None


def stack_dependency_gate(
    release: Release, cfg: ReleaseConfig, values: pulumi.Input[dict[str, Any]], field: str
) -> pulumi.Output[dict[str, Any]]:
    """``values`` once every release of another stack that ``cfg`` depends on is ready
    (:func:`stack_dependency_problem`); otherwise a DependencyError naming it, so the Helm
    release is neither installed nor upgraded."""
    refs: dict[str, pulumi.StackReference] = {}
    checks: list[pulumi.Output[str | None]] = []
    for i, dep in enumerate(cfg.depends_on):
        if not isinstance(dep, StackDependency):
            continue
        if dep.stack not in refs:
            refs[dep.stack] = pulumi.StackReference(
                f"{release._name}-stack-{len(refs)}",
                stack_name=dep.stack,
                opts=pulumi.ResourceOptions(parent=release),
            )
        where = f"{field}.dependsOn[{i}]" if field else f"dependsOn[{i}]"

        def check(releases: object, dep: StackDependency = dep, where: str = where) -> str | None:
            problem = stack_dependency_problem(dep, releases)
            return f"{where}: {problem}" if problem else None

        checks.append(refs[dep.stack].get_output("releases").apply(check))

    def gate(args: list[Any]) -> dict[str, Any]:
        vals, *problems = args
        found = [p for p in problems if p]
        if found:
            raise DependencyError(
                f"{cfg.name}: not deployed, a release it depends on is not ready:\n  "
                + "\n  ".join(found)
            )
        out: dict[str, Any] = vals
        return out

    return pulumi.Output.all(values, *checks).apply(gate)


__all__ = ["ReleaseGroup", "stack_dependency_gate", "stack_dependency_problem"]
