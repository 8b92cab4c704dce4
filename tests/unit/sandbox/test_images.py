"""The OCI image writer: the layout is what containerd and registries read, byte for byte
the same on every rebuild; and the pure parts of the push (the registry itself is only
reached in e2e)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from helm_enterprise.errors import SandboxError
from helm_enterprise.sandbox.images import (
    IMAGE_KEYS,
    MEDIA_CONFIG,
    MEDIA_INDEX,
    MEDIA_LAYER,
    MEDIA_MANIFEST,
    FileEntry,
    layer_tar,
    load_image,
    push_plan,
    registry_base,
    upload_url,
    workload_images,
    write_image,
)
from helm_enterprise.sandbox.toolchain import Layout, Toolchain

NAME = "registry.helm-enterprise.test/library/demo"
ENTRIES = [
    FileEntry("/app/bin/demo", b"\x7fELF not really", mode=0o755),
    FileEntry("/data", mode=0o755, uid=65532, gid=65532),
    FileEntry("/etc/demo.conf", b"x=1\n", mode=0o644),
]
CONFIG = {"User": "65532:65532", "Entrypoint": ["/app/bin/demo"], "ExposedPorts": {"80/tcp": {}}}


def _write(root: Path, key: str = "demo", **kw: Any) -> Any:
    return write_image(root, key, name=NAME, tag="1.0", entries=ENTRIES, config=CONFIG, **kw)


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_rebuild_gives_the_same_digest_and_bytes(tmp_path: Path) -> None:
    a = _write(tmp_path / "a")
    b = _write(tmp_path / "b")
    assert a.digest == b.digest
    assert a.archive.read_bytes() == b.archive.read_bytes()
    files_a = sorted(p.relative_to(a.layout) for p in a.layout.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b.layout) for p in b.layout.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a.layout / rel).read_bytes() == (b.layout / rel).read_bytes()
    # ... and a different input gives a different digest (the test above cannot pass by
    # ignoring its input).
    other = write_image(
        tmp_path / "c", "demo", name=NAME, tag="1.0", entries=ENTRIES[:1], config=CONFIG
    )
    assert other.digest != a.digest


def test_layout_structure(tmp_path: Path) -> None:
    image = _write(tmp_path)
    layout = image.layout
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_text())
    assert index["schemaVersion"] == 2
    assert index["mediaType"] == MEDIA_INDEX
    [entry] = index["manifests"]
    assert entry["mediaType"] == MEDIA_MANIFEST
    assert entry["digest"] == image.digest
    assert entry["platform"] == {"architecture": "amd64", "os": "linux"}
    assert entry["annotations"] == {
        "io.containerd.image.name": f"{NAME}:1.0",
        "org.opencontainers.image.ref.name": "1.0",
    }

    manifest_bytes = _blob(layout, image.digest)
    assert _sha(manifest_bytes) == image.digest
    assert entry["size"] == len(manifest_bytes)
    manifest = json.loads(manifest_bytes)
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == MEDIA_MANIFEST
    assert manifest["config"]["mediaType"] == MEDIA_CONFIG
    [layer_desc] = manifest["layers"]
    assert layer_desc["mediaType"] == MEDIA_LAYER

    # Every descriptor names the blob's real digest and size.
    for desc in (manifest["config"], layer_desc):
        data = _blob(layout, desc["digest"])
        assert _sha(data) == desc["digest"]
        assert len(data) == desc["size"]

    config = json.loads(_blob(layout, manifest["config"]["digest"]))
    assert config["architecture"] == "amd64"
    assert config["os"] == "linux"
    assert config["config"] == CONFIG
    layer = _blob(layout, layer_desc["digest"])
    raw = gzip.decompress(layer)
    assert config["rootfs"] == {"type": "layers", "diff_ids": [_sha(raw)]}
    assert layer[4:8] == b"\0\0\0\0"  # gzip MTIME field: 0

    # Only the layout's own files, nothing else, and the archive holds the same files.
    names = {str(p.relative_to(layout)) for p in layout.rglob("*") if p.is_file()}
    assert names == {"oci-layout", "index.json"} | {
        f"blobs/sha256/{d.removeprefix('sha256:')}"
        for d in (image.digest, manifest["config"]["digest"], layer_desc["digest"])
    }
    with tarfile.open(image.archive) as tar:
        archived = {m.name for m in tar.getmembers() if m.isfile()}
        assert archived == names
        index_member = tar.extractfile("index.json")
        assert index_member is not None
        assert index_member.read() == (layout / "index.json").read_bytes()


def test_layer_entries_are_sorted_owned_and_timeless(tmp_path: Path) -> None:
    image = _write(tmp_path)
    manifest = json.loads(_blob(image.layout, image.digest))
    raw = gzip.decompress(_blob(image.layout, manifest["layers"][0]["digest"]))
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = tar.getmembers()
        by_name = {m.name: m for m in members}
        # Missing parents are added, every parent precedes its children.
        assert [m.name for m in members] == [
            "app",
            "app/bin",
            "app/bin/demo",
            "data",
            "etc",
            "etc/demo.conf",
        ]
        assert all(m.mtime == 0 and m.uname == "" and m.gname == "" for m in members)
        assert by_name["app"].isdir() and by_name["app"].uid == 0
        assert (by_name["data"].uid, by_name["data"].gid) == (65532, 65532)
        assert by_name["app/bin/demo"].mode == 0o755
        assert by_name["etc/demo.conf"].mode == 0o644
        demo = tar.extractfile("app/bin/demo")
        assert demo is not None and demo.read() == b"\x7fELF not really"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([FileEntry("relative/path", b"")], "must be absolute"),
        ([FileEntry("/", None)], "must be absolute"),
        ([FileEntry("/a", b"1"), FileEntry("/a/", None)], "appears twice"),
    ],
)
def test_layer_rejects_bad_paths(entries: list[FileEntry], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        layer_tar(entries)


def test_architecture_is_written_where_containerd_matches_it(tmp_path: Path) -> None:
    image = _write(tmp_path, architecture="arm64")
    index = json.loads((image.layout / "index.json").read_text())
    assert index["manifests"][0]["platform"]["architecture"] == "arm64"
    manifest = json.loads(_blob(image.layout, image.digest))
    assert json.loads(_blob(image.layout, manifest["config"]["digest"]))["architecture"] == (
        "arm64"
    )


def test_load_image_round_trip_and_incomplete_images(tmp_path: Path) -> None:
    image = _write(tmp_path)
    assert load_image(tmp_path, "demo") == image
    assert image.reference == f"{NAME}:1.0"
    assert load_image(tmp_path, "other") is None
    image.archive.unlink()
    assert load_image(tmp_path, "demo") is None
    _write(tmp_path)
    (tmp_path / "demo.json").write_text("{not json")
    assert load_image(tmp_path, "demo") is None


def test_workload_images_finds_every_key_or_says_what_to_run(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    toolchain = Toolchain(layout, {})
    with pytest.raises(SandboxError, match="helm-enterprise sandbox toolchain"):
        workload_images(toolchain)
    for key in IMAGE_KEYS:
        write_image(layout.images, key, name=f"x/{key}", tag="t", entries=ENTRIES, config={})
    found = workload_images(toolchain)
    assert sorted(found) == sorted(IMAGE_KEYS)
    assert all(found[k].name == f"x/{k}" for k in IMAGE_KEYS)


def test_push_plan_uploads_layers_then_config_then_the_manifest(tmp_path: Path) -> None:
    image = _write(tmp_path)
    blobs, manifest = push_plan(image)
    doc = json.loads(manifest)
    assert _sha(manifest) == image.digest
    assert [d for d, _ in blobs] == [doc["layers"][0]["digest"], doc["config"]["digest"]]
    assert all(_sha(path.read_bytes()) == d for d, path in blobs)


@pytest.mark.parametrize(
    ("registry", "base"),
    [
        ("127.0.0.1:26005", "https://127.0.0.1:26005"),
        ("https://127.0.0.1:26005/", "https://127.0.0.1:26005"),
        ("http://localhost:5000", "http://localhost:5000"),
    ],
)
def test_registry_base(registry: str, base: str) -> None:
    assert registry_base(registry) == base


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (
            "/v2/library/demo/blobs/uploads/abc?_state=xyz",
            "https://127.0.0.1:26005/v2/library/demo/blobs/uploads/abc?_state=xyz&digest=sha256%3A00",
        ),
        (
            "https://127.0.0.1:26005/v2/library/demo/blobs/uploads/abc",
            "https://127.0.0.1:26005/v2/library/demo/blobs/uploads/abc?digest=sha256%3A00",
        ),
    ],
)
def test_upload_url_keeps_the_registry_state_and_adds_the_digest(
    location: str, expected: str
) -> None:
    assert upload_url("https://127.0.0.1:26005", location, "sha256:00") == expected
