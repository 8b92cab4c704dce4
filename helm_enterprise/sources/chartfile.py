"""Reading a chart (directory or .tgz): Chart.yaml, values.yaml, values.schema.json.

Archives are read in memory member by member; nothing is extracted, so a hostile archive
(``../`` paths, symlinks, huge members) cannot write outside or fill the disk.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import yaml

from helm_enterprise.errors import ChartSourceError

MAX_MEMBER = 5 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ChartFiles:
    """The parts of a chart that validation needs."""

    name: str
    version: str
    values: dict[str, Any]
    schema: dict[str, Any] | None
    source: str


def _parse(name: str, text: str | bytes, source: str) -> Any:
    try:
        if name.endswith(".json"):
            return json.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as err:
        raise ChartSourceError(f"{source}: {name} is not valid: {err}", source=source) from None


def _build(files: dict[str, bytes], source: str) -> ChartFiles:
    if "Chart.yaml" not in files:
        raise ChartSourceError(f"{source} is not a Helm chart (no Chart.yaml)", source=source)
    meta = _parse("Chart.yaml", files["Chart.yaml"], source) or {}
    if not isinstance(meta, dict) or "name" not in meta or "version" not in meta:
        raise ChartSourceError(f"{source}: Chart.yaml needs name and version", source=source)
    values = _parse("values.yaml", files["values.yaml"], source) if "values.yaml" in files else {}
    schema = (
        _parse("values.schema.json", files["values.schema.json"], source)
        if "values.schema.json" in files
        else None
    )
    return ChartFiles(
        name=str(meta["name"]),
        version=str(meta["version"]),
        values=values if isinstance(values, dict) else {},
        schema=schema if isinstance(schema, dict) else None,
        source=source,
    )


_WANTED = ("Chart.yaml", "values.yaml", "values.schema.json")


def read_chart(path: Path) -> ChartFiles:
    """Read a chart directory or a packaged ``.tgz``."""
    source = str(path)
    if path.is_dir():
        files = {n: (path / n).read_bytes() for n in _WANTED if (path / n).is_file()}
        return _build(files, source)
    if not path.is_file():
        raise ChartSourceError(f"chart {source} does not exist", source=source)
    files = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                parts = member.name.split("/")
                # Top-level files of the chart only: "<chart>/Chart.yaml", never subcharts.
                if len(parts) != 2 or parts[1] not in _WANTED or not member.isfile():
                    continue
                if member.size > MAX_MEMBER:
                    raise ChartSourceError(f"{source}: {member.name} is too large", source=source)
                fh = tar.extractfile(member)
                if fh is not None:
                    files[parts[1]] = fh.read()
    except (tarfile.TarError, OSError) as err:
        raise ChartSourceError(
            f"{source} is not a readable chart archive: {err}", source=source
        ) from None
    return _build(files, source)


_MAX_DEPTH = 4  # subcharts of subcharts...: deeper archives are assumed to match


def may_mention(path: Path, text: str) -> bool:
    """Whether ``text`` may occur in the chart at ``path`` (a directory or ``.tgz``): in any
    of its files or its subcharts' (packaged ones included), Markdown aside.

    A cheap, conservative test ahead of a render: False means the chart certainly does not
    contain ``text`` (so no rendered object can carry it from the chart itself); a chart
    that cannot be read counts as a match, leaving the decision to the render.
    """
    needle = text.encode()
    try:
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if not f.is_file() or f.suffix == ".md":
                    continue
                data = f.read_bytes()
                if needle in data or (f.suffix == ".tgz" and _archive_mentions(data, needle)):
                    return True
            return False
        return _archive_mentions(path.read_bytes(), needle)
    except (OSError, tarfile.TarError):
        return True


def _archive_mentions(data: bytes, needle: bytes, depth: int = 0) -> bool:
    if depth > _MAX_DEPTH:
        return True
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for member in tar:
            if not member.isfile() or member.name.endswith(".md"):
                continue
            if member.size > MAX_MEMBER:
                return True  # not read into memory; let the render decide
            fh = tar.extractfile(member)
            content = fh.read() if fh is not None else b""
            if needle in content:
                return True
            if member.name.endswith(".tgz") and _archive_mentions(content, needle, depth + 1):
                return True
    return False
