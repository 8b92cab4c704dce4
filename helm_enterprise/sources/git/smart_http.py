"""``git ls-remote`` over HTTPS in one request: the smart HTTP ref advertisement.

A branch is re-resolved on every run. ``git ls-remote`` does it with one git process that,
with protocol v2, makes two requests (the capabilities, then ``ls-refs``), each of which
starts ``git-http-backend`` and ``upload-pack`` on a CGI server. The protocol-v0
advertisement (``GET <repo>/info/refs?service=git-upload-pack``) lists every ref in one
response, which for a chart repository (a few branches and tags) is a few hundred bytes.

:func:`ls_remote` makes that one request with exactly what git would send (the
``http.<url>.extraHeader`` and TLS settings of the git command's environment) and prints
the refs as ``git ls-remote <url> <patterns>`` would. It returns None whenever it cannot
be sure git would see the same thing — the user's git configuration rewrites URLs or sets
HTTP options (proxies, CAs, headers), the server is not a smart HTTP server, or any
request error — and the caller then runs git itself, so errors keep git's wording.
"""

from __future__ import annotations

import functools
import os
import ssl
import subprocess
from collections.abc import Mapping, Sequence

import httpx

CONTENT_TYPE = "application/x-git-upload-pack-advertisement"
USER_AGENT = "git/helm-enterprise"  # hosts serve the smart protocol to git/* agents
CONNECT_TIMEOUT = 5.0


@functools.cache
def git_config_is_plain() -> bool:
    """Whether the user's git configuration (system, global) leaves HTTP and URLs alone:
    no ``url.*.insteadOf``, no ``http.*`` option. Otherwise only git itself knows where a
    request goes and how."""
    try:
        out = subprocess.run(
            ["git", "config", "--get-regexp", r"^(url\..*\.(insteadof|pushinsteadof)|http\..*)$"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 1 and not out.stdout  # 1: no such key


def _config(env: Mapping[str, str]) -> dict[str, str]:
    """The ``GIT_CONFIG_KEY_<n>``/``GIT_CONFIG_VALUE_<n>`` pairs of a git environment."""
    try:
        count = int(env.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        return {}
    return {
        env.get(f"GIT_CONFIG_KEY_{i}", "").lower(): env.get(f"GIT_CONFIG_VALUE_{i}", "")
        for i in range(count)
    }


def _request_settings(
    url: str, env: Mapping[str, str]
) -> tuple[dict[str, str], bool | ssl.SSLContext] | None:
    """(headers, verify) for ``url`` as git would use them with ``env``; None when the
    environment sets HTTP options this module does not reproduce."""
    for name in env:
        if name.startswith(("GIT_HTTP_", "GIT_CURL_")) or name == "GIT_CONFIG_PARAMETERS":
            return None
        if name.startswith("GIT_SSL_") and name not in ("GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY"):
            return None
    headers = {"User-Agent": USER_AGENT}
    for key, value in _config(env).items():
        if key == "credential.helper":
            continue
        if key == f"http.{url.lower()}.extraheader":
            name, sep, content = value.partition(":")
            if not sep:
                return None
            headers[name.strip()] = content.strip()
        else:
            return None
    if env.get("GIT_SSL_NO_VERIFY"):
        return headers, False
    ca_file = env.get("GIT_SSL_CAINFO")
    return headers, ssl.create_default_context(cafile=ca_file or None)


def parse_advertisement(body: bytes) -> list[tuple[str, str]]:
    """``(sha, refname)`` of a smart HTTP v0 advertisement (pkt-lines: the service line, a
    flush, the refs — capabilities after a NUL on the first — and a flush). ValueError on
    anything else."""
    refs: list[tuple[str, str]] = []
    pos, flushes = 0, 0
    while pos < len(body):
        size = int(body[pos : pos + 4], 16)
        if size == 0:
            flushes += 1
            pos += 4
            if flushes == 2:
                break
            continue
        if size < 4 or pos + size > len(body):
            raise ValueError("truncated pkt-line")
        line = body[pos + 4 : pos + size].decode().rstrip("\n")
        pos += size
        if flushes == 0:
            if line != "# service=git-upload-pack":
                raise ValueError(f"unexpected service line {line!r}")
            continue
        sha, _, rest = line.partition(" ")
        name = rest.split("\0", 1)[0]
        if name != "capabilities^{}":  # an empty repository
            refs.append((sha, name))
    if flushes != 2:
        raise ValueError("no closing flush")
    return refs


def matches(name: str, patterns: Sequence[str]) -> bool:
    """``git ls-remote``'s pattern rule: a pattern matches a ref it ends, at a ``/``."""
    return not patterns or any(name == p or name.endswith(f"/{p}") for p in patterns)


def ls_remote(
    url: str, patterns: Sequence[str], env: Mapping[str, str], timeout: float
) -> str | None:
    """``git ls-remote url patterns`` in one HTTPS request, or None (run git instead)."""
    if not url.startswith("https://") or not git_config_is_plain():
        return None
    settings = _request_settings(url, {**os.environ, **env})
    if settings is None:
        return None
    headers, verify = settings
    try:
        resp = httpx.get(
            f"{url.rstrip('/')}/info/refs",
            params={"service": "git-upload-pack"},
            headers=headers,
            verify=verify,
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT),
            follow_redirects=False,
        )
    except httpx.HTTPError:
        return None
    if resp.status_code != 200 or resp.headers.get("content-type") != CONTENT_TYPE:
        return None
    try:
        refs = parse_advertisement(resp.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return "".join(f"{sha}\t{name}\n" for sha, name in refs if matches(name, patterns))
