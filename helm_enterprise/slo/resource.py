"""The SLO rules of one release, written where Prometheus reads them (T4.3).

A dynamic resource, so the rules are a step of ``pulumi up`` with the rule file in state:
create and update write ``<ruleFilesDir>/helm-enterprise-<project>-<stack>-<release>.yml``
(atomically: Prometheus may reload at any time), ask Prometheus to reload
(``POST /-/reload``) and wait until it reports every rule group loaded, so a rule file it
refuses fails the run with Prometheus' reason; delete removes the file and reloads. A
Prometheus that is gone when the release is destroyed does not block the destroy (the file
is removed and the failed reload is a warning).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic as dyn
import yaml

from helm_enterprise._cache import write_atomic
from helm_enterprise.errors import SloError, message_only
from helm_enterprise.slo import prometheus

LOAD_TIMEOUT = 20.0


def rule_file(directory: str, project: str, stack: str, release: str) -> Path:
    return Path(directory) / f"helm-enterprise-{project}-{stack}-{release}.yml"


def _apply(props: dict[str, Any]) -> dict[str, Any]:
    path = Path(props["file"])
    write_atomic(path, props["rules"])
    address = props["address"]
    if props.get("reload"):
        prometheus.reload(address)
        groups = set(props["groups"])
        ends = time.monotonic() + LOAD_TIMEOUT
        while not groups <= prometheus.rule_groups(address):
            if time.monotonic() > ends:
                missing = ", ".join(sorted(groups - prometheus.rule_groups(address)))
                raise SloError(
                    f"Prometheus at {address} did not load the rule groups {missing} from "
                    f"{path} within {LOAD_TIMEOUT:.0f}s (is {path.parent} in its rule_files?)"
                )
            time.sleep(0.5)
    return props


class SloRulesProvider(dyn.ResourceProvider):
    serialize_as_secret_always = False  # rules and paths only: nothing secret

    @message_only
    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        return dyn.CreateResult(id_=props["file"], outs=_apply(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        keys = ("file", "rules", "address", "reload")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        return dyn.DiffResult(
            changes=bool(changed),
            replaces=["file"] if olds.get("file") != news.get("file") else [],
            stables=[],
            delete_before_replace=False,
        )

    @message_only
    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        return dyn.UpdateResult(outs=_apply(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        Path(props["file"]).unlink(missing_ok=True)
        if props.get("reload"):
            try:
                prometheus.reload(props["address"])
            except SloError as err:
                pulumi.log.warn(f"rule file {props['file']} removed; {err}")


class SloRulesResource(dyn.Resource):
    """A release's SLO rule file (``<release>-slo-rules``)."""

    file: pulumi.Output[str]
    groups: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        *,
        rules: dict[str, Any],
        file: Path,
        address: str,
        reload: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            SloRulesProvider(),
            name,
            {
                "rules": yaml.safe_dump(rules, sort_keys=False, width=1000),
                "groups": [g["name"] for g in rules["groups"]],
                "file": str(file),
                "address": address,
                "reload": reload,
            },
            opts,
        )
