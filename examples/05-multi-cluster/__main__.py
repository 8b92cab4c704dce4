"""Multi-cluster: one definition deployed to eu-1 and eu-2, one cluster at a time.

    pulumi stack init dev
    pulumi config set --path 'kubeconfigs.eu-1' ~/.kube/eu-1.yaml
    pulumi config set --path 'kubeconfigs.eu-2' ~/.kube/eu-2.yaml
    pulumi config set unreachable exclude     # or fail (the default)
    pulumi up

Before anything is registered, both clusters' APIs are checked (/version, /readyz). eu-1
is deployed first; eu-2 only once eu-1 is ready, and not at all when eu-1 fails. With
`unreachable: exclude` a cluster that is down is left as it was (with a warning and an
audit record) while the other is deployed; with `fail` the run stops before changing
anything.
"""

import pulumi

from helm_enterprise import MultiClusterRelease

config = pulumi.Config()
kubeconfigs = config.require_object("kubeconfigs")

hello = MultiClusterRelease(
    "hello",
    {
        "namespace": "multi-cluster-example",
        "create_namespace": True,
        "chart": {"path": "../../charts/hello"},
        "values": {"replicaCount": 1, "message": config.get("message") or "hello from the EU"},
        "clusters": [
            # Rolling order: eu-1, then eu-2. Overrides merge over the values above.
            {"name": "eu-1", "kubeconfig": kubeconfigs["eu-1"], "values": {"replicaCount": 2}},
            {
                "name": "eu-2",
                "kubeconfig": kubeconfigs["eu-2"],
                "values": {"podLabels": {"region": "eu-2"}},
            },
        ],
        "strategy": "rolling",
        "unreachable": config.get("unreachable") or "fail",
    },
)

pulumi.export("plan", hello.plan)
pulumi.export("deployed", hello.deployed)
pulumi.export("statuses", hello.statuses)
pulumi.export("revisions", hello.revisions)
