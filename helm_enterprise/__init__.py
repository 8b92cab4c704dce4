"""helm_enterprise: Pulumi components that run Helm releases the way enterprises need."""

from __future__ import annotations

__all__: list[str] = []
