"""Will a run (group) fit in the memory this process may use? Asked before anything is written.

A replay buffer larger than memory used to fail inside torch's allocator with a traceback,
after the run folder had been created, or, with overcommit, much later when the buffer
filled. `check_fits` compares `pps.memory`'s static estimate (the same one the workflow asks
the scheduler for) with the memory available here and refuses with one line.

"Available" is the smaller of the kernel's MemAvailable and the room left under the
process's cgroup memory limit: on a cluster node the job's cgroup, not the node's RAM, is
what the OOM killer enforces. Where neither can be read (not Linux), nothing is checked.
The estimate is an upper bound, so a run that barely fits may be refused on a busy machine;
`PPS_MEMORY_CHECK=off` skips the check for whoever knows better.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pps.errors import UserError
from pps.memory import train_memory_bytes

if TYPE_CHECKING:  # pragma: no cover
    from pps.config import RunConfig

SKIP_ENV = "PPS_MEMORY_CHECK"
_NO_LIMIT = 2**60  # cgroup v1 reports "no limit" as a huge page-rounded number
_CGROUP_ROOT = Path("/sys/fs/cgroup")
_PROC_CGROUP = Path("/proc/self/cgroup")


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # cgroup v2 writes "max" for no limit


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _stat(folder: Path, key: str) -> int:
    """One counter of a cgroup's memory.stat (0 where it cannot be read)."""
    try:
        for line in (folder / "memory.stat").read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _room(folder: Path, limit_name: str, usage_name: str, cache_key: str) -> int | None:
    """Bytes left under one cgroup's limit, None without a (readable) limit. Usage counts the
    page cache, which the kernel reclaims before it kills anything, so the cache is not used up."""
    limit, usage = _read_int(folder / limit_name), _read_int(folder / usage_name)
    if limit is None or usage is None or limit >= _NO_LIMIT:
        return None
    return max(limit - max(usage - _stat(folder, cache_key), 0), 0)


def _cgroup_room() -> int | None:
    """Bytes left under the tightest memory limit of this process's cgroup and every cgroup
    above it (a batch scheduler often sets the limit on the job's cgroup, not on the step's
    leaf below it); v2 or v1; None without a limit."""
    try:
        lines = _PROC_CGROUP.read_text().splitlines()
    except OSError:
        return None
    rooms = []
    for line in lines:
        _, controllers, rel = line.split(":", 2)
        if controllers == "":  # cgroup v2
            base, names = _CGROUP_ROOT, ("memory.max", "memory.current", "file")
        elif "memory" in controllers.split(","):  # cgroup v1
            base, names = _CGROUP_ROOT / "memory", ("memory.limit_in_bytes", "memory.usage_in_bytes",
                                                    "total_inactive_file")
        else:
            continue
        leaf = base / rel.lstrip("/")
        # In a container the cgroup path is often not visible under the mount: its root is ours.
        folders = [leaf, *[p for p in leaf.parents if p.is_relative_to(base)]] if leaf.exists() else [base]
        rooms += [room for room in (_room(f, *names) for f in folders) if room is not None]
    return min(rooms) if rooms else None


def available_bytes() -> tuple[int, str] | None:
    """(bytes this process may still allocate, where that number comes from), or None if unknown."""
    found = [(b, src) for b, src in ((_meminfo_available(), "MemAvailable"), (_cgroup_room(), "cgroup limit"))
             if b is not None]
    return min(found) if found else None


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_fits(configs: Sequence[RunConfig]) -> None:
    """UserError if a group of these runs (one cell, any seeds) needs more memory than is available."""
    if not configs or os.environ.get(SKIP_ENV, "").strip().lower() in ("off", "0", "false", "no"):
        return
    c, r = configs[0], len(configs)
    try:
        parts = train_memory_bytes(c.env, c.map, c.buffer_size, c.batch_size, c.compact_buffer, c.rnn_hidden)
    except UserError:  # a task without static sizes: nothing to estimate, so nothing to refuse
        return
    need = parts["total"] * r
    available = available_bytes()
    if available is None or need <= available[0]:
        return
    runs = f" x {r} runs" if r > 1 else ""
    compact = "" if c.compact_buffer else "set compact_buffer=true, "
    raise UserError(
        f"This run needs about {_gib(need)} of memory (replay buffer {_gib(parts['replay'])} for "
        f"buffer_size={c.buffer_size}{runs}), but only {_gib(available[0])} is available ({available[1]}). "
        f"Nothing was written. Lower buffer_size, {compact}or train fewer seeds per process "
        f"({SKIP_ENV}=off skips this check).")
