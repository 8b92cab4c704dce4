"""The model of a Git chart source (T2.1) and the pure checks it needs.

::

    chart:
      git:
        url: git+https://git.corp.example/platform/charts.git   # or git+ssh://git@host/org/repo
        ref: v1.4.0            # branch, tag (refs/heads/x, refs/tags/x to be explicit), full commit
        path: charts/web       # the chart's directory inside the repository
        auth: {token: vault:secret/ci/git#token}    # or {sshKey: k8s:ci/deploy-key#id_ed25519}
        depth: 1               # shallow fetch (null: full history)
        sparse: true           # only the chart's directory is checked out (and its blobs fetched)

Credentials are references (Vault, Kubernetes Secret, secret stack config), never literals,
and never part of the URL: a URL with a user or password for HTTPS is rejected, because it
would end up in logs, in the Pulumi state and in ``.git/config``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from helm_enterprise.config._base import Duration, Model
from helm_enterprise.config.secrets import Secret, SecretRef

Transport = Literal["https", "ssh", "file"]

# Characters allowed in one component of a chart's path inside a repository. Deliberately
# narrow: the path becomes a sparse-checkout pattern, where *, ?, [, !, # and \ mean things.
_PATH_PART = re.compile(r"^[A-Za-z0-9._+@-]+$")
_REF = re.compile(r"^[A-Za-z0-9._/+@-]+$")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:(?!//)")
_SCHEMES: dict[str, Transport] = {
    "git+https": "https",
    "https": "https",
    "git+ssh": "ssh",
    "ssh": "ssh",
    "git+file": "file",
    "file": "file",
}
_USERNAME = re.compile(r"^[^\s:]+$")


def transport_of(url: str) -> Transport:
    """The transport of a validated Git URL (``git+https://`` → ``https``)."""
    return _SCHEMES[urlsplit(url).scheme]


def check_git_url(url: str) -> str:
    """A Git URL helm_enterprise accepts, or ValueError saying how to write it."""
    if _SCP_LIKE.match(url):
        user_host, _, path = url.partition(":")
        raise ValueError(
            f"{url!r} is scp-like; write it as git+ssh://{user_host}/{path.lstrip('/')}"
        )
    parts = urlsplit(url)
    transport = _SCHEMES.get(parts.scheme)
    if transport is None:
        raise ValueError(
            f"{url!r} is not a Git URL; use git+https://host/org/repo or "
            "git+ssh://git@host/org/repo"
        )
    if parts.query or parts.fragment:
        raise ValueError(
            f"{url!r}: a Git URL has no query or fragment; give the ref as git.ref and the "
            "chart's directory as git.path"
        )
    if transport == "file":
        if parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"{url!r}: a local repository is file:///absolute/path")
        return url
    if not parts.hostname or not parts.path.strip("/"):
        raise ValueError(f"{url!r} needs a host and a repository path")
    if parts.password is not None or (transport == "https" and parts.username is not None):
        # Whatever is in the URL ends up in logs, in the state and in .git/config.
        raise ValueError(
            "credentials must not be part of the URL (they would end up in logs, state and "
            ".git/config); remove them and give auth.token (a secret reference)"
        )
    return url


def normalize_subpath(path: str) -> str:
    """The chart's directory inside the repository, normalised (``./charts//app/`` →
    ``charts/app``; ``""`` and ``.`` → ``.``). ValueError for anything that could leave the
    repository or reach into ``.git``: absolute paths, ``..``, backslashes, odd characters.
    Symlinks are checked after checkout (:mod:`helm_enterprise.sources.git`)."""
    text = path.strip()
    if "\\" in text:
        raise ValueError(f"{path!r}: use '/' to separate directories")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise ValueError(
            f"{path!r} is an absolute path; give the chart's directory inside the "
            "repository, like 'charts/app'"
        )
    parts = [p for p in text.split("/") if p not in ("", ".")]
    for part in parts:
        if part == "..":
            raise ValueError(
                f"{path!r} leaves the repository ('..'); give the chart's directory inside "
                "the repository, like 'charts/app'"
            )
        if part.lower() == ".git":
            raise ValueError(f"{path!r} points into .git; give the chart's directory")
        if not _PATH_PART.match(part):
            raise ValueError(f"{path!r}: {part!r} may only contain letters, digits and . _ + @ -")
    return "/".join(parts) or "."


def check_ref(ref: str) -> str:
    """A branch, tag or commit name that is safe to pass to git (never an option)."""
    if not ref:
        raise ValueError("give a branch, tag or full commit SHA")
    if (
        ref.startswith(("-", "/"))
        or not _REF.match(ref)
        or ".." in ref
        or "//" in ref
        or ref.endswith(("/", ".", ".lock"))
    ):
        raise ValueError(
            f"{ref!r} is not a Git ref; give a branch (main, refs/heads/main), a tag (v1.2.0, "
            "refs/tags/v1.2.0) or a full 40-character commit SHA"
        )
    return ref


class GitAuth(Model):
    """Credentials for a Git repository: exactly one of

    * ``token`` — an access token sent as HTTP basic auth (``username`` defaults to
      ``git``; GitLab wants ``oauth2`` for OAuth tokens, Bitbucket ``x-token-auth``) for
      ``git+https://``;
    * ``sshKey`` — an OpenSSH private key (unencrypted) for ``git+ssh://``. The server's
      host key is always checked: against ``knownHosts`` (known_hosts lines),
      ``knownHostsFile``, or else the user's ``~/.ssh/known_hosts``. Only
      ``insecureIgnoreHostKey: true`` turns the check off.
    """

    token: Secret | None = None
    username: str | None = None
    ssh_key: Secret | None = None
    known_hosts: str | None = None
    known_hosts_file: str | None = None
    insecure_ignore_host_key: bool = False

    @field_validator("username")
    @classmethod
    def _username(cls, v: str | None) -> str | None:
        if v is not None and not _USERNAME.match(v):
            raise ValueError(f"{v!r} is not a user name (no spaces or ':')")
        return v

    @field_validator("known_hosts")
    @classmethod
    def _known_hosts(cls, v: str | None) -> str | None:
        if v is None:
            return v
        lines = [ln for ln in v.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if not lines or any(len(ln.split()) < 3 for ln in lines):
            raise ValueError(
                "expected known_hosts lines ('host key-type base64-key'), e.g. the output of "
                "`ssh-keyscan host`"
            )
        return v

    @model_validator(mode="after")
    def _one(self) -> GitAuth:
        if (self.token is None) == (self.ssh_key is None):
            raise ValueError("give exactly one of token (git+https) or sshKey (git+ssh)")
        if self.token is not None:
            for field, given in (
                ("knownHosts", self.known_hosts),
                ("knownHostsFile", self.known_hosts_file),
                ("insecureIgnoreHostKey", self.insecure_ignore_host_key),
            ):
                if given:
                    raise ValueError(f"{field}: only applies to sshKey auth")
        elif self.username is not None:
            raise ValueError("username: only applies to token auth (the SSH user is in the URL)")
        if self.known_hosts and self.known_hosts_file:
            raise ValueError("knownHosts: give knownHosts or knownHostsFile, not both")
        if self.insecure_ignore_host_key and (self.known_hosts or self.known_hosts_file):
            raise ValueError(
                "insecureIgnoreHostKey: host keys are either checked (knownHosts) or ignored"
            )
        return self

    @property
    def method(self) -> str:
        """``token`` or ``sshKey``: what error messages name (never the value)."""
        return "token" if self.token is not None else "sshKey"

    def references(self) -> list[SecretRef]:
        return [r for r in (self.token, self.ssh_key) if r is not None]


class GitSource(Model):
    """A chart in a Git repository (T2.1).

    ``ref`` is a branch, a tag or a full commit SHA: a commit is immutable and never
    fetched again once cached; a tag is resolved once and then served from the cache; a
    branch is re-resolved (``git ls-remote``) on every run. ``path`` is the chart's
    directory (monorepos). ``depth`` (default 1) makes fetches shallow and ``sparse``
    (default on) checks out — and, where the server allows partial clones, downloads —
    only ``path``. ``caFile`` trusts a private CA; TLS is verified unless
    ``insecureSkipTlsVerify`` is set explicitly. ``interval`` (like Flux's GitRepository
    interval) lets a branch's commit, once resolved, be reused for that long without asking
    the repository; unset, every run asks.
    """

    url: str
    ref: str = "main"
    path: str = "."
    auth: GitAuth | None = None
    depth: int | None = Field(default=1, ge=1)
    sparse: bool = True
    ca_file: str | None = None
    insecure_skip_tls_verify: bool = False
    interval: Annotated[Duration, Field(ge=1, le=7 * 86400)] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_git_url(v)

    @field_validator("ref")
    @classmethod
    def _ref(cls, v: str) -> str:
        return check_ref(v)

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        return normalize_subpath(v)

    @model_validator(mode="after")
    def _transport(self) -> GitSource:
        transport = self.transport
        if self.auth is not None:
            if transport == "file":
                raise ValueError("auth: a local (file://) repository takes no credentials")
            if self.auth.token is not None and transport != "https":
                raise ValueError(
                    "auth.token: a token authenticates git+https://; for git+ssh:// give sshKey"
                )
            if self.auth.ssh_key is not None and transport != "ssh":
                raise ValueError(
                    "auth.sshKey: an SSH key authenticates git+ssh://; for git+https:// give token"
                )
        if transport != "https":
            for field, given in (
                ("caFile", self.ca_file),
                ("insecureSkipTlsVerify", self.insecure_skip_tls_verify),
            ):
                if given:
                    raise ValueError(f"{field}: only applies to git+https:// repositories")
        if self.ca_file and self.insecure_skip_tls_verify:
            raise ValueError(
                "insecureSkipTlsVerify: the server certificate is either verified (caFile) or not"
            )
        return self

    @property
    def transport(self) -> Transport:
        return transport_of(self.url)
