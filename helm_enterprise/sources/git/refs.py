"""Refs without the network (:func:`classify_ref`) and against what a repository advertises
(``git ls-remote``: :func:`ls_remote_patterns`, :func:`parse_ls_remote`, :func:`select_ref`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping

_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_HEXISH = re.compile(r"^[0-9a-fA-F]{4,39}$")


class RefKind(enum.Enum):
    """What a configured ref is; ``NAME`` (a bare name) becomes a branch or a tag once the
    repository has been asked."""

    COMMIT = "commit"
    BRANCH = "branch"
    TAG = "tag"
    NAME = "name"


def classify_ref(ref: str) -> tuple[RefKind, str]:
    """Classify a ref without the network: ``(kind, name)``."""
    if _SHA.match(ref.lower()):
        return RefKind.COMMIT, ref.lower()
    if ref.startswith("refs/heads/"):
        return RefKind.BRANCH, ref.removeprefix("refs/heads/")
    if ref.startswith("refs/tags/"):
        return RefKind.TAG, ref.removeprefix("refs/tags/")
    return RefKind.NAME, ref


def ls_remote_patterns(ref: str) -> list[str]:
    """The refs to ask ``git ls-remote`` for (servers filter on them)."""
    kind, name = classify_ref(ref)
    if kind is RefKind.BRANCH:
        return [f"refs/heads/{name}"]
    # An annotated tag's commit is listed as "<tag>^{}" only when asked for by that name.
    if kind is RefKind.TAG:
        return [f"refs/tags/{name}", f"refs/tags/{name}^{{}}"]
    if name == "HEAD":
        return ["HEAD"]
    return [f"refs/heads/{name}", f"refs/tags/{name}", f"refs/tags/{name}^{{}}"]


def parse_ls_remote(text: str) -> dict[str, str]:
    """``git ls-remote`` output → {refname: sha} (peeled tags keep their ``^{}`` suffix)."""
    refs: dict[str, str] = {}
    for line in text.splitlines():
        sha, _, name = line.strip().partition("\t")
        if name and _SHA.match(sha):
            refs[name.strip()] = sha
    return refs


def select_ref(ref: str, advertised: Mapping[str, str]) -> tuple[RefKind, str]:
    """The commit a branch or tag points to, given what the repository advertises.

    An annotated tag resolves to the commit it points to. A name that is both a branch and
    a tag is refused (ValueError) instead of guessed. LookupError when nothing matches.
    """
    kind, name = classify_ref(ref)
    if kind is RefKind.COMMIT:
        return kind, name
    branch = advertised.get(f"refs/heads/{name}") if kind is not RefKind.TAG else None
    tag = (
        advertised.get(f"refs/tags/{name}^{{}}") or advertised.get(f"refs/tags/{name}")
        if kind is not RefKind.BRANCH
        else None
    )
    if branch and tag:
        raise ValueError(
            f"both a branch and a tag are named {name!r}; write refs/heads/{name} or "
            f"refs/tags/{name}"
        )
    if branch:
        return RefKind.BRANCH, branch
    if tag:
        return RefKind.TAG, tag
    if name == "HEAD" and "HEAD" in advertised:
        return RefKind.BRANCH, advertised["HEAD"]
    what = {RefKind.BRANCH: "branch", RefKind.TAG: "tag"}.get(kind, "branch or tag")
    hint = (
        "; a commit must be given as its full 40-character SHA"
        if _HEXISH.match(name) and kind is RefKind.NAME
        else ""
    )
    raise LookupError(f"no {what} named {name!r}{hint}")
