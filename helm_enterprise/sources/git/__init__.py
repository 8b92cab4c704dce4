"""Git chart sources (T2.1): ``git+https://`` and ``git+ssh://`` repositories, through
GitPython over the real ``git`` binary.

What happens for one release's ``chart.git``:

1. **Ref → commit.** A full commit SHA is used as is. A tag is resolved once with
   ``git ls-remote`` and remembered in the cache (tags are treated as immutable). A branch
   is re-resolved with ``ls-remote`` on every run, so a moved branch deploys its new commit
   (over HTTPS in one request of our own, :mod:`~helm_enterprise.sources.git.smart_http`).
2. **Commit → files.** The cache is content-addressed: ``<cache>/git/trees/<repo>/<commit>/
   <path>``. A hit needs no network at all — which is also why a pinned commit deploys while
   the Git host is down. A miss fetches into the repository's cache clone (shallow:
   ``--depth``; partial: ``--filter=blob:none`` plus a sparse checkout of the chart's
   directory, so only its blobs are downloaded), under a file lock per repository so
   concurrent runs on one machine are safe, checks the directory (symlinks must stay inside
   it) and stores a copy.
3. **Files → Helm.** The chart is copied under the program directory
   (``.helm-enterprise/charts/git-<commit>-<path>``) and Helm gets that relative path, so the
   state is the same on every machine and changes exactly when the commit does. The
   release's ``resolved_source`` is ``git+https://host/repo@<commit>:<path>``.

Credentials (an access token or an SSH key, from Vault, a Kubernetes Secret or secret stack
config) reach git only through the environment of the one command that needs them: a
token as an ``http.<url>.extraHeader`` given by ``GIT_CONFIG_*`` variables, a key as a
0600 file named in ``GIT_SSH_COMMAND`` (with ``StrictHostKeyChecking=yes``). They never
appear in a URL, in ``.git/config``, in a command line, in the state or in an error.

Fetches run on a small thread pool: every release's fetch starts when the release is
constructed (or earlier, from the root program's :func:`prefetch`) and Pulumi awaits the
result, so several releases fetch in parallel.

The package, one module per concern:

* :mod:`~helm_enterprise.sources.git.remote` — a repository's URL, display form and cache key;
* :mod:`~helm_enterprise.sources.git.refs` — refs without the network and against
  ``ls-remote``;
* :mod:`~helm_enterprise.sources.git.auth` — credentials, the environment of one git
  command, redaction;
* :mod:`~helm_enterprise.sources.git.errors` — the classifier of git's failures;
* :mod:`~helm_enterprise.sources.git.client` — the git operations behind a Protocol
  (GitPython);
* :mod:`~helm_enterprise.sources.git.smart_http` — ``ls-remote`` over HTTPS in one request;
* :mod:`~helm_enterprise.sources.git.paths` — subpath keys and the symlink check;
* :mod:`~helm_enterprise.sources.git.cache` — the content-addressed cache, tag and branch
  records (``git.interval``), locks;
* :mod:`~helm_enterprise.sources.git.fetch` — ref → commit → chart directory;
* :mod:`~helm_enterprise.sources.git.runs` — fetches in parallel, per program run;
* :mod:`~helm_enterprise.sources.git.resolve` — the ``chart.git`` resolver registered with
  :func:`~helm_enterprise.sources.register_source`.
"""

from __future__ import annotations

from helm_enterprise.sources import register_source
from helm_enterprise.sources.git.auth import GitCredentials, git_env, redact, ssh_command
from helm_enterprise.sources.git.cache import Checkout, GitCache
from helm_enterprise.sources.git.client import GitClient, GitPythonClient
from helm_enterprise.sources.git.errors import classify_git_error, stderr_of
from helm_enterprise.sources.git.fetch import GitFetcher
from helm_enterprise.sources.git.paths import check_tree, path_key
from helm_enterprise.sources.git.refs import (
    RefKind,
    classify_ref,
    ls_remote_patterns,
    parse_ls_remote,
    select_ref,
)
from helm_enterprise.sources.git.remote import Remote, parse_remote
from helm_enterprise.sources.git.resolve import project_copy, resolve_git
from helm_enterprise.sources.git.runs import forget_runs, prefetch, submit

__all__ = [
    "Checkout",
    "GitCache",
    "GitClient",
    "GitCredentials",
    "GitFetcher",
    "GitPythonClient",
    "RefKind",
    "Remote",
    "check_tree",
    "classify_git_error",
    "classify_ref",
    "forget_runs",
    "git_env",
    "ls_remote_patterns",
    "parse_ls_remote",
    "parse_remote",
    "path_key",
    "prefetch",
    "project_copy",
    "redact",
    "resolve_git",
    "select_ref",
    "ssh_command",
    "stderr_of",
    "submit",
]

register_source("git", resolve_git)
