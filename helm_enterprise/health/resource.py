"""The health-check resource: runs a release's checks after Helm reports it ready.

Why a dynamic resource (and not a resource hook or an ``apply``): it is a step of its own
in the Pulumi plan that depends on the Helm release and takes the release's *revision* as
an input, so it runs exactly when a create or upgrade produced a new revision (not on
no-op runs, not during preview), its measurements become real outputs in state (the last
check of the release, visible with ``pulumi stack output``), and a failure fails the
``pulumi up`` at that step. When a check fails and the rollback policy says so, the
provider rolls the release back to the previous revision with Helm (T1.4) and records the
rollback, with the failing measurement, in the audit trail.

The provider runs in Pulumi's Python dynamic-provider plugin, on the program's interpreter
(``PULUMI_PYTHON_CMD`` / the project's virtualenv), so it uses this package directly.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi.dynamic as dyn

from helm_enterprise.audit import emit, resolve_actor
from helm_enterprise.config._base import validate_model
from helm_enterprise.config.health import HealthPolicy
from helm_enterprise.errors import HealthCheckError, HelmEnterpriseError, message_only
from helm_enterprise.health import HealthReport, HealthState, evaluate
from helm_enterprise.kube import helm_storage
from helm_enterprise.kube.client import ClusterAccess
from helm_enterprise.kube.proxy import ServiceProxyClient
from helm_enterprise.rollback.helm import rollback


def _dependency_probe(access: ClusterAccess) -> Any:
    def probe(namespace: str, release: str) -> tuple[bool, str]:
        api = access.reachable_client()
        if api is None:
            return False, f"cluster {access.describe()} not reachable"
        try:
            hist = helm_storage.history(api, namespace, release)
        finally:
            api.close()
        if not hist:
            return False, f"release {namespace}/{release} does not exist"
        latest = hist[-1]
        ok = latest.status == "deployed"
        return ok, f"{namespace}/{release} revision {latest.revision} is {latest.status}"

    return probe


def rollback_timeout(props: dict[str, Any]) -> int:
    """Seconds the automatic rollback waits for readiness: the release's
    ``timeouts.rollback.readiness`` (after precedence), passed as ``rollbackTimeout``;
    the check deadline for a state written before that input existed."""
    return int(float(props.get("rollbackTimeout") or props["deadline"]))


def run_checks(props: dict[str, Any]) -> dict[str, Any]:
    """Evaluate; on failure roll back (when asked) and raise. Returns the outputs."""
    policy = validate_model(HealthPolicy, json.loads(props["policy"]), "health")
    release, namespace = props["release"], props["namespace"]
    access = ClusterAccess(props.get("kubeconfig") or None, props.get("context") or None)
    report: HealthReport = evaluate(
        policy,
        namespace,
        float(props["deadline"]),
        dependency=_dependency_probe(access),
        # HTTP checks of a Service go through the API server with the release's credentials.
        service=ServiceProxyClient(access),
    )
    outputs: dict[str, Any] = {
        **props,
        **report.to_dict(),
        "checkedRevision": props.get("revision"),
        "rolledBackTo": None,
    }
    common = {
        "release": release,
        "namespace": namespace,
        "revision": props.get("revision"),
        "stack": props.get("stack"),
        "project": props.get("project"),
    }
    emit(
        "health-check",
        phase="after",
        result=report.state.value,
        measurements=[m.to_dict() for m in report.measurements],
        attempts=report.attempts,
        duration_seconds=round(report.seconds, 2),
        **common,
    )
    if report.state is HealthState.HEALTHY:
        return outputs
    message = f"{namespace}/{release}: health checks failed: {report.summary()}"
    if props.get("rollback"):
        try:
            record = rollback(
                release,
                namespace,
                to_revision=None,
                access=access,
                who=resolve_actor(),
                record=emit,
                reason=f"health check failed: {'; '.join(m.detail for m in report.failing())}",
                timeout_seconds=rollback_timeout(props),
                trigger="health-check",
            )
        except HelmEnterpriseError as err:
            raise HealthCheckError(f"{message}; rollback failed: {err}") from None
        message += (
            f"; rolled back to revision {record.to_revision} (now revision {record.new_revision})"
        )
    raise HealthCheckError(message)


class HealthCheckProvider(dyn.ResourceProvider):
    """Dynamic provider: create/update run the checks; diff triggers on a new revision."""

    # It captures no secret: its serialised form stays plain in the state (Pulumi's default
    # encrypts it for every resource).
    serialize_as_secret_always = False

    @message_only
    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        outs = run_checks(props)
        return dyn.CreateResult(id_=f"{props['namespace']}/{props['release']}", outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        keys = ("revision", "policy", "release", "namespace", "rollback", "deadline")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        return dyn.DiffResult(
            changes=bool(changed), replaces=[], stables=[], delete_before_replace=False
        )

    @message_only
    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        return dyn.UpdateResult(outs=run_checks(news))


class HealthCheckResource(dyn.Resource):
    """One release's health checks (``helm-enterprise`` dynamic resource)."""

    state: pulumi.Output[str]
    measurements: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self,
        name: str,
        *,
        release: str,
        namespace: str,
        revision: pulumi.Input[int | None],
        policy: HealthPolicy,
        deadline: int,
        rollback_timeout: int,
        access: ClusterAccess,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            HealthCheckProvider(),
            name,
            {
                "release": release,
                "namespace": namespace,
                "revision": revision,
                "policy": json.dumps(policy.model_dump(mode="json", by_alias=True), sort_keys=True),
                "deadline": deadline,
                "rollback": policy.rollback_on_failure,
                "rollbackTimeout": rollback_timeout,
                "kubeconfig": access.kubeconfig,
                "context": access.context,
                "project": pulumi.get_project(),
                "stack": pulumi.get_stack(),
                "state": None,
                "measurements": None,
            },
            opts,
        )
