"""Training: build a run group's parts, train them, and manage run groups and their folders.

| module | owns |
| --- | --- |
| `build` | building every part of a run group from its configs (envs, networks, learner, replay, runners, sharing) |
| `trainer` | `Trainer`: the loop (schedule, evaluation, aggregation, checkpoints) |
| `group` | `run_group` / `run_training`: which runs to train, resume or skip; locks; run.json's start |

Every file a run writes goes through `pps.run_folder`. The names below are the package's
public interface (`from pps.train import run_group`).
"""

from __future__ import annotations

from pps.train.build import MAX_EVAL_ENVS, GroupRun, Progress, group_cell
from pps.train.group import deviations, run_group, run_training
from pps.train.trainer import Trainer, rs_weight_summary, weight_peak

__all__ = [
    "MAX_EVAL_ENVS", "GroupRun", "Progress", "Trainer", "deviations", "group_cell", "rs_weight_summary",
    "run_group", "run_training", "weight_peak",
]
