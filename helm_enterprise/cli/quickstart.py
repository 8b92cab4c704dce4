"""The main job: deploy the root program's quickstart stack.

With a reachable cluster in the ambient kubeconfig (``$KUBECONFIG``) it deploys there;
otherwise (or with ``HELM_ENTERPRISE_TARGET=sandbox``) it builds what is missing and starts
the local sandbox first. The deployment is a real ``pulumi up`` through the Automation API,
streamed as progress.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import helm_enterprise
from helm_enterprise.errors import HelmEnterpriseError, truncate
from helm_enterprise.kube.client import ClusterAccess


def project_dir() -> Path:
    """The root program: the current directory when it has one, else the checkout."""
    for candidate in (Path.cwd(), Path(helm_enterprise.__file__).resolve().parents[1]):
        if (candidate / "Pulumi.yaml").exists() and (candidate / "__main__.py").exists():
            return candidate
    raise HelmEnterpriseError(
        "no root program (Pulumi.yaml + __main__.py) found; run from the checkout"
    )


def run_quickstart(stack: str, progress: Callable[[str], None]) -> dict[str, Any]:
    from pulumi import automation as auto

    from helm_enterprise.sandbox.platform import Sandbox, pulumi_state_dir
    from helm_enterprise.sandbox.toolchain import ensure

    work = project_dir()
    target = os.environ.get("HELM_ENTERPRISE_TARGET", "auto")
    ambient = ClusterAccess()
    use_sandbox = target == "sandbox" or (target == "auto" and ambient.reachable_client() is None)
    if use_sandbox:
        progress("no reachable cluster configured: starting the local sandbox")
        sb = Sandbox(clusters=1)
        sb.up(["clusters"], progress=progress)
        env = sb.env()
        command = auto.PulumiCommand(root=str(sb.toolchain().layout.root))
        where = f"sandbox cluster a ({sb.cluster('a').server})"
    else:
        tc = ensure(["pulumi", "pulumi-kubernetes"], progress=progress)
        env = tc.env()
        command = auto.PulumiCommand(root=str(tc.layout.root))
        env.setdefault("PULUMI_BACKEND_URL", f"file://{pulumi_state_dir()}")
        where = f"cluster from {ambient.describe()}"
    env.setdefault("PULUMI_CONFIG_PASSPHRASE", "")
    progress(f"pulumi up of stack {stack} in {work} on {where}")
    ws = auto.LocalWorkspace(work_dir=str(work), env_vars=env, pulumi_command=command)
    st = auto.Stack.create_or_select(stack, ws)
    try:
        result = st.up(
            on_output=lambda line: progress(line.rstrip()), color="never", show_secrets=False
        )
    except auto.errors.CommandError as err:
        lines = [ln for ln in str(err).splitlines() if "error" in ln.lower()]
        raise HelmEnterpriseError(
            f"pulumi up failed: {truncate(' | '.join(lines) or str(err), 800)}"
        ) from None
    releases = result.outputs.get("releases")
    value = releases.value if releases else {}
    summary = (
        ", ".join(
            f"{name}: {r.get('status')} (revision {r.get('revision')}, "
            f"namespace {r.get('namespace')})"
            for name, r in (value or {}).items()
        )
        or "no releases"
    )
    kubeconfig = env.get("KUBECONFIG", "~/.kube/config")
    return {
        "target": where,
        "stack": stack,
        "releases": value,
        "summary": f"deployed on {where}: {summary}",
        "next": [
            f"kubectl --kubeconfig {kubeconfig} -n quickstart get deploy,pods,svc",
            f"helm-enterprise history hello -n quickstart --kubeconfig {kubeconfig}",
            f"helm-enterprise validate -s {stack}     # dry-run checks (--json for CI)",
            "helm-enterprise sandbox status          # components and their log files",
            "docs/ has one page per feature; examples/ has runnable programs",
        ],
    }
