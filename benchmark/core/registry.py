"""Lazy name -> object registries, open to third-party packages through entry points.

Built-ins are listed as "module:attribute" strings and imported only when asked for, so
`bench list` stays fast and a broken optional backend cannot stop unrelated commands.

A name means one thing: registering a taken name to another target raises, and an entry-point
plugin that claims a taken name is refused (kept in `refused()`, shown by `bench list`) instead
of being silently ignored. What a name loads is checked against the registry's base class, given
as a lazy "module:attr" string too, so this core module imports nothing of the layers above it.
A registry may also answer to the variants its entries declare (metric variants such as
`lmd-centered`): `resolve` maps such a name to the entry that declares it.
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from benchmark.core.errors import RegistryError, UnknownNameError

T = TypeVar("T")

ENTRY_POINT_PREFIX = "talking_head_bench."
BUILTIN = "built-in"


def _import(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _describe(obj: Any) -> str:
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{module}:{qualname}" if module and qualname else f"<object {obj!r}>"


class Registry(Generic[T]):
    def __init__(
        self,
        kind: str,
        group: str,
        builtins: dict[str, str],
        base: str | None = None,
        variants: str | None = None,
        hint: str | None = None,
    ):
        """`base`: "module:Class" every entry must subclass (checked when a name is loaded);
        `variants`: the attribute of a loaded entry that lists further names it answers to;
        `hint`: how a user finds the known names (default: `bench list <kind>s`)."""
        self.kind = kind  # "model", "dataset", "metric": used in messages
        self.hint = hint or f"`bench list {kind}s` lists them"
        self.group = f"{ENTRY_POINT_PREFIX}{group}"  # entry-point group third parties register under
        self.base = base
        self.variants_attribute = variants
        self._targets: dict[str, str] = dict(builtins)
        self._origins: dict[str, str] = {name: BUILTIN for name in builtins}
        self._objects: dict[str, Any] = {}  # registered as objects rather than "module:attr"
        self._loaded: dict[str, Any] = {}  # loaded and checked against the base
        self._refused: list[tuple[str, str]] = []
        self._variants: dict[str, str] | None = None
        self._plugins_scanned = False

    def register(self, name: str, target: str | Any, origin: str = "registered") -> None:
        """Register `target` (an object, or a lazy "module:attr" string) under `name`; a taken name raises."""
        described = target if isinstance(target, str) else _describe(target)
        if name in self._targets:
            same = self._targets[name] == described if isinstance(target, str) else self._objects.get(name) is target
            if same:
                return
            raise RegistryError(
                f"{self.kind} '{name}' is already registered to {self._targets[name]} "
                f"({self._origins[name]}); refusing to register it to {described}",
                hint="register one of them under another name",
            )
        self._targets[name], self._origins[name] = described, origin
        if not isinstance(target, str):
            self._objects[name] = target
        self._variants = None

    def names(self) -> list[str]:
        self._scan_plugins()
        return sorted(self._targets)

    def origin(self, name: str) -> str:
        """ "built-in", "registered", or "plugin <distribution>"."""
        self._scan_plugins()
        return self._origins[name]

    def refused(self) -> list[tuple[str, str]]:
        """(name, why) of every plugin entry (or variant) refused because its name was taken."""
        self._scan_plugins()
        return list(self._refused)

    def get(self, name: str) -> Any:
        self._scan_plugins()
        if name not in self._targets:
            raise UnknownNameError(self._unknown_message(name), hint=self.hint)
        if name not in self._loaded:
            obj = self._objects[name] if name in self._objects else _import(self._targets[name])
            self._check_base(name, obj)
            self._loaded[name] = obj
        return self._loaded[name]

    def resolve(self, name: str) -> str:
        """The registered name that answers to `name`: itself, or the entry whose variants include it.

        An unknown name comes back unchanged, so `get` then reports it with suggestions.
        """
        if name in self.names() or self.variants_attribute is None:
            return name
        return self.variants().get(name, name)

    def variants(self) -> dict[str, str]:
        """Variant name -> registered name, from every entry that loads (built-ins first, then plugins).

        Loading is needed to read them, so this imports every entry once; an entry that fails to
        load contributes none (`bench list` shows why). A variant that collides with a name or an
        earlier variant is refused, or raises when both sides are built-ins (a bug in this repo).
        """
        if self.variants_attribute is None:
            return {}
        if self._variants is None:
            index: dict[str, str] = {}
            for name in sorted(self.names(), key=lambda n: (self._origins[n] != BUILTIN, n)):
                try:
                    declared = getattr(self.get(name), self.variants_attribute)
                except Exception:  # a broken plugin must not hide the variants of the others
                    continue
                for variant in declared:
                    owner = variant if variant in self._targets else index.get(variant)
                    if owner is None:
                        index[variant] = name
                    elif owner != name:
                        self._refuse_variant(variant, name, owner)
            self._variants = index
        return self._variants

    def _refuse_variant(self, variant: str, name: str, owner: str) -> None:
        message = (
            f"variant '{variant}' of {self.kind} '{name}' ({self._targets[name]}, {self._origins[name]}) "
            f"is already the name or a variant of '{owner}' ({self._targets[owner]}, {self._origins[owner]})"
        )
        if self._origins[name] == self._origins[owner] == BUILTIN:
            raise RegistryError(message, hint="give one of the two built-in variants another name")
        self._refused.append((variant, f"refused: {message}"))

    def _check_base(self, name: str, obj: Any) -> None:
        if self.base is None:
            return
        base = _import(self.base)
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise RegistryError(
                f"{self.kind} '{name}' ({self._targets[name]}, {self._origins[name]}) is not a subclass of {self.base}",
                hint=f"a {self.kind} must subclass {self.base}",
            )

    def _unknown_message(self, name: str) -> str:
        known = sorted({*self._targets, *(self._variants or {})})
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
            dist = getattr(getattr(ep, "dist", None), "name", None) or "an unknown distribution"
            try:
                self.register(ep.name, ep.value, origin=f"plugin {dist}")
            except RegistryError as exc:
                self._refused.append((ep.name, f"refused plugin {ep.value} from {dist}: {exc.message}"))
