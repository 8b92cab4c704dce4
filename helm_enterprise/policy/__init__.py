"""Policy as code (T4.2): the CrossGuard policy pack shipped with helm_enterprise.

* :mod:`~helm_enterprise.policy.rules` — one ``check_x(args, report_violation)`` per policy
  and the :data:`~helm_enterprise.policy.rules.RULES` table the pack is built from;
* :mod:`~helm_enterprise.policy.objects` / :mod:`~helm_enterprise.policy.values` — the pure
  checks on Kubernetes objects and on Helm releases (chart version, values);
* :mod:`~helm_enterprise.policy.render` — the summary a release registers so that
  release-mode releases, whose objects CrossGuard cannot see, are checked too;
* ``pack/`` — the pack itself (``PulumiPolicy.yaml``, ``__main__.py`` and the
  ``run-policy-pack`` launcher).

Use it with ``pulumi preview --policy-pack "$(helm-enterprise policy path --launcher)"``;
see ``docs/features/policy.md``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parent / "pack"
LAUNCHER = "run-policy-pack"


def pack_dir() -> Path:
    """The policy pack directory (for ``--policy-pack DIR`` with a current Pulumi CLI)."""
    return PACK_DIR


def launcher() -> Path:
    """The executable that starts the pack (for ``--policy-pack FILE``; works with every
    Pulumi CLI since 3.255). Made executable if an install lost the mode bits."""
    path = PACK_DIR / LAUNCHER
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR and os.access(path, os.W_OK):
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


__all__ = ["LAUNCHER", "PACK_DIR", "launcher", "pack_dir"]
