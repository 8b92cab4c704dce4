"""Checks on what a Helm release is asked to do: chart version, values.

Pure functions. They run on the inputs of a ``kubernetes:helm.sh/v3:Release`` CrossGuard
sees (releases not created by helm_enterprise) and on the release summary helm_enterprise
registers for each of its releases (:mod:`helm_enterprise.policy.render`), which carries
the requested chart version and the *paths* of the release's plain values — never values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from helm_enterprise.config.secrets import TEMPLATE, is_reference
from helm_enterprise.policy.objects import Unknown, image_problems
from helm_enterprise.policy.settings import (
    ApprovedRegistries,
    ChartVersionPinned,
    ImageTags,
    NoPlaintextSecrets,
)
from helm_enterprise.policy.violations import Violation

# SemVer 2.0.0 (semver.org's regular expression), with Helm's optional leading "v".
SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_RANGE_CHARS = re.compile(r"[\^~<>=*|,]|\s|(^|\.)[xX](\.|$)")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")

LITERAL = "literal"
REFERENCE = "reference"
DYNAMIC = "dynamic"


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def leaves(values: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """``(path, value)`` for every leaf of a values tree (``a.b[0].c``)."""
    if isinstance(values, Mapping):
        for k, v in values.items():
            yield from leaves(v, join(path, str(k)))
    elif isinstance(values, Sequence) and not isinstance(values, str):
        for i, v in enumerate(values):
            yield from leaves(v, join(path, i))
    elif path:
        yield path, values


def classify(value: Any) -> str | None:
    """How a leaf of the user's values is given: a plain string (``literal``), a secret
    reference (``reference``: ``vault:...``, ``${vault:...}``), something only known at
    deploy time (``dynamic``: a Pulumi Output); ``None`` for non-strings and empty strings
    (never secrets)."""
    if isinstance(value, str):
        if not value.strip():
            return None
        if is_reference(value) or TEMPLATE.search(value):
            return REFERENCE
        return LITERAL
    if isinstance(value, int | float | bool) or value is None:
        return None
    return DYNAMIC


def literal_paths(values: Any) -> tuple[list[str], list[str]]:
    """``(paths of plain strings, paths of those that hold a PEM private key)``.

    What a release summary records about its values: where plain strings are, not what
    they are.
    """
    literal: list[str] = []
    keys: list[str] = []
    for path, value in leaves(values):
        if classify(value) == LITERAL:
            literal.append(path)
            if PRIVATE_KEY.search(value):
                keys.append(path)
    return literal, keys


def _last_key(path: str) -> str:
    return re.sub(r"\[\d+\]$", "", path).rsplit(".", 1)[-1]


def secret_key(path: str, settings: NoPlaintextSecrets) -> bool:
    """Whether the last key of a values path looks like it names a secret."""
    key = _last_key(path)
    if not any(re.search(p, key, re.IGNORECASE) for p in settings.key_patterns):
        return False
    return not any(re.search(p, key, re.IGNORECASE) for p in settings.ignore_key_patterns)


def check_plaintext_secrets(
    resource: str,
    release: str,
    literal: Sequence[str],
    private_keys: Sequence[str],
    settings: NoPlaintextSecrets,
) -> list[Violation]:
    """Plain strings at secret-looking keys, and PEM private keys anywhere."""
    out: list[Violation] = []
    allowed = set(settings.allowed_paths)
    for path in literal:
        if path in allowed:
            continue
        is_key = path in private_keys
        if not is_key and not secret_key(path, settings):
            continue
        what = "a PEM private key" if is_key else "a plain-text value at a secret-looking key"
        out.append(
            Violation(
                "no-plaintext-secrets",
                resource,
                f"values.{path}",
                f"{what}: it is stored readable in the stack config, the state and the "
                "Helm release",
                f"move it to secretValues: {{{path}: 'vault:<path>#<key>'}} (or a Kubernetes "
                "Secret / secret stack config reference); if it is not a secret, list "
                f"{path} under no-plaintext-secrets.allowedPaths",
                release,
            )
        )
    return out


def check_plaintext_values(
    resource: str, release: str, values: Any, settings: NoPlaintextSecrets
) -> list[Violation]:
    """:func:`check_plaintext_secrets` on a values tree itself (releases not created by
    helm_enterprise, whose values CrossGuard sees)."""
    literal, keys = literal_paths(values)
    return check_plaintext_secrets(resource, release, literal, keys, settings)


# -- images named in values -------------------------------------------------------------


def _image_key(key: str) -> bool:
    return key.lower() == "image" or key.endswith("Image")


def images_in_values(values: Any, path: str = "") -> Iterator[tuple[str, str, bool]]:
    """``(values path, image reference, tag given)`` for the well-known image keys:
    ``image: repo:tag`` strings and ``image: {registry, repository, tag, digest}`` maps at
    any depth (``global.imageRegistry`` applies when a map names no registry)."""
    global_registry = ""
    if not path and isinstance(values, Mapping):
        g = values.get("global")
        reg = g.get("imageRegistry") if isinstance(g, Mapping) else None
        global_registry = reg if isinstance(reg, str) else ""
    yield from _images(values, path, global_registry)


def _images(values: Any, path: str, global_registry: str) -> Iterator[tuple[str, str, bool]]:
    if not isinstance(values, Mapping):
        return
    for key, value in values.items():
        here = join(path, str(key))
        if _image_key(str(key)) and isinstance(value, str) and value.strip():
            yield here, value.strip(), True
        elif _image_key(str(key)) and isinstance(value, Mapping):
            repo = value.get("repository")
            if isinstance(repo, str) and repo.strip():
                registry = value.get("registry")
                registry = registry if isinstance(registry, str) and registry else global_registry
                ref = f"{registry.rstrip('/')}/{repo}" if registry else repo
                tag, digest = value.get("tag"), value.get("digest")
                if isinstance(tag, str | int | float) and str(tag):
                    ref += f":{tag}"
                if isinstance(digest, str) and digest:
                    ref += f"@{digest}"
                yield here, ref, "tag" in value or "digest" in value
        elif isinstance(value, Mapping):
            yield from _images(value, here, global_registry)


def check_value_images(
    resource: str,
    release: str,
    values: Any,
    *,
    registries: ApprovedRegistries | None = None,
    tags: ImageTags | None = None,
) -> list[Violation]:
    """Registry/tag rules on images named in values. A map without ``tag`` is not a tag
    violation: the chart then uses its own default (usually its appVersion)."""
    out: list[Violation] = []
    for path, ref, tag_given in images_in_values(values):
        for rule, problem, fix in image_problems(
            ref, registries=registries, tags=tags if tag_given else None
        ):
            out.append(Violation(rule, resource, f"values.{path}", problem, fix, release))
    return out


# -- chart version ----------------------------------------------------------------------


def version_problem(version: Any, settings: ChartVersionPinned) -> tuple[str, str] | None:
    """``(problem, fix)`` when a chart version is not one exact version."""
    if isinstance(version, Unknown):
        return None
    text = str(version).strip() if version is not None else ""
    fix = "pin the exact version the release was tested with (chart.version: 1.4.2)"
    if not text:
        return "no chart version: Helm installs whatever is newest", fix
    if text.lower() in {"latest", "*"}:
        return f"chart version {text!r} floats: Helm installs whatever is newest", fix
    if _RANGE_CHARS.search(text) and not SEMVER.match(text):
        return (
            f"chart version {text!r} is a range: the chart deployed changes as new "
            "versions are published",
            fix,
        )
    m = SEMVER.match(text)
    if not m:
        return f"chart version {text!r} is not a SemVer version", fix
    if m.group(4) and not settings.allow_prerelease:
        return f"chart version {text!r} is a pre-release", "pin a released version"
    return None


def git_ref_problem(ref: str) -> tuple[str, str] | None:
    """A Git chart source is pinned by a full commit or a version tag, not a branch."""
    if _COMMIT.match(ref) or SEMVER.match(ref):
        return None
    return (
        f"Git ref {ref!r} is not a version tag or a full commit: it moves",
        "set chart.git.ref to a release tag (v1.4.2) or a 40-character commit SHA",
    )


def check_chart_version(
    resource: str,
    release: str,
    kind: str,
    version: Any,
    settings: ChartVersionPinned,
    *,
    git_ref: str = "",
) -> list[Violation]:
    """Chart version rule for one release. Local charts are pinned by their files."""
    if kind == "local":
        return []
    if kind == "git":
        problem = git_ref_problem(git_ref)
        field = "chart.git.ref"
    else:
        problem = version_problem(version, settings)
        field = "chart.version"
    if problem is None:
        return []
    return [Violation("chart-version-pinned", resource, field, *problem, release=release)]
