"""The rules of direction in docs/architecture.md, checked on the real import statements."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "helm_enterprise"
FEATURES = (
    "secrets",
    "sources",
    "kube",
    "validation",
    "audit",
    "health",
    "policy",
    "drift",
    "tenancy",
)
UPPER = ("components", "automation", "cli", "sandbox")


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("helm_enterprise")
        ):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("helm_enterprise")}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and str(arg.value).startswith("helm_enterprise"):
                found.add(str(arg.value))
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def violations(rule: str, sources: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in sources:
        for mod in imports(path):
            if layer(mod) in forbidden:
                bad.append(f"{rule}: {path.relative_to(PKG.parent)} imports {mod}")
    return bad


def files(*layers: str) -> list[Path]:
    out: list[Path] = []
    for name in layers:
        target = PKG / name
        out += sorted(target.rglob("*.py")) if target.is_dir() else [PKG / f"{name}.py"]
    return [p for p in out if p.exists()]


def test_config_and_errors_are_pure() -> None:
    for path in files("config", "errors"):
        others = {layer(m) for m in imports(path)} - {"config", "errors"}
        assert not others, f"{path} imports {others}"


def test_features_do_not_import_upper_layers() -> None:
    assert violations("feature", files(*FEATURES), UPPER) == []


def test_components_do_not_import_automation_cli_or_sandbox() -> None:
    assert (
        violations("components", files("components", "program"), ("automation", "cli", "sandbox"))
        == []
    )


def test_only_cli_imports_sandbox() -> None:
    outside = [
        p
        for p in PKG.rglob("*.py")
        if layer("helm_enterprise." + ".".join(p.relative_to(PKG).with_suffix("").parts))
        not in ("cli", "sandbox")
    ]
    assert violations("sandbox", outside, ("sandbox",)) == []
