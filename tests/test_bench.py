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


def test_reference_loop_learner_equals_slot_learner():
    n, obs, state, a, hidden = 3, 5, 6, 4, 8
    torch.manual_seed(0)
    slot = build_learner("independent", n, obs + a + n, hidden, a, state, torch.device("cpu"), seed=1)
    loop_agents = AgentLoop(n, obs + a + n, hidden, a)
    for i in range(n):
        loop_agents.nets[i].load_state_dict(agent_from_slot(slot.agents, i).state_dict())
    mixer = QMixer(n, state)
    mixer.load_state_dict(slot.mixer.state_dict())
    ref = ReferenceLoopLearner(loop_agents, SlotLayout("per_agent", n, n), mixer, learner_config())  # type: ignore[arg-type]
    batch = synthetic_batch(3, 5, n, obs, state, a, torch.device("cpu"))
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
    assert variants == {"shared", "independent", "reference-loop"}
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


def test_bad_only_is_a_user_error(tmp_path, capsys):
    assert main(["bench", "--smoke", "--only", "learnr", "--out", str(tmp_path)]) == 2
    assert "unknown benchmark" in capsys.readouterr().err


def test_targets_are_judged_from_rows():
    def lr(variant, ms, n=8):
        return {"bench": "learner_update", "case": "", "value": ms, "unit": "ms/update", "map": "8m",
                "n_agents": n, "variant": variant, "device": "cpu"}

    rows = [lr("shared", 100.0), lr("independent", 120.0), lr("reference-loop", 300.0),
            lr("shared", 10.0, 3), lr("independent", 20.0, 3),
            {"bench": "env_throughput", "value": 900.0, "map": "3m", "n_envs": 8, "impl": "backend"},
            {"bench": "env_throughput", "value": 1000.0, "map": "3m", "n_envs": 8, "impl": "bare"}]
    got = {(t["target"], t["case"].split(" ")[0] if "N=" in t["case"] else t["case"]): t["result"]
           for t in evaluate_targets(rows, 300)}
    assert got[("independent / shared update time", "N=8")] == "PASS"
    assert got[("speed-up vs per-agent loop", "N=8")] == "FAIL"  # 2.5x < 4x
    assert got[("independent / shared update time", "N=3")] == "info"  # the target is stated at N = 8
    assert got[("SMAX backend / bare jit", "3m B=8")] == "PASS"


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
