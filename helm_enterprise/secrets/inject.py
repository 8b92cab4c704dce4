"""Turning a release's secret references into Pulumi secrets and final chart values.

* Vault references (structured ``secretValues`` and ``${vault:...}`` templates) are read
  through the shared :class:`SecretResolver` (batched, cached) and wrapped with
  ``pulumi.Output.secret``;
* ``env:``, ``file:`` and custom-scheme references go through the same resolver and the
  backend registered for their scheme;
* Kubernetes Secret references go through the resolver too (its ``k8s`` backend, the
  default); with ``secrets.k8s.reader: pulumi`` none is registered and they are read
  through Pulumi (``Secret.get``) by a reader the component supplies, following the
  release's provider;
* secret stack config values come from ``pulumi.Config.require_secret``;
* Python ``Output`` values are wrapped as secrets whatever they were.

If anything secret is injected, the whole values object is a secret. A checksum of the
injected secrets' identities (Vault KV v2 versions; a SHA-256 digest where a store has no
versions) is put into the pod annotations so that rotation rolls the pods on the next
``pulumi up``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any

import pulumi

from helm_enterprise._values import copy_tree, set_path, split_path
from helm_enterprise.config.release import ReleaseConfig
from helm_enterprise.config.secrets import (
    BackendRef,
    ConfigRef,
    OutputRef,
    SecretKeyRef,
    SecretRef,
    VaultRef,
    parse_secret_ref,
    render_template,
    walk_templates,
)
from helm_enterprise.errors import ConfigError
from helm_enterprise.secrets.resolver import SecretResolver, StoreRef

CHECKSUM_ANNOTATION = "helm-enterprise.io/secrets-checksum"

K8sReader = Callable[[SecretKeyRef], pulumi.Output[str]]


def vault_refs(release: ReleaseConfig, extra: list[SecretRef] | None = None) -> list[VaultRef]:
    """Every Vault reference a release uses (values templates, secretValues, extra refs)."""
    refs: list[VaultRef] = [r for _, r in walk_templates(release.values)]
    refs += [r for r in release.secret_values.values() if isinstance(r, VaultRef)]
    refs += [r for r in (extra or []) if isinstance(r, VaultRef)]
    return refs


def config_secret(ref: ConfigRef) -> pulumi.Output[str]:
    """A secret Pulumi config value; ``ns:key`` or ``key`` (project namespace)."""
    ns, _, key = ref.config.rpartition(":")
    cfg = pulumi.Config(ns or None)
    full = f"{ns or pulumi.get_project()}:{key}"
    if cfg.get(key) is None:
        raise ConfigError(
            f"stack config {full} is not set",
            path=f"config:{ref.config}",
            hint=f"pulumi config set --secret {full} <value>",
        )
    if not pulumi.runtime.is_config_secret(full):
        raise ConfigError(
            f"stack config {full} holds a credential but is not a secret",
            path=f"config:{ref.config}",
            hint=f"re-set it with `pulumi config set --secret {full} <value>`",
        )
    return cfg.require_secret(key)


@dataclasses.dataclass
class InjectedValues:
    """Final values for Helm and what went into them."""

    values: pulumi.Input[dict[str, Any]]
    secret: bool
    references: list[str]
    checksum: str | pulumi.Output[str] | None


class SecretInjector:
    """Per-release conversion of references into secret Outputs."""

    def __init__(
        self,
        resolver: SecretResolver | None,
        k8s_reader: K8sReader,
        namespace: str | None = None,
    ) -> None:
        """``namespace`` is where ``k8s:name#key`` (no namespace) is read: the release's."""
        self._resolver = resolver
        self._k8s = k8s_reader
        self._namespace = namespace

    def _require_resolver(self, ref: VaultRef | BackendRef) -> SecretResolver:
        if self._resolver is None and isinstance(ref, BackendRef):
            raise ConfigError(
                f"{ref.describe()} needs a {ref.scheme} backend, but none is configured",
                path=ref.scheme,
                hint=f"pass secret_backends={{{ref.scheme!r}: <backend>}} to Platform",
            )
        if self._resolver is None or (
            isinstance(ref, VaultRef) and not self._resolver.serves("vault")
        ):
            raise ConfigError(
                f"{ref.describe()} needs Vault, but no Vault is configured",
                path="vault",
                hint="set helm-enterprise:vault or VAULT_ADDR/VAULT_TOKEN",
            )
        return self._resolver

    def _stored(self, ref: SecretRef) -> StoreRef | None:
        """``ref`` as the resolver reads it, or None when the resolver does not serve it."""
        if isinstance(ref, VaultRef | BackendRef):
            return ref
        if (
            isinstance(ref, SecretKeyRef)
            and self._resolver is not None
            and self._resolver.serves("k8s")
        ):
            if ref.namespace is None and self._namespace is not None:
                return ref.model_copy(update={"namespace": self._namespace})
            return ref
        return None

    def output(self, ref: SecretRef | str) -> pulumi.Output[str]:
        """A secret Output for any reference kind."""
        if isinstance(ref, str):
            ref = parse_secret_ref(ref)
        if isinstance(ref, VaultRef | BackendRef):
            return pulumi.Output.secret(self._require_resolver(ref).value(ref))
        if isinstance(ref, SecretKeyRef):
            stored = self._stored(ref)
            if stored is not None:
                assert self._resolver is not None
                return pulumi.Output.secret(self._resolver.value(stored))
            return pulumi.Output.secret(self._k8s(ref))
        if isinstance(ref, ConfigRef):
            return config_secret(ref)
        assert isinstance(ref, OutputRef)
        return pulumi.Output.secret(ref.output)

    def resolve(self, ref: SecretRef | str) -> str | pulumi.Output[str]:
        """The value when it is known now (Vault, read in the batch), else a secret Output.

        A plain value must only be placed inside something that is a secret as a whole
        (the release's values, the repository credentials); :meth:`output` wraps it.
        """
        if isinstance(ref, str):
            ref = parse_secret_ref(ref)
        if isinstance(ref, VaultRef | BackendRef):
            return self._require_resolver(ref).value(ref)
        stored = self._stored(ref)
        if stored is not None:
            assert self._resolver is not None
            return self._resolver.value(stored)
        return self.output(ref)

    def _identity(self, ref: SecretRef) -> str | pulumi.Output[str]:
        """What identifies this secret's current content without revealing it."""

        def digest(value: str) -> str:
            return f"{ref.describe()}:sha256:{hashlib.sha256(value.encode()).hexdigest()}"

        stored = self._stored(ref)
        if stored is not None:
            assert self._resolver is not None
            version = self._resolver.version(stored)
            if version is not None:
                return f"{ref.describe()}:v{version}"
            return digest(self._resolver.value(stored))
        return self.output(ref).apply(digest)

    def inject(self, release: ReleaseConfig) -> InjectedValues:
        values: dict[str, Any] = copy_tree(release.values)
        templates = walk_templates(values)
        refs_used: list[SecretRef] = []
        if templates:
            resolver = self._require_resolver(templates[0][1])
            resolver.prefetch(r for _, r in templates)
            resolved = {r.describe(): resolver.value(r) for _, r in templates}
            for path in sorted({p for p, _ in templates}):
                parts = split_path(path)
                node: Any = values
                for part in parts[:-1]:
                    node = node[part]
                node[parts[-1]] = render_template(node[parts[-1]], resolved)
            refs_used += [r for _, r in templates]
        if self._resolver is not None:
            # One batch for every store the resolver serves; a missing backend is reported
            # by resolve() below, naming the reference.
            stored = [self._stored(r) for r in release.secret_values.values()]
            self._resolver.prefetch(s for s in stored if s is not None)
        for path, ref in release.secret_values.items():
            # Plain when the resolver read it (the values object is a secret as a whole),
            # else an Output.
            set_path(values, path, self.resolve(ref))
            refs_used.append(ref)

        checksum: str | pulumi.Output[str] | None = None
        if refs_used and release.roll_on_secret_change.enabled:
            unique = {r.describe(): r for r in refs_used}
            ids = [self._identity(unique[k]) for k in sorted(unique)]

            def combine(parts: list[str]) -> str:
                return hashlib.sha256("\n".join(parts).encode()).hexdigest()

            if any(isinstance(i, pulumi.Output) for i in ids):
                checksum = pulumi.Output.all(*ids).apply(combine)
            else:
                checksum = combine([str(i) for i in ids])
            annotations: Any = values
            for part in split_path(release.roll_on_secret_change.values_path):
                annotations = annotations.setdefault(part, {})
            annotations[CHECKSUM_ANNOTATION] = checksum

        secret = bool(refs_used)
        final: pulumi.Input[dict[str, Any]] = pulumi.Output.secret(values) if secret else values
        return InjectedValues(
            values=final,
            secret=secret,
            references=sorted({r.describe() for r in refs_used}),
            checksum=checksum,
        )
