"""Pre-flight health of target clusters (T4.1): is the API reachable, and is it ready?

:func:`probe` asks one cluster's API server for ``/version`` (reachable?) and ``/readyz``
(ready: etcd, informers and post-start hooks all fine) within a timeout; :func:`probe_all`
asks several clusters in parallel, so a run with an unreachable cluster waits one timeout,
not one per cluster. Nothing here decides what to do about an unhealthy cluster: that is
the caller's plan (see :mod:`helm_enterprise.components.multicluster`).

Unauthorised is not unreachable: a cluster that refuses the kubeconfig's credentials (401,
or 403 on ``/version``) raises :class:`~helm_enterprise.errors.ClusterAccessDeniedError`
naming the identity (:func:`~helm_enterprise.kube.client.api_error`) instead of counting as
unreachable, which would let a failover plan hide a credential problem.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from helm_enterprise.errors import ClusterAccessDeniedError, truncate
from helm_enterprise.kube.client import ClusterAccess, api_error


class ClusterState(enum.StrEnum):
    """What the pre-flight check found."""

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"  # the API answers, but /readyz does not say ok
    UNREACHABLE = "unreachable"  # no kubeconfig, or the API does not answer


@dataclasses.dataclass(frozen=True)
class ClusterHealth:
    """One cluster's pre-flight result; ``detail`` says why it is not healthy."""

    state: ClusterState
    detail: str = ""
    server: str = ""

    @property
    def healthy(self) -> bool:
        return self.state is ClusterState.HEALTHY

    def describe(self) -> str:
        where = f" ({self.server})" if self.server else ""
        if self.healthy:
            return f"healthy{where}"
        return f"{self.state.value}{where}: {self.detail}"


Probe = Callable[[ClusterAccess, float], ClusterHealth]


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


def _reason(err: Exception, timeout: float) -> str:
    """A short reason from a client error (urllib3 nests the useful part deep inside)."""
    text = str(err)
    found = _ERRNO.search(text)
    if found:
        return found.group(0).strip()
    if "timed out" in text.lower() or "timeout" in type(err).__name__.lower():
        return f"no answer within {timeout:g}s"
    status = getattr(err, "status", None)
    if status:
        return f"/version answered {status} {getattr(err, 'reason', '')}".strip()
    return f"{type(err).__name__}: {truncate(text, 200)}"


def _server(api: Any) -> str:
    return str(getattr(getattr(api, "configuration", None), "host", "") or "")


def probe(access: ClusterAccess, timeout: float = 5.0) -> ClusterHealth:
    """Check one cluster: reachable (``/version``) and ready (``/readyz``)."""
    api = access.api_client()
    if api is None:
        return ClusterHealth(
            ClusterState.UNREACHABLE, f"kubeconfig {access.describe()} cannot be loaded"
        )
    server = _server(api)
    # Like ClusterAccess.reachable_client(), but keeping the reason for the message.
    try:
        k8s.VersionApi(api).get_code(_request_timeout=timeout)
    except ApiException as err:
        api.close()
        if err.status in (401, 403):
            raise api_error(err, api, "read the server version") from err
        return ClusterHealth(ClusterState.UNREACHABLE, _reason(err, timeout), server)
    except Exception as err:
        api.close()
        return ClusterHealth(ClusterState.UNREACHABLE, _reason(err, timeout), server)
    try:
        request = api.param_serialize("GET", "/readyz", auth_settings=["BearerToken"])
        response = api.call_api(*request, _request_timeout=timeout)
        response.read()
        status = response.status
        body = (response.data or b"").decode(errors="replace")
    except Exception as err:  # any transport error after /version answered: not ready
        return ClusterHealth(
            ClusterState.UNHEALTHY, f"/readyz failed: {truncate(str(err), 200)}", server
        )
    finally:
        api.close()
    if status != 200 or body.strip() != "ok":
        return ClusterHealth(
            ClusterState.UNHEALTHY, f"/readyz answered {status}: {truncate(body, 200)}", server
        )
    return ClusterHealth(ClusterState.HEALTHY, server=server)


def probe_all(
    targets: Mapping[str, ClusterAccess], timeout: float = 5.0, check: Probe = probe
) -> dict[str, ClusterHealth]:
    """Probe every cluster in parallel; results in the order of ``targets``. A cluster
    that refuses the credentials raises :class:`ClusterAccessDeniedError` (the first one)."""
    if not targets:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
        futures = {name: pool.submit(check, access, timeout) for name, access in targets.items()}
        results: dict[str, ClusterHealth] = {}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except ClusterAccessDeniedError:
                raise
            except Exception as err:  # any other failure of a probe: the cluster is unhealthy
                results[name] = ClusterHealth(
                    ClusterState.UNREACHABLE, f"{type(err).__name__}: {truncate(str(err), 200)}"
                )
        return results


__all__ = ["ClusterHealth", "ClusterState", "Probe", "probe", "probe_all"]
