"""Handing memory that big models freed back to the operating system."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import sys


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory(collect: bool = True) -> None:
    """Return freed heap memory to the OS, so the process's resident size is what it uses.

    Tensors under 32 MiB (a ViT-L linear weight is 16 MiB) come from glibc's heap, which keeps
    freed memory for reuse: after full-size Depth Pro's fp32 linears are replaced by int8 ones
    the process still held 6.0 GB, 2.3 GB after a trim (BENCHMARKS.md). A no-op where glibc is
    absent. ``collect`` first frees what only reference cycles hold (a full collection takes
    0.1-0.2 s in a process holding a big model: skip it where nothing was left in cycles).
    """
    if collect:
        gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


__all__ = ["release_freed_memory"]
