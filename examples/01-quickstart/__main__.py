"""Quickstart: one release of the bundled `hello` chart.

pulumi stack init dev && pulumi up
"""

import pulumi

from helm_enterprise import Release

hello = Release(
    "hello",
    {
        "namespace": "quickstart-example",
        "create_namespace": True,
        "chart": {"path": "../../charts/hello"},
        "values": {"replicaCount": 2, "message": "hello from the quickstart"},
    },
)

pulumi.export("status", hello.status)
pulumi.export("revision", hello.revision)
pulumi.export("namespace", hello.namespace)
