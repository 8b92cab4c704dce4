"""Access to the Kubernetes API outside Pulumi (official ``kubernetes`` client).

Used for what Pulumi's resource model cannot do: reading Helm's release records, checking
ownership before apply, server-side dry runs, recovery of stuck releases. Every use is
optional: when the cluster is unreachable the caller gets ``None`` and reports that the
check was skipped.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from helm_enterprise.config.stack import ClusterConfig


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
        """An API client whose server answered ``/version`` within ``timeout`` seconds."""
        api = self.api_client()
        if api is None:
            return None
        try:
            k8s.VersionApi(api).get_code(_request_timeout=timeout)
        except Exception:
            api.close()
            return None
        return api


def core(api: k8s.ApiClient) -> Any:
    return k8s.CoreV1Api(api)


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
