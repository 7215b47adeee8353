"""Run groups: several seeds of one cell in one process give each run's own result.

Known answers: a run alone is the reference, and a run's metrics.csv and every learner loss
are the same bits alone and in a group of any size, first or last in it. On MPE every
episode has the same length. On SMAX a group's replay batch is cut to the longest episode
of any run's batch, so a run's batch gains zero-padded steps; row arithmetic is chunked so
that padding cannot change its bits (`pps.nets.row_sums`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from pps import runstack
from pps.buffer import EpisodeBatch, ReplayBuffer
from pps.config import resolve_config
from pps.learner import Learner, LearnerConfig
from pps.nets.agents import SlotAgents, SlotLayout
from pps.nets.mixers import make_mixer
from pps.run_folder import EPISODES, METRICS_COLUMNS, PARTIAL
from pps.train import Trainer, run_group
from tests.helpers.interrupting import iteration_interrupted_after

NOT_WALL = [c for c in METRICS_COLUMNS if c != "wall_s"]
MPE = {"env": "mpe", "map": "simple_spread_v3", "t_max": 1000, "eval_interval": 250, "eval_episodes": 4,
       "batch_size": 4, "n_envs": 4, "buffer_size": 100, "target_update_interval": 20,
       "epsilon_anneal_steps": 500, "checkpoint_interval": 300, "rs_eval_episodes": 2, "groups": "all"}


def configs(keys: dict, seeds: list[int], **extra):
    return [resolve_config(keys, {}, {"seed": s, **extra}) for s in seeds]


def metrics(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "metrics.csv")[NOT_WALL]


def episodes(folder: Path) -> bytes:
    """episodes.csv.gz's bytes: every test episode and the absolute evaluation."""
    return (folder / EPISODES).read_bytes()


# every method and aggregation policy: shared, independent and aggregated slots, RS-PPS's
# swap evaluation, PP-PPS's partial mean, and the optimiser-state policies (`reset`
# restarts single slots' Adam moments)
METHOD_CASES = [
    ("qmix", {}), ("vdn", {}), ("qmix-ns", {}), ("a-pps", {"interval": 5}), ("rs-pps", {"interval": 5}),
    ("pp-pps", {"interval": 5}), ("pp-pps", {"interval": 5, "opt_state_on_aggregate": "reset"}),
    ("a-pps", {"interval": 5, "opt_state_on_aggregate": "average"}),
]
# groups of 2 and 5, each watched run once first and once last in its group: a run's tensors
# sit at the start or the end of every stacked tensor (vector tails, thread splits)
GROUPS = ([1, 4], [0, 1, 2, 3, 4])
WATCHED = (1, 4)


def _alone_and_in_groups(tmp_path: Path, keys: dict) -> tuple[dict, dict]:
    """Metrics and losses of the watched seeds alone and in every group of `GROUPS`."""
    frames, losses = {}, {}
    for seed in WATCHED:
        with pytest.MonkeyPatch.context() as patch:
            seen = _recorded_losses(patch, 0)
            run_group(configs(keys, [seed]), [tmp_path / "alone" / f"seed{seed}"], show_progress=False)
        frames[(1, seed)], losses[(1, seed)] = metrics(tmp_path / "alone" / f"seed{seed}"), seen
    for seeds in GROUPS:
        dirs = [tmp_path / f"group{len(seeds)}" / f"seed{s}" for s in seeds]
        with pytest.MonkeyPatch.context() as patch:
            seen = _recorded_all_losses(patch)
            assert run_group(configs(keys, seeds), dirs, show_progress=False) == ["finished"] * len(seeds)
        for i, s in enumerate(seeds):
            if s in WATCHED:
                frames[(len(seeds), s)] = metrics(dirs[i])
                losses[(len(seeds), s)] = [step[i] for step in seen]
    return frames, losses


@pytest.mark.slow
@pytest.mark.parametrize("method, extra", METHOD_CASES,
                         ids=[m + "-" + "-".join(map(str, e.values())) for m, e in METHOD_CASES])
def test_a_run_in_a_group_of_2_or_5_writes_the_same_metrics_and_losses_as_alone(tmp_path, method, extra):
    """On a fixed-length task (no padding): the same bits alone and in groups of 2 and 5,
    first or last in the group, for every method and optimiser-state policy."""
    frames, losses = _alone_and_in_groups(tmp_path, dict(MPE, method=method, t_max=750, **extra))
    for size in (2, 5):
        for seed in WATCHED:
            pd.testing.assert_frame_equal(frames[(1, seed)], frames[(size, seed)])
            assert losses[(size, seed)][: len(losses[(1, seed)])] == losses[(1, seed)]
            assert episodes(tmp_path / f"group{size}" / f"seed{seed}") == episodes(tmp_path / "alone" / f"seed{seed}")
    assert len(losses[(1, 4)]) >= 30
    assert not frames[(5, 1)].equals(frames[(5, 4)])  # the runs are not copies
    record = json.loads((tmp_path / "group5" / "seed1" / "run.json").read_text())
    assert record["group"] == {"seeds": [0, 1, 2, 3, 4], "size": 5} and record["seed"] == 1
    alone = json.loads((tmp_path / "alone" / "seed1" / "run.json").read_text())
    assert record["deviations"] == alone["deviations"]  # grouping departs from nothing


def _recorded_all_losses(monkeypatch) -> list[list[float]]:
    seen: list[list[float]] = []
    real = Learner.update

    def update(self, batch):
        losses = real(self, batch)
        seen.append(list(losses))
        return losses

    monkeypatch.setattr(Learner, "update", update)
    return seen


def _recorded_losses(monkeypatch, run: int):
    seen: list[float] = []
    real = Learner.update

    def update(self, batch):
        losses = real(self, batch)
        seen.append(losses[run])
        return losses

    monkeypatch.setattr(Learner, "update", update)
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("method, extra",
                         [("qmix", {}), ("pp-pps", {"interval": 20, "opt_state_on_aggregate": "reset"})],
                         ids=["qmix", "pp-pps-reset"])
def test_on_smax_a_run_in_a_group_of_2_or_5_writes_the_same_metrics_and_losses_as_alone(tmp_path, monkeypatch,
                                                                                      method, extra):
    """Episodes of different lengths: a group cuts each batch to the longest episode of any
    run, so a run's batch carries extra zero-padded steps; time-major rows, row-chunked
    matmuls and sums (`pps.nets.row_sums`) and per-run clipping and optimiser steps keep
    every loss and every metric the same bits."""
    # the default preset's run keys (n_envs 8, batch 16)
    keys = dict(MPE, env="smax", map="3m", method=method, t_max=2000, n_envs=8, batch_size=16,
                buffer_size=1000, target_update_interval=50, epsilon_anneal_steps=10000, eval_interval=1000,
                checkpoint_interval=10**6, **extra)
    padded = _recorded_padding(monkeypatch)
    frames, losses = _alone_and_in_groups(tmp_path, keys)
    assert len(losses[(1, 4)]) >= 50
    for size in (2, 5):
        for seed in WATCHED:
            pd.testing.assert_frame_equal(frames[(1, seed)], frames[(size, seed)])
            assert losses[(size, seed)][: len(losses[(1, seed)])] == losses[(1, seed)]
            assert episodes(tmp_path / f"group{size}" / f"seed{seed}") == episodes(tmp_path / "alone" / f"seed{seed}")
    assert any(padded), "no batch of a group was padded beyond a run's own longest episode: the test proves nothing"


def _recorded_padding(monkeypatch) -> list[bool]:
    """Per group batch: whether some run's episodes are all shorter than the batch (padded by the group)."""
    seen: list[bool] = []
    real = ReplayBuffer.sample

    def sample(self, batch_size):
        batch = real(self, batch_size)
        if self.n_runs > 1:
            own = batch.filled.view(self.n_runs, batch_size, -1).sum(dim=2).max(dim=1).values
            seen.append(bool((own < batch.filled.shape[1]).any()))
        return batch

    monkeypatch.setattr(ReplayBuffer, "sample", sample)
    return seen


@pytest.mark.exactness
@pytest.mark.parametrize("kind", ["shared", "per_agent"])
def test_zero_padded_time_steps_leave_the_loss_and_gradients_bit_identical(kind):
    """What makes SMAX groups exact: the same batch, cut to its own length or padded with
    empty steps (as a group pads it to its longest run), gives the same loss and gradient
    bits. Sizes are chosen so the rows cross MKL's inner blocking (384) and several chunks:
    with plain autograd sums both differ in the last bits."""
    torch.manual_seed(0)
    n, a, obs_dim, state_dim, b, t = 3, 5, 7, 9, 16, 40
    agents = SlotAgents(1 if kind == "shared" else n, obs_dim + a + n, 16, a)
    agents.reset_parameters(torch.Generator().manual_seed(0))
    cfg = LearnerConfig(gamma=0.99, lr=5e-4, optimizer="adam", grad_clip=10.0, double_q=True, td_lambda=0.0,
                        target_update_interval=10, reward_scale=1.0)
    layout = SlotLayout(kind, n, agents.n_slots)
    learner = Learner(agents, layout, make_mixer("qmix", n, state_dim, 8, 16, 2), cfg)
    lengths = torch.randint(1, t + 1, (b,))
    lengths[3] = t
    filled = torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)
    batch = EpisodeBatch(obs=torch.randn(b, t + 1, n, obs_dim), state=torch.randn(b, t + 1, state_dim),
                         avail=torch.ones(b, t + 1, n, a, dtype=torch.bool),
                         actions=torch.randint(0, a, (b, t, n)) * filled.unsqueeze(-1),
                         reward=torch.randn(b, t) * filled,
                         terminated=torch.zeros(b, t, dtype=torch.bool), filled=filled)
    pad = 30

    def padded(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, torch.zeros(x.shape[0], pad, *x.shape[2:], dtype=x.dtype)], dim=1)

    longer = EpisodeBatch(*(padded(getattr(batch, f)) for f in ("obs", "state", "avail", "actions", "reward",
                                                                  "terminated", "filled")))
    grads = []
    for x in (batch, longer):
        learner.slot_optimizer.zero_grad()
        loss = learner.loss(x)
        loss.sum().backward()
        grads.append((loss.detach(), [p.grad.clone() for p in learner.params]))
    assert torch.equal(grads[1][0], grads[0][0])
    for g_long, g_short in zip(grads[1][1], grads[0][1]):
        assert torch.equal(g_long, g_short)


@pytest.mark.slow
def test_a_killed_group_resumes_every_run_exactly(tmp_path):
    """`kill -9` after every run of a SMAX group checkpointed (episodes of different lengths,
    so the runs reach the boundary at different iterations), then the same command again:
    every run resumes and ends with the metrics and episodes of an uninterrupted group. A run
    alone is a group of one through the same code; a third start of finished runs is tested
    in process below (`already finished`)."""
    keys = {**MPE, "env": "smax", "map": "3m", "t_max": 1200, "eval_interval": 400, "checkpoint_interval": 300}
    base = ["train", "--env", "smax", "--map", "3m", "--method", "a-pps", "--interval", "5", "--quiet",
            "--seeds", "3", "4"]
    sets = [arg for k, v in keys.items() if k not in ("env", "map") for arg in ("--set", f"{k}={v}")]
    run = [sys.executable, "-m", "pps.cli", *base, *sets]
    straight = subprocess.run([*run, "--out", str(tmp_path / "straight")], capture_output=True, text=True, timeout=300)
    assert straight.returncode == 0, straight.stderr

    out = tmp_path / "killed"
    proc = subprocess.Popen([*run, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # killed once every run checkpointed (at 300) and then evaluated again (at 400): the
    # resumed runs must drop what was written after their checkpoint. 800 steps and three
    # evaluations are left then, far more than the 50 ms between two looks.
    deadline = time.time() + 240
    while time.time() < deadline and not all(_evaluated_past_checkpoint(out / f"seed{s}") for s in (3, 4)):
        time.sleep(0.05)
    assert proc.poll() is None, "the group finished before it could be killed; raise t_max"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not any((out / f"seed{s}" / "metrics.csv").exists() for s in (3, 4))
    assert all(json.loads((out / f"seed{s}" / "run.json").read_text())["status"] == "running" for s in (3, 4))

    resumed = subprocess.run([*run, "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.count("resumed:") == 2
    for s in (3, 4):
        assert json.loads((out / f"seed{s}" / "run.json").read_text())["resumed"] == 1
        pd.testing.assert_frame_equal(metrics(tmp_path / "straight" / f"seed{s}"), metrics(out / f"seed{s}"))
        # every episode, those before the checkpoint included, and the absolute evaluation
        assert episodes(tmp_path / "straight" / f"seed{s}") == episodes(out / f"seed{s}")


def _evaluated_past_checkpoint(run: Path) -> bool:
    """The run has a checkpoint and has written an evaluation after it (rows at 0 and 400)."""
    try:
        return (run / "checkpoint.pt").exists() and len((run / PARTIAL).read_text().splitlines()) >= 3
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_partly_finished_and_partly_checkpointed_groups_train_only_what_is_left(tmp_path, monkeypatch):
    keys = dict(MPE, method="a-pps", interval=5)
    for s in (0, 1, 2):
        run_group(configs(keys, [s]), [tmp_path / "alone" / f"seed{s}"], show_progress=False)
    group = configs(keys, [0, 1, 2])
    dirs = [tmp_path / "group" / f"seed{s}" for s in (0, 1, 2)]
    run_group([group[0]], [dirs[0]], show_progress=False)  # seed 0 finished beforehand
    # seed 1 interrupted after its first checkpoint, alone: its position differs from seed 2's (none)
    monkeypatch.setattr(Trainer, "iteration", iteration_interrupted_after(6))
    with pytest.raises(KeyboardInterrupt):
        run_group([group[1]], [dirs[1]], show_progress=False)
    monkeypatch.undo()
    assert (dirs[1] / "checkpoint.pt").exists() and not (dirs[1] / "metrics.csv").exists()
    assert json.loads((dirs[1] / "run.json").read_text())["status"] == "failed"

    assert run_group(group, dirs, show_progress=False) == ["already finished", "resumed", "finished"]
    for s in (0, 1, 2):
        pd.testing.assert_frame_equal(metrics(tmp_path / "alone" / f"seed{s}"), metrics(dirs[s]))


def test_a_group_refuses_runs_that_differ_in_more_than_the_seed(tmp_path):
    a, b = configs(MPE, [0, 1])
    with pytest.raises(ValueError, match="differ in their seed only"):
        Trainer([a, resolve_config(b.to_dict(), {"lr": 1e-3})], [tmp_path / "a", tmp_path / "b"], False)
    with pytest.raises(ValueError, match="different seeds"):
        Trainer([a, a], [tmp_path / "a", tmp_path / "b"], False)


@pytest.mark.parametrize("args, words", [
    (["--seed", "1", "--seeds", "2", "3"], ["--seed", "--seeds", "not both"]),
    (["--seeds", "2", "2"], ["twice"]),
    (["--seeds", "1", "-4"], ["seed"]),
])
def test_bad_group_flags_are_one_line_exit_2(tmp_path, args, words):
    done = subprocess.run([sys.executable, "-m", "pps.cli", "train", "--env", "mpe", "--map", "simple_spread_v3",
                           "--out", str(tmp_path), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr


def test_layout_of_a_group_gives_each_slot_its_own_runs_rows():
    r, b, n = 3, 4, 2
    x = torch.arange(r * b * n, dtype=torch.float32).view(r * b, n, 1)  # env e of run e // b, agent a
    per_agent = SlotLayout("per_agent", n, r * n, r)
    slots = per_agent.to_slots(x)
    assert slots.shape == (r * n, b, 1)
    for run in range(r):
        for agent in range(n):
            assert torch.equal(slots[run * n + agent, :, 0], x[run * b:(run + 1) * b, agent, 0])
    assert torch.equal(per_agent.from_slots(slots, r * b), x)
    shared = SlotLayout("shared", n, r, r)
    assert torch.equal(shared.to_slots(x)[1].flatten(), x[b:2 * b].flatten())
    assert torch.equal(shared.from_slots(shared.to_slots(x), r * b), x)


def test_a_runs_slot_view_shares_memory_with_the_group():
    agents = SlotAgents(6, 5, 8, 3)
    agents.reset_parameters([torch.Generator().manual_seed(s) for s in (0, 1, 2)])
    alone = SlotAgents(2, 5, 8, 3)
    alone.reset_parameters(torch.Generator().manual_seed(1))
    view = agents.slot_view(2, 4)
    for (name, p), q in zip(view.named_parameters(), alone.parameters()):
        assert torch.equal(p, q), name  # run 1 draws what it draws alone
    with torch.no_grad():
        agents.fc1.weight[2].fill_(7.0)
    assert bool((view.fc1.weight[0] == 7.0).all())


def test_a_runs_state_splits_from_the_group_and_joins_back():
    state = {"w": torch.arange(12.0).view(6, 2), "step": torch.tensor(5.0), "lr": 0.1, "ids": [0, 1]}
    parts = [runstack.split(state, r, 3) for r in range(3)]
    assert torch.equal(parts[1]["w"], torch.tensor([[4.0, 5.0], [6.0, 7.0]]))
    assert parts[2]["step"] == 5.0 and parts[0]["lr"] == 0.1
    joined = runstack.join(parts)
    assert torch.equal(joined["w"], state["w"]) and joined["ids"] == [0, 1]
    parts[2]["step"] = torch.tensor(6.0)
    with pytest.raises(ValueError, match="disagree"):
        runstack.join(parts)


def test_replay_with_a_run_dimension_samples_each_run_from_its_own_stream():
    group = ReplayBuffer(10, episode_limit=5, n_agents=2, obs_dim=3, state_dim=4, n_actions=2, seed=[7, 8])
    alone = ReplayBuffer(10, episode_limit=5, n_agents=2, obs_dim=3, state_dim=4, n_actions=2, seed=8)
    lengths = torch.tensor([[3, 5, 2, 4], [1, 2, 3, 2]])  # run 0, run 1: different longest episodes
    filled = torch.arange(5).view(1, 1, 5) < lengths.unsqueeze(-1)
    obs = torch.randn(2, 4, 6, 2, 3)
    batch = EpisodeBatch(obs=obs.flatten(0, 1), state=torch.zeros(8, 6, 4),
                         avail=torch.ones(8, 6, 2, 2, dtype=torch.bool),
                         actions=torch.zeros(8, 5, 2, dtype=torch.long), reward=torch.zeros(8, 5),
                         terminated=torch.zeros(8, 5, dtype=torch.bool), filled=filled.flatten(0, 1))
    group.insert(batch)
    alone.insert(EpisodeBatch(*(getattr(batch, f)[4:] for f in ("obs", "state", "avail", "actions", "reward",
                                                                 "terminated", "filled"))))
    g, a = group.sample(3), alone.sample(3)
    t = a.actions.shape[1]
    assert g.actions.shape[1] >= t  # the group's batch is as long as its longest run's
    assert torch.equal(g.obs[3:, : t + 1].half().float(), a.obs)
    state = group.state_dict(1)
    other = ReplayBuffer(10, episode_limit=5, n_agents=2, obs_dim=3, state_dim=4, n_actions=2, seed=0)
    other.load_state_dict(state)
    assert torch.equal(other.sample(3).obs, alone.sample(3).obs)


@pytest.mark.slow
def test_a_group_saves_its_checkpoints_once_per_boundary(tmp_path, monkeypatch):
    """SMAX runs of a group cross a checkpoint boundary at different iterations; the group
    saves every run once per boundary, not once per run that crosses it."""
    keys = dict(MPE, env="smax", map="3m", method="qmix", t_max=3000, n_envs=8, batch_size=16, buffer_size=200,
                target_update_interval=100, epsilon_anneal_steps=10000, eval_interval=3000, checkpoint_interval=500)
    saves: list[list[int]] = []
    real = Trainer.save_checkpoints

    def save_checkpoints(self):
        saves.append([run.progress.t_env for run in self.runs])
        real(self)

    monkeypatch.setattr(Trainer, "save_checkpoints", save_checkpoints)
    run_group(configs(keys, [0, 1, 2, 3]), [tmp_path / f"g{s}" for s in range(4)], show_progress=False)
    boundaries = [max(t) // 500 for t in saves]
    assert len(saves) >= 4 and len(set(boundaries)) == len(boundaries), saves
    assert any(len(set(t)) > 1 for t in saves), "the runs never differed in steps: the test proves nothing"
