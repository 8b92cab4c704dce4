"""Git chart sources (T2.1): the pure rules (subpaths, refs, cache keys, what git's
environment holds) and the fetcher with GitPython against local repositories made with git
in tmp_path (file:// — the transport differs from the sandbox's HTTPS/SSH, the git logic
does not; tests/e2e/test_git_sources.py runs the real servers)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import threading
from pathlib import Path
from typing import Any

import pulumi
import pytest
from git import GitCommandError

from helm_enterprise import Release
from helm_enterprise.components.context import Platform
from helm_enterprise.config import ClusterConfig, GitSource, ReleaseConfig, validate_model
from helm_enterprise.config.git import normalize_subpath
from helm_enterprise.errors import ConfigError, GitSourceError
from helm_enterprise.sources import git as gitsrc
from helm_enterprise.sources.credentials import remove_materialized
from helm_enterprise.sources.git import (
    GitCredentials,
    GitFetcher,
    RefKind,
    check_tree,
    classify_git_error,
    classify_ref,
    git_env,
    parse_ls_remote,
    parse_remote,
    path_key,
    redact,
    select_ref,
)
from helm_enterprise.sources.git import cache as git_cache
from tests.unit.pulumi_harness import run_program

REPO = Path(__file__).resolve().parents[3]
TOKEN = "tok-3f9a1c77e2"  # a test value, grepped for below
SHA1 = "a" * 40
SHA2 = "b" * 40


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELM_ENTERPRISE_CACHE", str(tmp_path / "cache"))
    gitsrc.forget_runs()
    yield
    gitsrc.forget_runs()
    remove_materialized()


# -- subpaths -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "normal"),
    [
        ("", "."),
        (".", "."),
        ("./", "."),
        ("charts/app", "charts/app"),
        ("./charts//app/", "charts/app"),
        ("charts/./app", "charts/app"),
        ("a/b-c_d.e+f@g", "a/b-c_d.e+f@g"),
    ],
)
def test_subpath_normalised(path: str, normal: str) -> None:
    assert normalize_subpath(path) == normal


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("../charts", "leaves the repository"),
        ("charts/../../etc", "leaves the repository"),
        ("charts/..", "leaves the repository"),
        ("/etc/passwd", "absolute path"),
        ("C:/charts", "absolute path"),
        ("charts\\app", "use '/'"),
        (".git/hooks", "points into .git"),
        ("charts/.GIT", "points into .git"),
        ("charts/*", "may only contain"),
        ("charts/~user", "may only contain"),
        ("charts/a b", "may only contain"),
    ],
)
def test_subpath_rejected(path: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")):
        normalize_subpath(path)


# -- remotes and cache keys -----------------------------------------------------------------


def test_cache_key_ignores_spelling_not_identity() -> None:
    same = [
        "git+https://git.example.com/org/charts.git",
        "https://GIT.example.com/org/charts",
        "git+https://git.example.com:443/org/charts/",
    ]
    assert len({parse_remote(u).key for u in same}) == 1
    ssh = [
        "git+ssh://git@git.example.com/org/charts.git",
        "ssh://other@git.example.com:22/org/charts",
    ]
    assert len({parse_remote(u).key for u in ssh}) == 1
    different = [
        *same[:1],
        ssh[0],  # another transport
        "git+https://git.example.com/org/charts2.git",
        "git+https://git.example.com:8443/org/charts.git",
        "git+https://mirror.example.com/org/charts.git",
    ]
    assert len({parse_remote(u).key for u in different}) == len(different)


def test_remote_forms() -> None:
    r = parse_remote("git+ssh://git@host:2222/org/repo.git")
    assert r.url == "ssh://git@host:2222/org/repo.git"
    assert r.display == "git+ssh://git@host:2222/org/repo.git"
    assert r.transport == "ssh"
    assert parse_remote("https://host/org/repo").display == "git+https://host/org/repo"
    assert parse_remote("git+file:///srv/git/repo.git").url == "file:///srv/git/repo.git"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("https://ci:secret@host/org/repo.git", "must not be part of the URL"),
        ("https://ci@host/org/repo.git", "must not be part of the URL"),
        ("ssh://git:pw@host/org/repo.git", "must not be part of the URL"),
        ("git@github.com:org/repo.git", "git+ssh://git@github.com/org/repo.git"),
        ("http://host/org/repo.git", "not a Git URL"),
        ("git+https://host/org/repo.git#main", "no query or fragment"),
        ("git+https://host", "needs a host and a repository path"),
        ("file://relative/repo", "file:///absolute/path"),
    ],
)
def test_url_rejected(url: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)) as err:
        validate_model(GitSource, {"url": url})
    assert err.value.path == "url"
    assert "ci:secret" not in str(err.value) and ":pw@" not in str(err.value)


# -- refs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "kind", "name"),
    [
        (SHA1, RefKind.COMMIT, SHA1),
        (SHA1.upper(), RefKind.COMMIT, SHA1),
        ("c" * 64, RefKind.COMMIT, "c" * 64),
        ("main", RefKind.NAME, "main"),
        ("v1.2.0", RefKind.NAME, "v1.2.0"),
        ("abc1234", RefKind.NAME, "abc1234"),  # short SHAs are names: never guessed
        ("refs/heads/release/1.x", RefKind.BRANCH, "release/1.x"),
        ("refs/tags/v1", RefKind.TAG, "v1"),
    ],
)
def test_classify_ref(ref: str, kind: RefKind, name: str) -> None:
    assert classify_ref(ref) == (kind, name)


@pytest.mark.parametrize(
    "ref", ["-upload-pack=touch /tmp/x", "--all", "main..dev", "a b", "x/", "x.lock", "a@{1}"]
)
def test_unsafe_refs_rejected(ref: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_model(GitSource, {"url": "git+https://h/r.git", "ref": ref})
    assert err.value.path == "ref"


ADVERTISED = parse_ls_remote(
    f"{SHA1}\tHEAD\n"
    f"{SHA1}\trefs/heads/main\n"
    f"{'1' * 40}\trefs/tags/v1\n"
    f"{SHA2}\trefs/tags/v1^{{}}\n"
    f"{'2' * 40}\trefs/tags/light\n"
    f"{'3' * 40}\trefs/heads/both\n"
    f"{'4' * 40}\trefs/tags/both\n"
    "garbage line\n"
)


def test_select_ref() -> None:
    assert select_ref("main", ADVERTISED) == (RefKind.BRANCH, SHA1)
    assert select_ref("refs/heads/main", ADVERTISED) == (RefKind.BRANCH, SHA1)
    # An annotated tag resolves to the commit, not to the tag object.
    assert select_ref("v1", ADVERTISED) == (RefKind.TAG, SHA2)
    assert select_ref("refs/tags/light", ADVERTISED) == (RefKind.TAG, "2" * 40)
    assert select_ref("HEAD", ADVERTISED) == (RefKind.BRANCH, SHA1)
    assert select_ref("refs/heads/both", ADVERTISED) == (RefKind.BRANCH, "3" * 40)
    with pytest.raises(ValueError, match="both a branch and a tag"):
        select_ref("both", ADVERTISED)
    with pytest.raises(LookupError, match="no branch or tag named 'dev'"):
        select_ref("dev", ADVERTISED)
    with pytest.raises(LookupError, match="no tag named 'main'"):
        select_ref("refs/tags/main", ADVERTISED)
    with pytest.raises(LookupError, match="full 40-character SHA"):
        select_ref("abc1234", ADVERTISED)


# -- credentials: only in the environment of the command ------------------------------------


def source(url: str = "git+https://git.example.com/org/charts.git", **kw: Any) -> GitSource:
    return validate_model(GitSource, {"url": url, **kw})


def test_token_goes_into_a_scoped_header_only() -> None:
    s = source(auth={"token": "vault:secret/ci/git#token"}, caFile="/etc/corp-ca.pem")
    remote = parse_remote(s.url)
    env = git_env(remote, s, GitCredentials(token=TOKEN))
    assert TOKEN not in " ".join(env)  # never in a name
    assert TOKEN not in remote.url and TOKEN not in remote.display
    i = next(k for k, v in env.items() if v.startswith("http.")).rsplit("_", 1)[1]
    assert env[f"GIT_CONFIG_KEY_{i}"] == f"http.{remote.url}.extraHeader"
    header = env[f"GIT_CONFIG_VALUE_{i}"]
    assert header.startswith("Authorization: Basic ") and TOKEN not in header
    # No credential helper is asked (or could store the token), nothing prompts.
    assert ("credential.helper", "") in [
        (env[f"GIT_CONFIG_KEY_{j}"], env[f"GIT_CONFIG_VALUE_{j}"])
        for j in range(int(env["GIT_CONFIG_COUNT"]))
    ]
    assert env["GIT_TERMINAL_PROMPT"] == "0" and env["GIT_ASKPASS"] == ""
    assert env["GIT_SSL_CAINFO"] == "/etc/corp-ca.pem"
    assert "GIT_SSL_NO_VERIFY" not in env


def test_anonymous_https_sends_no_header() -> None:
    env = git_env(parse_remote(source().url), source(), GitCredentials())
    assert not any("extraHeader" in v for v in env.values())


def test_ssh_key_is_a_private_file_and_host_keys_are_checked() -> None:
    known = "[git.example.com]:22 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample"
    s = source(
        "git+ssh://git@git.example.com/org/charts.git",
        auth={"sshKey": "k8s:ci/deploy-key#id", "knownHosts": known},
    )
    key = "\n".join(
        [
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "b3BlbnNzaC1rZXktdjEAAAAA",
            "-----END OPENSSH PRIVATE KEY-----",
        ]
    )
    env = git_env(parse_remote(s.url), s, GitCredentials(ssh_key=key))
    argv = shlex.split(env["GIT_SSH_COMMAND"])
    assert "StrictHostKeyChecking=yes" in argv and "BatchMode=yes" in argv
    key_file = Path(argv[argv.index("-i") + 1])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text() == key + "\n"  # OpenSSH wants the final newline
    hosts = next(a for a in argv if a.startswith("UserKnownHostsFile=")).split("=", 1)[1]
    assert Path(hosts).read_text().strip() == known
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in env["GIT_SSH_COMMAND"]


def test_ssh_host_key_check_off_only_when_asked() -> None:
    s = source("git+ssh://git@h/o/r.git", auth={"sshKey": "k8s:ci/k#id"})
    argv = shlex.split(
        git_env(parse_remote(s.url), s, GitCredentials(ssh_key="K")).get("GIT_SSH_COMMAND", "")
    )
    assert "StrictHostKeyChecking=yes" in argv and not any("UserKnownHostsFile" in a for a in argv)
    s = source(
        "git+ssh://git@h/o/r.git", auth={"sshKey": "k8s:ci/k#id", "insecureIgnoreHostKey": True}
    )
    argv = shlex.split(
        git_env(parse_remote(s.url), s, GitCredentials(ssh_key="K"))["GIT_SSH_COMMAND"]
    )
    assert "StrictHostKeyChecking=no" in argv


def test_credentials_repr_and_redaction() -> None:
    creds = GitCredentials(token=TOKEN)
    assert TOKEN not in repr(creds) and "token" in repr(creds)
    import base64

    b64 = base64.b64encode(TOKEN.encode()).decode()
    text = f"fatal: x {TOKEN} y {b64} https://u:{TOKEN}@h/r https://u:pw@h/r"
    out = redact(text, [TOKEN])
    assert TOKEN not in out and b64 not in out and "u:pw@" not in out


def _err(stderr: str, status: int = 128) -> GitCommandError:
    return GitCommandError(["git", "ls-remote", "https://h/r.git"], status, stderr.encode())


@pytest.mark.parametrize(
    ("stderr", "fragment"),
    [
        (
            "fatal: could not read Username for 'https://h': terminal prompts disabled",
            "rejected the credentials (auth: token) while resolving ref 'main'",
        ),
        ("fatal: Authentication failed for 'https://h/r.git/'", "rejected the credentials"),
        ("git@h: Permission denied (publickey).", "rejected the credentials"),
        (
            "fatal: unable to access 'https://h/r.git/': Failed to connect to h port 443 after "
            "0 ms: Couldn't connect to server",
            "is unreachable while resolving ref 'main' (Failed to connect to h port 443",
        ),
        ("ssh: Could not resolve hostname h: Name or service not known", "is unreachable"),
        ("Host key verification failed.", "SSH host key is not trusted"),
        (
            "fatal: unable to access 'https://h/r.git/': server certificate verification failed.",
            "server certificate not trusted",
        ),
        ("remote: Repository not found.\nfatal: repository 'x' not found", "does not exist"),
        ("fatal: remote error: upload-pack: not our ref " + SHA1, "not in the repository"),
        (f"fatal: weird failure {TOKEN}", "resolving ref 'main' failed: fatal: weird failure ***"),
    ],
)
def test_git_errors_classified(stderr: str, fragment: str) -> None:
    remote = parse_remote("git+https://h/r.git")
    err = classify_git_error(_err(stderr), remote, "resolving ref 'main'", "token", [TOKEN])
    assert isinstance(err, GitSourceError)
    assert str(err).startswith("repository git+https://h/r.git")
    assert fragment in str(err)
    assert TOKEN not in str(err)


# -- checking the checked-out tree ----------------------------------------------------------


def test_check_tree_rejects_escapes(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    chart = root / "charts" / "app"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("name: app\nversion: 1.0.0\n")
    (chart / "templates" / "link.yaml").symlink_to("../Chart.yaml")  # inside: fine
    assert check_tree(root, "charts/app") == chart.resolve()

    (chart / "templates" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(ValueError, match="templates/passwd is a symlink pointing outside"):
        check_tree(root, "charts/app")
    (chart / "templates" / "passwd").unlink()

    (root / "README").write_text("x")
    (chart / "readme").symlink_to("../../README")  # inside the repository, outside the chart
    with pytest.raises(ValueError, match="pointing outside 'charts/app'"):
        check_tree(root, "charts/app")
    (chart / "readme").unlink()

    (chart / "loop").symlink_to("loop")
    with pytest.raises(ValueError, match="missing path or a loop"):
        check_tree(root, "charts/app")
    (chart / "loop").unlink()

    (root / "charts" / "escape").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="leaves the repository through a symlink"):
        check_tree(root, "charts/escape")
    with pytest.raises(ValueError, match="does not exist"):
        check_tree(root, "charts/nope")
    with pytest.raises(ValueError, match="not a directory"):
        check_tree(root, "README")


def test_path_keys_are_safe_and_distinct() -> None:
    keys = {path_key(p) for p in (".", "charts/app", "charts-app", "charts/app/x", "a" * 200)}
    assert len(keys) == 5
    assert all("/" not in k and len(k) < 60 for k in keys)


# -- the fetcher against local repositories ------------------------------------------------

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args: str | Path, cwd: Path) -> str:
    out = subprocess.run(
        ["git", *map(str, args)],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


class Upstream:
    """A bare repository (the "server") and a work tree to commit from."""

    def __init__(self, tmp: Path) -> None:
        self.bare = tmp / "upstream.git"
        self.work = tmp / "work"
        git("init", "-q", "--bare", "--initial-branch=main", self.bare, cwd=tmp)
        git("config", "uploadpack.allowFilter", "true", cwd=self.bare)
        git("clone", "-q", self.bare, self.work, cwd=tmp)
        for name in ("a", "b"):
            chart = self.work / "charts" / name
            (chart / "templates").mkdir(parents=True)
            (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
            (chart / "values.yaml").write_text("replicaCount: 1\n")
        (self.work / "data").mkdir()
        (self.work / "data" / "big.bin").write_bytes(os.urandom(2_000_000))
        self.commit("initial")
        git("tag", "-a", "v1", "-m", "v1", cwd=self.work)
        git("push", "-q", "origin", "main", "--tags", cwd=self.work)

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def commit(self, message: str, files: dict[str, str] | None = None) -> str:
        for rel, text in (files or {}).items():
            (self.work / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.work / rel).write_text(text)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", message, cwd=self.work)
        git("push", "-q", "origin", "main", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    return Upstream(tmp_path)


def fetch(src: GitSource) -> gitsrc.Checkout:
    # A new fetcher is a new run: nothing remembered but the cache on disk.
    return GitFetcher().checkout(src, GitCredentials())


def test_branch_tag_and_commit(upstream: Upstream, tmp_path: Path) -> None:
    head = git("rev-parse", "HEAD", cwd=upstream.work)
    first = fetch(source(upstream.url, ref="main", path="charts/a"))
    assert (first.kind, first.commit, first.cached) == (RefKind.BRANCH, head, False)
    assert (first.path / "Chart.yaml").read_text().startswith("apiVersion: v2\nname: a")
    assert first.source == f"git+{upstream.url}@{head}:charts/a"
    assert fetch(source(upstream.url, ref="main", path="charts/a")).cached

    # Sparse and partial: only the chart's directory was checked out, the 2 MB blob
    # elsewhere in the repository was never downloaded.
    clone = tmp_path / "cache" / "git" / "repos" / parse_remote(upstream.url).key
    assert (clone / "charts" / "a").is_dir() and not (clone / "data").exists()
    assert _objects_size(clone) < 200_000

    tag = fetch(source(upstream.url, ref="v1", path="charts/a"))
    assert (tag.kind, tag.commit, tag.cached) == (RefKind.TAG, head, True)
    pinned = fetch(source(upstream.url, ref=head, path="charts/b"))
    assert (pinned.kind, pinned.cached) == (RefKind.COMMIT, False)
    assert "name: b" in (pinned.path / "Chart.yaml").read_text()


def test_cold_cache_fetches_a_branch_by_name_without_ls_remote(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def refused(*args: Any) -> str:
        raise AssertionError("a cold cache fetches the branch directly")

    monkeypatch.setattr(gitsrc.GitPythonClient, "ls_remote", refused)
    head = git("rev-parse", "HEAD", cwd=upstream.work)
    first = fetch(source(upstream.url, ref="main", path="charts/a"))
    assert (first.kind, first.commit, first.cached) == (RefKind.BRANCH, head, False)
    clone = tmp_path / "cache" / "git" / "repos" / parse_remote(upstream.url).key
    refs = git("for-each-ref", "--format=%(refname)", cwd=clone)
    assert "refs/helm-enterprise/" not in refs  # read, then dropped
    assert (clone / "charts" / "a").is_dir() and not (clone / "data").exists()


def test_cold_cache_still_refuses_a_name_that_is_a_branch_and_a_tag(
    upstream: Upstream,
) -> None:
    git("tag", "main", cwd=upstream.work)
    git("tag", "main-1", cwd=upstream.work)
    git("push", "-q", "origin", "--tags", cwd=upstream.work)
    with pytest.raises(GitSourceError, match="both a branch and a tag are named 'main'"):
        fetch(source(upstream.url, ref="main", path="charts/a"))
    # A longer tag name is no ambiguity, and an explicit branch is none either.
    branch = fetch(source(upstream.url, ref="refs/heads/main", path="charts/a"))
    assert branch.kind is RefKind.BRANCH


def test_cold_cache_name_that_is_a_tag_falls_back_to_ls_remote(upstream: Upstream) -> None:
    head = git("rev-parse", "HEAD", cwd=upstream.work)
    tag = fetch(source(upstream.url, ref="v1", path="charts/a"))
    assert (tag.kind, tag.commit, tag.cached) == (RefKind.TAG, head, False)


def _objects_size(clone: Path) -> int:
    return sum(p.stat().st_size for p in (clone / ".git" / "objects").rglob("*") if p.is_file())


def test_moved_branch_deploys_new_commit_tags_and_commits_stay(upstream: Upstream) -> None:
    old = fetch(source(upstream.url, ref="main", path="charts/a"))
    new_sha = upstream.commit("bump", {"charts/a/values.yaml": "replicaCount: 2\n"})
    moved = fetch(source(upstream.url, ref="main", path="charts/a"))
    assert moved.commit == new_sha != old.commit and not moved.cached
    assert (moved.path / "values.yaml").read_text() == "replicaCount: 2\n"
    assert (old.path / "values.yaml").read_text() == "replicaCount: 1\n"  # immutable entry
    # The tag was recorded when first resolved; it is served from the cache.
    assert fetch(source(upstream.url, ref="v1", path="charts/a")).commit == old.commit


def test_interval_reuses_a_recent_branch_resolution(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = source(upstream.url, ref="main", path="charts/a", interval="10m")
    assert src.interval == 600
    old = fetch(src)
    upstream.commit("bump", {"charts/a/values.yaml": "replicaCount: 2\n"})
    # Within the interval: the commit resolved before, from the cache, without asking.
    asked: list[str] = []
    real = gitsrc.GitPythonClient.ls_remote
    monkeypatch.setattr(
        gitsrc.GitPythonClient,
        "ls_remote",
        lambda self, url, patterns, env: asked.append(url) or real(self, url, patterns, env),
    )
    again = fetch(src)
    assert (again.commit, again.cached, asked) == (old.commit, True, [])
    # Without an interval, every run asks and deploys the moved branch.
    moved = fetch(source(upstream.url, ref="main", path="charts/a"))
    assert moved.commit != old.commit and asked == [upstream.url]
    # Once the interval has passed, the branch is asked for again.
    later = git_cache._now() + 601
    monkeypatch.setattr(git_cache, "_now", lambda: later)
    assert fetch(src).commit == moved.commit and len(asked) == 2
    with pytest.raises(ConfigError, match="interval"):
        source(upstream.url, interval="0s")


def test_host_down_pinned_commit_deploys_branch_fails(upstream: Upstream) -> None:
    sha = fetch(source(upstream.url, ref="main", path="charts/a")).commit
    fetch(source(upstream.url, ref="v1", path="charts/a"))
    upstream.bare.rename(upstream.bare.with_suffix(".gone"))  # the "host" is gone

    assert fetch(source(upstream.url, ref=sha, path="charts/a")).cached
    assert fetch(source(upstream.url, ref="v1", path="charts/a")).cached
    with pytest.raises(GitSourceError) as err:
        fetch(source(upstream.url, ref="main", path="charts/a"))
    assert f"repository git+{upstream.url}" in str(err.value)
    assert "resolving ref 'main'" in str(err.value)
    with pytest.raises(GitSourceError, match="fetching commit"):
        fetch(source(upstream.url, ref="c" * 40, path="charts/a"))


def test_unknown_ref_and_not_a_chart(upstream: Upstream) -> None:
    with pytest.raises(GitSourceError, match="no branch or tag named 'nope'"):
        fetch(source(upstream.url, ref="nope", path="charts/a"))
    with pytest.raises(GitSourceError, match=r"'data' is not a Helm chart \(no Chart.yaml\)"):
        fetch(source(upstream.url, ref="main", path="data", sparse=False))
    with pytest.raises(GitSourceError, match="path 'charts/zzz' does not exist"):
        fetch(source(upstream.url, ref="main", path="charts/zzz"))


@pytest.mark.parametrize("sparse", [True, False])
def test_symlinks_out_of_the_chart_rejected(upstream: Upstream, sparse: bool) -> None:
    (upstream.work / "charts" / "a" / "templates" / "x.yaml").symlink_to("/etc/hostname")
    (upstream.work / "charts" / "out").symlink_to("../..")
    upstream.commit("evil")
    with pytest.raises(GitSourceError, match=r"templates/x\.yaml is a symlink pointing outside"):
        fetch(source(upstream.url, ref="main", path="charts/a", sparse=sparse))
    with pytest.raises(GitSourceError, match="leaves the repository through a symlink"):
        fetch(source(upstream.url, ref="main", path="charts/out", sparse=sparse))


def test_server_refusing_blobs_by_id_gets_a_full_fetch_of_the_commit(
    upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Protocol v0 with filters allowed but no uploadpack.allowAnySHA1InWant: the partial
    # clone's lazy blob fetch is refused (the sandbox's SSH server behaves like this).
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[protocol]\n\tversion = 0\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    got = fetch(source(upstream.url, ref="main", path="charts/a"))
    assert (got.path / "Chart.yaml").is_file()
    clone = tmp_path / "cache" / "git" / "repos" / parse_remote(upstream.url).key
    assert not (clone / "data").exists()  # still a sparse checkout


def test_a_clone_broken_by_a_killed_run_is_rebuilt(upstream: Upstream, tmp_path: Path) -> None:
    first = fetch(source(upstream.url, ref="main", path="charts/a"))
    clone = tmp_path / "cache" / "git" / "repos" / parse_remote(upstream.url).key
    (clone / ".git" / "index.lock").write_text("")  # git's own lock, left behind
    got = fetch(source(upstream.url, ref=first.commit, path="charts/b"))
    assert got.commit == first.commit and not (clone / ".git" / "index.lock").exists()
    shutil.rmtree(clone / ".git" / "objects")  # beyond repair: started again
    later = upstream.commit("next", {"charts/a/values.yaml": "replicaCount: 3\n"})
    got = fetch(source(upstream.url, ref="main", path="charts/a"))
    assert got.commit == later and (got.path / "values.yaml").read_text() == "replicaCount: 3\n"


def test_concurrent_fetches_share_one_entry(upstream: Upstream) -> None:
    results: list[gitsrc.Checkout] = []
    errors: list[BaseException] = []

    def one(path: str) -> None:
        try:
            results.append(fetch(source(upstream.url, ref="main", path=path)))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(p,)) for p in ("charts/a", "charts/b") * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({r.path for r in results}) == 2
    assert {r.commit for r in results} == {git("rev-parse", "HEAD", cwd=upstream.work)}


def test_nothing_secret_in_git_config(upstream: Upstream, tmp_path: Path) -> None:
    src = source(upstream.url, ref="main", path="charts/a")
    fetch(src)
    config = tmp_path / "cache" / "git" / "repos" / parse_remote(src.url).key / ".git" / "config"
    text = config.read_text()
    assert "extraheader" not in text.lower() and "Authorization" not in text


def test_prefetch_runs_fetches_in_parallel(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both fetches must be inside `git ls-remote` at the same time to pass the barrier;
    # one after the other, it times out. The clone exists already (a cold cache fetches
    # a branch without ls-remote, under the repository's lock).
    head = git("rev-parse", "HEAD", cwd=upstream.work)
    fetch(source(upstream.url, ref=head, path="charts/a"))
    barrier = threading.Barrier(2, timeout=20)
    real = gitsrc.GitPythonClient.ls_remote

    def meeting(self: gitsrc.GitPythonClient, *args: Any) -> str:
        barrier.wait()
        return real(self, *args)

    monkeypatch.setattr(gitsrc.GitPythonClient, "ls_remote", meeting)
    releases = [
        validate_model(
            ReleaseConfig,
            {"name": n, "chart": {"git": {"url": upstream.url, "ref": ref, "path": f"charts/{n}"}}},
        )
        for n, ref in (("a", "main"), ("b", "v1"))
    ]
    assert gitsrc.prefetch(releases, None) == 2
    futures = [gitsrc.submit(r.chart.git, GitCredentials()) for r in releases if r.chart.git]
    assert [f.result(timeout=60).subpath for f in futures] == ["charts/a", "charts/b"]


# -- through the Release component (Pulumi mocks) ------------------------------------------


def test_release_gets_a_project_relative_chart_and_the_commit(
    upstream: Upstream, tmp_path: Path
) -> None:
    head = git("rev-parse", "HEAD", cwd=upstream.work)
    base = tmp_path / "program"
    base.mkdir()
    platform = Platform(
        cluster=ClusterConfig(kubeconfig="/nonexistent/kubeconfig", unreachable="warn"),
        base_dir=base,
    )

    def program() -> object:
        a = Release(
            "a",
            {"chart": {"git": {"url": f"git+{upstream.url}", "ref": "main", "path": "charts/a"}}},
            platform=platform,
        )
        b = Release(
            "b",
            {"chart": {"git": {"url": f"git+{upstream.url}", "ref": "v1", "path": "charts/b"}}},
            platform=platform,
        )
        return {"a": a.resolved_source, "b": b.resolved_source}

    run = run_program(program)
    charts = sorted(r.inputs["chart"] for r in run.resources if r.type.endswith("v3:Release"))
    assert all(c.startswith(f".helm-enterprise/charts/git-{head[:16]}-charts-") for c in charts)
    assert all((base / c / "Chart.yaml").is_file() for c in charts)
    assert run.value == {
        "a": f"git+{upstream.url}@{head}:charts/a",
        "b": f"git+{upstream.url}@{head}:charts/b",
    }


def test_release_reports_git_errors(upstream: Upstream, tmp_path: Path) -> None:
    platform = Platform(
        cluster=ClusterConfig(kubeconfig="/nonexistent/kubeconfig", unreachable="warn"),
        base_dir=tmp_path,
    )

    def program() -> object:
        r = Release(
            "a",
            {"chart": {"git": {"url": f"git+{upstream.url}", "ref": "nope", "path": "charts/a"}}},
            platform=platform,
        )
        return r.resolved_source

    with pytest.raises(GitSourceError, match="no branch or tag named 'nope'"):
        run_program(program)


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        Release("x", {"chart": {"git": {"url": "git+https://h/r.git", "path": "../up"}}})
    assert err.value.path == "chart.git.path"


_ = pulumi  # the harness needs the SDK imported before mocks are set
