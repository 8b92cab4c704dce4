"""Benchmark: Git chart sources (T2.1, X.4) — first fetch and cached runs.

Generates a repository with 2,000 commits and over 50 MB of (incompressible) history, with
a chart under ``charts/app``, serves it through the sandbox's Git server (HTTPS, token) and
measures, in the same run:

* a plain full ``git clone`` (the baseline);
* helm_enterprise's first fetch (shallow ``--depth 1``, ``--filter=blob:none``, sparse
  checkout of ``charts/app``) into an empty cache;
* a second run with the cache warm: the branch re-resolved (over HTTPS one request of the
  ref advertisement), the branch with ``interval`` set (resolved within it: no network),
  and a pinned commit (no
  network at all).

Bytes are what the Git server sent (response bodies in its nginx access log, i.e. real
network bytes over TLS, headers and TLS framing not counted; request bodies are small).
Prints the median over rounds of each per-round ratio; targets: first fetch <= 0.2 of the
full clone (bytes and time), cached run <= 5 % of the first fetch's time.

    .venv/bin/python benchmarks/bench_git_fetch.py [--commits 2000] [--mb 54] [--rounds 3]

Needs the sandbox's Git server (`helm-enterprise sandbox up -c git`); starts it if needed.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from helm_enterprise.config import GitSource, validate_model
from helm_enterprise.sandbox import _paths
from helm_enterprise.sandbox.gitserver import GitServer
from helm_enterprise.sandbox.platform import Sandbox
from helm_enterprise.sources.git import GitCache, GitCredentials, GitFetcher

REPO = Path(__file__).resolve().parents[1]
ROTATING_FILES = 200  # data/ files rewritten in turn: a big history, a moderate HEAD tree
_LOG_LINE = re.compile(r'"(?:GET|POST) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) (?P<bytes>\d+)')


def generate(bare: Path, commits: int, total_mb: int) -> None:
    """A bare repository written with ``git fast-import``: every commit rewrites one of
    ``ROTATING_FILES`` random files under data/; every 100th also touches the chart."""
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(bare)], check=True)
    subprocess.run(["git", "-C", str(bare), "config", "uploadpack.allowFilter", "true"], check=True)
    blob_size = total_mb * 1024 * 1024 // commits
    chart = {
        f"charts/app/{p.relative_to(REPO / 'charts' / 'hello').as_posix()}": p.read_bytes()
        for p in sorted((REPO / "charts" / "hello").rglob("*"))
        if p.is_file()
    }
    chart["charts/app/Chart.yaml"] = chart["charts/app/Chart.yaml"].replace(
        b"name: hello", b"name: app"
    )
    proc = subprocess.Popen(
        ["git", "-C", str(bare), "fast-import", "--quiet"], stdin=subprocess.PIPE
    )
    assert proc.stdin is not None
    out = proc.stdin

    def data(payload: bytes) -> None:
        out.write(b"data %d\n" % len(payload))
        out.write(payload)
        out.write(b"\n")

    start = 1_700_000_000
    for i in range(commits):
        out.write(b"commit refs/heads/main\n")
        out.write(b"committer bench <bench@example.invalid> %d +0000\n" % (start + i * 60))
        data(b"commit %d" % i)
        if i == 0:
            for path, content in chart.items():
                out.write(b"M 100644 inline %s\n" % path.encode())
                data(content)
        elif i % 100 == 0:
            out.write(b"M 100644 inline charts/app/values.yaml\n")
            data(chart["charts/app/values.yaml"] + b"# revision %d\n" % i)
        out.write(b"M 100644 inline data/f%04d.bin\n" % (i % ROTATING_FILES))
        data(os.urandom(blob_size))
    out.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")


def packed_size(bare: Path) -> int:
    return sum(p.stat().st_size for p in (bare / "objects").rglob("*") if p.is_file())


class ServedBytes:
    """Response bytes the Git server's nginx logged for one repository since ``mark()``."""

    def __init__(self, repo: str) -> None:
        self.log = _paths.logs_dir() / "git-nginx.log"
        self.prefix = f"/{repo}/"
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.log.stat().st_size

    def since_mark(self) -> int:
        with self.log.open("rb") as fh:
            fh.seek(self.offset)
            text = fh.read().decode(errors="replace")
        return sum(
            int(m["bytes"]) for m in _LOG_LINE.finditer(text) if m["path"].startswith(self.prefix)
        )


def measure(served: ServedBytes, action: Callable[[], object]) -> tuple[float, int]:
    served.mark()
    t0 = time.perf_counter()
    action()
    elapsed = time.perf_counter() - t0
    time.sleep(0.2)  # nginx writes the access log line when the response is done
    return elapsed, served.since_mark()


def full_clone(url: str, token: str, ca_file: Path, target: Path) -> None:
    """The baseline: ``git clone`` as a user would run it (the token the same way)."""
    header = base64.b64encode(f"git:{token}".encode()).decode()
    env = {
        **os.environ,
        "GIT_SSL_CAINFO": str(ca_file),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{url}.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {header}",
    }
    subprocess.run(["git", "clone", "-q", url, str(target)], env=env, check=True)


def mb(n: float) -> str:
    return f"{n / 1024 / 1024:.2f} MB" if n >= 100 * 1024 else f"{n / 1024:.1f} KB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=2000)
    ap.add_argument("--mb", type=int, default=54, help="size of the random history, MB")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    print("starting the sandbox's Git server ...")
    sandbox = Sandbox()
    sandbox.up(["git"], progress=lambda m: print(f"  {m}"))
    git = GitServer(sandbox.toolchain(["git"]))
    name = f"bench-{uuid.uuid4().hex[:8]}.git"
    bare = git.repos / name
    print(f"generating {name}: {args.commits} commits, {args.mb} MB of random history ...")
    t0 = time.perf_counter()
    generate(bare, args.commits, args.mb)
    head = subprocess.run(
        ["git", "-C", str(bare), "rev-parse", "main"], capture_output=True, text=True, check=True
    ).stdout.strip()
    count = subprocess.run(
        ["git", "-C", str(bare), "rev-list", "--count", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    size = packed_size(bare)
    print(f"  {count} commits, {mb(size)} packed, in {time.perf_counter() - t0:.1f}s")

    url = git.https_url(name)
    served = ServedBytes(name)
    creds = GitCredentials(token=git.token)

    def source(ref: str, interval: str | None = None) -> GitSource:
        return validate_model(
            GitSource,
            {
                "url": f"git+{url}",
                "ref": ref,
                "interval": interval,
                "path": "charts/app",
                "caFile": str(git.ca_file),
                "auth": {"token": "vault:secret/bench/git#token"},
            },
        )

    def one_round() -> dict[str, float]:
        with tempfile.TemporaryDirectory(prefix="bench-git-") as tmp:
            cache = GitCache(Path(tmp) / "cache")

            def run(ref: str, interval: str | None = None) -> bool:
                # A new fetcher is a new run: nothing in memory, only the cache on disk.
                return GitFetcher(cache=cache).checkout(source(ref, interval), creds).cached

            full_t, full_b = measure(
                served, lambda: full_clone(url, git.token, git.ca_file, Path(tmp) / "full")
            )
            first_t, first_b = measure(served, lambda: run("main"))
            branch_t, branch_b = measure(served, lambda: run("main"))
            pinned_t, pinned_b = measure(served, lambda: run(head))
            run("main", "10m")  # resolved once with an interval ...
            recent_t, _ = measure(served, lambda: run("main", "10m"))  # ... then reused
            assert run(head), "a pinned commit must be served from the cache"
        return {
            "full_t": full_t,
            "full_b": full_b,
            "first_t": first_t,
            "first_b": first_b,
            "branch_t": branch_t,
            "branch_b": branch_b,
            "pinned_t": pinned_t,
            "pinned_b": pinned_b,
            "recent_t": recent_t,
        }

    rows: list[dict[str, float]] = []
    try:
        for r in range(args.rounds):
            x = one_round()
            rows.append(x)
            print(
                f"round {r + 1}: full clone {x['full_t']:.2f}s {mb(x['full_b'])} | first fetch "
                f"{x['first_t']:.3f}s {mb(x['first_b'])} | cached run: branch "
                f"{x['branch_t'] * 1000:.0f} ms {mb(x['branch_b'])}, pinned commit "
                f"{x['pinned_t'] * 1000:.1f} ms {mb(x['pinned_b'])}"
            )
    finally:
        shutil.rmtree(bare, ignore_errors=True)

    def med(fn: Callable[[dict[str, float]], float]) -> float:
        return statistics.median(fn(row) for row in rows)

    print()
    print(f"repository:                       {count} commits, {mb(size)} packed history")
    print(
        f"bytes, first fetch / full clone:  {med(lambda x: x['first_b'] / x['full_b']):.4f}"
        f"   (target <= 0.2; {mb(med(lambda x: x['first_b']))} vs "
        f"{mb(med(lambda x: x['full_b']))})"
    )
    print(
        f"time,  first fetch / full clone:  {med(lambda x: x['first_t'] / x['full_t']):.3f}"
        f"    (target <= 0.2; {med(lambda x: x['first_t']):.3f}s vs "
        f"{med(lambda x: x['full_t']):.2f}s)"
    )
    print(
        f"time,  cached run / first fetch:  pinned commit "
        f"{med(lambda x: x['pinned_t'] / x['first_t']):.4f}, branch (one request) "
        f"{med(lambda x: x['branch_t'] / x['first_t']):.3f}, branch within its interval "
        f"{med(lambda x: x['recent_t'] / x['first_t']):.4f}   (target <= 0.05)"
    )
    print(f"rounds: {args.rounds}; each value is the median of the per-round ratios")


if __name__ == "__main__":
    main()
