"""Unauthorised is not unreachable: the pre-apply ownership check against the sandbox API
server, read with a real client certificate of a user who has no RBAC at all, and with a
kubeconfig whose server does not answer (one project, three cheap runs)."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import yaml

from tests.e2e.conftest import Env


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_no_rbac_user_fails_with_one_line_and_unreachable_follows_the_setting(
    sb: Env, project, namespace: str, tmp_path: Path
) -> None:
    user = f"e2e-nobody-{uuid.uuid4().hex[:6]}"
    nobody = sb.sandbox.cluster("a").user_kubeconfig(user, [])  # no groups, no bindings
    p = project()
    p.releases(
        [
            {
                "name": "hello",
                "namespace": namespace,
                "createNamespace": True,
                "chart": {"path": "charts/hello"},
            }
        ]
    )
    # Provider and ownership check both authenticate as `nobody`, who may read /version
    # (system:public-info-viewer) but nothing else; the check runs first, in the program.
    p.config("helm-enterprise:cluster", {"kubeconfig": str(nobody)})
    error = p.up_fails()
    # One diagnostic line (the engine also echoes it in its progress output).
    [line] = {ln.strip() for ln in error.splitlines() if ln.strip().startswith("error: cluster")}
    assert line.startswith("error: cluster https://127.0.0.1:")
    assert line.endswith(
        f': user "{user}" may not list secrets in namespace "{namespace}" (403 Forbidden), '
        f"needed to list Helm's release records of {namespace}/hello; grant it that "
        "permission (a Role and binding) or use a kubeconfig whose identity has it"
    )
    assert "Traceback" not in error and "HTTP response headers" not in error
    assert sb.kubectl("get", "namespace", namespace, check=False) == ""
    types = {r["type"] for r in p.export_json().get("resources") or []}
    assert not {t for t in types if t.startswith("kubernetes:")}, types

    # A server that does not answer: `pulumi up` stops (the default) ...
    gone = yaml.safe_load(nobody.read_text())
    gone["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{_closed_port()}"
    away = tmp_path / "gone.kubeconfig"
    away.write_text(yaml.safe_dump(gone))
    p.config("helm-enterprise:cluster", {"kubeconfig": str(away)})
    error = p.up_fails()
    assert f"hello: cluster {away} not reachable: the ownership check cannot run" in error
    assert "helm-enterprise:cluster.unreachable: warn" in error
    assert sb.kubectl("get", "namespace", namespace, check=False) == ""
    # ... while a preview of it only warns.
    p.preview()
    assert "ownership and recovery checks skipped (`pulumi up` fails unless it is" in p.text


def test_multi_cluster_pre_flight_refused_credentials_stop_the_run(
    sb: Env, project, namespace: str, tmp_path: Path
) -> None:
    """A cluster that rejects the kubeconfig's token is not an outage: no failover, no
    exclusion — one error naming the identity, and nothing deployed anywhere."""
    bad = yaml.safe_load(sb.sandbox.cluster("b").kubeconfig.read_text())
    token = f"not-a-token-{uuid.uuid4().hex[:8]}"
    bad["users"][0]["user"] = {"token": token}
    rejected = tmp_path / "rejected.kubeconfig"
    rejected.write_text(yaml.safe_dump(bad))
    p = project()
    p.config(
        "helm-enterprise:clusters",
        {
            "eu-1": {"kubeconfig": str(sb.sandbox.cluster("a").kubeconfig)},
            "eu-2": {"kubeconfig": str(rejected)},
        },
    )
    p.config(
        "helm-enterprise:multiClusterReleases",
        [
            {
                "name": "hello",
                "namespace": namespace,
                "createNamespace": True,
                "chart": {"path": "charts/hello"},
                "values": {"sandbox": {"node": "fake"}},
                "unreachable": "exclude",  # would deploy eu-1 alone if eu-2 were "unreachable"
                "clusters": [{"name": "eu-1"}, {"name": "eu-2"}],
            }
        ],
    )
    error = p.up_fails()
    assert (
        "rejected the credentials of the kubeconfig's bearer token (401 Unauthorized) while "
        "trying to read the server version"
    ) in error, error[-2000:]
    assert "Traceback" not in error and token not in error
    assert sb.kubectl("get", "namespace", namespace, check=False) == ""
