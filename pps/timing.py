"""Where a run's wall-clock goes: named sections that add up to the whole.

The paper never reported what periodic sharing costs; the suite does, per run. The
training loop wraps each kind of work in `timer.section(name)`; the runner reports the
part of an episode spent inside the env separately, so acting (agent forward passes and
action selection) and env stepping are told apart. Whatever no section covers (progress
bar, bookkeeping) is `other`, so the parts sum to the measured wall-clock exactly and a
large `other` shows that a section is missing.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

# The sections of a training run, in the order run.json and overhead.csv list them.
SECTIONS = ("env", "acting", "replay", "learner", "aggregation", "evaluation", "checkpoint", "other")


class SectionTimer:
    """Accumulates seconds per section into a plain dict (which a checkpoint can carry)."""

    def __init__(self, totals: dict[str, float] | None = None) -> None:
        self.totals: dict[str, float] = totals if totals is not None else {}

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        self.totals[name] = self.totals.get(name, 0.0) + seconds

    def breakdown(self, wall_s: float) -> dict[str, float]:
        """Seconds per section (every one of SECTIONS), `other` = wall-clock minus the rest."""
        parts = {name: round(self.totals.get(name, 0.0), 3) for name in SECTIONS if name != "other"}
        parts["other"] = round(max(wall_s - sum(self.totals.get(n, 0.0) for n in parts), 0.0), 3)
        return parts


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)
