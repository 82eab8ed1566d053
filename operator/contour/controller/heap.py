"""Giving freed heap memory back to the system after a large rebuild.

The first build of a large configuration allocates and frees hundreds of megabytes of short-lived
objects (pydantic models, DAG pieces, protobuf messages). CPython and upb return most of it to glibc's
malloc, which keeps it: the process's resident size stays at its peak. `malloc_trim(0)` asks glibc to
release free pages (bench/httpproxy.py measures the effect). Elsewhere (musl, macOS) it does nothing.
https://man7.org/linux/man-pages/man3/malloc_trim.3.html
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_free_memory() -> bool:
    """Return free heap pages to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
