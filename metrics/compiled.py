"""Loading a metric's compiled (numba) loops, with the numpy steps as the fallback.

Each `*_kernels` module imports numba at the top; importing it can fail where numba does not support
the Python yet, or cannot set up its cache (no writable folder). The metric then runs its numpy
steps, which give the same numbers, and keeps the reason for a message.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from types import ModuleType


@lru_cache(maxsize=None)
def load_kernels(module: str) -> tuple[ModuleType | None, str | None]:
    """(the module, None), or (None, why it did not import)."""
    try:
        return importlib.import_module(module), None
    except Exception as exc:  # ImportError, or numba's RuntimeError when no cache folder is writable
        return None, f"{type(exc).__name__}: {exc}"


def use_kernels(module: str, compiled: bool | None, what: str) -> ModuleType | None:
    """The kernels module to run, or None for numpy. `compiled`: True requires the kernels (a clear
    ImportError where they cannot load), False refuses them, None uses them where they load."""
    kernels, why = load_kernels(module)
    if compiled and kernels is None:
        raise ImportError(
            f"{what}'s compiled loops are unavailable ({why}); pip install numba, "
            "or set NUMBA_CACHE_DIR to a writable folder"
        )
    return kernels if compiled is None or compiled else None
