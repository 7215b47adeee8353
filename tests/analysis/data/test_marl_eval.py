"""The marl-eval export: the JSON passes the checks marl-eval's loaders make, holds the values
of the run folders, and leaves out (naming them) runs without per-episode values.

marl-eval itself is not a dependency (it pins pandas 1.4), so `marl_eval_load` below repeats
what its code does with a file, step by step, from instadeepai/marl-eval (commit 5675ad6):
`marl_eval/utils/diagnose_data_errors.py` (`DiagnoseData.check_data`) and
`marl_eval/utils/data_processing_utils.py` (`lower_case_dictionary_keys`,
`check_comma_in_algo_names`, `data_process_pipeline`, `check_absolute_metric`,
`create_matrices_for_rliable`). Where marl-eval would print an error and go on, this raises.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pps.analysis import commands
from pps.analysis.data import marl_eval
from pps.analysis.data.collect import collect
from pps.analysis.data.runs import load_runs
from pps.errors import UserError
from tests.helpers.synthetic_runs import sigmoid_curve, write_run

R_RANDOM, R_REF = -80.1471, -26.2971  # simple_spread_v3's committed anchors
METHODS = (("qmix", None), ("a-pps", 50), ("rs-pps", 300))
SEEDS = (0, 1, 2)


# --------------------------------------------------------------------------- marl-eval's loaders, repeated
def lower_case_dictionary_keys(dictionary: dict) -> dict:
    """data_processing_utils.lower_case_dictionary_keys."""
    return {k.lower(): lower_case_dictionary_keys(v) if isinstance(v, dict) else v for k, v in dictionary.items()}


def diagnose(raw: dict) -> dict[str, dict[str, bool]]:
    """DiagnoseData(raw).check_data(): per env, the same algorithms on every task (check_algo),
    no comma in their names (check_comma_in_algo_names), the same number of runs (check_runs),
    of step keys per run, absolute_metrics included (check_steps), and the same metric names in
    every step, step_count aside (check_metric)."""
    raw = lower_case_dictionary_keys(raw)
    out = {}
    for env, tasks in raw.items():
        algorithms = [sorted(tasks[t]) for t in tasks]
        runs = [len(tasks[t][a]) for t in tasks for a in tasks[t]]
        steps = [len(tasks[t][a][r]) for t in tasks for a in tasks[t] for r in tasks[t][a]]
        metrics = [sorted(set(m) - {"step_count"}) for t in tasks for a in tasks[t] for r in tasks[t][a]
                   for m in tasks[t][a][r].values()]
        out[env] = {
            "valid_algorithms": all(a == algorithms[0] for a in algorithms),
            "valid_algorithm_names": all("," not in str(a) for a in algorithms[0]),
            "valid_runs": runs.count(runs[0]) == len(runs),
            "valid_steps": steps.count(steps[0]) == len(steps),
            "valid_metrics": all(m == metrics[0] for m in metrics),
        }
    return out


def data_process_pipeline(raw: dict, metrics_to_normalize: list[str]) -> dict:
    """data_processing_utils.data_process_pipeline, without its catch-all: global min/max of each
    listed metric per task (it must exist in every step, absolute_metrics included), then
    mean_<m> of every metric, norm_<m>/mean_norm_<m> of the listed ones, and the evaluation
    interval as the mean difference of consecutive step_counts from 0."""
    raw = lower_case_dictionary_keys(raw)
    processed = copy.deepcopy(raw)
    extra = {"evaluation_interval": {}, "number_of_runs": 0, "number_of_steps": 0, "algorithm_list": []}
    for env, tasks in raw.items():
        intervals = []
        for task, algorithms in tasks.items():
            bounds: dict[str, list[float]] = {}
            for algorithm, runs in algorithms.items():
                if algorithm not in extra["algorithm_list"]:
                    extra["algorithm_list"].append(algorithm)
                extra["number_of_runs"] = extra["number_of_runs"] or len(runs)
                for steps in runs.values():
                    extra["number_of_steps"] = extra["number_of_steps"] or len(steps) - 1
                    for metrics in steps.values():
                        for m in metrics_to_normalize:
                            lo, hi = np.min(metrics[m]), np.max(metrics[m])
                            b = bounds.setdefault(m, [lo, hi])
                            b[0], b[1] = min(b[0], lo), max(b[1], hi)
            for algorithm, runs in algorithms.items():
                for run, steps in runs.items():
                    step_count = 0
                    for step, metrics in steps.items():
                        target = processed[env][task][algorithm][run][step]
                        for m in metrics:
                            if "step_count" in m:
                                assert isinstance(metrics[m], int), f"{step}: step_count must be an int"
                                intervals.append(metrics[m] - step_count)
                                step_count = metrics[m]
                                continue
                            target[f"mean_{m}"] = float(np.mean(metrics[m]))
                            if m in metrics_to_normalize:
                                lo, hi = bounds[m]
                                normed = (np.asarray(metrics[m]) - lo) / (hi - lo + 1e-6)
                                target[f"norm_{m}"] = normed.tolist()
                                target[f"mean_norm_{m}"] = float(np.mean(normed))
        extra["evaluation_interval"][env] = round(np.mean(intervals))
    assert all("," not in a for a in extra["algorithm_list"])
    processed["extra"] = extra
    return processed


def create_matrices_for_rliable(processed: dict, env: str, metrics_to_normalize: list[str]):
    """data_processing_utils.create_matrices_for_rliable: task, algorithm, run and step keys
    from the first of each, looked up everywhere; the absolute step found by check_absolute_metric;
    the plotted metrics chosen by _select_metrics_for_plotting; [runs, tasks] arrays of the
    absolute metrics and [runs, tasks, steps] arrays of the others."""
    data_env = processed[env]
    tasks = list(data_env)
    algorithms = list(data_env[tasks[0]])
    runs = list(data_env[tasks[0]][algorithms[0]])
    steps = list(data_env[tasks[0]][algorithms[0]][runs[0]])
    absolute = next((s for s in steps if "absolute" in s), None)
    assert absolute is not None, "no absolute_metrics step"
    plotted = []
    for metric in data_env[tasks[0]][algorithms[0]][runs[0]][absolute]:
        parts = metric.split("_")
        normalised = len(set(parts) & set(metrics_to_normalize))
        if parts[0] == "mean" and ((normalised and parts[1] == "norm") or not normalised):
            plotted.append(metric)
    final = {m: {a: np.array([[np.mean(data_env[t][a][r][absolute][m]) for t in tasks] for r in runs])
                 for a in algorithms} for m in plotted}
    curves = {m: {a: np.stack([np.array([[np.mean(data_env[t][a][r][s][m]) for t in tasks] for r in runs])
                               for s in steps if s != absolute], axis=2)
                  for a in algorithms} for m in plotted}
    return final, curves


# --------------------------------------------------------------------------- a results tree
def _grid(root: Path, per_episode: int = 4) -> Path:
    """Runs on two SMAX maps and one MPE task, three cells, three seeds, per-episode files."""
    runs = root / "runs"
    for seed in SEEDS:
        for method, interval in METHODS:
            speed = {"qmix": 1.0, "a-pps": 0.7, "rs-pps": 0.8}[method]
            for map_ in ("3m", "MMM2"):
                write_run(runs, map_=map_, method=method, interval=interval, seed=seed, t_max=20_000,
                          jitter=seed * 7, win=sigmoid_curve(10_000 * speed, 3_000), per_episode=per_episode)
            write_run(runs, env="mpe", map_="simple_spread_v3", method=method, interval=interval, seed=seed,
                      t_max=20_000, returns=lambda s: R_RANDOM + (s / 20_000) * (R_REF - R_RANDOM),
                      per_episode=per_episode)
    return runs


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, dict, list[str]]:
    root = tmp_path_factory.mktemp("results")
    _grid(root)
    lines: list[str] = []
    commands.export(root, report=lines.append)
    return root, json.loads((root / "marl_eval.json").read_text()), lines


def test_the_export_passes_every_check_of_marl_evals_loaders(exported):
    _, raw, lines = exported
    assert lines == []  # nothing left out, no break of marl-eval's rules
    assert lower_case_dictionary_keys(raw) == raw  # written lower-case: MMM2 -> mmm2
    assert list(raw) == ["mpe", "smax"] and list(raw["smax"]) == ["3m", "mmm2"]
    assert all(all(diagnose(raw)[env].values()) for env in raw), diagnose(raw)
    processed = data_process_pipeline(raw, ["return"])
    assert processed["extra"]["number_of_runs"] == 3 and processed["extra"]["number_of_steps"] == 5
    # step_0 is the evaluation at step 0, so marl-eval's interval (the mean step difference from 0) is
    # the last step over the number of evaluations: 20k / 5, where the runs evaluated every 5k
    assert abs(processed["extra"]["evaluation_interval"]["smax"] - 4_000) < 10
    for env, metrics in (("smax", {"mean_norm_return", "mean_win_rate", "mean_score"}),
                         ("mpe", {"mean_norm_return", "mean_score"})):
        final, curves = create_matrices_for_rliable(processed, env, ["return"])
        assert set(final) == metrics
        n_tasks = len(raw[env])
        for metric in metrics:
            assert list(final[metric]) == ["qmix", "a-pps_k50", "rs-pps_k300"]
            assert all(a.shape == (3, n_tasks) for a in final[metric].values())
            assert all(a.shape == (3, n_tasks, 5) for a in curves[metric].values())


def test_keys_and_values_are_the_run_folders(exported):
    root, raw, _ = exported
    run = raw["smax"]["3m"]["a-pps_k50"]["run_1"]  # the second seed in ascending order: seed 1
    assert list(run) == [f"step_{i}" for i in range(5)] + ["absolute_metrics"]
    metrics = pd.read_csv(root / "runs" / "smax" / "3m" / "a-pps" / "50" / "seed1" / "metrics.csv")
    assert [run[f"step_{i}"]["step_count"] for i in range(5)] == metrics["step"].tolist()
    for i, row in metrics.iterrows():
        step = run[f"step_{i}"]
        assert set(step) == {"step_count", "return", "win_rate", "score"} and len(step["return"]) == 4
        assert np.mean(step["win_rate"]) == round(row["test_win_rate"] * 4) / 4
        assert step["score"] == step["win_rate"]  # a task with a win condition is scored by its win rate
        assert np.mean(step["return"]) == pytest.approx(row["test_return_mean"], abs=1e-6)
    assert set(run["absolute_metrics"]) == {"return", "win_rate", "score"}
    assert len(run["absolute_metrics"]["return"]) == 40  # ten times a test evaluation's episodes
    # MPE: no win rate; the score is the normalised return of each episode
    mpe = raw["mpe"]["simple_spread_v3"]["qmix"]["run_0"]
    assert set(mpe["step_4"]) == {"step_count", "return", "score"}
    np.testing.assert_allclose(mpe["step_4"]["score"],
                               (np.array(mpe["step_4"]["return"]) - R_RANDOM) / (R_REF - R_RANDOM), atol=1e-9)
    assert np.mean(mpe["absolute_metrics"]["score"]) == pytest.approx(1.0, abs=1e-6)
    # floats as written in episodes.csv.gz, no binary noise
    text = (root / "marl_eval.json").read_text()
    assert "00000000" not in text and "99999999" not in text


def test_runs_without_per_episode_values_are_named_and_left_out_and_collect_ignores_the_file(tmp_path):
    runs = _grid(tmp_path, per_episode=0)  # folders as an older version wrote them
    lines: list[str] = []
    with pytest.raises(UserError, match="None of the 27 complete runs"):
        commands.export(tmp_path, report=lines.append)
    assert len(lines) == 27 and all("no per-episode values" in line for line in lines)
    before = collect(load_runs(runs), 3)
    with_files = tmp_path / "with"
    _grid(with_files)
    after = collect(load_runs(with_files / "runs"), 3)
    pd.testing.assert_frame_equal(before[0], after[0])
    pd.testing.assert_frame_equal(before[1].drop(columns="run_dir"), after[1].drop(columns="run_dir"))
    # one old run among new ones: exported without it, and the export says which
    old = with_files / "runs" / "smax" / "3m" / "qmix" / "-" / "seed2"
    (old / "episodes.csv.gz").unlink()
    lines.clear()
    line = commands.export(with_files, tmp_path / "out.json", report=lines.append)
    assert line.startswith("26 runs (1 left out")
    assert lines[0] == f"left out {old}: no per-episode values (no episodes file: trained before this version, " \
                       f"or resumed from an older checkpoint)"
    assert any("different numbers of runs" in x for x in lines)  # what marl-eval's DiagnoseData would say
    assert not diagnose(json.loads((tmp_path / "out.json").read_text()))["smax"]["valid_runs"]


def test_problems_name_each_break_of_one_grid_per_environment():
    step = {"step_count": 0, "return": [1.0], "score": [0.5]}
    run = {"step_0": step, "absolute_metrics": {"return": [1.0], "score": [0.5]}}
    data = {"mpe": {"a": {"qmix": {"run_0": run}, "vdn": {"run_0": run}},
                    "b": {"qmix": {"run_0": run, "run_1": {"absolute_metrics": run["absolute_metrics"]}}}}}
    lines = marl_eval.problems(data)
    assert len(lines) == 3
    assert "mpe/b: no runs of vdn" in lines[0]
    assert "different numbers of runs" in lines[1] and "different numbers of evaluations" in lines[2]
    assert marl_eval.algorithm_name("a-pps", 300) == "a-pps_k300" and marl_eval.algorithm_name("vdn", None) == "vdn"
