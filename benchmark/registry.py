"""Lazy name -> object registries, open to third-party packages through entry points.

Built-ins are listed as "module:attribute" strings and imported only when asked for, so
`bench list` stays fast and a broken optional backend cannot stop unrelated commands.
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from benchmark.errors import UnknownNameError

T = TypeVar("T")

ENTRY_POINT_PREFIX = "talking_head_bench."


class Registry(Generic[T]):
    def __init__(self, kind: str, group: str, builtins: dict[str, str]):
        self.kind = kind  # "model", "dataset", "metric": used in messages
        self.group = f"{ENTRY_POINT_PREFIX}{group}"  # entry-point group third parties register under
        self._targets: dict[str, str] = dict(builtins)
        self._loaded: dict[str, Any] = {}
        self._plugins_scanned = False

    def register(self, name: str, target: str | Any) -> None:
        """Register `target` (an object, or a lazy "module:attr" string) under `name`."""
        if isinstance(target, str):
            self._targets[name] = target
            self._loaded.pop(name, None)
        else:
            self._targets[name] = f"<object {target!r}>"
            self._loaded[name] = target

    def names(self) -> list[str]:
        self._scan_plugins()
        return sorted(self._targets)

    def get(self, name: str) -> Any:
        self._scan_plugins()
        if name not in self._targets:
            raise UnknownNameError(self._unknown_message(name), hint=f"`bench list {self.kind}s` lists them")
        if name not in self._loaded:
            module_name, _, attr = self._targets[name].partition(":")
            self._loaded[name] = getattr(importlib.import_module(module_name), attr)
        return self._loaded[name]

    def _unknown_message(self, name: str) -> str:
        known = sorted(self._targets)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        message = f"unknown {self.kind} '{name}'."
        if close:
            message += " Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
        return message + f" Known: {', '.join(known)}."

    def _scan_plugins(self) -> None:
        if self._plugins_scanned:
            return
        self._plugins_scanned = True
        for ep in entry_points(group=self.group):
            self._targets.setdefault(ep.name, ep.value)
