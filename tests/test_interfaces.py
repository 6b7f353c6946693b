"""Adapters and protocols implement one declared interface (issue 25, item 3).

The engine and the CLI call what `adapters.base.Adapter` and `protocols.base.Protocol` declare,
never asking which adapter or protocol they hold. So every registered one (plugins included)
must implement each declared method with the declared signature: a plugin whose `prepare` or
`inspect_clip` drifts fails here, not in the middle of a user's command.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from adapters import ADAPTERS
from adapters.base import Adapter, Capabilities
from protocols import DATASETS
from protocols.base import Protocol

ROOT = Path(__file__).resolve().parents[1]
INTERFACES = {"adapter": (ADAPTERS, Adapter), "protocol": (DATASETS, Protocol)}
# what the engine and the CLI call: each must be declared on the base, not found by hasattr
MUST_DECLARE = {
    Adapter: {"generate", "inspect_clip", "parameter_counts", "clip_input", "native_size", "describe"},
    Protocol: {
        "clips",
        "prepared_dir",
        "is_prepared",
        "prepare",
        "open",
        "refuse_options",
        "fingerprint",
        "partial",
        "id",
    },
}


def declared(base: type) -> dict[str, object]:
    """The public methods and properties the interface class itself declares."""
    return {
        name: obj
        for name, obj in vars(base).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or isinstance(obj, (property, classmethod, staticmethod)))
    }


def shape(obj) -> tuple:
    """What a caller relies on: the kind of attribute and its parameters (names, kinds, defaults)."""
    if isinstance(obj, property):
        return ("property",)
    kind = type(obj).__name__ if isinstance(obj, (classmethod, staticmethod)) else "method"
    func = obj.__func__ if isinstance(obj, (classmethod, staticmethod)) else obj
    if not callable(func):
        return (kind, "not callable")
    params = tuple((p.name, p.kind.name, p.default) for p in inspect.signature(func).parameters.values())
    return (kind, params)


def drift(cls: type, base: type) -> list[str]:
    """Each declared member `cls` leaves abstract or implements with another shape than `base` declares."""
    problems = [f"{name} is not implemented" for name in sorted(getattr(cls, "__abstractmethods__", ()))]
    for name, member in declared(base).items():
        own = inspect.getattr_static(cls, name)
        if shape(own) != shape(member):
            problems.append(f"{name}: {shape(own)} is not the declared {shape(member)}")
    return problems


def registered(kind: str):
    registry, base = INTERFACES[kind]
    return [pytest.param(registry.get(name), base, id=f"{kind}:{name}") for name in registry.names()]


@pytest.mark.parametrize("cls, base", registered("adapter") + registered("protocol"))
def test_every_registered_adapter_and_protocol_implements_the_declared_interface(cls, base):
    assert drift(cls, base) == []


@pytest.mark.parametrize("base", [Adapter, Protocol])
def test_what_the_engine_calls_is_declared_on_the_base(base):
    assert MUST_DECLARE[base] <= set(declared(base))


def test_a_drifting_plugin_is_caught():
    """The check can fail: a plugin with the old two-signature `prepare` and an undeclared extra is named."""

    class OldStyle(Protocol):
        name, version = "old-style", "v1"

        def clips(self):
            return []

        @property
        def prepared_dir(self):
            return self.data_root

        def is_prepared(self):
            return True

        def prepare(self, force=False, progress=None):  # the mini protocol's signature before item 3
            return self.data_root

    class NoFrames(Adapter):
        name = "no-frames"
        capabilities = Capabilities(uses_audio=False, uses_identity=False, uses_reference_frames=False)

        def inspect_clip(self, clip, strict=True):
            return None

    assert [p.split(":")[0] for p in drift(OldStyle, Protocol)] == ["prepare"]
    assert [p.split(":")[0] for p in drift(NoFrames, Adapter)] == ["generate is not implemented", "inspect_clip"]


def _calls_in(paths) -> list[tuple[str, ast.AST]]:
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            yield path.relative_to(ROOT), node


def test_engine_and_cli_never_ask_which_protocol_or_adapter_they_hold():
    """No `dataset == "mini"`, no isinstance on a concrete protocol or adapter class, no hasattr /
    getattr probing for a member the interfaces declare: they call the declared member."""
    protocol_names = set(DATASETS.names())
    members = set(declared(Adapter)) | set(declared(Protocol)) | {"builds_itself", "prepare_options", "external"}
    concrete = {
        name
        for kind in INTERFACES
        for name in (INTERFACES[kind][0]._targets[n].partition(":")[2] for n in INTERFACES[kind][0].names())
    }
    concrete |= {"PreparedCorpusProtocol", "ManifestProtocol", "NeuralAdapter"}
    paths = [p for folder in ("engine", "cli", "reports", "tools") for p in (ROOT / "benchmark" / folder).rglob("*.py")]
    found = []
    for where, node in _calls_in(paths):
        if isinstance(node, ast.Compare):
            strings = [c.value for c in [node.left, *node.comparators] if isinstance(c, ast.Constant)]
            found += [
                f"{where}:{node.lineno}: compares with protocol name {s!r}" for s in strings if s in protocol_names
            ]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) >= 2:
            arg = node.args[1]
            if node.func.id in ("isinstance", "issubclass"):
                names = {n.id for n in ast.walk(arg) if isinstance(n, ast.Name)}
                found += [f"{where}:{node.lineno}: isinstance on {n}" for n in names & concrete]
            if node.func.id in ("hasattr", "getattr") and isinstance(arg, ast.Constant) and arg.value in members:
                found.append(f"{where}:{node.lineno}: {node.func.id}(..., {arg.value!r})")
    assert found == []
