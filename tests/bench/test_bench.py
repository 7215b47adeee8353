"""`pps bench` plumbing: every benchmark runs in --smoke mode and writes its JSON/table; the
reference loop computes the same loss as the slot learner; targets are judged correctly.
No timing assertions: the figures of a smoke run mean nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from pps.bench.learner import AgentLoop, ReferenceLoopLearner, build_learner, learner_config, synthetic_batch
from pps.bench.targets import evaluate_targets
from pps.cli import main
from pps.nets.agents import SlotLayout, agent_from_slot
from pps.nets.mixers import QMixer


@pytest.mark.parametrize("fill", [1.0, 0.6])
def test_reference_loop_learner_equals_slot_learner(fill):
    """The slot learner skips padded steps, the loop computes them: the same loss."""
    n, obs, state, a, hidden = 3, 5, 6, 4, 8
    torch.manual_seed(0)
    slot = build_learner("independent", n, obs + a + n, hidden, a, state, torch.device("cpu"), seed=1)
    loop_agents = AgentLoop(n, obs + a + n, hidden, a)
    for i in range(n):
        loop_agents.nets[i].load_state_dict(agent_from_slot(slot.agents, i).state_dict())
    mixer = QMixer(n, state)
    mixer.load_state_dict(slot.mixer.state_dict())
    ref = ReferenceLoopLearner(loop_agents, SlotLayout("per_agent", n, n), mixer, learner_config())  # type: ignore[arg-type]
    batch = synthetic_batch(6, 9, n, obs, state, a, torch.device("cpu"), fill=fill)
    assert batch.filled.float().mean().item() == pytest.approx(fill, abs=0.2)
    torch.testing.assert_close(ref.loss(batch), slot.loss(batch), rtol=1e-5, atol=1e-6)


def test_smoke_learner_and_memory_in_process(tmp_path, capsys):
    assert main(["bench", "--smoke", "--only", "learner,memory", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "MEASUREMENTS" in out and "TARGETS" in out
    record = json.loads((tmp_path / "smoke.json").read_text())
    assert record["mode"] == "smoke" and record["settings"]["threads"] == 1
    for key in ("date", "versions", "torch_threads", "cpu_count"):
        assert key in record["host"]
    variants = {r["variant"] for r in record["rows"] if r["bench"] == "learner_update"}
    assert variants == {"shared", "independent", "shared every row", "independent every row", "reference-loop"}
    mem = [t for t in record["targets"] if t["target"].startswith("buffer")]
    assert mem and mem[0]["result"] == "PASS"  # a byte count, not a timing
    assert (tmp_path / "smoke.md").read_text().startswith("| benchmark")


def test_cuda_request_without_cuda_is_skipped_clearly(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert main(["bench", "--smoke", "--only", "learner", "--device", "cuda", "--out", str(tmp_path)]) == 0
    assert "no CUDA device" in capsys.readouterr().err
    record = json.loads((tmp_path / "smoke-cuda.json").read_text())
    assert record["rows"] == [] and record["skipped"]


@pytest.mark.parametrize("fill", ["0", "1.5", "-0.2"])
def test_a_fill_outside_0_to_1_is_a_user_error(tmp_path, capsys, fill):
    assert main(["bench", "--smoke", "--only", "learner", "--fill", fill, "--out", str(tmp_path)]) == 2
    assert "--fill must be in (0, 1]" in capsys.readouterr().err


def test_bad_only_is_a_user_error(tmp_path, capsys):
    assert main(["bench", "--smoke", "--only", "learnr", "--out", str(tmp_path)]) == 2
    assert "unknown benchmark" in capsys.readouterr().err


def test_targets_are_judged_from_rows():
    def lr(variant, ms, n=8):
        return {"bench": "learner_update", "case": "", "value": ms, "unit": "ms/update", "map": "8m",
                "n_agents": n, "variant": variant, "device": "cpu"}

    rows = [lr("shared", 100.0), lr("independent", 120.0), lr("reference-loop", 300.0),
            lr("shared every row", 140.0), lr("independent every row", 130.0),
            lr("shared", 10.0, 3), lr("independent", 20.0, 3),
            lr("shared", 1000.0, 27), lr("independent", 700.0, 27),
            {"bench": "env_throughput", "value": 900.0, "map": "3m", "n_envs": 8, "impl": "backend"},
            {"bench": "env_throughput", "value": 1000.0, "map": "3m", "n_envs": 8, "impl": "bare"}]
    got = {(t["target"], t["case"].split(" ")[0] if "N=" in t["case"] else t["case"]): t["result"]
           for t in evaluate_targets(rows, 300)}
    assert got[("independent / shared update time", "N=8")] == "PASS"
    assert got[("speed-up vs per-agent loop", "N=8")] == "FAIL"  # 2.5x < 4x
    assert got[("independent / shared update time", "N=3")] == "info"  # the target is stated at N = 8
    assert got[("SMAX backend / bare jit", "3m B=8")] == "PASS"
    assert got[("skipping padded steps (shared): every-row / active-row time", "N=8")] == "PASS"  # 1.4x
    assert got[("skipping padded steps (independent): every-row / active-row time", "N=8")] == "FAIL"  # 1.08x
    many = [t for t in evaluate_targets(rows, 300) if t["target"].endswith("many agents")]
    assert [(t["op"], t["result"]) for t in many] == [("<=", "PASS"), (">=", "FAIL")]  # 0.7: below the band


@pytest.mark.slow
def test_smoke_every_benchmark_writes_json(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pps.cli", "bench", "--smoke", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "smoke.json").read_text())
    benches = {r["bench"] for r in record["rows"]}
    assert benches == {"learner_update", "aggregation", "train_collect", "env_throughput", "end_to_end",
                       "buffer_memory"}
    methods = {r["method"] for r in record["rows"] if r["bench"] == "aggregation"}
    assert methods == {"a-pps", "pp-pps", "rs-pps"}
    names = {t["target"].split(" at ")[0] for t in record["targets"]}
    assert {"RS-PPS overhead", "qmix / a-pps end-to-end steps/s", "SMAX backend / bare jit",
            "buffer compact / float32 bytes"} <= names
    assert "TARGETS" in done.stdout and all(t["result"] in ("PASS", "FAIL", "info") for t in record["targets"])


# ---- pps bench --groups: run group vs separate processes -----------------------

def _group_row(mode, steps_per_s, procs, mb_per_run, size=2, batch=16):
    return {"env": "smax", "map": "3m", "method": "qmix", "batch_size": batch, "group_size": size, "mode": mode,
            "steps_per_s": steps_per_s, "procs": procs, "peak_rss_mb_per_run": mb_per_run}


def test_group_ratios_are_computed_from_the_rows():
    from pps.bench.groups import add_ratios

    rows = add_ratios([_group_row("group", 150.0, 1, 400.0), _group_row("separate", 100.0, 2, 800.0),
                       _group_row("group", 50.0, 1, 700.0, size=1)])  # a cell without its other side
    g, sep, lone = rows
    assert g["speed_ratio"] == sep["speed_ratio"] == 1.5  # 150 / 100, on both rows of the cell
    assert sep["steps_per_s_per_proc"] == 50.0 and g["speed_ratio_per_proc"] == 3.0  # 150 / (100 / 2)
    assert g["mem_ratio"] == 0.5  # 400 / 800 MB per run
    assert lone["speed_ratio"] is None and lone["mem_ratio"] is None


def test_group_table_and_csv_have_every_column():
    from pps.bench.groups import COLUMNS, add_ratios, csv_text, format_table
    from pps.timing import SECTIONS

    rows = []
    for mode, sps, procs, mb in (("group", 150.0, 1, 400.0), ("separate", 100.0, 2, 800.0)):
        row = dict(_group_row(mode, sps, procs, mb), t_max=300, cores=2, runs=2, t_env_total=900, wall_s=6.0,
                   peak_rss_mb_proc=mb * (2 if mode == "group" else 1), startup_s=7.0, train_s=3.0)
        row |= {f"frac_{s}": 1.0 / len(SECTIONS) for s in SECTIONS}
        rows.append(row)
    rows = [{c: r.get(c) for c in COLUMNS} for r in add_ratios(rows)]
    header = csv_text(rows).splitlines()[0].split(",")
    assert tuple(header) == COLUMNS
    text = format_table(rows)
    assert "1.50" in text and "0.50" in text and "learner" in text


def test_run_processes_keeps_at_most_cores_alive_and_reports_failure(tmp_path):
    from pps.bench.groups import _Proc, run_processes
    from pps.errors import UserError

    script = ("import sys, time; open(sys.argv[1], 'a').write(f'{time.time()} start\\n'); time.sleep(0.3); "
              "open(sys.argv[1], 'a').write(f'{time.time()} end\\n')")
    procs = [_Proc(f"p{i}", [sys.executable, "-c", script, str(tmp_path / f"t{i}")], tmp_path / f"p{i}.log", [])
             for i in range(4)]
    wall = run_processes(procs, 2)
    events = sorted((float(t), kind) for i in range(4)
                    for t, kind in (line.split() for line in (tmp_path / f"t{i}").read_text().splitlines()))
    alive = peak = 0
    for _, kind in events:
        alive += 1 if kind == "start" else -1
        peak = max(peak, alive)
    assert peak == 2 and wall >= 0.55 and all(p.wall_s >= 0.3 for p in procs)
    bad = [_Proc("bad one", [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], tmp_path / "bad.log", [])]
    with pytest.raises(UserError, match=r"bad one.*status 3(.|\n)*boom"):
        run_processes(bad, 2)


@pytest.mark.parametrize("argv, message", [
    (["--groups", "--sizes", "0", "2"], "--sizes must be positive integers"),
    (["--groups", "--sizes", "2", "2"], "--sizes lists a value twice"),
    (["--groups", "--cores", "0"], "--cores must be a positive integer"),
    (["--groups", "--t-max", "-5"], "--t-max must be a positive integer"),
    (["--groups", "--maps", "3mm"], "Unknown map '3mm'"),
    (["--groups", "--batch-sizes", "5000"], "cannot exceed buffer_size"),
    (["--groups", "--method", "qmixx"], "qmixx"),
    (["--groups", "--preset", "no/such.yaml"], "does not exist"),
    (["--groups", "--threads", "2"], "--threads does not apply to --groups"),
    (["--groups", "--only", "learner"], "--only does not apply to --groups"),
    (["--sizes", "2"], "--sizes belongs to --groups"),
])
def test_bad_group_options_are_user_errors(tmp_path, capsys, argv, message):
    assert main(["bench", *argv, "--csv", str(tmp_path / "g.csv")] if argv[0] == "--groups" else
                ["bench", *argv, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "g.csv").exists()


def test_group_bench_batch_sizes_default_to_the_presets():
    from pps.bench.groups import GroupBenchSettings, default_batch_sizes, resolve_cells

    s = GroupBenchSettings()
    assert default_batch_sizes(s.preset, s.paper_preset) == (16, 96)  # default.yaml, paper.yaml run: sections
    cells = resolve_cells(GroupBenchSettings(maps=("3m",)))
    assert sorted(cells) == [("3m", 16), ("3m", 96)]
    keys = cells[("3m", 96)]
    assert keys["threads"] == 1 and keys["t_max"] == 3000 and keys["buffer_size"] == 1000  # default preset's keys
    assert "seed" not in keys


@pytest.mark.slow
def test_group_bench_runs_real_processes(tmp_path, capsys):
    """S = 2 on SMAX 3m, 200 steps: real `pps train` processes both ways (one group process
    against two separate ones; S = 1 takes the same code path)."""
    import pandas as pd

    from pps.bench.groups import COLUMNS

    out = tmp_path / "groups.csv"
    # --no-warmup: this checks the plumbing, not the ratios the warm-up run (one more process) makes fair
    assert main(["bench", "--groups", "--maps", "3m", "--sizes", "2", "--batch-sizes", "8", "--t-max", "200",
                 "--no-warmup", "--csv", str(out)]) == 0
    df = pd.read_csv(out)
    assert tuple(df.columns) == COLUMNS and len(df) == 2
    assert set(zip(df.group_size, df["mode"])) == {(2, "group"), (2, "separate")}
    g = df[(df.group_size == 2) & (df["mode"] == "group")].iloc[0]
    sep = df[(df.group_size == 2) & (df["mode"] == "separate")].iloc[0]
    assert g.procs == 1 and sep.procs == 2 and g.runs == sep.runs == 2
    assert g.steps_per_s == pytest.approx(g.t_env_total / g.wall_s, rel=1e-3)
    assert g.speed_ratio == pytest.approx(g.steps_per_s / sep.steps_per_s, rel=1e-3) == sep.speed_ratio
    assert g.mem_ratio == pytest.approx(g.peak_rss_mb_per_run / sep.peak_rss_mb_per_run, rel=1e-3)
    assert g.peak_rss_mb_per_run == pytest.approx(g.peak_rss_mb_proc / 2, abs=0.1)
    fracs = df[[c for c in COLUMNS if c.startswith("frac_")]].sum(axis=1)
    assert fracs.between(0.99, 1.01).all() and (df.startup_s > 0).all()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["settings"]["sizes"] == [2] and "JAX compile" in meta["wall_clock_includes"]
    assert "RUN GROUP vs SEPARATE" in capsys.readouterr().out
