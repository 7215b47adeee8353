"""Every tensor on its device, checked without a GPU (`pps.devices`): the learner on
`config.device`; envs, replay, episode bookkeeping and RNG states on the host. And what
crosses between them: learner updates read nothing back from the device (their losses are
read at evaluations and checkpoints), and batches cross in the replay buffer's compact
dtypes from pinned memory without blocking.

`fake_cuda` (tests/helpers/fake_cuda.py) emulates one CUDA device on the CPU: tensors moved to
'cuda' are CPU tensors remembered as CUDA ones, and any torch call that mixes devices fails
as it would on a GPU. Its arithmetic is the CPU's, so a run under it must also give the CPU
run's numbers bit for bit. The real GPU run is `tests/test_gpu.py`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pandas as pd
import pytest
import torch

from pps import plan
from pps.buffer import EpisodeBatch, ReplayBuffer
from pps.config import resolve_config
from pps.devices import ENV_DEVICE, HOST, env_device, learner_device, to_host
from pps.envs import registry
from pps.errors import UserError
from pps.learner import Learner, LearnerConfig
from pps.nets.agents import SlotAgents, SlotLayout
from pps.nets.mixers import QMixer, make_mixer
from pps.run_folder import METRICS_COLUMNS
from pps.runner import Runner
from pps.train import Trainer, run_group
from tests.helpers.fake_cuda import CUDA, fake_cuda, python_with_default_jax_settings

NOT_WALL = [c for c in METRICS_COLUMNS if c != "wall_s"]
# RS-PPS (a swap evaluation and weights from its scores at every aggregation) with `reset`
# (aggregation restarts optimiser slots, whose bookkeeping is on the host)
MPE = {"env": "mpe", "map": "simple_spread_v3", "t_max": 600, "eval_interval": 200, "eval_episodes": 4,
       "batch_size": 4, "n_envs": 4, "buffer_size": 100, "target_update_interval": 20,
       "epsilon_anneal_steps": 500, "checkpoint_interval": 300, "groups": "all", "method": "rs-pps",
       "interval": 5, "rs_eval_episodes": 2, "opt_state_on_aggregate": "reset"}


# ---------------------------------------------------------------------------- the emulator itself


def test_fake_cuda_fails_where_a_gpu_would_and_counts_device_to_host_copies():
    with fake_cuda() as mode:
        on_gpu, on_host = torch.ones(3, device="cuda"), torch.ones(3)
        assert on_gpu.device == CUDA and on_gpu.is_cuda and on_host.device == HOST
        with pytest.raises(RuntimeError, match="same device"):
            torch.cat([on_gpu, on_host])
        with pytest.raises(RuntimeError, match="same device"):
            on_gpu.masked_fill(on_host > 0, 0.0)
        with pytest.raises(RuntimeError, match="generator"):
            torch.multinomial(on_gpu.view(1, 3), 1, generator=torch.Generator())
        with pytest.raises(TypeError, match="numpy"):
            on_gpu.numpy()
        assert (on_gpu * torch.tensor(2.0)).is_cuda  # a CPU scalar goes with any device
        on_gpu[torch.tensor([0])] = 5.0  # CPU indices into a device tensor are fine
        net = torch.nn.Linear(3, 2).to("cuda")
        net(on_gpu).sum().backward()
        assert net.weight.is_cuda and net.weight.grad.is_cuda
        assert mode.transfers == []
        assert on_gpu.sum().item() == 7.0 and on_gpu.cpu().device == HOST
        assert mode.transfers == ["item", "cpu"]


# ---------------------------------------------------------------------------- the parts


def test_a_cuda_device_is_refused_where_torch_has_none(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="no CUDA device"):
        learner_device("cuda")
    assert learner_device("cpu") == HOST


def test_a_runner_refuses_an_env_that_is_not_on_the_host():
    class DeviceEnv:
        device = CUDA

    assert env_device(object()) == ENV_DEVICE  # an env without a device attribute is a host env
    with pytest.raises(ValueError, match="envs run on cpu"):
        Runner(DeviceEnv(), SlotLayout("shared", 3, 1), CUDA)


def _collect(device: str) -> tuple:
    env = registry.make_env("mpe", "simple_spread_v3", 4, 7, device=str(ENV_DEVICE))
    n, a = env.info.n_agents, env.info.n_actions
    agents = SlotAgents(n, env.info.obs_dim + a + n, 16, a)
    agents.reset_parameters(torch.Generator().manual_seed(0))
    agents.to(device)
    seen: list[torch.device] = []
    step = agents.step

    def watched(x, h):
        seen.extend([x.device, h.device])
        return step(x, h)

    agents.step = watched
    runner = Runner(env, SlotLayout("per_agent", n, n), torch.device(device))
    stats, batch = runner.collect(agents, 0.5, torch.Generator().manual_seed(1), record=True)
    return stats, batch, seen


def test_a_runner_step_copies_one_input_to_the_device_and_one_output_back():
    """The agents see only device tensors; the episode, its statistics and the exploration
    draws stay on the host; a step's only device-to-host copy is the Q-values the env's
    actions come from. And the episode is the CPU's, bit for bit."""
    with fake_cuda() as mode:
        stats, batch, seen = _collect("cuda")
        steps = int(stats.lengths.max())
        assert set(seen) == {CUDA}
        for name in ("obs", "state", "avail", "actions", "reward", "terminated", "filled"):
            assert mode.device_of(getattr(batch, name)) == HOST, name
        assert len(mode.transfers) == steps, mode.transfers
    cpu_stats, cpu_batch, _ = _collect("cpu")
    assert torch.equal(stats.returns, cpu_stats.returns)
    for name in ("obs", "actions", "reward", "filled"):
        assert torch.equal(getattr(batch, name), getattr(cpu_batch, name)), name


def _episodes(b: int = 4, limit: int = 5, n: int = 3, obs_dim: int = 4, a: int = 5) -> EpisodeBatch:
    gen = torch.Generator().manual_seed(0)
    return EpisodeBatch(
        obs=torch.rand(b, limit + 1, n, obs_dim, generator=gen), state=torch.rand(b, limit + 1, 6, generator=gen),
        avail=torch.ones(b, limit + 1, n, a, dtype=torch.bool),
        actions=torch.randint(0, a, (b, limit, n), generator=gen), reward=torch.rand(b, limit, generator=gen),
        terminated=torch.zeros(b, limit, dtype=torch.bool), filled=torch.ones(b, limit, dtype=torch.bool))


def _train_learner(device: str) -> tuple[list[list[float]], dict[str, torch.Tensor]]:
    """Three updates of a per-agent QMIX learner, its slots 0 and 2 restarted after the first
    (the `reset` aggregation policy), on `device`; the losses and the final agent weights."""
    n, obs_dim, a = 3, 4, 5
    agents = SlotAgents(n, obs_dim + a + n, 8, a)
    agents.reset_parameters(torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    mixer = QMixer(n, 6, 4, 8)
    cfg = LearnerConfig(gamma=0.99, lr=1e-2, optimizer="adam", grad_clip=10.0, double_q=True, td_lambda=0.0,
                        target_update_interval=2, reward_scale=1.0)
    learner = Learner(agents.to(device), SlotLayout("per_agent", n, n), mixer.to(device), cfg)
    batch = _episodes(n=n, obs_dim=obs_dim, a=a)  # on the host, as the replay hands it over
    losses = [learner.update(batch)]
    for param in agents.parameters():
        learner.slot_optimizer.restart(param, [0, 2])
    losses += [learner.update(batch), learner.update(batch)]
    return [loss.tolist() for loss in losses], to_host(agents.state_dict())


def test_a_learner_update_with_restarted_slots_runs_on_the_device():
    with fake_cuda() as mode:
        losses, weights = _train_learner("cuda")
        assert all(mode.device_of(p) == HOST for p in weights.values())
    cpu_losses, cpu_weights = _train_learner("cpu")
    assert losses == cpu_losses
    assert all(torch.equal(weights[k], cpu_weights[k]) for k in cpu_weights)


def _replay_learner(device: str) -> tuple[Learner, ReplayBuffer]:
    """A learner of a group of 2 runs on `device` and a compact replay buffer of episodes of
    1 to 5 steps (on the host, as replay always is)."""
    n, obs_dim, a, state_dim, runs = 3, 4, 5, 6, 2
    agents = SlotAgents(runs * n, obs_dim + a + n, 8, a)
    agents.reset_parameters([torch.Generator().manual_seed(s) for s in range(runs)])
    mixer = make_mixer("qmix", n, state_dim, 4, 8, 1, init_seeds=list(range(runs)))
    cfg = LearnerConfig(gamma=0.99, lr=1e-2, optimizer="adam", grad_clip=10.0, double_q=True, td_lambda=0.5,
                        target_update_interval=2, reward_scale=1.0)
    learner = Learner(agents.to(device), SlotLayout("per_agent", n, runs * n, runs), mixer.to(device), cfg)
    buffer = ReplayBuffer(12, episode_limit=5, n_agents=n, obs_dim=obs_dim, n_actions=a, state_dim=state_dim,
                          seed=[0, 1])
    episodes = _episodes(b=12, n=n, obs_dim=obs_dim, a=a)
    lengths = torch.tensor([1, 5, 2, 3, 4, 2, 5, 1, 3, 3, 4, 2])
    episodes.filled = torch.arange(5) < lengths.unsqueeze(1)
    buffer.insert(episodes)
    return learner, buffer


def test_learner_updates_of_prepared_replay_batches_read_nothing_back_from_the_device():
    """Batches from the replay buffer, prepared as the trainer prepares them, cross to the
    device in the buffer's compact dtypes from pinned memory without blocking, with their
    row packing planned on the host: K updates read nothing back from the device (on a GPU,
    the host never waits for one to finish), and their K losses come back in one read.
    The numbers are the CPU's, bit for bit."""
    updates = 6
    with fake_cuda() as mode:
        learner, buffer = _replay_learner("cuda")
        mode.uploads.clear()  # the networks' move to the device, once
        losses = [learner.update(learner.prepare(buffer.sample(4))) for _ in range(updates)]
        assert mode.transfers == []
        assert all(mode.device_of(loss) == CUDA for loss in losses)
        values = torch.stack(losses).tolist()
        assert mode.transfers == ["tolist"]
        assert mode.uploads and all(u.pinned and u.non_blocking for u in mode.uploads), mode.uploads
        assert {torch.float16, torch.uint8} <= {u.dtype for u in mode.uploads}  # observations, actions
        weights = to_host(learner.agents.state_dict())
    learner, buffer = _replay_learner("cpu")
    cpu_values = [learner.update(learner.prepare(buffer.sample(4))).tolist() for _ in range(updates)]
    assert values == cpu_values
    assert all(torch.equal(weights[k], v) for k, v in learner.agents.state_dict().items())


def test_a_replay_batch_crosses_to_the_device_at_its_stored_size():
    """What crosses for one batch is the sample's stored bytes (float16 observations and
    states, uint8 actions), not the float32 / int64 batch the learner computes with."""
    buffer = ReplayBuffer(8, episode_limit=5, n_agents=3, obs_dim=20, state_dim=6, n_actions=5)
    buffer.insert(_episodes(b=8, n=3, obs_dim=20, a=5))
    sample = buffer.sample(4)
    stored = sum(getattr(sample, f).numel() * getattr(sample, f).element_size() for f in vars(sample))
    wide = sample.to_learner(HOST)
    widened = sum(getattr(wide, f).numel() * getattr(wide, f).element_size() for f in vars(wide))
    with fake_cuda() as mode:
        on_device = sample.to_learner(CUDA)
        assert all(mode.device_of(getattr(on_device, f)) == CUDA for f in vars(on_device))
    assert sum(u.nbytes for u in mode.uploads) == stored < 0.6 * widened
    assert all(torch.equal(getattr(on_device, f), getattr(wide, f)) for f in vars(wide))


def test_jax_runs_on_the_cpu_and_never_preallocates_gpu_memory():
    """A CUDA build of jax would take 75% of the GPU's memory when its GPU backend starts;
    the envs' jax is pinned to the CPU and its preallocation is off before jax is imported."""
    code = ("import os\n"
            "from pps.devices import ENV_DEVICE\n"
            "from pps.envs import registry\n"
            "registry.make_env('mpe', 'simple_spread_v3', 2, 0, device=str(ENV_DEVICE)).reset()\n"
            "import jax\n"
            "print(os.environ.get('XLA_PYTHON_CLIENT_PREALLOCATE'), os.environ.get('JAX_PLATFORMS'),"
            " {d.platform for d in jax.devices()})\n")
    out = python_with_default_jax_settings(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[-2] == "false cpu {'cpu'}"


def test_the_gpu_preset_is_the_paper_grid_with_each_cells_seeds_on_one_gpu():
    presets = Path(__file__).resolve().parents[1] / "workflow" / "config"
    gpu, paper = plan.load_preset(presets / "gpu.yaml"), plan.load_preset(presets / "paper.yaml")
    assert gpu["run"] == {**paper["run"], "device": "cuda"}
    for key in ("envs", "use_smac", "maps", "methods", "intervals", "seeds", "baseline", "thresholds",
                "final_window"):
        assert gpu[key] == paper[key], key
    assert plan.seed_groups(gpu) == [tuple(gpu["seeds"])]  # a whole cell per job
    assert "--set device=cuda" in plan.run_set_args(gpu)
    assert gpu["resources"]["slurm"] == {"gpu": 1}
    assert "NOT MEASURED" in (presets / "gpu.yaml").read_text()


# ---------------------------------------------------------------------------- training


def _metrics(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "metrics.csv")[NOT_WALL]


@pytest.mark.slow
def test_training_on_the_device_equals_the_cpu_and_resumes_from_host_checkpoints(tmp_path, monkeypatch):
    """A group of 2 trained with `device: cuda`, interrupted after its first checkpoint and
    resumed: checkpoints and models hold host tensors only and load onto the host (RNG
    states included), and the metrics are the CPU group's, bit for bit."""
    cpu = [resolve_config(MPE, {}, {"seed": s}) for s in (0, 1)]
    run_group(cpu, [tmp_path / "cpu" / f"seed{c.seed}" for c in cpu], show_progress=False)

    gpu = [resolve_config(MPE, {}, {"seed": s, "device": "cuda"}) for s in (0, 1)]
    dirs = [tmp_path / "gpu" / f"seed{c.seed}" for c in gpu]
    saved, load_locations = [], []
    real_save, real_load, real_iteration = torch.save, torch.load, Trainer.iteration

    def save(obj, f, *args, **kwargs):
        saved.append(obj)
        return real_save(obj, f, *args, **kwargs)

    def load(*args, **kwargs):
        load_locations.append(kwargs.get("map_location"))
        return real_load(*args, **kwargs)

    calls = {"n": 0}

    def interrupted(self):
        calls["n"] += 1
        if calls["n"] > 5:  # past the checkpoint at step 300 (4 envs x 25 steps per iteration)
            raise KeyboardInterrupt
        real_iteration(self)

    monkeypatch.setattr(torch, "save", save)
    monkeypatch.setattr(torch, "load", load)
    with fake_cuda() as mode:
        monkeypatch.setattr(Trainer, "iteration", interrupted)
        with pytest.raises(KeyboardInterrupt):
            run_group(gpu, dirs, show_progress=False)
        assert all((d / "checkpoint.pt").exists() for d in dirs)
        monkeypatch.setattr(Trainer, "iteration", real_iteration)
        assert run_group(gpu, dirs, show_progress=False) == ["resumed", "resumed"]
        on_device = [t for obj in saved for t in _tensors(obj) if mode.device_of(t) == CUDA]
    assert saved
    assert not on_device, f"{len(on_device)} device tensors written to a checkpoint or model"
    assert load_locations and all(torch.device(loc) == HOST for loc in load_locations)
    for c in gpu:
        pd.testing.assert_frame_equal(_metrics(tmp_path / "cpu" / f"seed{c.seed}"),
                                      _metrics(tmp_path / "gpu" / f"seed{c.seed}"))


def _tensors(value):
    if torch.is_tensor(value):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)


def _train_counting_reads(config_keys: dict, out: Path, monkeypatch) -> tuple[dict[str, int], pd.DataFrame]:
    """Train one run on `config_keys` (under the emulated device if it is 'cuda') and count
    the device-to-host reads in training iterations and in evaluations, each apart from
    acting's (a runner step reads its Q-values back: the env needs them on the host)."""
    counted = {"acting": 0, "iterations": 0, "evaluations": 0, "in iterations": 0, "in evaluations": 0}

    def reads() -> int:
        return len(mode.transfers) if mode is not None else 0

    def collect(real):
        def wrapped(self, *args, **kwargs):
            before = reads()
            result = real(self, *args, **kwargs)
            counted["acting"] += reads() - before
            return result
        return wrapped

    def counting(real, calls: str, key: str):
        def wrapped(self, *args, **kwargs):
            before, acting = reads(), counted["acting"]
            result = real(self, *args, **kwargs)
            counted[calls] += 1
            counted[key] += reads() - before - (counted["acting"] - acting)
            return result
        return wrapped

    on_device = config_keys.get("device") == "cuda"
    with monkeypatch.context() as patch, fake_cuda() if on_device else contextlib.nullcontext() as mode:
        patch.setattr(Runner, "collect", collect(Runner.collect))
        patch.setattr(Trainer, "iteration", counting(Trainer.iteration, "iterations", "in iterations"))
        patch.setattr(Trainer, "evaluate", counting(Trainer.evaluate, "evaluations", "in evaluations"))
        trainer = Trainer(resolve_config(config_keys), out, show_progress=False)
        trainer.train()
        counted["updates"] = trainer.learner.updates
    return counted, _metrics(out)


@pytest.mark.slow
def test_training_on_the_device_reads_losses_back_at_evaluations_not_at_every_update(tmp_path, monkeypatch):
    """Outside acting, a training iteration on the device reads nothing back: the packing of
    a batch's rows is planned from the host's copy of its masks, and each update's losses
    stay on the device until an evaluation (or a checkpoint) reads them, all in one copy.
    The numbers are the CPU run's, bit for bit (RS-PPS, whose aggregations play swap
    evaluations, under the `reset` policy: restarted slots need Adam's step count at every
    update, which the slot optimiser counts on the host instead of reading it from the device)."""
    keys = {**MPE, "t_max": 1600, "eval_interval": 800, "checkpoint_interval": 800, "opt_state_on_aggregate": "reset"}
    on_device, device_metrics = _train_counting_reads({**keys, "device": "cuda"}, tmp_path / "cuda", monkeypatch)
    _, cpu_metrics = _train_counting_reads(keys, tmp_path / "cpu", monkeypatch)
    assert on_device["updates"] >= 50 and on_device["iterations"] >= 15, on_device
    assert on_device["in iterations"] == 0, on_device
    assert on_device["in evaluations"] <= on_device["evaluations"], on_device  # one read of the losses at most
    pd.testing.assert_frame_equal(device_metrics, cpu_metrics)
