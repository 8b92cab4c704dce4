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
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

PACKAGE = "helm-enterprise"
SCHEMA_FILE = Path(__file__).with_name("schema.json")


def package_version() -> str:
    try:
        return dist_version("helm-enterprise")
    except PackageNotFoundError:  # a source checkout without an install
        return "0.0.0"


def _describe(schema: dict[str, Any]) -> dict[str, Any]:
    """Release arguments take their descriptions from the reference (docs' words)."""
    from helm_enterprise.config.reference import RELEASE_FIELDS

    for token in ("Release", "MultiClusterRelease"):
        resource = schema["resources"].get(f"{PACKAGE}:index:{token}")
        if resource is None:
            continue
        for name, prop in resource.get("inputProperties", {}).items():
            if name in RELEASE_FIELDS:
                default, meaning = RELEASE_FIELDS[name]
                prop["description"] = f"{meaning} (default: {default.strip('`')})"
                extra = prop.get("additionalProperties")
                if isinstance(extra, dict):
                    extra.pop("description", None)
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
