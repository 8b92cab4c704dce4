"""Recipes of the real node's toolchain: what each family installs and the pure helpers
the builds rely on (the builds themselves run in ``helm-enterprise sandbox toolchain``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from helm_enterprise.errors import ToolchainError
from helm_enterprise.sandbox.toolchain import all_recipes
from helm_enterprise.sandbox.toolchain.recipes import debian, images, kubernetes

REPO = Path(__file__).resolve().parents[4]


def test_families_are_unique_and_include_the_real_node_tools() -> None:
    recipes = all_recipes()
    families = [r.family for r in recipes]
    assert len(families) == len(set(families))
    by_family = {r.family: r for r in recipes}
    assert by_family["cri-tools"].binaries == ("crictl",)
    assert "kubelet" in by_family["kubernetes"].binaries
    assert {"containerd", "containerd-shim-runc-v2", "ctr", "runc"} <= set(
        by_family["debian"].binaries
    )
    assert "images" in by_family
    # Every binary name is installed by exactly one family.
    names = [b for r in recipes for b in r.binaries]
    assert len(names) == len(set(names))


def test_kubelet_is_part_of_the_key() -> None:
    """Adding a binary must rebuild the family: the stamp of the old set must not match."""
    recipe = next(r for r in kubernetes.RECIPES if r.family == "kubernetes")
    assert ",".join(kubernetes.BINARIES) in recipe.key
    assert "kubelet" in kubernetes.BINARIES


def test_debian_installs_the_runtime_and_keeps_its_services_off() -> None:
    assert {"containerd", "runc", "containernetworking-plugins"} <= set(debian.PACKAGES)
    assert "containerd" in debian.SERVICES["containerd"]
    assert set(debian.CNI_PLUGINS) == {"bridge", "host-local", "loopback"}
    assert all(pkg in debian.PACKAGES for pkg, _ in debian.CNI_PLUGINS.values())


def test_debian_links(tmp_path: Path) -> None:
    target = tmp_path / "usr-lib-cni-bridge"
    target.write_text("plugin")
    into = tmp_path / "cni-bin"
    debian._link_all({"bridge": ("containernetworking-plugins", str(target))}, into)
    assert (into / "bridge").resolve() == target
    # Relinking replaces the old link.
    debian._link_all({"bridge": ("containernetworking-plugins", str(target))}, into)
    assert (into / "bridge").resolve() == target
    with pytest.raises(ToolchainError, match="runc is installed but /nonexistent/runc"):
        debian._link_all({"runc": ("runc", "/nonexistent/runc")}, into)


def test_podinfo_version_and_revision() -> None:
    assert images.podinfo_version('package version\n\nvar VERSION = "6.9.2"\n') == "6.9.2"
    with pytest.raises(ToolchainError, match="pkg/version"):
        images.podinfo_version("package version\n")
    assert images.pseudo_version_commit(images.PODINFO_VERSION) == "e86405a8674e"
    with pytest.raises(ToolchainError, match="pseudo-version"):
        images.pseudo_version_commit("v6.9.2")


def test_podinfo_runs_as_numeric_non_root_on_its_port() -> None:
    config = images.podinfo_config("6.9.2", "e86405a8674e")
    user, group = str(config["User"]).split(":")
    assert int(user) > 0 and int(group) > 0  # runAsNonRoot needs a numeric non-zero uid
    assert config["Entrypoint"] == ["/podinfo"]
    assert config["ExposedPorts"] == {f"{images.PODINFO_PORT}/tcp": {}}
    # No Cmd: a --port flag would override PODINFO_PORT from the environment.
    assert "Cmd" not in config
    pause_user = str(images.pause_config()["User"]).split(":")[0]
    assert int(pause_user) > 0


def test_pause_source_ships_with_the_package() -> None:
    assert images.PAUSE_SOURCE.is_file()
    assert "syscall.Wait4" in images.PAUSE_SOURCE.read_text()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["helm_enterprise"]
    assert "**/*.go" in globs
