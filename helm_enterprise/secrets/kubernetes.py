"""``k8s:namespace/name#key`` read through the :class:`SecretBackend` protocol with the
official ``kubernetes`` client and a :class:`~helm_enterprise.kube.client.ClusterAccess`.

This is how a Release reads ``k8s:`` references by default: once per run, batched and
cached with every other reference, from the cluster the release deploys to (each cluster
of a multi-cluster release has a backend of its own, see ``Platform.for_cluster``), or
from the one cluster ``helm-enterprise:secrets.k8s`` names. With ``secrets.k8s.reader:
pulumi`` a Release reads them through Pulumi (``Secret.get`` with its own provider)
instead, for a cluster the program creates itself.
"""

from __future__ import annotations

import base64

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from helm_enterprise.errors import SecretBackendError
from helm_enterprise.kube.client import ClusterAccess, api_error, core
from helm_enterprise.secrets._backend import SecretData


class KubernetesSecretBackend:
    """Reads Kubernetes Secrets; ``path`` is ``namespace/name``."""

    scheme = "k8s"

    def __init__(self, access: ClusterAccess | None = None, timeout: float = 10.0) -> None:
        self.access = access or ClusterAccess()
        self.timeout = timeout

    def describe(self) -> str:
        return f"Kubernetes at {self.access.describe()}"

    def read(self, path: str, version: int | None = None) -> SecretData:
        """Every key of the Secret ``namespace/name``, decoded.

        Raises:
            SecretBackendError: the cluster is unreachable, denies the read, or has no such
                Secret (the message names the Secret, never a value).
        """
        namespace, _, name = path.rpartition("/")
        namespace = namespace or "default"
        where = f"{namespace}/{name}"
        api = self.access.reachable_client()
        if api is None:
            raise SecretBackendError(
                f"{self.describe()} unreachable (Secret {where})",
                reference=f"k8s:{where}",
                backend=self.describe(),
            )
        try:
            secret = core(api).read_namespaced_secret(
                name, namespace, _request_timeout=self.timeout
            )
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as err:
            if isinstance(err, ApiException) and err.status == 404:
                msg = f"{self.describe()} has no Secret {where}"
            else:  # the one classifier of the kubernetes client's errors
                msg = str(api_error(err, api, f"read the Secret {where}"))
            raise SecretBackendError(
                msg, reference=f"k8s:{where}", backend=self.describe()
            ) from err
        finally:
            api.close()
        data = secret.data or {}
        return SecretData({str(k): base64.b64decode(v).decode() for k, v in data.items()})
