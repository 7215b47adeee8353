"""Keep freed memory in the process, so that a learner update's large tensors cost no page faults.

glibc's malloc serves every request above its mmap threshold (32 MiB at most) with a fresh
`mmap` and hands it back to the kernel on `free`. A learner update allocates and frees the
same large tensors every time (at 25m, batch 96: inputs of 400 MB, gates of 110 MB, ...),
so each update faults every page of them in again, and the kernel zeroes each 4 KiB page
on first touch. Measured on a 2-core AMD EPYC: 3.6 s per update at 25m, batch 96, against
2.2 s with the policy below (docs/performance.md).

`retain_freed_memory()` asks glibc to serve large requests from its heap (no `mmap`) and
never to trim the heap, so the memory one update frees is the next update's, already
mapped. The process then keeps its peak memory until it exits, which is what a run's
memory estimate assumes anyway (`pps.memory`). Numbers are unchanged: the same ops run on
the same 64-byte-aligned buffers (torch aligns every CPU tensor itself).

Only the commands that train or benchmark call it (the process is theirs); elsewhere, and
with a C library other than glibc (macOS, musl), nothing changes.
"""

from __future__ import annotations

import ctypes
import sys

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
_INT_MAX = 2**31 - 1


def retain_freed_memory() -> bool:
    """Apply the policy above; True if glibc took it (False: not glibc, nothing changed)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 -- present in glibc only
    except (OSError, AttributeError):
        return False
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, _INT_MAX))
