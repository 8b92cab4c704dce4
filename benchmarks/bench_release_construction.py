"""Benchmark: the cost of helm_enterprise.Release over a component wrapping a bare Release (X.4).

Constructs N (default 1,000) Releases, each with a basic-auth repository whose password is
a Vault reference and 5 Vault-backed secret values (50 distinct Vault paths in all, read
from the sandbox's real Vault), under Pulumi's mocks. Three variants run in each round:

* ``bare``: N ``kubernetes.helm.v3.Release`` with the same values (already resolved);
* ``floor``: N empty ComponentResources, each wrapping that same Release — what any
  component costs (a second registration, a parent);
* ``helm_enterprise``: N ``helm_enterprise.Release``.

The primary ratio is helm_enterprise over the floor (target <= 1.10x): that is the part
this package adds. helm_enterprise over bare is printed as secondary information. The
variants run interleaved, in a rotating order per round, after a warm-up round; each ratio
is taken per round (the variants of one round run back to back, under the same load) and
printed as its min and median over the rounds, for wall time, CPU time and CPU time outside
Python's garbage collector (about half of every variant's CPU is collection). It also prints
the number of Vault reads (target: exactly one per distinct path and run).

    .venv/bin/python benchmarks/bench_release_construction.py [--releases 1000] [--rounds 7]
        [--warmup 1] [--profile helm_enterprise --profile-out release.prof]

``--profile`` runs one variant once under cProfile instead and prints its top entries.
Needs the sandbox's Vault (`helm-enterprise sandbox up -c vault`); starts it if needed.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pulumi
import pulumi_kubernetes as k8s

from helm_enterprise import Release
from helm_enterprise.components.context import Platform, set_default_platform
from helm_enterprise.config import ClusterConfig, TokenAuth, VaultConfig
from helm_enterprise.config.stack import CredentialSource
from helm_enterprise.sandbox.platform import Sandbox
from helm_enterprise.secrets import SecretResolver, VaultBackend

PATHS = 50
REFS_PER_RELEASE = 5
REPO = Path(__file__).resolve().parents[1]


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == "kubernetes:helm.sh/v3:Release":
            state["status"] = {
                "status": "deployed",
                "revision": 1,
                "namespace": "default",
                "chart": "hello",
                "version": "0.1.0",
            }
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


class Timing(NamedTuple):
    """One run: wall-clock seconds and the process's CPU seconds (all threads). CPU time
    leaves out the time spent waiting for a core, so its ratios hold up when another job
    loads the machine; wall time also counts waiting for Vault."""

    wall: float
    cpu: float
    gc: float  # CPU seconds of it spent in Python's garbage collector


class _CollectorClock:
    """CPU time spent in the garbage collector (gc.callbacks around each collection)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._start = 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.total += time.process_time() - self._start


_collector = _CollectorClock()


def timed(program: Callable[[], None]) -> Timing:
    pulumi.runtime.set_mocks(Mocks(), project="bench", stack="bench", preview=False)
    start, start_cpu, start_gc = time.perf_counter(), time.process_time(), _collector.total

    @pulumi.runtime.test
    def body() -> None:
        program()

    body()
    return Timing(
        time.perf_counter() - start,
        time.process_time() - start_cpu,
        _collector.total - start_gc,
    )


def seed_vault(sandbox: Sandbox) -> tuple[str, str]:
    vault = sandbox.vault()
    sandbox.up(["vault"], progress=lambda m: print(f"  {m}"))
    client = vault.client()
    for i in range(PATHS):
        client.secrets.kv.v2.create_or_update_secret(
            path=f"bench/p{i}",
            secret={f"k{j}": f"value-{i}-{j}" for j in range(REFS_PER_RELEASE)},
            mount_point="secret",
        )
    return vault.address, vault.root_token


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--releases", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=1, help="rounds run first and not counted")
    ap.add_argument(
        "--profile",
        choices=("bare", "floor", "helm_enterprise"),
        help="run this variant once under cProfile instead of the benchmark",
    )
    ap.add_argument("--profile-out", type=Path, help="also write the cProfile stats here")
    args = ap.parse_args()
    n = args.releases

    print("starting the sandbox's Vault and writing 50 secrets ...")
    address, token = seed_vault(Sandbox())
    values = {"replicaCount": 1, "message": "bench"}

    def bare_args(i: int) -> k8s.helm.v3.ReleaseArgs:
        # The hand-written equivalent: the same chart, repository password and five
        # secret values (already resolved) passed as Pulumi secrets.
        secret = {f"s{j}": pulumi.Output.secret(f"value-{i}-{j}") for j in range(REFS_PER_RELEASE)}
        return k8s.helm.v3.ReleaseArgs(
            name=f"r{i}",
            chart="hello",
            version="0.1.0",
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(
                repo="https://charts.example", username="ci", password=pulumi.Output.secret("x")
            ),
            values=pulumi.Output.secret({**values, "secret": secret}),
        )

    def bare() -> None:
        for i in range(n):
            k8s.helm.v3.Release(f"bare-{i}", bare_args(i))

    class Wrapper(pulumi.ComponentResource):
        """The floor: any component around a Release costs a second registration."""

        def __init__(self, name: str, i: int) -> None:
            super().__init__("bench:index:Wrapper", name, None, None)
            rel = k8s.helm.v3.Release(
                f"{name}-r", bare_args(i), pulumi.ResourceOptions(parent=self)
            )
            self.register_outputs({"status": rel.status})

    def wrapped() -> None:
        for i in range(n):
            Wrapper(f"wrap-{i}", i)

    backends: list[VaultBackend] = []

    def enterprise() -> None:
        backend = VaultBackend(
            VaultConfig(
                address=address, auth=TokenAuth(token=CredentialSource(env="BENCH_VAULT_TOKEN"))
            )
        )
        backends.append(backend)
        platform = Platform(
            cluster=ClusterConfig(kubeconfig="/nonexistent", unreachable="warn"), base_dir=REPO
        )
        platform._resolver = SecretResolver({"vault": backend})
        set_default_platform(platform)
        for i in range(n):
            secret_values = {
                f"secret.s{j}": f"vault:secret/bench/p{(i * REFS_PER_RELEASE + j) % PATHS}#k{j}"
                for j in range(REFS_PER_RELEASE)
            }
            Release(
                f"he-{i}",
                {
                    "name": f"r{i}",
                    "chart": {
                        "name": "hello",
                        "version": "0.1.0",
                        "repository": {
                            "url": "https://charts.example",
                            "auth": [
                                {
                                    "method": "basic",
                                    "username": "ci",
                                    "password": "vault:secret/bench/p0#k0",
                                }
                            ],
                        },
                    },
                    "values": values,
                    "secret_values": secret_values,
                    # Chart fetching and cluster checks are I/O measured elsewhere; this
                    # benchmark is about what the component adds to constructing a release.
                    "validation": {"schema": False, "ownership": False},
                    "rollback": {
                        "recover_pending": False,
                        "recover_failed_install": False,
                        "restore_out_of_band": False,
                    },
                },
            )

    os.environ["BENCH_VAULT_TOKEN"] = token
    variants: dict[str, Callable[[], None]] = {
        "bare": bare,
        "floor": wrapped,
        "helm_enterprise": enterprise,
    }
    if args.profile:
        profile(variants[args.profile], args.profile_out)
        return

    names = list(variants)
    times: dict[str, list[Timing]] = {v: [] for v in names}
    for r in range(args.warmup + args.rounds):
        # Interleaved, in a rotating order: no variant always runs first (or last) in a
        # round, where a drifting load (a CI job on the same cores) would favour it.
        order = names[r % len(names) :] + names[: r % len(names)]
        measured = {v: run_once(variants[v]) for v in order}
        label = f"warm-up {r + 1}" if r < args.warmup else f"round {r + 1 - args.warmup}"
        print(
            f"{label}: "
            + ", ".join(
                f"{v} {measured[v].wall:.2f}s ({measured[v].cpu:.2f}s cpu, "
                f"{measured[v].gc:.2f}s of it gc)"
                for v in order
            )
        )
        if r < args.warmup:
            backends.clear()
            continue
        for v in names:
            times[v].append(measured[v])
    reads = [b.reads for b in backends]
    print()
    refs = f"{REFS_PER_RELEASE} Vault refs each, {PATHS} distinct paths"
    print(f"releases: {n} ({refs}); {args.rounds} rounds after {args.warmup} warm-up")
    for v in names:
        for clock in CLOCKS:
            xs = [reading(t, clock) for t in times[v]]
            print(
                f"  {v + ':':<17} {clock:>10}  min {min(xs):6.2f}s   "
                f"median {statistics.median(xs):6.2f}s"
            )
    # Ratios are taken per round (one round's variants run back to back, under the same
    # load) and summarised by their min and median over the rounds.
    print()
    for label, num, den, note in (
        ("helm_enterprise / floor", "helm_enterprise", "floor", "(primary; target <= 1.10x)"),
        ("floor / bare", "floor", "bare", "(any component around a Release)"),
        ("helm_enterprise / bare", "helm_enterprise", "bare", "(secondary)"),
    ):
        print(f"{label}  {note}")
        for clock in CLOCKS:
            ratios = [
                reading(a, clock) / reading(b, clock)
                for a, b in zip(times[num], times[den], strict=True)
            ]
            print(
                f"  {clock:>10}  min {min(ratios):.2f}x   median {statistics.median(ratios):.2f}x"
                f"   per round {', '.join(f'{x:.2f}' for x in ratios)}"
            )
    print(f"Vault reads per run: {reads}   (target: exactly {PATHS} per run)")


# cpu-less-gc: the CPU time outside the garbage collector, whose share (about half of every
# variant's CPU: it walks Pulumi's futures and Outputs) grows with everything alive.
CLOCKS = ("wall", "cpu", "cpu-less-gc")


def reading(t: Timing, clock: str) -> float:
    return t.cpu - t.gc if clock == "cpu-less-gc" else float(getattr(t, clock))


def run_once(program: Callable[[], None]) -> Timing:
    """One timed run of a variant, after a full collection (so that garbage of the previous
    variant is not collected on this one's time)."""
    gc.collect()
    return timed(program)


def profile(program: Callable[[], None], out: Path | None) -> None:
    """Run ``program`` once (after one warm-up run) under cProfile; print the top entries."""
    timed(program)
    prof = cProfile.Profile()
    prof.enable()
    elapsed = timed(program)
    prof.disable()
    print(
        f"{elapsed.wall:.2f}s ({elapsed.cpu:.2f}s cpu) under cProfile; {elapsed.gc:.2f}s of it "
        "in the garbage collector, charged to whichever function was allocating at the time"
    )
    if out is not None:
        prof.dump_stats(out)
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
