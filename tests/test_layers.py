"""Imports go one way: core <- perception <- metrics | adapters | protocols <- engine <- reports and CLI.

Every import counts, including the lazy ones inside functions: a lazy import still ties two
layers together. The three domain packages (metrics, adapters, protocols) do not import each
other; what they share (face perception, geometry) lives in the perception layer below them.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("benchmark", "adapters", "metrics", "protocols")

# module prefix -> layer (the longest matching prefix wins)
LAYERS = {
    "benchmark": 0,  # the package itself (version) and the shared floor below
    "benchmark.types": 0, "benchmark.video": 0, "benchmark.errors": 0, "benchmark.media": 0, "benchmark.settings": 0,
    "benchmark.registry": 0, "benchmark.fingerprint": 0, "benchmark.paths": 0, "benchmark.stats": 0,
    "benchmark.records": 0, "benchmark.dataframes": 0, "benchmark.provenance": 0, "benchmark.subset": 0, "benchmark.checkpoints": 0,
    "benchmark.heap": 0,
    "benchmark.perception": 1,
    "metrics": 2, "adapters": 2, "protocols": 2,
    "benchmark.engine": 3, "benchmark.runner": 3, "benchmark.merge": 3, "benchmark.check": 3,
    "benchmark.profile": 3, "benchmark.export": 3, "benchmark.validate_outputs": 3, "benchmark.calibration": 3, "benchmark.speed": 3,
    "benchmark.site": 4, "benchmark.leaderboard": 4, "benchmark.tables": 4, "benchmark.compare": 4,
    "benchmark.plots": 4, "benchmark.cli": 4,
}
LAYER_NAMES = {0: "core", 1: "perception", 2: "metrics/adapters/protocols", 3: "engine", 4: "reports/CLI"}
DOMAIN = ("metrics", "adapters", "protocols")


def _modules() -> dict[str, Path]:
    mods = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


def _resolve(name: str, mods: dict) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] in PACKAGES:
                    resolved = _resolve(target, mods)
                    if resolved and resolved != module and not module.startswith(resolved + "."):
                        graph[module].add(resolved)
        graph.setdefault(module, set())
    return graph


def layer_of(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_every_module_has_a_layer():
    unplaced = [m for m in import_graph() if not any(m == p or m.startswith(p + ".") for p in LAYERS)]
    assert unplaced == []


def test_imports_only_go_down():
    upward = []
    for module, targets in import_graph().items():
        for target in targets:
            if layer_of(target) > layer_of(module):
                upward.append(f"{module} ({LAYER_NAMES[layer_of(module)]}) imports {target} "
                              f"({LAYER_NAMES[layer_of(target)]})")
    assert upward == []


def test_metrics_adapters_and_protocols_do_not_import_each_other():
    crossing = []
    for module, targets in import_graph().items():
        top = module.split(".")[0]
        if top in DOMAIN:
            crossing += [f"{module} imports {t}" for t in targets if t.split(".")[0] in DOMAIN and t.split(".")[0] != top]
    assert crossing == []


def test_the_checker_sees_a_cycle_and_an_upward_import():
    """The check itself can fail: a planted cycle and a core module importing the engine are caught."""
    graph = {"benchmark.types": {"benchmark.runner"}, "benchmark.runner": {"benchmark.types"}}
    assert cycles(graph) == [["benchmark.runner", "benchmark.types"]]
    assert layer_of("benchmark.types") < layer_of("benchmark.runner")
    assert layer_of("benchmark.perception.landmarks") == 1 and layer_of("metrics.fid") == 2
