"""The pipeline spine, checked on the source: stages import only downward, no import cycles,
TVM's version-sensitive modules behind `edgetune.tvm_api`, thin CLI modules."""

from __future__ import annotations

import ast
from pathlib import Path

from edgetune.paths import PACKAGE_DIR

# Bottom to top: a stage may import from its own stage and the stages listed before it.
STAGES = [
    "base",  # errors, paths, outputs, stop, tvm_api, the package itself
    "board",  # board and toolchain definitions (data files)
    "quant",  # int8 on Relax: rewrite, fixed point, kernels, operands, intrinsics
    "lowering",  # the TIR pipeline of CPU builds and its passes (vector widths, int64 products)
    "frontend",  # TFLite -> Relax (validation, import, the int8 rewrite)
    "tasks",  # lowering for a board, task extraction, families
    "rules",  # per-board rule sets (search spaces)
    "records",  # the records folder format and database
    "runtime",  # artifacts: metadata, loading, running, timing here
    "farm",  # board farm resources, drivers, strategies, remote runs
    "measure",  # backends per connection kind: candidate builders/runners, running artifacts
    "search",  # tuning: MetaSchedule driven over a model's tasks
    "compile",  # whole-model build and export
    "oracle",  # LiteRT reference and comparison
    "profile",  # per-kernel time inside the built model vs tuned estimates
    "report",  # seeing a tuning run: live progress display, HTML/Markdown report, charts
    "ci",  # board-farm CI: suites of checks on boards against LiteRT and latency baselines
    "cli",  # commands: parse, call one function, print
]
BASE = {"errors", "outputs", "paths", "stop", "tvm_api"}
VERSION_SENSITIVE = ("tvm.s_tir", "tvm.tirx", "tvm.script", "tvm.driver", "tvm.relax.frontend")
BOARD_SIDE = {"edgetune.farm.agent"}  # runs on the board with the board's TVM, no edgetune
CLI_MAX_LINES = 80


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    return mods


def _walk(tree: ast.AST):
    """ast.walk, skipping `if TYPE_CHECKING:` blocks (annotations only, never executed)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            continue
        yield node
        yield from _walk(node)


def _imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports at run time, at module level or inside functions."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in _walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)  # `from . import x`
            else:
                found.add(node.module or "")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {
        name: {m for m in _imports(name, path) if m in mods and m != name}
        for name, path in mods.items()
    }


def _stage(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in BASE:
        return "base"
    return "cli" if parts[1] == "__main__" else parts[1]


def test_every_stage_is_declared():
    assert {_stage(m) for m in _modules()} <= set(STAGES)


def test_stages_import_only_downward():
    rank = {s: i for i, s in enumerate(STAGES)}
    upward = sorted(
        f"{a} -> {b}"
        for a, targets in _graph().items()
        for b in targets
        if rank[_stage(b)] > rank[_stage(a)]
    )
    assert upward == []


def test_no_import_cycles():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
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
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    # a package's __init__ re-exporting its modules is not a cycle of the code's design
    real = [c for c in cycles if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert real == []


def test_tvm_version_sensitive_modules_only_behind_the_seam():
    offenders = sorted(
        f"{name}: {imp}"
        for name, path in _modules().items()
        if name not in BOARD_SIDE and name != "edgetune.tvm_api"
        for imp in _imports(name, path)
        if imp.startswith(VERSION_SENSITIVE)
    )
    assert offenders == []


def test_cli_modules_are_thin():
    long = {
        p.name: n
        for p in (PACKAGE_DIR / "cli").glob("*.py")
        if (n := len(p.read_text().splitlines())) > CLI_MAX_LINES
    }
    assert long == {}
