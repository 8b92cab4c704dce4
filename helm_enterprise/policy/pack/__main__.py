"""The helm-enterprise policy pack: every rule of :mod:`helm_enterprise.policy.rules`.

This is the only place a ``PolicyPack`` is constructed (constructing one starts the
analyzer's gRPC server and blocks). Run by the Pulumi CLI, never imported.
"""

from __future__ import annotations

from pulumi_policy import PolicyPack

from helm_enterprise.policy.pack_policies import policies

PolicyPack(name="helm-enterprise", policies=policies())
