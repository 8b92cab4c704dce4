"""Backends for local development that need no secret store: environment variables
(``env:DB_PASSWORD``) and files (``file:/run/secrets/db.yaml#password``, or ``file:/path``
for the whole file).

They follow the :class:`~helm_enterprise.secrets.SecretBackend` protocol like Vault, so the
values they return go through the same resolver and injector and become Pulumi secrets;
a laptop stack and a production stack differ only in the references they use. Neither has
versions: the pod-rolling checksum uses a digest of the value. Errors name the variable
or file, never its content.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from helm_enterprise.config.secrets import WHOLE
from helm_enterprise.errors import SecretBackendError
from helm_enterprise.secrets._backend import SecretData


class EnvBackend:
    """``env:NAME``: the value of an environment variable of the program's process."""

    scheme = "env"

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        # None: read os.environ at each read, so a variable set before the read counts.
        self._environ = environ

    def describe(self) -> str:
        return "the environment"

    def read(self, path: str, version: int | None = None) -> SecretData:
        """The variable ``path`` as the whole value (key ``""``).

        Raises:
            SecretBackendError: the variable is not set or empty, or a version was asked for.
        """
        _no_version(self.scheme, path, version)
        environ = os.environ if self._environ is None else self._environ
        value = environ.get(path)
        if not value:
            raise SecretBackendError(
                f"environment variable {path} is not set (or empty): export it before "
                "running pulumi",
                reference=f"env:{path}",
                backend=self.describe(),
            )
        return SecretData({WHOLE: value})


class FileBackend:
    """``file:PATH#key`` (a key of a YAML or JSON map) or ``file:PATH`` (the whole file).

    A relative ``PATH`` is taken from ``root`` (default: the directory the program runs
    in). The whole file is its text without the trailing newline.
    """

    scheme = "file"

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else None

    def describe(self) -> str:
        return f"files under {self.root}" if self.root else "local files"

    def _file(self, path: str) -> Path:
        file = Path(path).expanduser()
        if not file.is_absolute():
            file = (self.root or Path.cwd()) / file
        return file

    def read(self, path: str, version: int | None = None) -> SecretData:
        """Every top-level key of the file's YAML/JSON map, plus the whole text (key ``""``).

        Raises:
            SecretBackendError: the file is missing or unreadable, a ``.yaml``/``.yml``/
                ``.json`` file does not parse, or a version was asked for.
        """
        _no_version(self.scheme, path, version)
        file = self._file(path)
        try:
            text = file.read_text()
        except OSError as err:
            raise SecretBackendError(
                f"cannot read secret file {file}: {err.strerror or type(err).__name__}",
                reference=f"file:{path}",
                backend=self.describe(),
            ) from err
        data: dict[str, str] = {WHOLE: text.rstrip("\n")}
        try:
            parsed: Any = yaml.safe_load(text)  # JSON is YAML too
        except yaml.YAMLError as err:
            if file.suffix in {".yaml", ".yml", ".json"}:
                # The parser's message may quote the content: name the file only.
                raise SecretBackendError(
                    f"secret file {file} is not valid YAML/JSON",
                    reference=f"file:{path}",
                    backend=self.describe(),
                ) from None
            del err
            parsed = None
        if isinstance(parsed, dict):
            data.update({str(k): _text(v) for k, v in parsed.items()})
        return SecretData(data)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _no_version(scheme: str, path: str, version: int | None) -> None:
    if version is not None:
        raise SecretBackendError(
            f"{scheme}:{path} has no versions; remove the version",
            reference=f"{scheme}:{path}",
        )
