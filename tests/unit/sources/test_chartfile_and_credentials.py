from __future__ import annotations

import io
import stat
import tarfile
from pathlib import Path

import pytest

from helm_enterprise.errors import ChartSourceError
from helm_enterprise.sources.chartfile import read_chart
from helm_enterprise.sources.credentials import RepoCredentials, materialize, remove_materialized

REPO = Path(__file__).resolve().parents[3]


def _tgz(tmp: Path, members: dict[str, bytes]) -> Path:
    path = tmp / "c.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_reads_directory_chart() -> None:
    files = read_chart(REPO / "charts" / "hello")
    assert (files.name, files.version) == ("hello", "0.1.0")
    assert files.schema and files.values["replicaCount"] == 1


def test_reads_archive_top_level_only(tmp_path: Path) -> None:
    archive = _tgz(
        tmp_path,
        {
            "c/Chart.yaml": b"name: c\nversion: 1.0.0\n",
            "c/values.schema.json": b'{"type": "object"}',
            "c/charts/sub/values.schema.json": b'{"type": "string"}',
            "../evil/Chart.yaml": b"name: evil\nversion: 6.6.6\n",
        },
    )
    files = read_chart(archive)
    assert files.name == "c" and files.schema == {"type": "object"}
    assert not (tmp_path.parent / "evil").exists()


def test_not_a_chart(tmp_path: Path) -> None:
    with pytest.raises(ChartSourceError, match=r"no Chart\.yaml"):
        read_chart(_tgz(tmp_path, {"c/values.yaml": b"a: 1"}))


def test_materialize_is_private_stable_and_removed() -> None:
    a = Path(materialize("scope", "client.key", "KEY-DATA"))
    b = Path(materialize("scope", "client.key", "KEY-DATA"))
    c = Path(materialize("scope", "client.key", "OTHER"))
    assert a == b and a != c
    assert stat.S_IMODE(a.stat().st_mode) == 0o600
    assert stat.S_IMODE(a.parent.parent.parent.parent.stat().st_mode) == 0o700
    assert "KEY-DATA" not in str(a)
    remove_materialized()
    assert not a.exists() and not c.exists()


def test_credentials_repr_hides_values() -> None:
    text = repr(RepoCredentials(username="u", password="hunter2", token="tok"))
    assert "hunter2" not in text and "tok'" not in text and "password" in text
