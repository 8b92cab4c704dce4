"""Drift detection (T3.3): decide apart from act.

* :mod:`.compare` — the pure decision: desired object, live object, ignore rules →
  :class:`ObjectFinding` with a :class:`DriftState` (``IN_SYNC``, ``DRIFTED``,
  ``MISSING``, ``UNKNOWN``) and the changed fields as JSON pointers.
* :mod:`.rules` — ignore rules (JSON pointers + target selector), the defaults for fields
  controllers and webhooks own, ``/spec/replicas`` of HPA targets.
* :mod:`.release` / :mod:`.live` — release mode: Helm's stored manifest, dry-run applied,
  against the live objects; remediation by forced server-side apply.
* :mod:`.revision` — release mode, the release itself: the deployed revision against the
  one the stack applied (a hand ``helm rollback``/``helm upgrade``); remediation by the
  ``pulumi up`` that upgrades back (:mod:`helm_enterprise.rollback.outofband`).
* :mod:`.inventory` — what a stack deployed, from its state.
* :mod:`.act` / :mod:`.report` — the action per stack, audit events, exit codes.

The Automation-API runner over stacks (chart mode through ``pulumi refresh
--preview-only``) is :mod:`helm_enterprise.automation.drift`.
"""

from __future__ import annotations

from helm_enterprise.drift.compare import decide, decide_refresh, field_diff
from helm_enterprise.drift.findings import (
    REDACTED,
    Change,
    DriftState,
    FieldChange,
    ObjectFinding,
    ObjectRef,
)
from helm_enterprise.drift.report import Action, DriftRun, RemediationResult, StackReport
from helm_enterprise.drift.rules import DEFAULT_RULES, Rule, RuleSet, parse_flag
from helm_enterprise.kube.live import ScaleTarget

__all__ = [
    "DEFAULT_RULES",
    "REDACTED",
    "Action",
    "Change",
    "DriftRun",
    "DriftState",
    "FieldChange",
    "ObjectFinding",
    "ObjectRef",
    "RemediationResult",
    "Rule",
    "RuleSet",
    "ScaleTarget",
    "StackReport",
    "decide",
    "decide_refresh",
    "field_diff",
    "parse_flag",
]
