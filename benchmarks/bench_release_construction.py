"""Benchmark: the cost of helm_enterprise.Release over a bare helm.v3.Release (X.4).

Constructs N (default 1,000) Releases, each with a basic-auth repository whose password is
a Vault reference and 5 Vault-backed secret values (50 distinct Vault paths in all, read
from the sandbox's real Vault), under Pulumi's mocks — and, in the same run, N bare
``kubernetes.helm.v3.Release`` resources with the same values. Prints the time ratio
(target <= 1.5x) and the number of Vault reads (target: exactly one per distinct path).

    .venv/bin/python benchmarks/bench_release_construction.py [--releases 1000] [--rounds 2]

Needs the sandbox's Vault (`helm-enterprise sandbox up -c vault`); starts it if needed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def timed(program: Callable[[], None]) -> float:
    pulumi.runtime.set_mocks(Mocks(), project="bench", stack="bench", preview=False)
    start = time.perf_counter()

    @pulumi.runtime.test
    def body() -> None:
        program()

    body()
    return time.perf_counter() - start


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
    ap.add_argument("--rounds", type=int, default=5)
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

    import os

    os.environ["BENCH_VAULT_TOKEN"] = token
    base_times: list[float] = []
    floor_times: list[float] = []
    he_times: list[float] = []
    for r in range(args.rounds):
        base_times.append(timed(bare))
        floor_times.append(timed(wrapped))
        he_times.append(timed(enterprise))
        print(
            f"round {r + 1}: bare {base_times[-1]:.2f}s, empty component {floor_times[-1]:.2f}s, "
            f"helm_enterprise {he_times[-1]:.2f}s"
        )
    base, floor, he = min(base_times), min(floor_times), min(he_times)
    reads = [b.reads for b in backends]
    print()
    refs = f"{REFS_PER_RELEASE} Vault refs each, {PATHS} distinct paths"
    print(f"releases:                     {n} ({refs})")
    for label, best, all_times in (
        ("bare helm.v3.Release:   ", base, base_times),
        ("empty component + Release", floor, floor_times),
        ("helm_enterprise.Release:", he, he_times),
    ):
        median = statistics.median(all_times)
        print(f"{label}      {best:.2f}s (min of {args.rounds}; median {median:.2f}s)")
    # Each round measures all three back to back; the median of the per-round ratios is
    # robust against the load of a shared 2-core machine drifting between rounds.
    ratios = [h / b for h, b in zip(he_times, base_times, strict=True)]
    floors = [f / b for f, b in zip(floor_times, base_times, strict=True)]
    print(
        f"ratio (median of rounds):     {statistics.median(ratios):.2f}x   (target <= 1.5x; "
        f"per round {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    print(f"floor, any component:         {statistics.median(floors):.2f}x")
    print(f"Vault reads per run:          {reads}   (target: exactly {PATHS} per run)")


if __name__ == "__main__":
    main()
