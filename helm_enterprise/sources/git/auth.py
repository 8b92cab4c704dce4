"""Credentials and the environment of one git command: tokens as an ``http.<url>.extraHeader``
in ``GIT_CONFIG_*`` variables, keys as a 0600 file in ``GIT_SSH_COMMAND``, and :func:`redact`
for anything git prints.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import shlex
from collections.abc import Iterable
from pathlib import Path

from helm_enterprise.config.git import GitAuth, GitSource
from helm_enterprise.sources.credentials import materialize
from helm_enterprise.sources.git.remote import Remote


@dataclasses.dataclass(frozen=True)
class GitCredentials:
    """Resolved credential values for one repository. ``repr`` hides every value."""

    token: str | None = None
    ssh_key: str | None = None

    def __repr__(self) -> str:
        present = [f.name for f in dataclasses.fields(self) if getattr(self, f.name)]
        return f"GitCredentials(present={present})"

    def secrets(self) -> list[str]:
        return [v for v in (self.token, self.ssh_key) if v]

    def digest(self) -> str:
        """Tells credential sets apart in memory (never written or printed)."""
        return hashlib.sha256(repr((self.token, self.ssh_key)).encode()).hexdigest()


# Never prompt, never ask a helper (which could also *store* what we send), and keep
# tracing redacted should the caller's environment turn it on.
_BASE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    "GCM_INTERACTIVE": "never",
    "GIT_TRACE_REDACT": "1",
}


def ssh_command(
    key_file: str | None, known_hosts_file: str | None, ignore_host_key: bool = False
) -> str:
    """``GIT_SSH_COMMAND``: batch mode, our key only, host keys checked strictly."""
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30"]
    if key_file:
        argv += ["-i", key_file, "-o", "IdentitiesOnly=yes"]
    if ignore_host_key:
        argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    else:
        argv += ["-o", "StrictHostKeyChecking=yes"]
        if known_hosts_file:
            argv += [
                "-o",
                f"UserKnownHostsFile={known_hosts_file}",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
            ]
    return shlex.join(argv)


def git_env(remote: Remote, source: GitSource, creds: GitCredentials) -> dict[str, str]:
    """Environment for git commands against ``remote``: credentials, TLS and SSH options.

    Only for the process that needs them: a token goes into an ``http.<url>.extraHeader``
    (sent to this repository's URL only) given as ``GIT_CONFIG_*`` variables, a key into a
    private file named by ``GIT_SSH_COMMAND``. Nothing is written to ``.git/config``.
    """
    env = dict(_BASE_ENV)
    config: list[tuple[str, str]] = [("credential.helper", "")]
    auth: GitAuth | None = source.auth
    if remote.transport == "https":
        if creds.token:
            user = (auth.username if auth else None) or "git"
            basic = base64.b64encode(f"{user}:{creds.token}".encode()).decode()
            config.append((f"http.{remote.url}.extraHeader", f"Authorization: Basic {basic}"))
        if source.ca_file:
            # The variable, not http.sslCAInfo: GIT_SSL_CAINFO in the caller's environment
            # would win over any config.
            env["GIT_SSL_CAINFO"] = str(Path(source.ca_file).expanduser())
        if source.insecure_skip_tls_verify:
            env["GIT_SSL_NO_VERIFY"] = "1"
    elif remote.transport == "ssh":
        scope = f"git-{remote.key}"
        key_file = None
        if creds.ssh_key:
            key = creds.ssh_key if creds.ssh_key.endswith("\n") else creds.ssh_key + "\n"
            key_file = materialize(scope, "id_key", key)
        known_hosts = None
        if auth is not None and auth.known_hosts:
            known_hosts = materialize(scope, "known_hosts", auth.known_hosts.strip() + "\n")
        elif auth is not None and auth.known_hosts_file:
            known_hosts = str(Path(auth.known_hosts_file).expanduser())
        ignore = bool(auth and auth.insecure_ignore_host_key)
        env["GIT_SSH_COMMAND"] = ssh_command(key_file, known_hosts, ignore)
        env["GIT_SSH_VARIANT"] = "ssh"
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for i, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


_USERINFO = re.compile(r"(://)[^/\s:@]+:[^/\s@]+@")


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` without any of ``secrets`` (also base64-encoded) or URL passwords."""
    for value in secrets:
        for form in {value, base64.b64encode(value.encode()).decode()}:
            if len(form) >= 4:
                text = text.replace(form, "***")
    return _USERINFO.sub(r"\1***@", text)
