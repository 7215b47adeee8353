"""Complete runs -> the JSON that InstaDeep's marl-eval reads (Gorsane et al. 2022, docs/design.md §4).

marl-eval (github.com/instadeepai/marl-eval) aggregates per-episode evaluation values with
rliable. Its file, as its README shows and its loaders read it::

    {env: {task: {algorithm: {run: {"step_<i>": {"step_count": <int>, <metric>: [per-episode values]},
                                    ...,
                                    "absolute_metrics": {<metric>: [per-episode values]}}}}}}

What its code requires, and how this export meets it (`marl_eval/utils/data_processing_utils.py`,
`marl_eval/utils/diagnose_data_errors.py`):

- **Lower case.** `data_process_pipeline` and `DiagnoseData` lower-case every key
  (`lower_case_dictionary_keys`), so the export writes them lower-case already (MMM2 ->
  `mmm2`); two tasks of one env whose names differ only in case would merge, and are refused.
- **Run and step keys.** Names are free, but `create_matrices_for_rliable` takes the run keys of
  the first (task, algorithm) and the step keys of its first run and looks every other one up
  with them; so runs are `run_<i>` (the i-th seed of the cell in ascending order: seeds need
  not be the same across cells) and steps `step_<i>` (the i-th evaluation; `step_0` is the
  evaluation at step 0), in that order.
- **step_count** is an int (env steps). marl-eval's `evaluation_interval` is the mean
  difference of consecutive `step_count`s, starting from 0, and its sample-efficiency x axis is
  `i x evaluation_interval`. With `step_0` at step 0 that puts evaluation i at i x (last step /
  number of evaluations), within a fraction 1/n of its real step for n evaluations (0.25% for
  the paper's 401); leaving step 0 out would put every evaluation one interval early.
- **absolute_metrics.** Found by the substring "absolute" (`check_absolute_metric`), last in
  each run, with every metric the steps have: `DiagnoseData.check_metric` compares the metric
  names of every step, the absolute one included, and `data_process_pipeline` normalises each
  listed metric in every step. Its values are the run's final evaluation with
  `absolute_eval_episodes` (10 x `eval_episodes` by default) episodes.
- **Algorithms** (`check_comma_in_algo_names`): no commas. A cell is `qmix`, `qmix-ns`, or
  `a-pps_k300` for a method that aggregates every K = 300 updates.
- **One grid per environment.** `DiagnoseData.check_algo`, `check_runs` and `check_steps` (and
  the array shapes of `create_matrices_for_rliable`) need the same algorithms on every task,
  the same number of runs in every (task, algorithm) and the same number of steps in every run.
  A results tree that breaks this is exported as it is; `problems` names each break.

**Metrics**, one value per episode (marl-eval averages the list):

- `return`: the raw team return (before `reward_scale`), marl-eval's own name for it
  (`metrics_to_normalize=["return"]` in its examples min-max normalises it per task);
- `win_rate`: 1 or 0, on tasks with a win condition only (SMAX, SMAC);
- `score`: the suite's score (`pps.envs.scores`): the win (1 or 0) on SMAX and SMAC, the
  normalised return (R - R_random) / (R_ref - R_random) on MPE. It is normalised already, by
  fixed anchors, so it should not be listed in `metrics_to_normalize`.

Per-episode values come from each run's `episodes.csv.gz` (`pps.run_folder`). A run without one
(trained before the file existed) or without an absolute evaluation (`absolute_eval_episodes:
0`) cannot be exported; `build` lists them instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pps.analysis.data.cells import method_rank
from pps.analysis.data.collect import score_rules
from pps.analysis.data.runs import Run
from pps.envs.scores import ScoreRule
from pps.float_format import clean_float
from pps.run_folder import ABSOLUTE, TEST, Evaluation, RunFolder

ABSOLUTE_KEY = "absolute_metrics"
STEP_COUNT = "step_count"
RETURN, WIN_RATE, SCORE = "return", "win_rate", "score"


@dataclass
class Export:
    """The marl-eval JSON and the runs it could not hold (one line each, with the reason)."""

    data: dict[str, Any] = field(default_factory=dict)
    runs: int = 0
    left_out: list[str] = field(default_factory=list)


def algorithm_name(method: str, interval: int | None) -> str:
    """A cell's marl-eval algorithm name: the method, `_k<K>` for an aggregating one."""
    return method if interval is None else f"{method}_k{int(interval)}"


def metrics_of(evaluation: Evaluation, rule: ScoreRule) -> dict[str, list]:
    """One evaluation's metrics, per episode (`return`, `win_rate` where won or lost, `score`)."""
    out: dict[str, list] = {RETURN: list(evaluation.returns)}
    won = evaluation.won
    if won is not None:
        out[WIN_RATE] = [int(w) for w in won]
    scores = rule([float(w) for w in won] if won is not None else None, evaluation.returns)
    out[SCORE] = [int(s) if won is not None else clean_float(s) for s in scores.tolist()]
    return out


def run_entry(evaluations: list[Evaluation], rule: ScoreRule) -> dict[str, Any] | None:
    """One run's `step_<i>` entries and `absolute_metrics`; None without an absolute evaluation."""
    tests = [e for e in evaluations if e.phase == TEST]
    absolute = [e for e in evaluations if e.phase == ABSOLUTE]
    if not absolute:
        return None
    entry: dict[str, Any] = {f"step_{i}": {STEP_COUNT: int(e.step), **metrics_of(e, rule)}
                             for i, e in enumerate(tests)}
    entry[ABSOLUTE_KEY] = metrics_of(absolute[-1], rule)
    return entry


def _order(run: Run) -> tuple:
    return (run.env, run.map.lower(), method_rank(run.method), run.method,
            -1 if run.interval is None else run.interval, run.seed)


def build(runs: list[Run], read: Callable[[Run], list[Evaluation] | None] | None = None) -> Export:
    """The marl-eval JSON of `runs` (complete runs, `load_runs`). `read` gives a run's
    evaluations (default: its folder's episodes.csv.gz)."""
    read = read or (lambda run: RunFolder(run.path).read_episodes())
    rules = score_rules(runs) if runs else {}
    out = Export()
    tasks: dict[tuple[str, str], str] = {}
    for run in sorted(runs, key=_order):
        task = run.map.lower()
        if tasks.setdefault((run.env, task), run.map) != run.map:
            raise ValueError(f"maps {tasks[(run.env, task)]} and {run.map} of {run.env} are one task to marl-eval, "
                             f"which lower-cases every name")
        try:
            evaluations = read(run)
        except ValueError as err:
            out.left_out.append(f"{run.path}: unreadable episodes file ({err})")
            continue
        if evaluations is None:
            out.left_out.append(f"{run.path}: no per-episode values (no episodes file: trained before this "
                                f"version, or resumed from an older checkpoint)")
            continue
        entry = run_entry(evaluations, rules[(run.env, run.map)])
        if entry is None:
            out.left_out.append(f"{run.path}: no absolute evaluation (absolute_eval_episodes was 0)")
            continue
        cell = out.data.setdefault(run.env, {}).setdefault(task, {}).setdefault(
            algorithm_name(run.method, run.interval), {})
        cell[f"run_{len(cell)}"] = entry
        out.runs += 1
    return out


def problems(data: dict[str, Any]) -> list[str]:
    """What marl-eval's DiagnoseData would flag, one line each: per environment, algorithms
    missing on some task, cells with another number of runs, runs with another number of
    evaluations, steps with other metric names."""
    lines = []
    for env, tasks in data.items():
        algorithms = {task: set(algos) for task, algos in tasks.items()}
        every = set().union(*algorithms.values())
        for task, present in algorithms.items():
            if present != every:
                lines.append(f"{env}/{task}: no runs of {', '.join(sorted(every - present))}, which other tasks of "
                             f"{env} have (marl-eval needs the same algorithms on every task of an environment)")
        n_runs = Counter(len(runs) for algos in tasks.values() for runs in algos.values())
        if len(n_runs) > 1:
            shown = ", ".join(f"{task}/{algo}: {len(runs)}" for task, algos in tasks.items()
                              for algo, runs in algos.items())
            lines.append(f"{env}: cells have different numbers of runs ({shown}); marl-eval needs one number")
        n_steps = Counter(len(steps) for algos in tasks.values() for runs in algos.values() for steps in runs.values())
        if len(n_steps) > 1:
            counts = ", ".join(f"{n - 1} ({k} runs)" for n, k in sorted(n_steps.items()))
            lines.append(f"{env}: runs have different numbers of evaluations ({counts}); marl-eval needs one number")
        names = {tuple(sorted(set(metrics) - {STEP_COUNT})) for algos in tasks.values() for runs in algos.values()
                 for steps in runs.values() for metrics in steps.values()}
        if len(names) > 1:
            lines.append(f"{env}: steps have different metrics ({'; '.join(', '.join(n) for n in sorted(names))})")
    return lines
