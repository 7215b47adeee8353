"""Where a result came from: package versions, the git commit, the host and the time.

Every record the suite writes (a run's `run.json`, a benchmark's JSON) carries the same
provenance, built here once, so two records can be compared field by field. Import-cheap:
the standard library only (no torch, jax or smac), so the workflow and the analysis may use
it too.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

# The distributions whose versions decide a result, in the order records list them.
DISTRIBUTIONS = ("pps-bench", "torch", "jax", "jaxlib", "jaxmarl", "numpy", "smac")


def now() -> str:
    """The current UTC time, to the second, in ISO 8601 (e.g. 2025-01-31T12:00:00+00:00)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def versions(distributions: tuple[str, ...] = DISTRIBUTIONS) -> dict[str, str]:
    """Python's version and that of every installed distribution in `distributions`
    (`DISTRIBUTIONS`: those that decide a training result)."""
    out = {"python": platform.python_version()}
    for dist in distributions:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_commit() -> str | None:
    """The commit of the source tree this package runs from; None outside a git checkout."""
    try:
        here = Path(__file__).resolve().parent
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return done.stdout.strip() or None if done.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def host() -> str:
    """This machine's host name."""
    return socket.gethostname()


def machine() -> dict[str, Any]:
    """The CPU facts a timing depends on: platform, processor, core count and this process's
    CPU affinity (what a scheduler actually granted)."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }


def record() -> dict[str, Any]:
    """The provenance every result carries: `versions`, `git_commit` and `host`."""
    return {"versions": versions(), "git_commit": git_commit(), "host": host()}
