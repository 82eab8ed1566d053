"""release_free_memory: glibc's malloc_trim where it exists."""

from __future__ import annotations

import platform

from contour.controller.heap import release_free_memory


def test_free_memory_is_released_through_glibc() -> None:
    libc, _ = platform.libc_ver()
    assert release_free_memory() is (libc == "glibc")
