"""A chart's own dependencies (T3.4): which are missing, where each comes from, the copy."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import yaml

from helm_enterprise.config.release import RepositoryConfig
from helm_enterprise.errors import ChartSourceError, ConfigError
from helm_enterprise.sources.dependencies import (
    Dependency,
    missing,
    repository_for,
    with_dependencies,
)

CORP = RepositoryConfig(url="https://charts.corp.example/stable")
OCI = RepositoryConfig(url="oci://registry.corp.example/charts")
REPOS = {"corp": CORP, "registry": OCI}


def chart(root: Path, name: str, dependencies: list[dict[str, str]] | None = None) -> Path:
    root.mkdir(parents=True)
    meta: dict[str, object] = {"apiVersion": "v2", "name": name, "version": "1.0.0"}
    if dependencies is not None:
        meta["dependencies"] = dependencies
    (root / "Chart.yaml").write_text(yaml.safe_dump(meta))
    (root / "values.yaml").write_text("{}\n")
    return root


def archive(path: Path, name: str, version: str = "0.1.0") -> Path:
    data = yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version}).encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(f"{name}/Chart.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


class Fetcher:
    def __init__(self, tmp: Path) -> None:
        self.tmp, self.calls = tmp, []  # type: ignore[var-annotated]

    def __call__(self, repo: RepositoryConfig, ref: str, version: str) -> Path:
        self.calls.append((repo.url, ref, version))
        name = ref.rsplit("/", 1)[-1]
        return archive(self.tmp / f"{name}-0.1.0.tgz", name)


def test_nothing_missing_keeps_the_chart(tmp_path: Path) -> None:
    plain = chart(tmp_path / "plain", "plain")
    assert missing(plain) == []
    vendored = chart(
        tmp_path / "app", "app", [{"name": "sub", "version": "0.1.0", "repository": "@corp"}]
    )
    (vendored / "charts").mkdir()
    archive(vendored / "charts" / "renamed.tgz", "sub")  # present under any file name
    fetch = Fetcher(tmp_path)
    for c in (plain, vendored):
        assert (
            with_dependencies(
                c, repositories=REPOS, fetch=fetch, target_root=tmp_path / "out", field="chart"
            )
            == c
        )
    assert fetch.calls == []


def test_missing_dependencies_are_fetched_into_a_copy(tmp_path: Path) -> None:
    deps = [
        {"name": "sub", "version": "~0.1.0", "repository": "@corp"},
        {"name": "cache", "version": "0.1.0", "repository": "oci://registry.corp.example/charts"},
        {"name": "public", "version": "1.x", "repository": "https://charts.example.org/"},
        {"name": "sibling", "version": "0.1.0", "repository": "file://../sibling"},
    ]
    app = chart(tmp_path / "src" / "app", "app", deps)
    chart(tmp_path / "src" / "sibling", "sibling")
    fetch = Fetcher(tmp_path)
    out = tmp_path / "out"
    got = with_dependencies(app, repositories=REPOS, fetch=fetch, target_root=out, field="chart")
    assert isinstance(got, Path) and got.parent == out and got.name.startswith("app-deps-")
    assert fetch.calls == [
        (CORP.url, "sub", "~0.1.0"),
        (OCI.url, "oci://registry.corp.example/charts/cache", "0.1.0"),
        ("https://charts.example.org", "public", "1.x"),  # undeclared: no credentials
    ]
    assert sorted(p.name for p in (got / "charts").iterdir()) == [
        "cache-0.1.0.tgz",
        "public-0.1.0.tgz",
        "sibling",
        "sub-0.1.0.tgz",
    ]
    assert missing(got) == [] and not (app / "charts").exists()  # the source is untouched
    # Content-addressed: the same inputs give the same copy.
    again = with_dependencies(app, repositories=REPOS, fetch=fetch, target_root=out, field="chart")
    assert again == got


@pytest.mark.parametrize(
    ("repository", "url"),
    [
        ("@corp", CORP.url),
        ("alias:corp", CORP.url),
        ("https://charts.corp.example/stable/", CORP.url),
        ("oci://registry.corp.example/charts", OCI.url),
        ("oci://registry.corp.example/charts/team", OCI.url),
        ("https://elsewhere.example", "https://elsewhere.example"),
    ],
)
def test_repository_of_a_dependency(repository: str, url: str) -> None:
    repo = repository_for(Dependency("sub", "1.0.0", repository), REPOS, "chart")
    assert repo is not None and repo.url == url


def test_undeclared_repository_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        repository_for(Dependency("sub", "1.0.0", "@internal"), REPOS, "releases[0].chart")
    assert err.value.path == "releases[0].chart"
    assert (
        "names repository 'internal', which helm-enterprise:repositories does not declare"
        in str(err.value)
    )
    assert "(declared: corp, registry)" in str(err.value)


def test_dependency_without_repository_must_be_vendored(tmp_path: Path) -> None:
    app = chart(tmp_path / "app", "app", [{"name": "sub", "version": "1.0.0"}])
    with pytest.raises(
        ChartSourceError, match="has no repository and is not in the chart's charts/"
    ):
        with_dependencies(
            app, repositories=REPOS, fetch=Fetcher(tmp_path), target_root=tmp_path, field="chart"
        )
