"""Imports go one way, and a module's layer is the directory it lives in.

    core (benchmark/core) <- perception (benchmark/perception) <- metrics | adapters | protocols
    <- engine (benchmark/engine) <- reports (benchmark/reports) | tools (benchmark/tools)
    <- cli (benchmark/cli) <- the public API (benchmark/__init__.py)

Every import counts: lazy ones inside functions, relative ones, and the "module:attribute" strings
that registries and the public API import on first use. There is no default layer: a module
outside these directories fails the test until it is placed. The three domain packages do not
import each other (what they share lives in perception or core), nor do reports and tools.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("benchmark", "adapters", "metrics", "protocols")

# directory (relative to the repository) -> layer; a module's layer is the longest matching prefix
LAYER_DIRS = {
    "benchmark/core": 0,
    "benchmark/perception": 1,
    "metrics": 2,
    "adapters": 2,
    "protocols": 2,
    "benchmark/engine": 3,
    "benchmark/reports": 4,
    "benchmark/tools": 4,
    "benchmark/cli": 5,
    "benchmark/__init__.py": 6,
}
LAYER_NAMES = {
    0: "core",
    1: "perception",
    2: "metrics/adapters/protocols",
    3: "engine",
    4: "reports/tools",
    5: "cli",
    6: "public API",
}
SIBLINGS = [("metrics", "adapters", "protocols"), ("benchmark/reports", "benchmark/tools")]  # never import each other
_IMPORT_STRING = re.compile(r"^((?:%s)(?:\.\w+)*)(?::\w+)?$" % "|".join(PACKAGES))


def modules(root: Path = ROOT) -> dict[str, Path]:
    mods = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


def place_of(path: Path, root: Path = ROOT) -> str | None:
    """The layer directory a file belongs to, or None: a module in no known place has no layer."""
    rel = path.relative_to(root).as_posix()
    found = [d for d in LAYER_DIRS if rel == d or rel.startswith(d + "/")]
    return max(found, key=len) if found else None


def _resolve(name: str, mods: dict) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, path: Path, tree: ast.AST, strings: bool) -> list[str]:
    """Every module name `module` imports: absolute and relative (resolved) imports, and with
    `strings` the "module:attribute" strings registries import on first use."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            out += [base] + [f"{base}.{a.name}" for a in node.names]
        elif strings and isinstance(node, ast.Constant) and isinstance(node.value, str) and ":" in node.value:
            match = _IMPORT_STRING.match(node.value)  # "metrics.psnr:PSNR": a registry's lazy import
            if match:
                out.append(match.group(1))
    return out


def import_graph(root: Path = ROOT, strings: bool = True) -> dict[str, set[str]]:
    """module -> the modules it imports. Registry strings are edges for the direction rule but not
    for cycles: a registry names its plugins lazily, and a plugin may use its registry."""
    mods = modules(root)
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in mods.items():
        for target in _targets(module, path, ast.parse(path.read_text(), str(path)), strings):
            if target.split(".")[0] in PACKAGES:
                resolved = _resolve(target, mods)
                if resolved and resolved != module and not module.startswith(resolved + "."):
                    graph[module].add(resolved)
        graph.setdefault(module, set())
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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


def problems(root: Path = ROOT) -> dict[str, list[str]]:
    """Everything the layer rules find wrong in the tree at `root` (empty lists when it is sound)."""
    mods, graph = modules(root), import_graph(root)
    place = {m: place_of(p, root) for m, p in mods.items()}
    found = {
        "unplaced": sorted(f"{mods[m].relative_to(root)}" for m, p in place.items() if p is None),
        "upward": [],
        "siblings": [],
        "cycles": cycles(import_graph(root, strings=False)),
    }
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            here, there = place[module], place[target]
            if here is None or there is None:
                continue
            if LAYER_DIRS[there] > LAYER_DIRS[here]:
                found["upward"].append(
                    f"{module} ({LAYER_NAMES[LAYER_DIRS[here]]}) imports {target} ({LAYER_NAMES[LAYER_DIRS[there]]})"
                )
            if here != there and any(here in group and there in group for group in SIBLINGS):
                found["siblings"].append(f"{module} imports {target}")
    return found


def test_every_module_lives_in_a_layer_directory():
    assert problems()["unplaced"] == []


def test_no_import_cycles():
    assert problems()["cycles"] == []


def test_imports_only_go_down():
    assert problems()["upward"] == []


def test_domain_packages_and_report_tools_do_not_import_each_other():
    assert problems()["siblings"] == []


def test_the_checker_fails_on_a_planted_stray_module_upward_import_and_registry_string(tmp_path):
    """The rules themselves can fail: a module outside the layer directories, a core module importing
    the engine (relative import), a registry string pointing up, a cycle and a domain crossing are caught."""
    files = {
        "benchmark/__init__.py": "",
        "benchmark/stray.py": "",
        "benchmark/core/__init__.py": "",
        "benchmark/core/a.py": "from ..engine import b\n",
        "benchmark/core/registry.py": "BUILTIN = {'x': 'benchmark.reports.r:Thing'}\n",
        "benchmark/engine/__init__.py": "",
        "benchmark/engine/b.py": "from benchmark.core import a\n",
        "benchmark/reports/__init__.py": "",
        "benchmark/reports/r.py": "",
        "metrics/__init__.py": "",
        "metrics/m.py": "import adapters.x\n",
        "adapters/__init__.py": "",
        "adapters/x.py": "",
        "protocols/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = problems(tmp_path)
    assert found["unplaced"] == ["benchmark/stray.py"]
    assert found["upward"] == [
        "benchmark.core.a (core) imports benchmark.engine (engine)",
        "benchmark.core.a (core) imports benchmark.engine.b (engine)",
        "benchmark.core.registry (core) imports benchmark.reports.r (reports/tools)",
    ]
    assert found["cycles"] == [["benchmark.core.a", "benchmark.engine.b"]]
    assert found["siblings"] == ["metrics.m imports adapters.x"]
