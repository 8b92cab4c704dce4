// The SDK is generated from the package schema: `helm-enterprise sdk gen --language nodejs`
// writes sdk/nodejs, and `npm install ./sdk/nodejs` makes it the "helm-enterprise" module.
import * as pulumi from "@pulumi/pulumi";
import * as he from "helm-enterprise";

const team = new he.Tenant("team", { name: "ts-team", namespaces: ["ts-demo"], tier: "small" });

const web = new he.Release("web", {
    name: "hello-ts",
    namespace: "ts-demo",
    tenant: "ts-team",
    chart: { path: "../../charts/hello" },
    mode: he.Mode.Release,
    values: { message: "deployed from TypeScript", replicaCount: 1 },
    // Lands in the chart's Secret as a Pulumi secret; never in state in plain text.
    secretValues: { "secret.password": "env:HE_APP_PASSWORD" },
    timeouts: { readiness: "5m" },
}, { dependsOn: [team] });

export const status: pulumi.Output<string> = web.status;
export const revision = web.revision;
export const namespace = web.namespace;
export const references = web.references;
