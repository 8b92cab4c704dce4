"""Who is acting: the identity recorded in audit events and rollback records.

Resolution order: ``HELM_ENTERPRISE_ACTOR`` (explicit override) → the CI system's
identity (GitHub Actions, GitLab CI, Azure Pipelines, Jenkins, Buildkite) → the Git
author (``git config user.email``) → the OS user.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from collections.abc import Mapping


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


def resolve_actor(explicit: str | None = None) -> str:
    if explicit:
        return explicit
    env = os.environ
    if env.get("HELM_ENTERPRISE_ACTOR"):
        return env["HELM_ENTERPRISE_ACTOR"]
    return _ci_identity(env) or git_identity() or f"user:{getpass.getuser()}"
