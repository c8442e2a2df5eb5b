"""Keep glibc's heap for large blocks: no page-fault storm in the CPU backbone.

A ResNet-50 forward on a batch of 32 crops allocates activations of tens of megabytes each.
glibc serves blocks above its mmap threshold with fresh `mmap` calls and returns them with
`munmap`, so every forward maps new pages and the kernel zero-fills and faults each one in:
on a 2-core machine this is about half of the CPU time (system time and millions of minor
faults per few hundred crops). Two `mallopt` settings keep the memory in the heap instead:

    M_MMAP_MAX = 0              never serve an allocation with its own mmap
    M_TRIM_THRESHOLD = 1 GiB    do not give freed heap back to the kernel until 1 GiB is free

The process then reuses the same pages batch after batch; its peak memory is the same (the
blocks are needed anyway) but it is kept until exit. Where glibc is absent (macOS, Windows,
musl) nothing is done. `tune_malloc()` is idempotent and cheap; call it once at start-up.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc malloc.h
M_MMAP_MAX = -4
TRIM_THRESHOLD_BYTES = 1 << 30
DISABLE_ENV = "TCMR_NO_MALLOC_TUNING"  # set to 1 to keep glibc's defaults (benchmarks compare both)

_state: dict[str, object] = {"done": False, "applied": False, "why": ""}


def _glibc():
    """The C library when it is glibc (has mallopt and gnu_get_libc_version), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.mallopt.restype = ctypes.c_int
        return libc
    except (OSError, AttributeError):
        return None


def tune_malloc() -> tuple[bool, str]:
    """Apply the settings once per process -> (applied, one-line explanation for the log)."""
    if _state["done"]:
        return bool(_state["applied"]), str(_state["why"])
    _state["done"] = True
    if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
        _state["why"] = f"malloc tuning disabled by {DISABLE_ENV}"
        return False, str(_state["why"])
    libc = _glibc()
    if libc is None:
        _state["why"] = "malloc tuning skipped: the C library is not glibc"
        return False, str(_state["why"])
    ok = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    _state["applied"] = ok
    _state["why"] = ("glibc heap kept for large blocks (M_MMAP_MAX=0, M_TRIM_THRESHOLD=1 GiB)" if ok
                     else "mallopt refused the settings; glibc defaults kept")
    return ok, str(_state["why"])
