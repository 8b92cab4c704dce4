"""The quickstart's stack file: written from the committed template, never with a salt from
another backend, and never tracked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from helm_enterprise.cli.quickstart import (
    KWOK_ONLY_VALUES,
    OWN_CLUSTER_VALUES,
    TEMPLATE,
    salt_of,
    write_stack_file,
)
from helm_enterprise.errors import HelmEnterpriseError

REPO = Path(__file__).resolve().parents[3]
SALT = "v1:uvSPefshzQI=:v1:zuRUri+iEOGSekx6:dFCbxFc6P1pHJhyKOzLa71XBfmYXkw=="


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copy(REPO / TEMPLATE, tmp_path / TEMPLATE)
    return tmp_path


def config_of(path: Path) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(path.read_text())["config"]
    return config


def test_a_new_stack_gets_the_template_and_no_salt(work: Path) -> None:
    target = write_stack_file(work, "quickstart", existing=False)
    assert target == work / "Pulumi.quickstart.yaml"
    assert config_of(target) == config_of(work / TEMPLATE)
    assert salt_of(target) is None


def test_on_the_users_own_cluster_the_demo_chart_needs_no_sandbox(work: Path) -> None:
    """The demo chart's image comes from podinfo's public registry and its Pods may run on
    any node; the template's other values stay."""
    target = write_stack_file(work, "quickstart", existing=False, demo_values=OWN_CLUSTER_VALUES)
    (release,) = config_of(target)["helm-enterprise:releases"]
    (template,) = config_of(work / TEMPLATE)["helm-enterprise:releases"]
    values = release["values"]
    assert values["image"]["repository"] == "ghcr.io/stefanprodan/podinfo"
    assert values["sandbox"]["node"] == ""
    assert {k: v for k, v in values.items() if k not in ("image", "sandbox")} == template["values"]
    assert {k: v for k, v in release.items() if k != "values"} == {
        k: v for k, v in template.items() if k != "values"
    }


def test_a_sandbox_without_a_real_node_puts_the_demo_on_a_fake_node(work: Path) -> None:
    target = write_stack_file(work, "quickstart", existing=False, demo_values=KWOK_ONLY_VALUES)
    (release,) = config_of(target)["helm-enterprise:releases"]
    assert release["values"]["sandbox"] == {"node": "fake"}
    assert "image" not in release["values"]


@pytest.mark.parametrize(("existing", "expected"), [(True, SALT), (False, None)])
def test_the_salt_of_the_existing_file_is_kept_only_for_an_existing_stack(
    work: Path, existing: bool, expected: str | None
) -> None:
    target = work / "Pulumi.quickstart.yaml"
    target.write_text(f"config: {{}}\nencryptionsalt: {SALT}\n")
    write_stack_file(work, "quickstart", existing=existing)
    assert salt_of(target) == expected
    assert config_of(target) == config_of(work / TEMPLATE)  # edits come from the template


@pytest.mark.parametrize("existing", [True, False])
def test_the_authors_own_keys_stay_only_with_their_stack(work: Path, existing: bool) -> None:
    target = work / "Pulumi.quickstart.yaml"
    secret = {"secure": "v1:abc:def"}
    target.write_text(
        yaml.safe_dump(
            {
                "config": {"helm-enterprise:releases": [], "helm-enterprise:token": secret},
                "encryptionsalt": SALT,
            }
        )
    )
    write_stack_file(work, "quickstart", existing=existing)
    expected = config_of(work / TEMPLATE)
    if existing:
        expected["helm-enterprise:token"] = secret
    assert config_of(target) == expected  # the template's own keys always win


def test_a_salt_in_the_template_is_never_copied(work: Path) -> None:
    (work / TEMPLATE).write_text((work / TEMPLATE).read_text() + f"encryptionsalt: {SALT}\n")
    assert salt_of(write_stack_file(work, "quickstart", existing=False)) is None


def test_an_unchanged_file_is_not_rewritten(work: Path) -> None:
    target = write_stack_file(work, "quickstart", existing=False)
    before = target.stat().st_mtime_ns
    write_stack_file(work, "quickstart", existing=True)
    assert target.stat().st_mtime_ns == before


def test_a_missing_template_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HelmEnterpriseError, match=r"quickstart\.yaml is missing"):
        write_stack_file(tmp_path, "quickstart", existing=False)


def test_the_committed_template_has_no_salt() -> None:
    assert salt_of(REPO / TEMPLATE) is None
    lines = (REPO / TEMPLATE).read_text().splitlines()
    assert not [ln for ln in lines if ln.startswith("encryptionsalt")]


def git(*args: str) -> subprocess.CompletedProcess[str]:
    # The tests run from a checkout (CI clones one); without .git these checks would prove
    # nothing, so say so instead of skipping.
    assert (REPO / ".git").exists(), f"{REPO} is not a git checkout"
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
    )


def test_no_tracked_stack_file_carries_a_salt() -> None:
    tracked = git("ls-files", "-z", "--", "Pulumi.*.yaml", "*/Pulumi.*.yaml").stdout
    salted = [p for p in tracked.split("\0") if p and salt_of(REPO / p)]
    assert salted == []


def test_the_written_stack_file_is_ignored() -> None:
    assert git("check-ignore", "-q", "--no-index", "Pulumi.quickstart.yaml").returncode == 0
