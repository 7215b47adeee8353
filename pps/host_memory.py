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

if TYPE_CHECKING:  # pragma: no cover
    from pps.config import RunConfig

SKIP_ENV = "PPS_MEMORY_CHECK"
_NO_LIMIT = 2**60  # cgroup v1 reports "no limit" as a huge page-rounded number
_CGROUP_ROOT = Path("/sys/fs/cgroup")


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


def _cgroup_room() -> int | None:
    """Bytes left under this process's cgroup memory limit (v2 or v1), None without a limit."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    rooms = []
    for line in lines:
        _, controllers, rel = line.split(":", 2)
        if controllers == "":  # cgroup v2
            base, limit_name, usage_name = _CGROUP_ROOT, "memory.max", "memory.current"
        elif "memory" in controllers.split(","):  # cgroup v1
            base, limit_name, usage_name = _CGROUP_ROOT / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes"
        else:
            continue
        # In a container the cgroup path is often not visible under the mount: its root is ours.
        for folder in (base / rel.lstrip("/"), base):
            limit, usage = _read_int(folder / limit_name), _read_int(folder / usage_name)
            if limit is not None and usage is not None:
                if limit < _NO_LIMIT:
                    rooms.append(max(limit - usage, 0))
                break
    return min(rooms) if rooms else None


def available_bytes() -> tuple[int, str] | None:
    """(bytes this process may still allocate, where that number comes from), or None if unknown."""
    found = [(b, src) for b, src in ((_meminfo_available(), "MemAvailable"), (_cgroup_room(), "cgroup limit"))
             if b is not None]
    return min(found) if found else None


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_fits(configs: Sequence["RunConfig"]) -> None:
    """UserError if a group of these runs (one cell, any seeds) needs more memory than is available."""
    if not configs or os.environ.get(SKIP_ENV, "").strip().lower() in ("off", "0", "false", "no"):
        return
    from pps.memory import train_memory_bytes

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
