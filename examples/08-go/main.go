// The SDK is generated from the package schema: `helm-enterprise sdk gen --language go`
// writes sdk/go, which go.mod points at with a replace directive.
package main

import (
	"example.com/helm-enterprise/sdk/go/helmenterprise"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		team, err := helmenterprise.NewTenant(ctx, "team", &helmenterprise.TenantArgs{
			Name:       pulumi.StringRef("go-team"),
			Namespaces: []string{"go-demo"},
			Tier:       "small",
		})
		if err != nil {
			return err
		}
		mode := helmenterprise.ModeRelease
		web, err := helmenterprise.NewRelease(ctx, "web", &helmenterprise.ReleaseArgs{
			Name:      pulumi.StringRef("hello-go"),
			Namespace: pulumi.String("go-demo"),
			Tenant:    pulumi.StringRef("go-team"),
			Chart:     &helmenterprise.ChartArgs{Path: pulumi.StringRef("../../charts/hello")},
			Mode:      &mode,
			Values: pulumi.Map{
				"message":      pulumi.String("deployed from Go"),
				"replicaCount": pulumi.Int(1),
			},
			// Lands in the chart's Secret as a Pulumi secret; never in state in plain text.
			SecretValues: pulumi.Map{"secret.password": pulumi.String("env:HE_APP_PASSWORD")},
			Timeouts:     map[string]interface{}{"readiness": "5m"},
		}, pulumi.DependsOn([]pulumi.Resource{team}))
		if err != nil {
			return err
		}
		ctx.Export("status", web.Status)
		ctx.Export("revision", web.Revision)
		ctx.Export("namespace", web.Namespace)
		ctx.Export("references", web.References)
		return nil
	})
}
