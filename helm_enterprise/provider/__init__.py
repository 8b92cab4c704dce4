"""The helm-enterprise Pulumi package: the components for every Pulumi language.

``pulumi-resource-helm-enterprise`` (a console script of this package) is an executable
resource plugin: the Pulumi engine runs it directly, with no language host, and it serves
:data:`~helm_enterprise.provider.components.COMPONENTS` through Pulumi's component
provider (``pulumi.provider.experimental``). Pulumi YAML programs use it through
``plugins.providers`` in ``Pulumi.yaml``; ``pulumi package add`` / ``gen-sdk`` generate
TypeScript and Go SDKs from its schema.

The schema is inferred from the components' annotations (:mod:`.components`); the release
arguments' descriptions come from :data:`helm_enterprise.config.reference.RELEASE_FIELDS`,
the same text as docs/features/configuration.md. :func:`schema` returns it; the package
keeps a copy (``schema.json``) that a unit test compares with the code.
"""

import json
import re
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

from pydantic.alias_generators import to_snake

PACKAGE = "helm-enterprise"
SCHEMA_FILE = Path(__file__).with_name("schema.json")


def package_version() -> str:
    try:
        return dist_version("helm-enterprise")
    except PackageNotFoundError:  # a source checkout without an install
        return "0.0.0"


def output_docs(component: type) -> dict[str, str]:
    """A component's outputs as its own docs describe them: a property's docstring, else
    the ``Outputs:`` section of the class docstring (``a / b: text`` describes both)."""
    docs: dict[str, str] = {}
    section = (component.__doc__ or "").partition("Outputs:")[2].split("\n\n", 1)[0]
    entry = re.compile(r"^ {8}([a-z_]+(?: / [a-z_]+)*): (.*)$")
    names: list[str] = []
    for line in section.splitlines():
        m = entry.match(line)
        if m:
            names = m.group(1).split(" / ")
            docs.update(dict.fromkeys(names, m.group(2)))
        elif line.strip() and names:
            docs.update({n: f"{docs[n]} {line.strip()}" for n in names})
    for name, attr in vars(component).items():
        if isinstance(attr, property) and attr.__doc__:
            docs[name] = " ".join(attr.__doc__.split())
    # Sphinx roles mean nothing to another language's docs: :class:`X` becomes `X`.
    return {n: re.sub(r":\w+:`([^`]+)`", r"`\1`", text) for n, text in docs.items()}


def _describe(schema: dict[str, Any]) -> dict[str, Any]:
    """Release arguments take their descriptions from the reference (docs' words), and
    every component's outputs from the component's own docs."""
    from helm_enterprise.config.reference import RELEASE_FIELDS
    from helm_enterprise.provider.components import COMPONENTS

    for component in COMPONENTS:
        resource = schema["resources"].get(f"{PACKAGE}:index:{component.__name__}")
        if resource is None:
            continue
        for name, prop in resource.get("inputProperties", {}).items():
            if name in RELEASE_FIELDS:
                default, meaning = RELEASE_FIELDS[name]
                prop["description"] = f"{meaning} (default: {default.strip('`')})"
                extra = prop.get("additionalProperties")
                if isinstance(extra, dict):
                    extra.pop("description", None)
        docs: dict[str, str] = {}
        for base in reversed(component.__mro__[1:]):
            docs.update(output_docs(base))
        for name, prop in resource.get("properties", {}).items():
            text = docs.get(to_snake(name))
            if text:
                prop["description"] = text
    # Enum members named as Pulumi's own packages name them (Mode.Release, ModeRelease in
    # Go), not after the Python members' UPPER_CASE.
    for spec in schema.get("types", {}).values():
        for member in spec.get("enum", []):
            member["name"] = "".join(w.capitalize() for w in member["name"].split("_"))
    return schema


def provider(version: str | None = None) -> Any:
    """The component provider (schema inferred on construction)."""
    from pulumi.provider.experimental.component import ComponentProvider

    from helm_enterprise.provider.components import COMPONENTS

    class HelmEnterpriseProvider(ComponentProvider):
        def __init__(self) -> None:
            super().__init__(COMPONENTS, PACKAGE, version=version or package_version())
            self.schema = json.dumps(_describe(json.loads(self.schema or "{}")), sort_keys=True)

    return HelmEnterpriseProvider()


def schema(version: str = "0.0.0") -> dict[str, Any]:
    """The package schema, as the plugin serves it (``version`` pinned for comparisons)."""
    result: dict[str, Any] = json.loads(provider(version).schema)
    return result


def main() -> None:
    """``pulumi-resource-helm-enterprise``: run as the engine runs a resource plugin."""
    from pulumi.provider import main as serve

    serve(provider(), sys.argv[1:])


__all__ = ["PACKAGE", "SCHEMA_FILE", "main", "package_version", "provider", "schema"]
