"""What a run cost when it trained in a run group: the group's totals and the run's share.

A run group trains R runs in one process, so its wall-clock, its seconds per section, its
learner time and its memory belong to the group, not to any one run. Reporting them as
each run's own made grouped runs look several times dearer than they were, and `pps
overhead`/`pps scaling` compared them with runs alone. `run.json` therefore keeps both,
named apart (the README's run-folder table describes them):

* top level, the run's **share** (what every analysis compares): `wall_s`, `time_s`
  (seconds per `pps.timing.SECTIONS`, summing to `wall_s`), `learner_ms_per_update`,
  `peak_rss_mb` and `steps_per_s` (the run's env steps / its `wall_s`);
* `group_cost`, the **group's totals** when the run finished: `runs` (R), `wall_s`,
  `time_s`, `learner_ms_per_update` (one update steps all R runs), `peak_rss_mb` (the
  process's peak), `t_env` (env steps of all R runs) and `steps_per_s` (`t_env / wall_s`).

A run alone is a group of one: its share is the whole, and both blocks agree.

How a share is made. Runs advance in lockstep and do equal work, so every stretch of the
group's wall-clock and every section's seconds are split equally among the runs still
training then. Once a run has finished, the time its idle slots still cost is carried by
the runs still training, so the shares of a group's runs add up to its totals. Memory is
not a flow: a run's `peak_rss_mb` is the process's peak / R (a share of the common base of
Python, torch and jax included, which is what grouping saves). A share survives
checkpoints (`CostShares.state`), so a run resumed in a different group, or alone, keeps
what it was charged before.

`per_run_cost` reads any run.json, including those written before this split (no
`group_cost`): their top-level numbers are the group's, and are divided by the group size.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pps.timing import SectionTimer

# The run.json fields that hold a run's share (top level) and the group's totals (group_cost).
SHARE_FIELDS = ("wall_s", "time_s", "learner_ms_per_update", "peak_rss_mb", "steps_per_s")
GROUP_COST = "group_cost"


class CostShares:
    """Splits a run group's growing wall-clock and section seconds among its training runs.

    `advance` is called with the group's running totals; whatever they grew since the last
    call is divided equally among the runs named active. Call it before reading a share.
    """

    def __init__(self, n_runs: int, wall_s: float = 0.0, time_s: Mapping[str, float] | None = None,
                 carried: Sequence[Mapping[str, Any] | None] | None = None) -> None:
        """`wall_s`/`time_s`: the group's totals so far (a resumed group: its checkpoint's);
        `carried`: each run's share so far from its checkpoint. A checkpoint from before
        shares were recorded carries None: that run is charged the totals / n_runs, as if
        this group had trained it from the start."""
        time_s = dict(time_s or {})
        self._seen_wall, self._seen_time = float(wall_s), time_s
        self.wall: list[float] = []
        self.time: list[dict[str, float]] = []
        for share in carried or [None] * n_runs:
            if share is None:
                self.wall.append(float(wall_s) / n_runs)
                self.time.append({k: v / n_runs for k, v in time_s.items()})
            else:
                self.wall.append(float(share["wall_s"]))
                self.time.append({k: float(v) for k, v in share["time_s"].items()})
        if len(self.wall) != n_runs:
            raise ValueError(f"{len(self.wall)} carried shares for a group of {n_runs}")

    def advance(self, wall_s: float, time_s: Mapping[str, float], active: Iterable[int]) -> None:
        """Charge the growth of the group's totals since the last call to the `active` runs."""
        active = list(active)
        if active:
            n = len(active)
            grown_wall = max(float(wall_s) - self._seen_wall, 0.0)
            grown = {k: float(v) - self._seen_time.get(k, 0.0) for k, v in time_s.items()}
            for i in active:
                self.wall[i] += grown_wall / n
                for k, d in grown.items():
                    self.time[i][k] = self.time[i].get(k, 0.0) + d / n
        self._seen_wall, self._seen_time = float(wall_s), dict(time_s)

    def state(self, i: int) -> dict[str, Any]:
        """Run i's share so far, for its checkpoint (what `carried` takes back)."""
        return {"wall_s": self.wall[i], "time_s": dict(self.time[i])}


def _ms_per_update(seconds: float, updates: int) -> float | None:
    return round(1000 * seconds / updates, 3) if updates else None


def _rate(steps: float, seconds: float) -> float | None:
    return round(steps / seconds, 1) if seconds > 0 else None


def cost_record(share: Mapping[str, Any], group_wall_s: float, group_time_s: Mapping[str, float],
                t_env: int, group_t_env: int, updates: int, n_runs: int, peak_mb: float) -> dict[str, Any]:
    """run.json's cost fields for one run: its share at top level, the group's totals in `group_cost`."""
    share_wall = float(share["wall_s"])
    share_time = SectionTimer(dict(share["time_s"])).breakdown(share_wall)
    group_time = SectionTimer(dict(group_time_s)).breakdown(group_wall_s)
    return {
        "wall_s": round(share_wall, 3),
        "time_s": share_time,
        "learner_ms_per_update": _ms_per_update(float(share["time_s"].get("learner", 0.0)), updates),
        "peak_rss_mb": round(peak_mb / n_runs, 1),
        "steps_per_s": _rate(t_env, share_wall),
        GROUP_COST: {
            "runs": n_runs,
            "wall_s": round(group_wall_s, 3),
            "time_s": group_time,
            "learner_ms_per_update": _ms_per_update(float(group_time_s.get("learner", 0.0)), updates),
            "peak_rss_mb": peak_mb,
            "t_env": group_t_env,
            "steps_per_s": _rate(group_t_env, group_wall_s),
        },
    }


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return math.nan
    return float(value)


def group_size(info: Mapping[str, Any]) -> int:
    """How many runs shared the process that finished this run (1 for a run alone or unknown)."""
    cost = info.get(GROUP_COST)
    size = (cost or {}).get("runs") if isinstance(cost, Mapping) else None
    if size is None:
        group = info.get("group")
        size = group.get("size") if isinstance(group, Mapping) else None
    return int(size) if isinstance(size, int) and not isinstance(size, bool) and size > 0 else 1


def per_run_cost(info: Mapping[str, Any]) -> dict[str, Any]:
    """This run's own cost from its run.json, whatever group it trained in.

    Returns `wall_s`, `time_s` (a dict, or None when not recorded), `learner_ms_per_update`,
    `peak_rss_mb` (floats, NaN when not recorded) and `group_size`. A run.json with a
    `group_cost` block already holds shares at top level; an older one holds the group's
    totals there, which are divided by the group size here (an equal split, the same rule
    as the trainer's while every run trains).
    """
    size = group_size(info)
    divide = 1 if GROUP_COST in info else size
    time_s = info.get("time_s")
    if isinstance(time_s, Mapping) and time_s:
        time_s = {k: _number(v) / divide for k, v in time_s.items()}
    else:
        time_s = None
    return {
        "wall_s": _number(info.get("wall_s")) / divide,
        "time_s": time_s,
        "learner_ms_per_update": _number(info.get("learner_ms_per_update")) / divide,
        "peak_rss_mb": _number(info.get("peak_rss_mb")) / divide,
        "group_size": size,
    }



# --------------------------------------------------------------------------- the cost unit
# Every table, figure and document states compute cost per environment step in one unit, hours
# per million env steps: a run's wall-clock / its env steps x 1e6 / 3600. Hours, because a full
# run is 1-2M steps and a reader budgets cluster time in hours; per million steps, because runs
# of different lengths then compare. (run.json and overhead.csv keep raw durations in seconds:
# those are measurements, not costs per step.)
COST_UNIT = "hours per million env steps"
COST_UNIT_SHORT = "h per 1M env steps"
SECONDS_PER_HOUR = 3600.0
STEPS_PER_UNIT = 1e6


def hours_per_mstep(seconds: float, steps: float) -> float:
    """`seconds` of wall-clock spent on `steps` env steps, in COST_UNIT (NaN without steps)."""
    if not (math.isfinite(seconds) and math.isfinite(steps) and steps > 0):
        return math.nan
    return seconds / steps * STEPS_PER_UNIT / SECONDS_PER_HOUR
