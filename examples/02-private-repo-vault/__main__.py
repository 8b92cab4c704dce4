"""A chart pulled from a private HTTPS repository with credentials from Vault, and a
database password injected from Vault as a Pulumi secret.

Stack config (`pulumi config set ...`):
    repoUrl        https://charts.example.com   (the private chart repository)
    repoCaFile     /path/to/ca.crt              (optional: the repository's CA)
and Vault through the usual environment (VAULT_ADDR, VAULT_TOKEN) or
`helm-enterprise:vault` config. Vault must hold:
    secret/charts   username, password   (repository credentials)
    secret/hello    password             (the application's secret)
"""

import pulumi

from helm_enterprise import Release

cfg = pulumi.Config()
repository = {
    "url": cfg.require("repoUrl"),
    "auth": [
        {
            "method": "basic",
            "username": "vault:secret/charts#username",
            "password": "vault:secret/charts#password",
        }
    ],
}
if cfg.get("repoCaFile"):
    repository["caFile"] = cfg.require("repoCaFile")

app = Release(
    "hello-private",
    {
        "namespace": "private-demo",
        "create_namespace": True,
        "chart": {"name": "hello", "version": "0.1.0", "repository": repository},
        "values": {"message": "pulled from a private repository"},
        # Lands in the chart's Secret; the pods roll when it rotates in Vault.
        "secret_values": {"secret.password": "vault:secret/hello#password"},
    },
)

pulumi.export("status", app.status)
pulumi.export("source", app.resolved_source)
pulumi.export("secretsChecksum", app.values_checksum)
