"""Fetching charts ourselves: HTTP(S) Helm repositories and OCI registries (T1.1).

Helm (inside pulumi-kubernetes) fetches charts itself for basic auth and client
certificates. helm_enterprise fetches a chart itself when

* the repository needs a bearer token (Helm has no such option), or
* dry-run validation needs the chart's values.schema.json.

Both paths use the same credentials and the same TLS rules: the server certificate is
verified (system CAs, or the repository's CA) unless the repository explicitly says
``insecureSkipTlsVerify``. Downloaded archives are content-addressed in the cache and
checked against the digest the index publishes.
"""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import httpx
import yaml

from helm_enterprise._cache import cache_root
from helm_enterprise.config.release import RepositoryConfig
from helm_enterprise.errors import ChartSourceError, RepositoryAuthError, truncate
from helm_enterprise.sources.credentials import RepoCredentials, materialize
from helm_enterprise.sources.versions import pick

_OCI_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_MAX_INDEX = 64 * 1024 * 1024
_index_cache: dict[tuple[str, str], dict[str, Any]] = {}
_index_lock = threading.Lock()


def chart_cache_dir() -> Path:
    path = cache_root() / "charts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _ssl_context(repo: RepositoryConfig, creds: RepoCredentials) -> ssl.SSLContext | bool:
    if repo.insecure_skip_tls_verify:
        return False
    ctx = ssl.create_default_context()
    if repo.ca_file:
        ctx.load_verify_locations(cafile=repo.ca_file)
    elif creds.ca_pem:
        ctx.load_verify_locations(cadata=creds.ca_pem)
    if creds.cert_pem and creds.key_pem:
        scope = hashlib.sha256(repo.url.encode()).hexdigest()[:12]
        cert = materialize(f"fetch-{scope}", "client.crt", creds.cert_pem)
        key = materialize(f"fetch-{scope}", "client.key", creds.key_pem)
        ctx.load_cert_chain(cert, key)
    return ctx


def _client(repo: RepositoryConfig, creds: RepoCredentials, timeout: float) -> httpx.Client:
    headers = {"User-Agent": "helm-enterprise"}
    auth: httpx.BasicAuth | None = None
    if creds.token:
        headers["Authorization"] = f"Bearer {creds.token}"
    elif creds.username is not None and creds.password is not None:
        auth = httpx.BasicAuth(creds.username, creds.password)
    return httpx.Client(
        verify=_ssl_context(repo, creds),
        headers=headers,
        auth=auth,
        timeout=timeout,
        follow_redirects=True,
        trust_env=False,
    )


def _request(
    client: httpx.Client, url: str, repo: RepositoryConfig, what: str, **kw: Any
) -> httpx.Response:
    """GET with errors mapped to messages naming repository and auth method (never secrets)."""
    try:
        resp = client.get(url, **kw)
    except httpx.ConnectError as err:
        text = str(err)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            raise ChartSourceError(
                f"repository {repo.url}: server certificate not trusted; give the repository's "
                "CA (caFile/ca)",
                source=repo.url,
            ) from None
        if "SSL" in text or "TLS" in text or "alert" in text:
            raise RepositoryAuthError(
                f"repository {repo.url} refused the TLS handshake "
                f"(auth: {repo.method_names()}): {truncate(text, 160)}",
                source=repo.url,
                method=repo.method_names(),
            ) from None
        raise ChartSourceError(
            f"repository {repo.url} is unreachable: {truncate(text, 160)}", source=repo.url
        ) from None
    except httpx.HTTPError as err:
        raise ChartSourceError(
            f"repository {repo.url}: {what} failed: {type(err).__name__}", source=repo.url
        ) from None
    if resp.status_code in (401, 403):
        raise RepositoryAuthError(
            f"repository {repo.url} rejected the credentials (auth: {repo.method_names()}, "
            f"HTTP {resp.status_code} on {what})",
            source=repo.url,
            method=repo.method_names(),
        )
    if resp.status_code == 400 and "certificate" in resp.text.lower():
        # nginx and others answer a missing/invalid client certificate with 400.
        raise RepositoryAuthError(
            f"repository {repo.url} requires a valid TLS client certificate "
            f"(auth: {repo.method_names()}, HTTP 400 on {what})",
            source=repo.url,
            method=repo.method_names(),
        )
    if resp.status_code == 404:
        raise ChartSourceError(
            f"repository {repo.url}: {what} not found (HTTP 404)", source=repo.url
        )
    if resp.status_code >= 400:
        raise ChartSourceError(
            f"repository {repo.url}: {what} failed with HTTP {resp.status_code}: "
            f"{truncate(resp.text, 200)}",
            source=repo.url,
        )
    return resp


def load_index(
    repo: RepositoryConfig, creds: RepoCredentials, timeout: float = 30.0
) -> dict[str, Any]:
    """The repository's index.yaml (cached in memory for this run, per credential set)."""
    cache_key = (repo.url, hashlib.sha256(repr(sorted(vars(creds).items())).encode()).hexdigest())
    with _index_lock:
        if cache_key in _index_cache:
            return _index_cache[cache_key]
    with _client(repo, creds, timeout) as client:
        resp = _request(client, f"{repo.url}/index.yaml", repo, "index.yaml")
        if len(resp.content) > _MAX_INDEX:
            raise ChartSourceError(
                f"repository {repo.url}: index.yaml is too large", source=repo.url
            )
    try:
        index = yaml.safe_load(resp.content) or {}
    except yaml.YAMLError:
        raise ChartSourceError(
            f"repository {repo.url}: index.yaml is not YAML", source=repo.url
        ) from None
    if not isinstance(index, dict) or not isinstance(index.get("entries"), dict):
        raise ChartSourceError(f"repository {repo.url}: index.yaml has no entries", source=repo.url)
    with _index_lock:
        _index_cache[cache_key] = index
    return index


def resolve_version(
    index: dict[str, Any], repo: RepositoryConfig, name: str, constraint: str | None
) -> dict[str, Any]:
    entries = index["entries"].get(name)
    if not entries:
        raise ChartSourceError(f"repository {repo.url} has no chart {name!r}", source=repo.url)
    versions = [str(e.get("version")) for e in entries]
    try:
        chosen = pick(versions, constraint)
    except ValueError as err:
        raise ChartSourceError(str(err), source=repo.url) from None
    if chosen is None:
        shown = ", ".join(versions[:10]) + (" ..." if len(versions) > 10 else "")
        raise ChartSourceError(
            f"repository {repo.url}: chart {name!r} has no version matching "
            f"{constraint or 'a stable release'} (available: {shown})",
            source=repo.url,
        )
    return next(e for e in entries if str(e.get("version")) == chosen)


def _store(data: bytes, name: str, version: str, digest: str | None, origin: str) -> Path:
    actual = hashlib.sha256(data).hexdigest()
    if digest and digest != actual:
        raise ChartSourceError(
            f"{origin}: {name}-{version}.tgz digest mismatch (index says {digest[:12]}…, "
            f"got {actual[:12]}…)",
            source=origin,
        )
    target = chart_cache_dir() / actual[:2] / f"{name}-{version}-{actual[:16]}.tgz"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return target


def fetch_http_chart(
    repo: RepositoryConfig,
    creds: RepoCredentials,
    name: str,
    constraint: str | None,
    timeout: float = 60.0,
) -> tuple[Path, str]:
    """Download ``name`` at the newest version allowed by ``constraint``; (path, version)."""
    index = load_index(repo, creds, timeout)
    entry = resolve_version(index, repo, name, constraint)
    version = str(entry["version"])
    urls = entry.get("urls") or []
    if not urls:
        raise ChartSourceError(
            f"repository {repo.url}: {name}-{version} has no download URL", source=repo.url
        )
    url = urljoin(repo.url + "/", str(urls[0]))
    digest = entry.get("digest")
    if digest:
        cached = list(
            (chart_cache_dir() / str(digest)[:2]).glob(f"{name}-{version}-{str(digest)[:16]}.tgz")
        )
        if cached:
            return cached[0], version
    same_host = urlparse(url).netloc == urlparse(repo.url).netloc
    if not same_host and not repo.pass_credentials:
        # Like Helm: credentials are only sent to the repository's own host.
        creds = RepoCredentials(ca_pem=creds.ca_pem)
    with _client(repo, creds, timeout) as client:
        resp = _request(client, url, repo, f"{name}-{version}.tgz")
    return _store(resp.content, name, version, str(digest) if digest else None, repo.url), version


# -- OCI ------------------------------------------------------------------------------------

_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def _oci_parts(ref: str) -> tuple[str, str]:
    """``oci://host/path/chart`` → (``https://host``, ``path/chart``)."""
    parsed = urlparse(ref)
    return f"https://{parsed.netloc}", parsed.path.strip("/")


def fetch_oci_chart(
    repo: RepositoryConfig,
    creds: RepoCredentials,
    ref: str,
    version: str,
    timeout: float = 60.0,
    plain_http: bool = False,
) -> tuple[Path, str]:
    """Pull a Helm chart from an OCI registry (distribution API v2, basic or token auth)."""
    base, repository = _oci_parts(ref)
    if plain_http:
        base = base.replace("https://", "http://", 1)
    name = repository.rsplit("/", 1)[-1]
    anon = RepoCredentials(ca_pem=creds.ca_pem, cert_pem=creds.cert_pem, key_pem=creds.key_pem)
    with _client(repo, creds, timeout) as client:
        manifest_url = f"{base}/v2/{repository}/manifests/{version}"
        headers = {"Accept": _OCI_MANIFEST}
        try:
            resp = client.get(manifest_url, headers=headers)
        except httpx.HTTPError:
            resp = None
        if (
            resp is not None
            and resp.status_code == 401
            and "bearer" in resp.headers.get("www-authenticate", "").lower()
        ):
            token = _oci_token(client, resp.headers["www-authenticate"], repo, creds)
            headers["Authorization"] = f"Bearer {token}"
        with _client(repo, anon if "Authorization" in headers else creds, timeout) as c2:
            manifest = _request(
                c2, manifest_url, repo, f"manifest {repository}:{version}", headers=headers
            ).json()
            layers = [x for x in manifest.get("layers", []) if x.get("mediaType") == _OCI_CHART]
            if not layers:
                raise ChartSourceError(f"{ref}:{version} is not a Helm chart artifact", source=ref)
            digest = str(layers[0]["digest"])
            blob = _request(
                c2, f"{base}/v2/{repository}/blobs/{digest}", repo, "chart layer", headers=headers
            )
    return _store(blob.content, name, version, digest.removeprefix("sha256:"), ref), version


def _oci_token(
    client: httpx.Client, challenge: str, repo: RepositoryConfig, creds: RepoCredentials
) -> str:
    params = dict(_CHALLENGE.findall(challenge))
    realm = params.pop("realm", "")
    if not realm:
        raise ChartSourceError(
            f"registry {repo.url} sent an unusable auth challenge", source=repo.url
        )
    resp = _request(client, realm, repo, "registry token", params=params)
    body = resp.json()
    token = body.get("token") or body.get("access_token")
    if not token:
        raise RepositoryAuthError(
            f"registry {repo.url} issued no token (auth: {repo.method_names()})",
            source=repo.url,
            method=repo.method_names(),
        )
    return str(token)
