"""What each field of a release means: one text for the docs and the package schema.

``docs/features/configuration.md``'s release table shows these rows (a unit test keeps the
two in step), and the provider's schema (``helm_enterprise.provider``) takes its property
descriptions from here, so a YAML or TypeScript user reads the same words as the docs.
Keys are the camelCase names of :class:`~helm_enterprise.config.release.ReleaseConfig`'s
fields; values are ``(default, meaning)`` as the table shows them.
"""

RELEASE_FIELDS: dict[str, tuple[str, str]] = {
    "name": ("resource name", "Helm release name (DNS label, ≤ 53)"),
    "namespace": ("`default`", "the namespace the release is installed in"),
    "createNamespace": (
        "`false`",
        "the namespace becomes a child resource (labelled, deleted last)",
    ),
    "mode": ("`release`", "`release` (helm.v3.Release) or `chart` (helm.v4.Chart)"),
    "chartMode": ("—", "chart mode only: `hooks` = `warn` (default) or `refuse`, see below"),
    "chart": (
        "—",
        "exactly one of `{name, version, repository}`, `{path}`, `{git}`, `{name: oci://...}`",
    ),
    "values": ("`{}`", "may contain `${vault:path#key}` templates"),
    "secretValues": ("`{}`", "values path → secret reference"),
    "timeouts": ("global", "`deployStart`, `readiness`, `cleanup`, per-operation overrides"),
    "rollback": (
        "atomic",
        "`atomic`, `cleanupOnFail`, `historyLimit`, `recoverPending`, `recoverFailedInstall`, "
        "`restoreOutOfBand`",
    ),
    "validation": ("on", "`schema`, `ownership`, `serverDryRun`, `policy`"),
    "rollOnSecretChange": ("on", "`enabled`, `valuesPath` (default `podAnnotations`)"),
    "wait": ("`true`", "wait for readiness (Helm `--wait`)"),
    "waitForJobs": ("`false`", "also wait for the release's Jobs to complete"),
    "description": ("—", "Helm's description of each revision (the stack's mark is appended)"),
    "labels": ("`{}`", "extra labels on what helm_enterprise creates"),
    "dependsOn": (
        "`[]`",
        "release names of the same stack (cycles are an error, naming the path), or "
        "`{stack, release}` of another stack; see dependencies.md",
    ),
    "adopt": ("`false`", "take over a Helm release installed outside helm_enterprise"),
    "tenant": ("—", "the tenant the release belongs to; checked against it (tenants.md)"),
    "protect": ("`false`", "Pulumi's `protect` for the release's children"),
    "retainOnDelete": ("`false`", "Pulumi's `retainOnDelete` for the release's children"),
    "health": (
        "none",
        "health checks after readiness (`checks` of type http, prometheus or dependency, "
        "`retries`, `deadline`, `rollbackOnFailure`), see health-checks.md",
    ),
    "slos": (
        "`[]`",
        "service level objectives: Prometheus rules with Sloth's names and burn-rate "
        "alerts, see slos.md",
    ),
    "sloGate": (
        "`none`",
        "`page` / `ticket`: no install or upgrade while a burn-rate alert of the release's "
        "SLOs fires, see slos.md",
    ),
    "autoscaling": (
        "none",
        "an HPA (`minReplicas`, `maxReplicas`, `cpu`, `memory`, `behavior`, `target`) or "
        "the chart's own HPA values (`chartValues`), see autoscaling.md",
    ),
    "vpa": (
        "none",
        "a VerticalPodAutoscaler (`updateMode`, `controlledResources`, `minAllowed`, "
        "`maxAllowed`), see autoscaling.md",
    ),
    "strategy": (
        "none",
        "progressive delivery: `blueGreen` (`activeService`, `previewService`, "
        "`autoPromotionEnabled`, `autoPromotionSeconds`, `previewReplicaCount`, "
        "`scaleDownDelaySeconds`, `prePromotionAnalysis`, `postPromotionAnalysis`) or "
        "`canary` (`service`, `steps`, `analysis`), plus `webhooks`, see "
        "progressive-delivery.md",
    ),
}


def table_row(field: str) -> str:
    """The field's row in configuration.md's release table."""
    default, meaning = RELEASE_FIELDS[field]
    return f"| `{field}` | {default} | {meaning} |"
