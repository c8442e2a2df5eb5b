"""malloc tuning: after tune_malloc(), a large block comes from the heap, not from its own mmap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import ctypes, sys
from backend.engines.malloc_tuning import tune_malloc, _glibc
libc = _glibc()
if libc is None or not hasattr(libc, "mallinfo2"):
    print("skip"); sys.exit(0)
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = Info
print(tune_malloc()[0], tune_malloc()[0])
libc.malloc.restype = ctypes.c_void_p
before = libc.mallinfo2()
p = libc.malloc(64 << 20)   # 64 MB: far above glibc's default mmap threshold
info = libc.mallinfo2()
print(info.hblkhd - before.hblkhd)  # bytes in mmapped blocks that this malloc added
libc.free(ctypes.c_void_p(p))
"""


def _probe(env_extra: dict) -> list[str]:
    import os

    env = {**os.environ, **env_extra}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    if out == ["skip"]:
        pytest.skip("not glibc with mallinfo2")
    return out


def test_large_blocks_stay_in_the_heap():
    assert _probe({"TCMR_NO_MALLOC_TUNING": "0"}) == ["True", "True", "0"]


def test_without_tuning_a_large_block_is_mmapped():
    applied, again, mmapped = _probe({"TCMR_NO_MALLOC_TUNING": "1"})
    assert (applied, again) == ("False", "False") and int(mmapped) >= 64 << 20
