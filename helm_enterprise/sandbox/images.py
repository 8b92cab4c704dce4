"""Workload images of the sandbox's real node: reproducible OCI image layouts, and a push.

The real node runs real containers, so the sandbox needs images; it cannot pull from the
internet, and building with a container engine would need one (and a daemon) on every
developer machine. An OCI image is only a few files, so this module writes them itself
with the standard library: a gzipped tar layer of a root filesystem, an image config, a
manifest and an index, content-addressed under ``blobs/sha256/``. Every byte is fixed
(sorted entries, mtime 0, uid/gid given, gzip mtime 0, canonical JSON), so rebuilding the
same binaries gives the same digest, which is what lets the toolchain's images be compared
and cached like its binaries.

The ``images`` toolchain family (``toolchain/recipes/images.py``) builds the images and
calls :func:`write_image`; the sandbox finds them with :func:`workload_images` and gets
them to containerd in one of two ways: ``ctr images import`` of the layout's ``.tar``
(the pause image, which must be present before the first pod), or :func:`push` to the
sandbox's OCI registry, from which the node pulls like a cloud node would.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import shutil
import ssl
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from helm_enterprise.errors import SandboxError, truncate

if TYPE_CHECKING:
    from helm_enterprise.sandbox.toolchain import Toolchain

__all__ = [
    "IMAGE_KEYS",
    "FileEntry",
    "WorkloadImage",
    "load_image",
    "push",
    "workload_images",
    "write_image",
]

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
_METADATA_VERSION = 1

# The images the ``images`` toolchain family builds, by key (the file names under
# ``<toolchain>/images/``).
IMAGE_KEYS = ("pause", "podinfo")


@dataclasses.dataclass(frozen=True)
class FileEntry:
    """One entry of an image's root filesystem.

    ``path`` is absolute inside the image (``/podinfo``); ``data`` is the file's content,
    or None for a directory. ``mode``, ``uid`` and ``gid`` are written as given; the
    modification time is always 0.
    """

    path: str
    data: bytes | None = None
    mode: int = 0o755
    uid: int = 0
    gid: int = 0


@dataclasses.dataclass(frozen=True)
class WorkloadImage:
    """An image the toolchain built.

    ``name`` is the repository (``registry.helm-enterprise.test/library/podinfo``), ``tag``
    its tag; ``layout`` the OCI image layout directory; ``archive`` the same layout as one
    tar (what ``ctr images import`` reads); ``digest`` the manifest digest
    (``sha256:...``), identical on every rebuild of the same inputs.
    """

    name: str
    tag: str
    layout: Path
    archive: Path
    digest: str

    @property
    def reference(self) -> str:
        """``name:tag``, the reference pods use."""
        return f"{self.name}:{self.tag}"


def _canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tarinfo(name: str, *, size: int = 0, mode: int, uid: int, gid: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.uname = info.gname = ""
    info.mtime = 0
    return info


def layer_tar(entries: Iterable[FileEntry]) -> bytes:
    """The uncompressed layer: entries sorted by path, parents before children.

    Missing parent directories are added (root-owned, 0755) so the tar is a complete
    filesystem tree; paths must be absolute and unique.
    """
    by_path: dict[str, FileEntry] = {}
    for e in entries:
        if not e.path.startswith("/") or e.path.rstrip("/") in ("", "."):
            raise ValueError(f"image path {e.path!r} must be absolute and not the root")
        path = e.path.strip("/")
        if path in by_path:
            raise ValueError(f"image path {e.path!r} appears twice")
        by_path[path] = e
    for path in list(by_path):
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            by_path.setdefault("/".join(parts[:i]), FileEntry("/" + "/".join(parts[:i])))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(by_path):
            e = by_path[path]
            if e.data is None:
                info = _tarinfo(path + "/", mode=e.mode, uid=e.uid, gid=e.gid)
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info = _tarinfo(path, size=len(e.data), mode=e.mode, uid=e.uid, gid=e.gid)
                tar.addfile(info, io.BytesIO(e.data))
    return buf.getvalue()


def image_blobs(
    entries: Iterable[FileEntry],
    config: Mapping[str, Any],
    *,
    architecture: str = "amd64",
) -> tuple[dict[str, bytes], str, bytes]:
    """Every blob of a one-layer image: ``(blobs by digest, manifest digest, manifest)``.

    ``config`` is the OCI image config's ``config`` object (``Entrypoint``, ``User``,
    ``ExposedPorts``, ...). Pure: the same input gives the same bytes.
    """
    raw = layer_tar(entries)
    # mtime=0 and no file name keep the gzip header constant.
    layer = gzip.compress(raw, compresslevel=9, mtime=0)
    image_config = {
        "architecture": architecture,
        "os": "linux",
        "config": dict(config),
        "rootfs": {"type": "layers", "diff_ids": [_sha256(raw)]},
    }
    config_blob = _canonical_json(image_config)
    manifest = _canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {
                "mediaType": MEDIA_CONFIG,
                "digest": _sha256(config_blob),
                "size": len(config_blob),
            },
            "layers": [{"mediaType": MEDIA_LAYER, "digest": _sha256(layer), "size": len(layer)}],
        }
    )
    blobs = {_sha256(b): b for b in (layer, config_blob, manifest)}
    return blobs, _sha256(manifest), manifest


def write_image(
    root: Path,
    key: str,
    *,
    name: str,
    tag: str,
    entries: Sequence[FileEntry],
    config: Mapping[str, Any],
    architecture: str = "amd64",
) -> WorkloadImage:
    """Write ``<root>/<key>/`` (OCI layout), ``<root>/<key>.tar`` and ``<root>/<key>.json``.

    The layout directory is replaced as a whole. The metadata file is written last, so a
    half-written image is never found by :func:`workload_images`.
    """
    blobs, digest, manifest = image_blobs(entries, config, architecture=architecture)
    index = _canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_INDEX,
            "manifests": [
                {
                    "mediaType": MEDIA_MANIFEST,
                    "digest": digest,
                    "size": len(manifest),
                    "platform": {"architecture": architecture, "os": "linux"},
                    "annotations": {
                        ANNOTATION_CONTAINERD_NAME: f"{name}:{tag}",
                        ANNOTATION_REF_NAME: tag,
                    },
                }
            ],
        }
    )
    files = {
        "oci-layout": _canonical_json({"imageLayoutVersion": "1.0.0"}),
        "index.json": index,
        **{f"blobs/sha256/{d.removeprefix('sha256:')}": b for d, b in blobs.items()},
    }
    layout = root / key
    archive = root / f"{key}.tar"
    meta = root / f"{key}.json"
    root.mkdir(parents=True, exist_ok=True)
    meta.unlink(missing_ok=True)
    tmp = root / f".{key}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    for rel, data in files.items():
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    if layout.exists():
        shutil.rmtree(layout)
    tmp.rename(layout)
    archive_tmp = archive.with_suffix(".tar.tmp")
    archive_tmp.write_bytes(
        layer_tar(
            [FileEntry("/blobs"), FileEntry("/blobs/sha256")]
            + [FileEntry("/" + rel, data, mode=0o644) for rel, data in files.items()]
        )
    )
    archive_tmp.replace(archive)
    image = WorkloadImage(name=name, tag=tag, layout=layout, archive=archive, digest=digest)
    meta.write_text(
        json.dumps(
            {"version": _METADATA_VERSION, "name": name, "tag": tag, "digest": digest},
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    return image


def load_image(root: Path, key: str) -> WorkloadImage | None:
    """The image ``key`` under ``root`` as :func:`write_image` left it, or None."""
    try:
        data = json.loads((root / f"{key}.json").read_text())
        image = WorkloadImage(
            name=str(data["name"]),
            tag=str(data["tag"]),
            layout=root / key,
            archive=root / f"{key}.tar",
            digest=str(data["digest"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if data.get("version") != _METADATA_VERSION or not image.archive.is_file():
        return None
    if not (image.layout / "blobs" / "sha256" / image.digest.removeprefix("sha256:")).is_file():
        return None
    return image


def workload_images(toolchain: Toolchain) -> dict[str, WorkloadImage]:
    """The images the ``images`` toolchain family built, by key (``podinfo``, ``pause``).

    Raises :class:`SandboxError` naming the command to run when one is missing.
    """
    root = toolchain.layout.images
    found: dict[str, WorkloadImage] = {}
    for key in IMAGE_KEYS:
        image = load_image(root, key)
        if image is None:
            raise SandboxError(
                f"workload image {key!r} is missing under {root}; run "
                "`helm-enterprise sandbox toolchain`"
            )
        found[key] = image
    return found


# -- push ------------------------------------------------------------------------------


def registry_base(registry: str) -> str:
    """``host:port`` or a URL -> the registry's base URL (HTTPS unless ``http://`` given)."""
    base = registry.rstrip("/")
    if not base.startswith(("http://", "https://")):
        base = "https://" + base
    return base


def upload_url(base: str, location: str, digest: str) -> str:
    """The URL of the monolithic ``PUT`` that completes a blob upload.

    ``location`` is the ``Location`` header of the ``POST .../blobs/uploads/`` answer:
    relative or absolute, usually with its own query (``_state=...``), which is kept.
    """
    url = httpx.URL(base).join(location)
    return str(url.copy_merge_params({"digest": digest}))


def push_plan(image: WorkloadImage) -> tuple[list[tuple[str, Path]], bytes]:
    """What a push uploads: ``[(digest, blob path)]`` (layers, then config) and the manifest."""
    blobs = image.layout / "blobs" / "sha256"
    manifest = (blobs / image.digest.removeprefix("sha256:")).read_bytes()
    doc = json.loads(manifest)
    digests = [layer["digest"] for layer in doc["layers"]] + [doc["config"]["digest"]]
    return [(d, blobs / d.removeprefix("sha256:")) for d in digests], manifest


def push(
    image: WorkloadImage,
    registry: str,
    repository: str,
    tag: str,
    username: str | None = None,
    password: str | None = None,
    ca: Path | None = None,
    *,
    timeout: float = 60.0,
) -> str:
    """Push ``image`` to ``registry`` as ``repository:tag``; return the manifest digest.

    OCI distribution API: for each blob a ``HEAD`` (skip when present), else ``POST
    /v2/<repository>/blobs/uploads/`` and one monolithic ``PUT``; then ``PUT`` the manifest.
    ``registry`` is ``host:port`` (HTTPS) or a URL; ``username``/``password`` are sent as
    basic auth; ``ca`` is the PEM file to trust for TLS (default: the system's). Raises
    :class:`SandboxError` with the failed step and status (never the credentials).
    """
    base = registry_base(registry)
    verify: ssl.SSLContext | bool = (
        ssl.create_default_context(cafile=str(ca)) if ca is not None else True
    )
    auth = httpx.BasicAuth(username, password or "") if username else None
    blobs, manifest = push_plan(image)
    v2 = f"{base}/v2/{repository}"
    try:
        with httpx.Client(auth=auth, verify=verify, timeout=timeout) as client:
            for digest, path in blobs:
                head = client.head(f"{v2}/blobs/{digest}")
                if head.status_code == 200:
                    continue
                started = client.post(f"{v2}/blobs/uploads/")
                _expect(started, 202, f"starting the upload of {digest}", repository)
                location = started.headers.get("Location")
                if not location:
                    raise SandboxError(
                        f"pushing {repository}:{tag}: the registry answered the upload of "
                        f"{digest} without a Location header"
                    )
                done = client.put(
                    upload_url(base, location, digest),
                    content=path.read_bytes(),
                    headers={"Content-Type": "application/octet-stream"},
                )
                _expect(done, 201, f"uploading {digest}", repository)
            put = client.put(
                f"{v2}/manifests/{tag}",
                content=manifest,
                headers={"Content-Type": MEDIA_MANIFEST},
            )
            _expect(put, 201, f"putting the manifest as {tag}", repository)
    except httpx.HTTPError as err:
        raise SandboxError(
            f"pushing {repository}:{tag} to {base} failed: {type(err).__name__}: "
            f"{truncate(str(err))}"
        ) from err
    return image.digest


def _expect(resp: httpx.Response, status: int, step: str, repository: str) -> None:
    if resp.status_code == status:
        return
    hint = " (check the registry user and password)" if resp.status_code in (401, 403) else ""
    raise SandboxError(
        f"pushing {repository}: {step} failed: HTTP {resp.status_code}{hint}: {truncate(resp.text)}"
    )
