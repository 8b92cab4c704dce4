"""Running component code under Pulumi's own mocks and recording the resource graph.

``MockMonitor`` sees every RegisterResource request, so tests can assert on what Pulumi
would really receive: type, name, parent URN, provider, dependencies, custom timeouts,
ignore_changes and, through the serialized inputs, which properties are secrets.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pmocks

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"


@dataclasses.dataclass
class Registered:
    type: str
    name: str
    urn: str
    parent: str
    provider: str
    dependencies: list[str]
    custom_timeouts: dict[str, str]
    ignore_changes: list[str]
    protect: bool
    retain_on_delete: bool
    raw_inputs: dict[str, Any]

    @property
    def inputs(self) -> dict[str, Any]:
        return _unwrap(self.raw_inputs)

    def is_secret(self, key: str) -> bool:
        value = self.raw_inputs.get(key)
        return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return _unwrap(value.get("value"))
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def contains_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get(SIG_KEY) == SECRET_SIG or any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


class Mocks(pulumi.runtime.Mocks):
    """Returns plausible provider outputs for the resources helm_enterprise registers."""

    def __init__(self) -> None:
        self.reads: list[pulumi.runtime.MockResourceArgs] = []
        self.calls: list[pulumi.runtime.MockCallArgs] = []
        self.secrets: dict[str, dict[str, str]] = {}

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        if args.resource_id:  # a read (`Secret.get`)
            self.reads.append(args)
            if args.typ == "kubernetes:core/v1:Secret":
                state = {"data": self.secrets.get(args.resource_id, {})}
            return args.resource_id, state
        if args.typ == "kubernetes:helm.sh/v3:Release":
            state["status"] = {
                "status": "deployed",
                "revision": 1,
                "namespace": args.inputs.get("namespace", "default"),
                "chart": "hello",
                "version": "0.1.0",
                "name": args.inputs.get("name"),
            }
        if args.typ == "kubernetes:helm.sh/v4:Chart":
            state["resources"] = []
        return f"{args.name}-id", state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.calls.append(args)
        return {}, []


class RecordingMonitor(pmocks.MockMonitor):
    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.registered: list[Registered] = []

    def RegisterResource(self, request: Any) -> Any:
        result = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            raw = json_format.MessageToDict(request.object, preserving_proto_field_name=True)
            timeouts = (
                json_format.MessageToDict(request.customTimeouts)
                if request.HasField("customTimeouts")
                else {}
            )
            self.registered.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    urn=result.urn,
                    parent=request.parent,
                    provider=request.provider,
                    dependencies=list(request.dependencies),
                    custom_timeouts=timeouts,
                    ignore_changes=list(request.ignoreChanges),
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    raw_inputs=raw,
                )
            )
        return result


@dataclasses.dataclass
class Run:
    mocks: Mocks
    monitor: RecordingMonitor
    value: Any = None

    @property
    def resources(self) -> list[Registered]:
        return self.monitor.registered

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str) -> Registered:
        found = self.of_type(typ)
        assert len(found) == 1, f"expected one {typ}, got {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Registered:
        return next(r for r in self.resources if r.urn == urn)


def run_program(
    program: Callable[[], Any],
    *,
    config: dict[str, Any] | None = None,
    secret_keys: list[str] | None = None,
    preview: bool = False,
    mocks: Mocks | None = None,
) -> Run:
    """Run ``program`` under mocks; returns the recorded registrations (and its result,
    with every Output in it resolved)."""
    mocks = mocks or Mocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="proj", stack="dev", preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in (config or {}).items()},
        secret_keys or [],
    )
    run = Run(mocks, monitor)

    @pulumi.runtime.test
    def body() -> Any:
        result = program()
        return pulumi.Output.from_input(result).apply(lambda v: setattr(run, "value", v))

    body()
    return run
