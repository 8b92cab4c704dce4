"""A chart's own dependencies (``Chart.yaml`` ``dependencies``), fetched like the chart (T3.4).

Helm installs a chart directory only when every dependency it declares is in its ``charts/``
folder ("found in Chart.yaml, but missing in charts/ directory"). ``helm dependency build``
would fetch them, but with Helm's own repository configuration: no bearer tokens, no
credentials from Vault or Kubernetes Secrets. So for the sources that hand Helm a directory
(a local path, a Git checkout) helm_enterprise fetches the missing ones itself, with the
same code, credentials and TLS rules as a chart of the release, into a copy of the chart
under the program directory, and Helm gets that copy:

* ``repository: "@corp"`` or ``"alias:corp"`` — the repository ``corp`` of
  ``helm-enterprise:repositories`` (a ConfigError when there is none);
* ``repository: https://...`` — the declared repository with that URL (its credentials),
  else the URL without credentials;
* ``repository: oci://host/path`` — the chart ``oci://host/path/<name>`` at the exact
  version, with the credentials of the declared OCI repository that URL starts with;
* ``repository: file://../x`` — the directory next to the chart (local charts);
* no repository — the dependency must already be in ``charts/``.

A dependency already in ``charts/`` (a directory or an archive of a chart of that name) is
left alone, as Helm would. The copy is content-addressed: the same chart and dependencies
give the same path, so a run that changes nothing gives Helm the same input.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pulumi
import yaml

from helm_enterprise._cache import publish_tree
from helm_enterprise.config.release import RepositoryConfig
from helm_enterprise.errors import ChartSourceError, ConfigError

Fetch = Callable[[RepositoryConfig, str, str], "Path | pulumi.Output[Path]"]
"""``(repository, chart reference, version constraint)`` → the archive (``.tgz``)."""


@dataclasses.dataclass(frozen=True)
class Dependency:
    name: str
    version: str
    repository: str


def declared(chart_dir: Path) -> list[Dependency]:
    """The dependencies ``Chart.yaml`` declares (``[]`` without any)."""
    path = chart_dir / "Chart.yaml"
    if not path.is_file():
        return []
    try:
        meta = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ChartSourceError(f"{path}: not valid YAML: {err}", source=str(path)) from None
    return [
        Dependency(
            str(d.get("name", "")), str(d.get("version") or ""), str(d.get("repository") or "")
        )
        for d in meta.get("dependencies") or []
        if isinstance(d, Mapping) and d.get("name")
    ]


def _chart_name(entry: Path) -> str | None:
    """The name of the chart in ``charts/<entry>`` (a directory or an archive)."""
    try:
        if entry.is_dir():
            meta = yaml.safe_load((entry / "Chart.yaml").read_text())
        elif entry.name.endswith(".tgz"):
            with tarfile.open(entry, "r:gz") as tar:
                found = next(
                    (m for m in tar if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml")),
                    None,
                )
                fh = tar.extractfile(found) if found is not None else None
                meta = yaml.safe_load(fh.read()) if fh is not None else None
        else:
            return None
    except (OSError, tarfile.TarError, yaml.YAMLError):
        return None
    return str(meta.get("name")) if isinstance(meta, Mapping) and meta.get("name") else None


def missing(chart_dir: Path) -> list[Dependency]:
    """The declared dependencies not in ``charts/`` yet."""
    wanted = declared(chart_dir)
    if not wanted:
        return []
    folder = chart_dir / "charts"
    present = {_chart_name(e) for e in folder.iterdir()} if folder.is_dir() else set()
    return [d for d in wanted if d.name not in present]


def repository_for(
    dep: Dependency, repositories: Mapping[str, RepositoryConfig], field: str
) -> RepositoryConfig | None:
    """The repository to fetch ``dep`` from (None: a ``file://`` dependency)."""
    repo = dep.repository
    where = f"{field}: chart dependency {dep.name!r}"
    if repo.startswith(("@", "alias:")):
        name = repo[1:] if repo.startswith("@") else repo[len("alias:") :]
        if name not in repositories:
            known = ", ".join(sorted(repositories)) or "none declared"
            raise ConfigError(
                f"{where} names repository {name!r}, which helm-enterprise:repositories "
                f"does not declare (declared: {known})",
                path=field,
                hint=f"declare {name} under helm-enterprise:repositories with its URL and auth",
            )
        return repositories[name]
    if repo.startswith("file://"):
        return None
    if not repo:
        raise ChartSourceError(
            f"{where} has no repository and is not in the chart's charts/ folder",
            source=dep.name,
        )
    url = repo.rstrip("/")
    for declared_repo in repositories.values():
        if declared_repo.url.rstrip("/") == url or (
            url.startswith("oci://") and url.startswith(declared_repo.url.rstrip("/") + "/")
        ):
            return declared_repo
    if url.startswith(("https://", "http://", "oci://")):
        return RepositoryConfig(url=url)  # undeclared: fetched without credentials
    raise ChartSourceError(f"{where}: unsupported repository {repo!r}", source=repo)


def _digest(chart_dir: Path, archives: list[Path], subdirs: list[Path]) -> str:
    h = hashlib.sha256()
    for root in (chart_dir, *subdirs):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            h.update(str(path.relative_to(root.parent)).encode() + b"\0" + path.read_bytes())
    for archive in archives:
        h.update(archive.name.encode() + b"\0" + archive.read_bytes())
    return h.hexdigest()[:16]


def vendor(chart_dir: Path, archives: list[Path], subdirs: list[Path], target_root: Path) -> Path:
    """A copy of ``chart_dir`` under ``target_root`` whose ``charts/`` also holds
    ``archives`` and ``subdirs`` (content-addressed, published atomically)."""
    target = target_root / f"{chart_dir.name}-deps-{_digest(chart_dir, archives, subdirs)}"
    if target.is_dir():
        return target
    staging = target_root / f".{target.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(chart_dir, staging, symlinks=False)
    charts = staging / "charts"
    charts.mkdir(exist_ok=True)
    for archive in archives:
        shutil.copyfile(archive, charts / archive.name)
    for sub in subdirs:
        shutil.copytree(sub, charts / sub.name, symlinks=False)
    try:
        publish_tree(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def with_dependencies(
    chart_dir: Path,
    *,
    repositories: Mapping[str, RepositoryConfig],
    fetch: Fetch,
    target_root: Path,
    field: str,
) -> Path | pulumi.Output[Path]:
    """``chart_dir`` when nothing is missing, else a copy with every missing dependency in
    ``charts/`` (an Output when a fetch needs credentials that are Outputs)."""
    todo = missing(chart_dir)
    if not todo:
        return chart_dir
    fetched: list[Any] = []
    subdirs: list[Path] = []
    for dep in todo:
        repo = repository_for(dep, repositories, field)
        if repo is None:
            local = (chart_dir / dep.repository[len("file://") :]).resolve()
            if not (local / "Chart.yaml").is_file():
                raise ChartSourceError(
                    f"{field}: chart dependency {dep.name!r}: {dep.repository} is not a chart "
                    f"directory (resolved to {local})",
                    source=dep.repository,
                )
            subdirs.append(local)
            continue
        ref = f"{repo.url.rstrip('/')}/{dep.name}" if repo.is_oci else dep.name
        fetched.append(fetch(repo, ref, dep.version))
    if not any(isinstance(f, pulumi.Output) for f in fetched):
        return vendor(chart_dir, list(fetched), subdirs, target_root)
    return pulumi.Output.all(*fetched).apply(
        lambda archives: vendor(chart_dir, list(archives), subdirs, target_root)
    )
