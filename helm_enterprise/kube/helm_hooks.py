"""Helm hooks in a rendered chart, and what chart mode does about them (pure).

A Helm hook is an object annotated ``helm.sh/hook: <events>`` (``pre-install``,
``post-upgrade``, ...). Helm applies hooks itself at those points of a release's life and
keeps them out of the release's manifest. ``helm.v4.Chart`` (chart mode) applies the
rendered objects as ordinary Pulumi resources and leaves hooks out, so a chart's
migrations, bootstrap Jobs or cleanup steps silently never run. :func:`hooks_in` finds
them in a render; :func:`decide` turns them and the release's ``chartMode.hooks`` into a
finding for the component to act on (warn, or refuse before anything is applied).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from helm_enterprise.findings import Finding

HOOK_ANNOTATION = "helm.sh/hook"
# Run only by `helm test`, never by an install or upgrade: nothing is lost in chart mode.
TEST_EVENTS = frozenset({"test", "test-success", "test-failure"})


@dataclasses.dataclass(frozen=True)
class Hook:
    """One hook object: its kind, name and the events it runs at."""

    kind: str
    name: str
    events: tuple[str, ...]

    def describe(self) -> str:
        """``Job/podinfo-hook (pre-install, pre-upgrade)``."""
        return f"{self.kind}/{self.name} ({', '.join(self.events)})"


def hooks_in(objects: Iterable[Mapping[str, Any]]) -> list[Hook]:
    """The lifecycle hooks among rendered objects (test hooks left out), by kind and name
    (stable messages, whatever order the render had)."""
    found: list[Hook] = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        value = (meta.get("annotations") or {}).get(HOOK_ANNOTATION)
        if not value:
            continue
        events = tuple(e.strip() for e in str(value).split(",") if e.strip())
        if events and not set(events) <= TEST_EVENTS:
            found.append(Hook(str(obj.get("kind", "?")), str(meta.get("name", "?")), events))
    return sorted(found, key=lambda h: (h.kind, h.name))


def decide(
    release: str, hooks: list[Hook], policy: Literal["warn", "refuse"], field: str
) -> Finding | None:
    """The finding chart mode reports for ``hooks`` (None without hooks): a warning under
    ``warn``, an error under ``refuse``. ``field`` is the config path of the setting."""
    if not hooks:
        return None
    names = ", ".join(h.describe() for h in hooks)
    if policy == "refuse":
        return Finding(
            "error",
            "chart-hooks",
            release,
            field,
            f"the chart has Helm hooks that chart mode does not run: {names}",
            "use mode: release to have Helm run them, or set chartMode.hooks: warn to "
            "deploy without them",
        )
    return Finding(
        "warning",
        "chart-hooks",
        release,
        field,
        f"chart mode does not run the chart's Helm hooks; not applied: {names}",
        "use mode: release to have Helm run them, or chartMode.hooks: refuse to stop here",
    )
