"""The rules of direction in docs/architecture.md, checked on the real import statements
(function-local ones and ``from helm_enterprise import x`` included), and no import cycle
between packages."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "helm_enterprise"
FEATURES = (
    "secrets",
    "sources",
    "kube",
    "rollback",
    "ownership",
    "validation",
    "audit",
    "health",
    "policy",
    "drift",
    "tenancy",
    "multicluster",
)
UPPER = ("components", "automation", "cli", "sandbox")
# What the shared floor may import: the pure bottom and the cache paths, no feature.
FLOOR = ("kube",)
BOTTOM = ("config", "errors", "findings", "_cache")


@functools.cache
def parse(path: Path) -> ast.Module:
    """``path``'s syntax tree, parsed once per session.

    In the full unit tier (not alone) CPython 3.11's ``ast.parse`` now and then fails with
    ``SystemError: AST constructor recursion depth mismatch`` on a file it parses fine a
    moment later: its recursion counter is interpreter state that other code in the process
    can leave off (python/cpython#106905). The source is fine, so parse again.
    """
    source = path.read_text()
    try:
        return ast.parse(source)
    except SystemError:
        return ast.parse(source)


def imports(path: Path) -> set[str]:
    tree = parse(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("helm_enterprise")
        ):
            if node.module == "helm_enterprise" and node.level == 0:
                found |= {f"helm_enterprise.{a.name}" for a in node.names}
            else:
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
    for path in files("config", "errors", "findings"):
        others = {layer(m) for m in imports(path)} - {"config", "errors"}
        assert not others, f"{path} imports {others}"


def test_kube_is_the_floor() -> None:
    """``kube/`` imports no feature package: only itself and the pure bottom."""
    for path in files(*FLOOR):
        others = {layer(m) for m in imports(path)} - {*FLOOR, *BOTTOM}
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


def node(path: Path) -> str:
    """The graph node a source file belongs to: its package, or its own name at the top."""
    parts = path.relative_to(PKG).with_suffix("").parts
    return parts[0] if len(parts) > 1 else parts[0].removeprefix("__init__") or "helm_enterprise"


def targets(path: Path) -> list[tuple[str, int]]:
    """Every package-level node `path` imports, with the line, function-local imports included.

    `from helm_enterprise import x` means the package or module `x` when there is one, the
    root `__init__.py` otherwise (`from helm_enterprise import Release`).
    """
    found: list[tuple[str, int]] = []
    for node_ in ast.walk(parse(path)):
        names: list[str] = []
        if isinstance(node_, ast.ImportFrom) and node_.level == 0 and node_.module:
            if node_.module == "helm_enterprise":
                names = [f"helm_enterprise.{a.name}" for a in node_.names]
            else:
                names = [node_.module]
        elif isinstance(node_, ast.Import):
            names = [a.name for a in node_.names]
        elif isinstance(node_, ast.Call) and getattr(node_.func, "attr", "") == "import_module":
            arg = node_.args[0] if node_.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names = [arg.value]
        for name in names:
            parts = name.split(".")
            if parts[0] != "helm_enterprise":
                continue
            top = parts[1] if len(parts) > 1 else ""
            if top and ((PKG / top).is_dir() or (PKG / f"{top}.py").exists()):
                found.append((top, node_.lineno))
            else:
                found.append(("helm_enterprise", node_.lineno))
    return found


def import_graph() -> dict[str, dict[str, str]]:
    """Package -> imported package -> one example import (`file:line`)."""
    graph: dict[str, dict[str, str]] = {}
    for path in sorted(PKG.rglob("*.py")):
        source = node(path)
        edges = graph.setdefault(source, {})
        for target, line in targets(path):
            if target != source:
                edges.setdefault(target, f"{path.relative_to(PKG.parent)}:{line}")
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_cycles_finds_a_strongly_connected_component() -> None:
    graph = {"a": {"b": "x"}, "b": {"c": "x"}, "c": {"a": "x"}, "d": {"a": "x"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycle_between_packages() -> None:
    graph = import_graph()
    report = []
    for component in cycles(graph):
        report.append("cycle: " + ", ".join(component))
        report += [
            f"  {a} -> {b}: {where}"
            for a in component
            for b, where in sorted(graph[a].items())
            if b in component
        ]
    assert not report, "\n".join(report)
