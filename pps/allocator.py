"""Keep freed memory in the process, so that a learner update's large tensors cost no page faults.

glibc's malloc serves every request above its mmap threshold (32 MiB at most) with a fresh
`mmap` and hands it back to the kernel on `free`. A learner update allocates and frees the
same large tensors every time (at 25m, batch 96: inputs of 400 MB, gates of 110 MB, ...),
so each update faulted every page of them in again, and the kernel zeroes each 4 KiB page
on first touch. Measured on an idle 2-core AMD EPYC (docs/performance.md): 2.4 s per update
at 25m, batch 96, against 1.5 s with the policy below.

`retain_freed_memory()` asks glibc to serve large requests from its main heap (no `mmap`)
and to trim the heap's top only past 2 GiB (the most `mallopt` accepts), so the memory one
update frees is reused by the next, already mapped. What it costs: torch allocates through
`posix_memalign`, which asks for a little more than a tensor's size, so a freed block fits
the same request again only once it has merged with a neighbour, and the heap grows for a
few updates before it settles. Peak RSS at 25m, batch 96, batch shapes changing every
update: 3,058 MB against 2,484 MB without the policy (+23%); `pps.memory` counts it. Numbers
are unchanged: the same ops run on buffers with the same 64-byte alignment (a test checks
an update's losses and parameters bit for bit).

Limits: it governs glibc's main arena, where the learner allocates (the main thread); other
threads' arenas still `mmap` blocks over 64 MiB. Under a preloaded jemalloc or tcmalloc,
glibc's `mallopt` still answers yes but governs nothing. Only the commands that train or
benchmark call it (the process is theirs); with a C library other than glibc (macOS, musl)
it does nothing and returns False.
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
