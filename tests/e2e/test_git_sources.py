"""Git chart sources (T2.1) through the real engine and the sandbox's Git server (HTTPS with
a token, SSH with a key): a token from a Kubernetes Secret, a key from Vault, a monorepo of
two charts, a branch that moves between two runs, wrong credentials, and the Git host
going down (a cached pinned commit still deploys, a branch fails naming the repository).

Every test works on its own branch of the fixture repository (created from ``main`` with a
commit of its own), so each starts with a commit no cache has seen.
"""

from __future__ import annotations

import base64
import secrets as pysecrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helm_enterprise._cache import cache_root
from helm_enterprise.config import GitSource, validate_model
from helm_enterprise.sandbox import _paths
from helm_enterprise.sandbox.gitserver import FIXTURE, GitServer
from helm_enterprise.sandbox.vault import VaultServer
from helm_enterprise.sources.git import GitCache, GitCredentials, GitFetcher
from tests.e2e.conftest import REPO, Env
from tests.e2e.test_secrets import approle, leaks, write

TOKEN_CONFIG = "helm-enterprise:gitToken"


def branch(git: GitServer, name: str, files: dict[str, str] | None = None) -> str:
    """A new branch ``name`` of the fixture repository, one commit ahead of main."""
    return git.commit(files or {f"e2e/{name}": name}, f"e2e: {name}", branch=name, start="main")


@pytest.fixture
def name(git: GitServer, namespace: str) -> Iterator[str]:
    """The test's branch name; the branch is deleted afterwards."""
    yield f"e2e-{namespace}"
    subprocess.run(
        ["git", "-C", str(git.repos / FIXTURE), "branch", "-D", f"e2e-{namespace}"],
        capture_output=True,
        check=False,
    )


def https_source(git: GitServer, ref: str, path: str = "charts/hello", **auth: Any) -> dict:
    return {
        "url": f"git+{git.https_url()}",
        "ref": ref,
        "path": path,
        "caFile": str(git.ca_file),
        "auth": auth or {"token": {"config": TOKEN_CONFIG}},
    }


def ssh_source(git: GitServer, ref: str, key_ref: Any) -> dict:
    return {
        "url": f"git+{git.ssh_url()}",
        "ref": ref,
        "path": "charts/hello",
        "auth": {"sshKey": key_ref, "knownHosts": git.known_hosts.read_text()},
    }


def release(namespace: str, git_source: dict, name: str = "hello", **extra: Any) -> dict:
    return {
        "name": name,
        "namespace": namespace,
        "createNamespace": True,
        "chart": {"git": git_source},
        "values": {"replicaCount": 1},
        **extra,
    }


def in_git_cache(value: str) -> list[str]:
    """Files of the Git cache (clones, .git/config, trees) that contain ``value``."""
    needle = value.encode()
    root = cache_root() / "git"
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def ready(sb: Env, namespace: str, name: str = "hello") -> int:
    return int(
        sb.kubectl_json("-n", namespace, "get", "deployment", name)["status"].get(
            "readyReplicas", 0
        )
    )


@pytest.fixture
def creds_namespace(sb: Env, namespace: str) -> Iterator[str]:
    """A namespace holding the Kubernetes Secret with the Git token."""
    ns = f"{namespace}-creds"
    sb.kubectl("create", "namespace", ns)
    yield ns
    sb.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_https_token_from_kubernetes_secret_and_a_branch_that_moves(
    sb: Env, git: GitServer, project, namespace: str, name: str, creds_namespace: str
) -> None:
    first = branch(git, name)
    sb.kubectl(
        "-n",
        creds_namespace,
        "create",
        "secret",
        "generic",
        "git",
        f"--from-literal=token={git.token}",
    )
    token_ref = f"k8s:{creds_namespace}/git#token"
    p = project()
    p.releases([release(namespace, https_source(git, name, token=token_ref))])
    out = p.up().outputs["releases"].value["hello"]
    assert out["status"] == "deployed" and out["revision"] == 1
    assert out["source"] == f"git+{git.https_url()}@{first}:charts/hello"
    assert ready(sb, namespace) == 1

    # The branch moves: the next run resolves it again and deploys the new commit.
    moved = git.commit(
        {"charts/hello/values.yaml": _values_with_message("from the moved branch")},
        "e2e: move",
        branch=name,
    )
    out = p.up().outputs["releases"].value["hello"]
    assert out["source"] == f"git+{git.https_url()}@{moved}:charts/hello"
    assert out["revision"] == 2
    cm = sb.kubectl_json("-n", namespace, "get", "configmap", "hello-config")
    assert cm["data"]["message"] == "from the moved branch"

    # The token is nowhere: not in the state, the console, the logs or the Git cache
    # (clones, .git/config), not even base64-encoded as the header carries it.
    b64 = base64.b64encode(f"git:{git.token}".encode()).decode()
    for value in (git.token, b64):
        assert leaks(value, p.export(), p.text) == []
        assert in_git_cache(value) == []


def _values_with_message(message: str) -> str:
    values = (REPO / "charts" / "hello" / "values.yaml").read_text()
    return values.replace("message: hello from helm-enterprise", f"message: {message}")


def test_ssh_key_from_vault(
    sb: Env, git: GitServer, vault: VaultServer, project, namespace: str, name: str
) -> None:
    commit = branch(git, name)
    key = git.client_key.read_text()
    write(vault, f"e2e/{namespace}/git", {"key": key})
    p = project()
    approle(p, vault)
    p.releases([release(namespace, ssh_source(git, name, f"vault:secret/e2e/{namespace}/git#key"))])
    out = p.up().outputs["releases"].value["hello"]
    assert out["status"] == "deployed"
    assert out["source"] == f"git+{git.ssh_url()}@{commit}:charts/hello"
    assert ready(sb, namespace) == 1
    body = key.strip().splitlines()[1]  # a line of the key's base64 body
    assert leaks(body, p.export(), p.text) == []
    assert in_git_cache(body) == []


def test_monorepo_two_charts_from_one_commit(
    sb: Env, git: GitServer, project, namespace: str, name: str
) -> None:
    # A second chart next to charts/hello: the same templates under another name.
    other: dict[str, str] = {}
    for path in (REPO / "charts" / "hello").rglob("*"):
        if path.is_file():
            rel = path.relative_to(REPO / "charts" / "hello").as_posix()
            text = path.read_text()
            if rel == "Chart.yaml":
                text = text.replace("name: hello", "name: other")
            other[f"charts/other/{rel}"] = text
    commit = branch(git, name, other)
    p = project()
    p.config(TOKEN_CONFIG, git.token, secret=True)
    p.releases(
        [
            release(namespace, https_source(git, name)),
            release(f"{namespace}-o", https_source(git, name, "charts/other"), name="other"),
        ]
    )
    out = p.up().outputs["releases"].value
    assert out["hello"]["source"] == f"git+{git.https_url()}@{commit}:charts/hello"
    assert out["other"]["source"] == f"git+{git.https_url()}@{commit}:charts/other"
    assert out["hello"]["chart"] == "hello" and out["other"]["chart"] == "other"
    assert ready(sb, namespace, "hello") == 1 and ready(sb, f"{namespace}-o", "other") == 1


@pytest.mark.parametrize("transport", ["https", "ssh"])
def test_wrong_credential_names_repo_not_secret(
    git: GitServer, project, namespace: str, tmp_path: Path, transport: str
) -> None:
    p = project()
    if transport == "https":
        wrong = f"wrong-{pysecrets.token_hex(6)}"
        p.config(TOKEN_CONFIG, wrong, secret=True)
        p.releases([release(namespace, https_source(git, "main"))])
        url, method = git.https_url(), "token"
    else:
        keyfile = tmp_path / "wrong_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keyfile)], check=True
        )
        wrong = keyfile.read_text().strip().splitlines()[1]
        p.config("helm-enterprise:gitKey", keyfile.read_text(), secret=True)
        p.releases(
            [release(namespace, ssh_source(git, "main", {"config": "helm-enterprise:gitKey"}))]
        )
        url, method = git.ssh_url(), "sshKey"
    error = p.preview_fails()
    assert f"repository git+{url} rejected the credentials (auth: {method})" in error
    # A cold cache fetches the branch by name at once; a warm one asks for it first.
    assert "resolving ref 'main'" in error or "fetching ref 'main'" in error
    assert "Traceback" not in error
    assert wrong not in error and wrong not in p.text


def test_host_down_cached_commit_deploys_branch_fails(
    sb: Env, git: GitServer, project, namespace: str, name: str
) -> None:
    commit = branch(git, name)
    first = project()
    first.config(TOKEN_CONFIG, git.token, secret=True)
    first.releases([release(namespace, https_source(git, commit))])
    assert (
        first.up().outputs["releases"].value["hello"]["source"].endswith(f"@{commit}:charts/hello")
    )

    git.down()
    try:
        # A new stack (another machine's checkout, a new environment) pins the same commit:
        # it is in the cache, so it deploys without the Git host.
        pinned = project()
        pinned.config(TOKEN_CONFIG, git.token, secret=True)
        pinned.releases([release(f"{namespace}-b", https_source(git, commit))])
        out = pinned.up().outputs["releases"].value["hello"]
        assert out["status"] == "deployed"
        assert out["source"] == f"git+{git.https_url()}@{commit}:charts/hello"
        assert "from the cache" in pinned.text
        assert ready(sb, f"{namespace}-b") == 1

        # A branch has to be resolved against the host: a clear error naming the repository.
        moving = project()
        moving.config(TOKEN_CONFIG, git.token, secret=True)
        moving.releases([release(f"{namespace}-c", https_source(git, name))])
        error = moving.preview_fails()
        assert f"repository git+{git.https_url()} is unreachable while resolving ref" in error
        assert "Traceback" not in error and git.token not in error
    finally:
        git.up(progress=lambda _m: None)


def test_a_branch_is_rechecked_in_one_request(git: GitServer, name: str, tmp_path: Path) -> None:
    """With the chart cached, re-resolving a branch over HTTPS is one GET of the ref
    advertisement (no git process, no protocol-v2 round trips), and it resolves what
    ``git ls-remote`` resolves, also after the branch moves. A repository of its own, so
    that the Git server's log holds only this test's requests for it."""
    repo = f"{name}.git"
    bare = git.repos / repo
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(git.repos / FIXTURE), str(bare)], check=True
    )
    subprocess.run(["git", "-C", str(bare), "config", "uploadpack.allowFilter", "true"], check=True)
    try:
        url = git.https_url(repo)
        src = {**https_source(git, "main"), "url": f"git+{url}", "auth": {"token": "x:a#b"}}
        source = validate_model(GitSource, src)
        creds = GitCredentials(token=git.token)
        cache = GitCache(tmp_path / "cache")
        assert GitFetcher(cache=cache).checkout(source, creds).commit == git.head(repo)
        moved = git.commit({f"e2e/{name}": "moved"}, "e2e: move", repo=repo)
        log = _paths.logs_dir() / "git-nginx.log"

        def requests_after(offset: int) -> list[str]:
            time.sleep(0.5)  # nginx logs a request when its response is done
            with log.open("rb") as fh:
                fh.seek(offset)
                return [ln for ln in fh.read().decode().splitlines() if f"/{repo}/" in ln]

        offset = log.stat().st_size
        # A new fetcher is a new run: nothing in memory. The branch moved: one GET says
        # so, then git fetches the new commit (its own requests).
        assert GitFetcher(cache=cache).checkout(source, creds).commit == moved
        fetched = requests_after(offset)
        assert "GET /" + repo + "/info/refs?service=git-upload-pack " in fetched[0], fetched
        offset = log.stat().st_size
        cached = GitFetcher(cache=cache).checkout(source, creds)
        assert cached.cached and cached.commit == moved
        [only] = requests_after(offset)
        assert "GET /" + repo + "/info/refs?service=git-upload-pack " in only
        ls_remote = subprocess.run(
            ["git", "ls-remote", str(bare), "refs/heads/main"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert ls_remote.stdout.split()[0] == moved
    finally:
        shutil.rmtree(bare, ignore_errors=True)
