"""Giving freed memory back to the system, so a long clip's peak stays near one clip.

With glibc, the float temporaries a chunked metric allocates and frees (SSIM's five blurred maps,
per chunk of frames) are served from the heap, and freed heap space is mostly kept by the process:
scoring SSIM on a 1000-frame clip left ~570 MB resident that nothing used. `malloc_trim(0)` returns
the free pages (top of the heap and, since glibc 2.8, free chunks inside it). A no-op where the C
library has no malloc_trim (macOS, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Return the process's free heap pages to the system (glibc's malloc_trim); cheap, never fails."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
