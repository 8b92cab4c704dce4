"""Access to the Kubernetes API outside Pulumi (official ``kubernetes`` client).

Used for what Pulumi's resource model cannot do: reading Helm's release records, checking
ownership before apply, server-side dry runs, recovery of stuck releases. Every use is
optional: when the cluster is unreachable the caller gets ``None`` and decides whether the
check may be skipped (see :mod:`helm_enterprise.kube.reach`).

Unauthorised is not unreachable: :func:`api_error` is the one classifier of the client's
errors, and it turns a 401 (credentials rejected) or 403 (a permission missing) into a
:class:`~helm_enterprise.errors.ClusterAccessDeniedError` naming the identity and the
missing permission — never a "skipped" check, which would let a release take over what it
could not look at.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from helm_enterprise.config.stack import ClusterConfig
from helm_enterprise.errors import (
    ClusterAccessDeniedError,
    ClusterUnavailableError,
    HelmEnterpriseError,
    truncate,
)


@dataclasses.dataclass(frozen=True)
class ClusterAccess:
    """A kubeconfig (path + context) to reach one cluster; unset fields mean ambient."""

    kubeconfig: str | None = None
    context: str | None = None

    @classmethod
    def from_config(cls, cfg: ClusterConfig | None) -> ClusterAccess:
        if cfg is None:
            return cls()
        return cls(cfg.kubeconfig, cfg.context)

    def describe(self) -> str:
        path = self.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        return f"{path}" + (f" (context {self.context})" if self.context else "")

    def api_client(self) -> k8s.ApiClient | None:
        """An API client, or None when no kubeconfig can be loaded."""
        path = self.kubeconfig or os.environ.get("KUBECONFIG")
        if path:
            path = str(Path(path.split(os.pathsep)[0]).expanduser())
            if not Path(path).exists():
                return None
        try:
            return k8s_config.new_client_from_config(config_file=path, context=self.context)
        except (ConfigException, OSError, ValueError, TypeError):
            return None

    def reachable_client(self, timeout: float = 3.0) -> k8s.ApiClient | None:
        """An API client whose server answered ``/version`` within ``timeout`` seconds, or
        None when there is no kubeconfig or the server does not answer.

        Raises:
            ClusterAccessDeniedError: the server answered 401/403 (see :func:`api_error`).
        """
        api = self.api_client()
        if api is None:
            return None
        try:
            k8s.VersionApi(api).get_code(_request_timeout=timeout)
        except ApiException as err:
            api.close()
            if err.status in (401, 403):
                raise api_error(err, api, "read the server version") from err
            return None
        except Exception:
            api.close()
            return None
        return api


def core(api: k8s.ApiClient) -> Any:
    return k8s.CoreV1Api(api)


def crd_installed(access: ClusterAccess, name: str) -> tuple[bool | None, str]:
    """Whether the cluster ``access`` reaches has the CustomResourceDefinition ``name``:
    True, False (it answered 404) or None (it could not be asked), with the reason when
    not True."""
    api = access.reachable_client()
    if api is None:
        return None, f"cluster {access.describe()} not reachable"
    try:
        k8s.ApiextensionsV1Api(api).read_custom_resource_definition(name, _request_timeout=10)
        return True, ""
    except ApiException as err:
        if err.status == 404:
            return False, f"the CRD {name} is not installed"
        return None, f"the CRD {name} could not be read ({err.status})"
    finally:
        api.close()


_INVALID_VALUE = "Invalid value: "


def hide_values(message: str) -> str:
    """An API server message with the values it quotes hidden: field errors read
    ``<field>: Invalid value: <value>: <detail>``, and the value may be a secret (an env
    value, a whole securityContext)."""
    out: list[str] = []
    rest = message
    while (i := rest.find(_INVALID_VALUE)) >= 0:
        out.append(rest[: i + len(_INVALID_VALUE)] + "[hidden]")
        rest = rest[_value_end(rest, i + len(_INVALID_VALUE)) :]
    out.append(rest)
    return "".join(out)


def _value_end(text: str, start: int) -> int:
    """Where the quoted value starting at ``start`` ends (the end of text if unbalanced)."""
    if start >= len(text) or text[start] not in "{[\"'":
        end = text.find(": ", start)
        return len(text) if end < 0 else end
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
                if depth == 0:
                    return i + 1
        elif ch in "\"'":
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def api_message(err: Any) -> str:
    """The message of an ``ApiException``'s Status body, values hidden ("" if none)."""
    import json

    try:
        body = json.loads(err.body) if getattr(err, "body", None) else {}
    except (TypeError, ValueError):
        return ""
    message = body.get("message", "") if isinstance(body, dict) else ""
    return hide_values(str(message))


# What the client raises when the API server did not answer at all (refused, reset, timed
# out, TLS): urllib3's errors and the OS's.
NO_ANSWER: tuple[type[Exception], ...] = (urllib3.exceptions.HTTPError, OSError)

# The API server's denial (forbiddenMessage in k8s.io/apiserver, endpoints/handlers/
# responsewriters/errors.go), wrapped in "<resource> [\"<name>\"] is forbidden: ...":
#   User "bob" cannot list resource "secrets" in API group "" in the namespace "shop"
#   User "bob" cannot get resource "namespaces" in API group "" at the cluster scope
#   User "bob" cannot get path "/readyz"
_FORBIDDEN = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>[\w-]+) '
    r'(?:resource "(?P<resource>[^"]*)"(?: in API group "(?P<group>[^"]*)")?'
    r'(?: in the namespace "(?P<namespace>[^"]*)"| at the cluster scope)?'
    r'|path "(?P<path>[^"]*)")'
)


def _server(api: Any) -> str:
    host = str(getattr(getattr(api, "configuration", None), "host", "") or "")
    return host or "(unknown server)"


def client_identity(api: Any) -> str:
    """Who ``api`` authenticates as, from its kubeconfig: the client certificate's CN (and
    groups), else the basic-auth user, else which kind of credential it holds. Never the
    credential itself."""
    cfg = getattr(api, "configuration", None)
    cert = getattr(cfg, "cert_file", None)
    if cert:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        try:
            subject = x509.load_pem_x509_certificate(Path(cert).read_bytes()).subject
        except (OSError, ValueError):
            return "the kubeconfig's client certificate"
        cn = [str(a.value) for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        orgs = [str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        if cn:
            return f'user "{cn[0]}"' + (f" (groups {', '.join(orgs)})" if orgs else "")
    username = getattr(cfg, "username", None)
    if username:
        return f'user "{username}"'
    keys = getattr(cfg, "api_key", None) or {}
    if keys.get("BearerToken") or keys.get("authorization"):  # the client's two spellings
        return "the kubeconfig's bearer token"
    return "an anonymous client (the kubeconfig has no credentials)"


def api_error(err: Exception, api: Any, doing: str) -> HelmEnterpriseError:
    """The one classifier of the ``kubernetes`` client's errors: what went wrong while
    trying to ``doing`` (``"list Helm's release records of shop/web"``), as one line.

    * 401 → :class:`ClusterAccessDeniedError`: the credentials were rejected; names the
      identity the kubeconfig claims (client certificate CN);
    * 403 → :class:`ClusterAccessDeniedError` naming the user the API server reported and
      the missing permission (verb, resource, namespace), with how to grant it;
    * any other HTTP status → :class:`HelmEnterpriseError` with status and reason;
    * no answer (connection refused, timeout, TLS) → :class:`ClusterUnavailableError`.

    Remote text is truncated and quoted values hidden (:func:`api_message`); the caller
    chains the original with ``raise ... from err``.
    """
    server = _server(api)
    if not isinstance(err, ApiException):
        return ClusterUnavailableError(
            f"cluster {server} did not answer while trying to {doing} ({type(err).__name__})"
        )
    status = int(err.status or 0)
    if status == 401:
        who = client_identity(api)
        return ClusterAccessDeniedError(
            f"cluster {server} rejected the credentials of {who} (401 Unauthorized) while "
            f"trying to {doing}: renew them (an expired certificate or token?) or use "
            "another kubeconfig",
            status=401,
            identity=who,
        )
    message = api_message(err)
    if status == 403:
        found = _FORBIDDEN.search(message)
        if found is None:
            who = client_identity(api)
            detail = truncate(message) or str(err.reason or "Forbidden")
            return ClusterAccessDeniedError(
                f"cluster {server} refused {who} (403 Forbidden) while trying to {doing}: {detail}",
                status=403,
                identity=who,
            )
        user, verb = found["user"], found["verb"]
        if found["path"] is not None:
            resource = f"path {found['path']}"
        else:
            resource = found["resource"] + (f".{found['group']}" if found["group"] else "")
        namespace = found["namespace"] or ""
        scope = f' in namespace "{namespace}"' if namespace else " at cluster scope"
        if found["path"] is not None:
            scope = ""
        return ClusterAccessDeniedError(
            f'cluster {server}: user "{user}" may not {verb} {resource}{scope} '
            f"(403 Forbidden), needed to {doing}; grant it that permission (a "
            f"{'Role' if namespace else 'ClusterRole'} and binding) or use a kubeconfig "
            "whose identity has it",
            status=403,
            identity=f'user "{user}"',
            verb=verb,
            resource=resource,
            namespace=namespace,
        )
    reason = truncate(message or str(err.reason or ""))
    return HelmEnterpriseError(f"cannot {doing}: HTTP {status} {reason}".rstrip())
