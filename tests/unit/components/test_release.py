"""The Release component's resource graph, checked on what Pulumi's monitor receives."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from helm_enterprise import ConfigError, Release, ValidationError
from helm_enterprise.components.context import Platform
from helm_enterprise.secrets import SecretResolver
from tests.unit.pulumi_harness import contains_secret, run_program
from tests.unit.secrets.dict_backend import DictBackend

REL = "kubernetes:helm.sh/v3:Release"
CHART = "kubernetes:helm.sh/v4:Chart"
LOCAL = {"path": "charts/hello"}


def test_release_mode_graph(platform: Platform) -> None:
    def program() -> object:
        r = Release(
            "web",
            {
                "namespace": "demo",
                "create_namespace": True,
                "chart": LOCAL,
                "values": {"replicaCount": 2},
            },
        )
        return {"status": r.status, "revision": r.revision, "source": r.resolved_source}

    run = run_program(program)
    comp = run.one("helm-enterprise:index:Release")
    ns = run.one("kubernetes:core/v1:Namespace")
    rel = run.one(REL)
    types = [r.type for r in run.resources]
    # The rollout watch is hooks of the Helm release, not a resource (health/rollout.py).
    assert types == ["helm-enterprise:index:Release", "kubernetes:core/v1:Namespace", REL]
    assert {ns.parent, rel.parent} == {comp.urn}
    assert ns.urn in rel.dependencies
    # Every object Helm applies passes the ownership post-renderer.
    assert rel.inputs["postrender"].startswith("./.helm-enterprise/postrender/web-")
    assert rel.inputs["chart"] == "charts/hello"
    assert rel.inputs["atomic"] is True and rel.inputs["cleanupOnFail"] is True
    assert rel.inputs["maxHistory"] == 10
    assert rel.inputs["timeout"] == 600  # readiness default 10m
    assert rel.custom_timeouts == {"create": "900s", "update": "900s", "delete": "300s"}
    # Cluster unreachable: the revision was not read, the recorded description is kept.
    assert rel.ignore_changes == ["replace", "description"]
    assert rel.inputs["description"] == "Applied by helm-enterprise [proj/dev/web]"
    assert not rel.is_secret("values")
    labels = ns.inputs["metadata"]["labels"]
    assert labels["helm-enterprise.io/managed-by"] == "helm-enterprise"
    assert labels["helm-enterprise.io/stack"] == "dev"
    assert run.value == {
        "status": "deployed",
        "revision": 1,
        "source": "file://" + str(platform.base_dir / "charts/hello"),
    }


def test_chart_mode_uses_v4_chart(platform: Platform) -> None:
    run = run_program(
        lambda: Release("web", {"mode": "chart", "chart": LOCAL, "namespace": "demo"})
    )
    chart = run.one(CHART)
    assert run.of_type(REL) == []
    record = run.one("kubernetes:core/v1:ConfigMap")  # chart mode keeps an ownership record
    assert record.inputs["data"]["owner"] == "proj/dev/web"
    assert record.urn in chart.dependencies
    assert chart.inputs["chart"] == "charts/hello"
    assert chart.inputs["namespace"] == "demo"
    assert chart.custom_timeouts["create"] == "900s"


def test_timeouts_precedence(platform: Platform) -> None:
    platform.timeouts = __import__(
        "helm_enterprise.config", fromlist=["TimeoutConfig"]
    ).TimeoutConfig(readiness=1200, cleanup=120)
    run = run_program(
        lambda: Release(
            "web",
            {"chart": LOCAL, "timeouts": {"deploy_start": "1m", "upgrade": {"readiness": "30m"}}},
        )
    )
    rel = run.one(REL)
    assert rel.custom_timeouts == {
        "create": f"{60 + 1200}s",
        "update": f"{60 + 1800}s",
        "delete": "120s",
    }
    assert rel.inputs["timeout"] == 1800


def test_rollback_policy_maps_to_helm(platform: Platform) -> None:
    run = run_program(
        lambda: Release(
            "web",
            {
                "chart": LOCAL,
                "rollback": {"atomic": False, "cleanup_on_fail": False, "history_limit": 3},
                "wait": False,
            },
        )
    )
    rel = run.one(REL)
    assert rel.inputs["atomic"] is False and rel.inputs["cleanupOnFail"] is False
    assert rel.inputs["maxHistory"] == 3 and rel.inputs["skipAwait"] is True


class _Api:
    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("deployed", "description", "ignore_changes", "warned"),
    [
        # Ours: the recorded description is kept, nothing to upgrade.
        (
            "Applied by helm-enterprise [proj/dev/web]",
            "Applied by helm-enterprise [proj/dev/web]",
            ["replace", "description"],
            False,
        ),
        # A hand `helm rollback`: a new description, so Pulumi upgrades back, and a warning.
        (
            "Rollback to 1",
            "Applied by helm-enterprise [proj/dev/web, replaces revision 3]",
            ["replace"],
            True,
        ),
    ],
)
def test_out_of_band_revision_is_upgraded_back(
    platform: Platform,
    monkeypatch: pytest.MonkeyPatch,
    deployed: str,
    description: str,
    ignore_changes: list[str],
    warned: bool,
) -> None:
    from helm_enterprise.kube import helm_storage
    from helm_enterprise.kube.client import ClusterAccess
    from helm_enterprise.kube.helm_storage import HelmRecord

    history = [
        HelmRecord("web", "default", 2, "superseded", "hello", "0.2.0", "x", None, "s2"),
        HelmRecord("web", "default", 3, "deployed", "hello", "0.1.0", deployed, None, "s3"),
    ]
    monkeypatch.setattr(ClusterAccess, "reachable_client", lambda self, timeout=3.0: _Api())
    monkeypatch.setattr(helm_storage, "history", lambda api, namespace, name: history)
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, resource=None, **_: warnings.append(msg))
    run = run_program(
        lambda: Release("web", {"chart": LOCAL, "validation": {"ownership": False}}), preview=True
    )
    rel = run.one(REL)
    assert rel.inputs["description"] == description
    assert rel.ignore_changes == ignore_changes
    oob = [w for w in warnings if "not made by this stack" in w]
    assert bool(oob) is warned
    if warned:
        assert oob == [
            "default/web: the deployed revision 3 (chart hello-0.1.0, 'Rollback to 1') was not "
            "made by this stack; this update restores the desired chart and values"
        ]


def test_secret_values_make_values_secret(platform: Platform) -> None:
    backend = DictBackend({"secret/app": {"password": "s3cr3t-value"}}, {"secret/app": 4})
    platform._resolver = SecretResolver({"vault": backend})

    def program() -> object:
        r = Release(
            "web",
            {
                "chart": LOCAL,
                "secret_values": {"secret.password": "vault:secret/app#password"},
                "values": {"message": "x ${vault:secret/app#password} y"},
            },
        )
        return {"checksum": r.values_checksum, "refs": r.references}

    run = run_program(program)
    rel = run.one(REL)
    assert rel.is_secret("values")
    values = rel.inputs["values"]
    assert values["secret"]["password"] == "s3cr3t-value"
    assert values["message"] == "x s3cr3t-value y"
    assert "helm-enterprise.io/secrets-checksum" in values["podAnnotations"]
    assert backend.reads == [("secret/app", None)]  # one read for two uses
    assert run.value["refs"] == ["vault:secret/app#password"]
    # The outputs never carry the value, and nothing outside `values` holds it.
    assert "s3cr3t-value" not in repr(run.value)
    for r in run.resources:
        if r is not rel:
            assert "s3cr3t-value" not in repr(r.raw_inputs)


def test_checksum_follows_vault_version(platform: Platform) -> None:
    def checksum(version: int) -> str:
        backend = DictBackend({"secret/app": {"password": "same"}}, {"secret/app": version})
        platform._resolver = SecretResolver({"vault": backend})
        run = run_program(
            lambda: (
                Release(
                    "web",
                    {
                        "chart": LOCAL,
                        "secret_values": {"secret.password": "vault:secret/app#password"},
                    },
                ).values_checksum
            )
        )
        return str(run.value)

    assert checksum(1) != checksum(2)
    assert checksum(2) == checksum(2)


def test_config_ref_must_be_secret(platform: Platform) -> None:
    with pytest.raises(ConfigError, match="not a secret"):
        run_program(
            lambda: Release(
                "web", {"chart": LOCAL, "secret_values": {"secret.pw": {"config": "pw"}}}
            ),
            config={"proj:pw": "plain"},
        )
    run = run_program(
        lambda: Release("web", {"chart": LOCAL, "secret_values": {"secret.pw": {"config": "pw"}}}),
        config={"proj:pw": "hidden"},
        secret_keys=["proj:pw"],
    )
    assert run.one(REL).is_secret("values")


def test_invalid_args_register_nothing(platform: Platform) -> None:
    with pytest.raises(ConfigError) as err:
        run_program(lambda: Release("web", {"chart": LOCAL, "timeouts": {"readiness": "5h"}}))
    assert err.value.path == "timeouts.readiness"


def test_schema_violation_fails_before_the_helm_resource(platform: Platform) -> None:
    with pytest.raises(ValidationError) as err:
        run_program(
            lambda: Release(
                "web", {"chart": LOCAL, "values": {"replicaCount": "many", "image": {"tag": ""}}}
            )
        )
    text = str(err.value)
    assert "values.replicaCount: must be of type integer" in text
    assert "values.image.tag" in text
    assert "many" not in text  # values are never echoed (they may be secrets)


def test_provider_and_options_pass_through(platform: Platform) -> None:
    def program() -> object:
        prov = k8s.Provider("other", kubeconfig="x")
        before = k8s.core.v1.ConfigMap("before", metadata={"name": "before"})
        return Release(
            "web",
            {"chart": LOCAL, "protect": True, "retain_on_delete": True, "create_namespace": True},
            pulumi.ResourceOptions(provider=prov, depends_on=[before]),
        )

    run = run_program(program)
    rel = run.one(REL)
    ns = run.one("kubernetes:core/v1:Namespace")
    prov = run.one("pulumi:providers:kubernetes")
    before = run.one("kubernetes:core/v1:ConfigMap")
    assert rel.provider.startswith(prov.urn) and ns.provider.startswith(prov.urn)
    assert rel.protect and rel.retain_on_delete and ns.protect
    # depends_on of the component orders its first child (and so everything after it).
    assert before.urn in ns.dependencies and ns.urn in rel.dependencies


def test_bearer_repo_is_fetched_not_passed_to_helm(platform: Platform) -> None:
    # Unreachable repository: the Release registers only after the chart is fetched, so
    # the fetch error surfaces and no Helm resource appears.
    from helm_enterprise import ChartSourceError

    with pytest.raises(ChartSourceError, match="unreachable"):
        run_program(
            lambda: Release(
                "web",
                {
                    "chart": {
                        "name": "hello",
                        "version": "0.1.0",
                        "repository": {
                            "url": "http://127.0.0.1:9",
                            "auth": [{"method": "bearer", "token": {"config": "tok"}}],
                        },
                    }
                },
            ),
            config={"proj:tok": "t"},
            secret_keys=["proj:tok"],
        )


def test_basic_auth_repo_uses_native_options_with_secret_password(platform: Platform) -> None:
    run = run_program(
        lambda: Release(
            "web",
            {
                "validation": {"schema": False},
                "chart": {
                    "name": "hello",
                    "version": "0.1.0",
                    "repository": {
                        "url": "https://charts.example",
                        "auth": [
                            {"method": "basic", "username": "ci", "password": {"config": "pw"}}
                        ],
                    },
                },
            },
        ),
        config={"proj:pw": "hunter2"},
        secret_keys=["proj:pw"],
    )
    rel = run.one(REL)
    opts = rel.raw_inputs["repositoryOpts"]
    assert contains_secret(opts["password"])
    assert rel.inputs["repositoryOpts"]["repo"] == "https://charts.example"
    assert rel.inputs["chart"] == "hello" and rel.inputs["version"] == "0.1.0"


def test_health_check_rollback_waits_the_rollback_timeout(platform: Platform) -> None:
    health = {"checks": [{"type": "http", "name": "web", "url": "http://web.invalid/"}]}
    run = run_program(
        lambda: Release(
            "web",
            {
                "chart": LOCAL,
                "health": health,
                "timeouts": {"readiness": "5m", "rollback": {"readiness": "15m"}},
            },
        ),
        preview=True,
    )
    [check] = [r for r in run.of_type("pulumi-python:dynamic:Resource") if r.name == "web-health"]
    assert check.inputs["deadline"] == 300  # the check itself: the release's readiness
    assert check.inputs["rollbackTimeout"] == 900  # its rollback: timeouts.rollback
