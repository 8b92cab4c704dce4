"""Who is acting, and which run an event belongs to.

Actor resolution order: an explicit value (``--who``) → ``HELM_ENTERPRISE_ACTOR`` → the
configured ``helm-enterprise:audit.actor`` → the CI system's identity (GitHub Actions,
GitLab CI, Azure Pipelines, Jenkins, Buildkite) → the Pulumi Cloud user (``pulumi whoami``,
only with the Pulumi Cloud backend) → the Git author (``git config user.email``) → the OS
user. The ambient part is resolved once per process.

Correlation id (one per run): ``HELM_ENTERPRISE_CORRELATION_ID`` → the CI run id → the
``pulumi`` CLI process this process runs under (so the program and the provider plugins of
one ``pulumi up`` share it) → a random id for this process.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import json
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path

_CI_VARS = (
    "GITHUB_ACTIONS",
    "GITHUB_ACTOR",
    "GITHUB_REPOSITORY",
    "GITLAB_CI",
    "GITLAB_USER_LOGIN",
    "CI_PROJECT_PATH",
    "TF_BUILD",
    "BUILD_REQUESTEDFOREMAIL",
    "BUILD_REQUESTEDFOR",
    "JENKINS_URL",
    "BUILD_USER_ID",
    "JOB_NAME",
    "BUILDKITE",
    "BUILDKITE_BUILD_CREATOR_EMAIL",
    "PULUMI_BACKEND_URL",
    "PULUMI_ACCESS_TOKEN",
)


def _ci_identity(env: Mapping[str, str]) -> str | None:
    """The CI system's notion of who triggered this run, when running in CI."""
    if env.get("GITHUB_ACTIONS"):
        return f"github:{env.get('GITHUB_ACTOR', '?')}@{env.get('GITHUB_REPOSITORY', '?')}"
    if env.get("GITLAB_CI"):
        return f"gitlab:{env.get('GITLAB_USER_LOGIN', '?')}@{env.get('CI_PROJECT_PATH', '?')}"
    if env.get("TF_BUILD"):
        return f"azure:{env.get('BUILD_REQUESTEDFOREMAIL') or env.get('BUILD_REQUESTEDFOR', '?')}"
    if env.get("JENKINS_URL"):
        return f"jenkins:{env.get('BUILD_USER_ID') or env.get('JOB_NAME', '?')}"
    if env.get("BUILDKITE"):
        return f"buildkite:{env.get('BUILDKITE_BUILD_CREATOR_EMAIL', '?')}"
    return None


def _ci_run_id(env: Mapping[str, str]) -> str | None:
    if env.get("GITHUB_RUN_ID"):
        return f"github-{env['GITHUB_RUN_ID']}-{env.get('GITHUB_RUN_ATTEMPT', '1')}"
    if env.get("CI_PIPELINE_ID"):
        return f"gitlab-{env['CI_PIPELINE_ID']}-{env.get('CI_JOB_ID', '')}".rstrip("-")
    if env.get("TF_BUILD") and env.get("BUILD_BUILDID"):
        return f"azure-{env['BUILD_BUILDID']}"
    if env.get("JENKINS_URL") and env.get("BUILD_TAG"):
        return f"jenkins-{env['BUILD_TAG']}"
    if env.get("BUILDKITE_BUILD_ID"):
        return f"buildkite-{env['BUILDKITE_BUILD_ID']}"
    return None


def pulumi_identity(env: Mapping[str, str]) -> str | None:
    """The Pulumi Cloud user, when this process uses the Pulumi Cloud backend.

    Self-managed backends (file, S3, Azure Blob, GCS) have no user of their own; there
    ``pulumi whoami`` would only repeat the OS user, so it is not asked.
    """
    backend = env.get("PULUMI_BACKEND_URL", "")
    if backend and not backend.startswith(("https://", "http://")):
        return None
    pulumi = shutil.which("pulumi")
    credentials = Path(env.get("PULUMI_HOME") or Path.home() / ".pulumi") / "credentials.json"
    if not pulumi or not (env.get("PULUMI_ACCESS_TOKEN") or credentials.exists()):
        return None
    try:
        out = subprocess.run(
            [pulumi, "whoami", "--json", "--non-interactive"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        user = json.loads(out.stdout).get("user") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError, AttributeError):
        return None
    return f"pulumi:{user}" if isinstance(user, str) and user else None


def git_identity() -> str | None:
    git = shutil.which("git")
    if not git:
        return None
    try:
        out = subprocess.run(
            [git, "config", "user.email"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    email = out.stdout.strip()
    return f"git:{email}" if email else None


@functools.lru_cache(maxsize=8)
def _ambient(env_key: tuple[tuple[str, str], ...]) -> str:
    env = dict(env_key)
    return (
        _ci_identity(env) or pulumi_identity(env) or git_identity() or f"user:{getpass.getuser()}"
    )


def resolve_actor(explicit: str | None = None, configured: str | None = None) -> str:
    """Who is acting (see the module docs for the order)."""
    if explicit:
        return explicit
    env = os.environ
    if env.get("HELM_ENTERPRISE_ACTOR"):
        return env["HELM_ENTERPRISE_ACTOR"]
    if configured:
        return configured
    return _ambient(tuple((k, env[k]) for k in _CI_VARS if k in env))


def _pulumi_cli_process() -> str | None:
    """``<pid>:<start time>`` of the nearest ``pulumi`` ancestor process (Linux /proc)."""
    pid = os.getppid()
    for _ in range(8):
        if pid <= 1:
            return None
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        # "pid (comm) state ppid ... starttime(22nd field)"; comm may contain spaces.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if comm == "pulumi":
            return f"{pid}:{fields[19]}"
        pid = int(fields[1])
    return None


@functools.lru_cache(maxsize=1)
def run_id() -> str:
    """The correlation id of this run (see the module docs)."""
    env = os.environ
    explicit = env.get("HELM_ENTERPRISE_CORRELATION_ID")
    if explicit:
        return explicit
    ci = _ci_run_id(env)
    if ci:
        return ci
    cli = _pulumi_cli_process()
    if cli:
        return hashlib.sha256(f"{socket.gethostname()}:{cli}".encode()).hexdigest()[:32]
    return uuid.uuid4().hex
