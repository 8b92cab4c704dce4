"""The main job: deploy the root program's quickstart stack.

With a reachable cluster in the ambient kubeconfig (``$KUBECONFIG``) it deploys there;
otherwise (or with ``HELM_ENTERPRISE_TARGET=sandbox``) it builds what is missing and starts
the local sandbox first. The deployment is a real ``pulumi up`` through the Automation API,
streamed as progress.

The stack's config is the committed template ``quickstart.yaml``; each run writes it to
``Pulumi.<stack>.yaml``, which is not tracked. A stack file is not portable: Pulumi adds an
``encryptionsalt`` made with the passphrase of one backend (the sandbox generates one per
sandbox directory), and a salt from another machine makes ``pulumi stack init`` fail with
"incorrect passphrase". So the salt of an existing stack file is kept only while that stack
exists in the current backend; a new backend starts without one, and the checkout stays
clean.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

import helm_enterprise
from helm_enterprise.automation.errors import Failure, pulumi_command
from helm_enterprise.automation.verbosity import check_pulumi_verbosity
from helm_enterprise.errors import AutomationError, HelmEnterpriseError
from helm_enterprise.kube.client import ClusterAccess


def project_dir() -> Path:
    """The root program: the current directory when it has one, else the checkout."""
    for candidate in (Path.cwd(), Path(helm_enterprise.__file__).resolve().parents[1]):
        if (candidate / "Pulumi.yaml").exists() and (candidate / "__main__.py").exists():
            return candidate
    raise HelmEnterpriseError(
        "no root program (Pulumi.yaml + __main__.py) found; run from the checkout"
    )


TEMPLATE = "quickstart.yaml"
_HEADER = (
    "# Written by `helm-enterprise quickstart` from {template} on every run: edit that file.\n"
    "# Not tracked: the encryptionsalt below belongs to this machine's Pulumi passphrase.\n"
)


def _load(stack_file: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(stack_file.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return doc if isinstance(doc, dict) else {}


def salt_of(stack_file: Path) -> str | None:
    """The ``encryptionsalt`` of a stack file, or None (no file, no salt, not YAML)."""
    salt = _load(stack_file).get("encryptionsalt")
    return str(salt) if salt else None


# charts/hello is made for the sandbox: its image is served by the sandbox's registry and
# its Pods ask for the sandbox's real node. On a cluster of the user's own, the same
# release pulls podinfo from its public registry and runs on any node; in a sandbox that
# could start no real node (kwok's fake nodes only) it asks for a fake node.
DEMO_CHART = "charts/hello"
OWN_CLUSTER_VALUES: dict[str, Any] = {
    "image": {"repository": "ghcr.io/stefanprodan/podinfo"},
    "sandbox": {"node": ""},
}
KWOK_ONLY_VALUES: dict[str, Any] = {"sandbox": {"node": "fake"}}


def _with_demo_values(config: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``config`` with ``extra`` under the values of each release of the demo chart (the
    template's own values win)."""
    releases = config.get("helm-enterprise:releases")
    if not isinstance(releases, list):
        return config
    out = []
    for rel in releases:
        chart = rel.get("chart") if isinstance(rel, dict) else None
        if isinstance(chart, dict) and chart.get("path") == DEMO_CHART:
            values = rel.get("values") or {}
            merged = {k: {**v, **(values.get(k) or {})} for k, v in extra.items()}
            out.append({**rel, "values": {**values, **merged}})
        else:
            out.append(rel)
    return {**config, "helm-enterprise:releases": out}


def write_stack_file(
    work: Path, stack: str, *, existing: bool, demo_values: dict[str, Any] | None = None
) -> Path:
    """Write ``Pulumi.<stack>.yaml`` from the template ``quickstart.yaml`` in ``work``.

    ``existing``: the stack exists in the current backend, which made the existing file's
    ``encryptionsalt``: keep that salt, and the config keys the template does not set (a
    secret set with ``pulumi config set --secret`` is encrypted with it). Otherwise the
    file is the template alone. ``demo_values`` go under the demo chart's releases
    (:data:`OWN_CLUSTER_VALUES`, :data:`KWOK_ONLY_VALUES`). A salt in the template is
    dropped. The file is rewritten only when its content changes.
    """
    template = work / TEMPLATE
    if not template.is_file():
        raise HelmEnterpriseError(
            f"{template} is missing: it is the quickstart's stack config template "
            "(restore it from the repository)"
        )
    target = work / f"Pulumi.{stack}.yaml"
    lines = template.read_text().splitlines(keepends=True)
    body = "".join(ln for ln in lines if not ln.startswith("encryptionsalt:"))
    old = _load(target) if existing else {}
    doc = yaml.safe_load(body) or {}
    config = doc.get("config") or {}
    extra = {k: v for k, v in (old.get("config") or {}).items() if k not in config}
    if extra or demo_values:  # re-dumped: the template's comments give way
        config = _with_demo_values(config, demo_values) if demo_values else config
        body = yaml.safe_dump({**doc, "config": {**config, **extra}}, sort_keys=False)
    text = _HEADER.format(template=TEMPLATE) + body.rstrip("\n") + "\n"
    if old.get("encryptionsalt"):
        text += f"encryptionsalt: {old['encryptionsalt']}\n"
    if not target.is_file() or target.read_text() != text:
        target.write_text(text)
    return target


def run_quickstart(stack: str, progress: Callable[[str], None]) -> dict[str, Any]:
    from pulumi import automation as auto

    from helm_enterprise.sandbox.platform import Sandbox, pulumi_state_dir
    from helm_enterprise.sandbox.toolchain import ensure

    check_pulumi_verbosity()  # before the sandbox starts: the run would log secrets
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
        demo_values = None if sb.cluster("a").real_node_available else KWOK_ONLY_VALUES
    else:
        demo_values = OWN_CLUSTER_VALUES
        tc = ensure(["pulumi", "pulumi-kubernetes"], progress=progress)
        env = tc.env()
        command = auto.PulumiCommand(root=str(tc.layout.root))
        env.setdefault("PULUMI_BACKEND_URL", f"file://{pulumi_state_dir()}")
        where = f"cluster from {ambient.describe()}"
    env.setdefault("PULUMI_CONFIG_PASSPHRASE", "")
    progress(f"pulumi up of stack {stack} in {work} on {where}")
    ws = auto.LocalWorkspace(work_dir=str(work), env_vars=env, pulumi_command=command)
    try:
        with pulumi_command("stack select", stack, env=env):
            st = auto.Stack.select(stack, ws)
        exists = True
    except AutomationError as err:
        if err.kind != Failure.NOT_FOUND.value:
            raise
        exists = False
    write_stack_file(work, stack, existing=exists, demo_values=demo_values)
    if not exists:
        with pulumi_command("stack init", stack, env=env):
            st = auto.Stack.create(stack, ws)
    with pulumi_command("up", stack, env=env):
        result = st.up(
            on_output=lambda line: progress(line.rstrip()), color="never", show_secrets=False
        )
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
