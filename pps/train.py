"""The training loop: schedule, evaluation, aggregation, logging, checkpoint and resume.

Schedule (DESIGN §3): each iteration plays one synchronous episode in each of the
`n_envs` training envs, stores them, then runs one learner update per collected episode
(once the buffer holds a batch). PPS methods aggregate at the start of every
`interval`-th learner update, before its gradient step and target copy (the authors'
order). Evaluation (greedy, separate envs) happens at step 0 and whenever `eval_interval`
env steps have passed; checkpoints likewise every `checkpoint_interval` steps, always at
the top of an iteration so that a resumed run continues exactly where the saved one was.
"""

from __future__ import annotations

import dataclasses
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from pps import atomic
from pps import run_record as rr
from pps.buffer import ReplayBuffer
from pps.config import RunConfig
from pps.envs import registry
from pps.learner import Learner, LearnerConfig
from pps.methods import get_method
from pps.nets.agents import SlotAgents, SlotLayout
from pps.nets.mixers import make_mixer
from pps.runner import Runner, epsilon_at, swap_layout_agents, swap_scores
from pps.seeding import seed_everything, stream_seeds
from pps.sharing import Aggregator, sharing_groups
from pps.timing import SectionTimer, peak_rss_mb

MAX_EVAL_ENVS = 64


@dataclass
class Progress:
    """Counters and running sums that a checkpoint must carry."""

    t_env: int = 0
    episodes: int = 0
    aggregations: int = 0
    next_eval: int = 0
    next_checkpoint: int = 0
    wall_s: float = 0.0
    swap_env_steps: int = 0
    rs_weight_peaks: list[float] = field(default_factory=list)  # per RS-PPS event, see weight_peak
    time_s: dict[str, float] = field(default_factory=dict)  # seconds per pps.timing section
    train_returns: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def deviations(config: RunConfig) -> list[str]:
    """Where this run departs from the authors' code (DESIGN §3), for run.json."""
    out = [
        "per-agent epsilon draws (authors: one draw for the whole team)",
        "test and RS swap-evaluation episodes run in separate envs and never enter the buffer",
    ]
    method = get_method(config.method)
    if config.n_envs != 1:
        out.append(f"{config.n_envs} parallel training envs (authors: 1); still one learner update per episode")
    if config.groups == "unit_type" and method.aggregates:
        out.append("aggregation groups by unit type (authors: all agents in one group)")
    if method.aggregation == "reward_weighted":
        out.append("RS-PPS weights from a real swap evaluation on SMAC-scale returns (authors: from zeros, = A-PPS)")
    if config.env == "smax":
        out.append("SMAX world state rescaled to [-1, 1]")
        if config.effective_reward_scale != 1.0:
            out.append(f"SMAX rewards scaled by {config.effective_reward_scale:g} (SMAC's scale; SMAX pays at most ~2)")
    if config.compact_buffer:
        out.append("replay stores observations/states as float16")
    return out


def weight_peak(weights: torch.Tensor, groups: list[list[int]]) -> float:
    """How far one RS-PPS event is from A-PPS: the largest member weight of any group times
    the group's size (1 = a plain mean, the group size = one agent's network takes all)."""
    return max(float(weights[members].max()) * len(members) for members in groups)


def rs_weight_summary(peaks: list[float]) -> dict[str, Any] | None:
    """run.json's record of how non-uniform RS-PPS weights were over a run (issue 8)."""
    if not peaks:
        return None
    q = np.quantile(np.asarray(peaks), [0.0, 0.5, 0.9, 1.0])
    return {"events": len(peaks), "peak_min": round(float(q[0]), 4), "peak_median": round(float(q[1]), 4),
            "peak_p90": round(float(q[2]), 4), "peak_max": round(float(q[3]), 4)}


class Trainer:
    """Builds every part of a run from its config and trains it into `out_dir`."""

    def __init__(self, config: RunConfig, out_dir: Path, show_progress: bool = True) -> None:
        self.config, self.out_dir, self.show_progress = config, Path(out_dir), show_progress
        self.method = get_method(config.method)
        torch.set_num_threads(config.threads)
        seed_everything(config.seed)
        seeds = stream_seeds(config.seed)
        self.device = torch.device(config.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            from pps.errors import UserError
            raise UserError("device: cuda was asked for, but torch sees no CUDA device. Use --set device=cpu.")
        c = config
        self.train_env = registry.make_env(c.env, c.map, c.n_envs, seeds["train_env"])
        info = self.info = self.train_env.info
        n_eval_envs = min(c.eval_episodes, MAX_EVAL_ENVS)
        self.test_env = registry.make_env(c.env, c.map, n_eval_envs, seeds["test_env"])
        n, a = info.n_agents, info.n_actions
        input_dim = info.obs_dim + a + n
        n_slots = 1 if self.method.shared_agents else n
        self.agents = SlotAgents(n_slots, input_dim, c.rnn_hidden, a).to(self.device)
        self.agents.reset_parameters(torch.Generator().manual_seed(seeds["init"]))
        self.agents.to(self.device)
        layout = SlotLayout("shared" if n_slots == 1 else "per_agent", n, n_slots)
        torch.manual_seed(seeds["init"])  # the mixer's default init draws from the global generator
        mixer = make_mixer(c.effective_mixer, n, info.state_dim, c.mixer_embed, c.hypernet_hidden,
                           c.hypernet_layers).to(self.device)
        self.learner = Learner(self.agents, layout, mixer, LearnerConfig(
            gamma=c.gamma, lr=c.lr, optimizer=c.optimizer, grad_clip=c.grad_clip, double_q=c.double_q,
            td_lambda=c.td_lambda, target_update_interval=c.target_update_interval, reward_scale=c.effective_reward_scale))
        self.buffer = ReplayBuffer(c.buffer_size, info.episode_limit, n, info.obs_dim, info.state_dim, a,
                                   compact=c.compact_buffer, seed=seeds["replay"])
        self.explore = torch.Generator().manual_seed(seeds["explore"])
        self.train_runner = Runner(self.train_env, layout, self.device)
        self.test_runner = Runner(self.test_env, layout, self.device)
        self.aggregator: Aggregator | None = None
        self.swap_runner: Runner | None = None
        if self.method.aggregates:
            groups = sharing_groups(info.unit_types, c.groups)
            self.aggregator = Aggregator(self.method, groups, c.pp_shared, c.opt_state_on_aggregate)
            self.aggregator.parameter_names(self.agents)  # fail early on a bad pp_shared list
            if self.method.aggregation == "reward_weighted":
                swap_env = registry.make_env(c.env, c.map, n * c.rs_eval_episodes, seeds["swap_env"])
                self.swap_runner = Runner(swap_env, swap_layout_agents(self.agents), self.device)
        self.progress = Progress(next_checkpoint=c.checkpoint_interval)
        self.timer = SectionTimer(self.progress.time_s)

    # ---- the loop -------------------------------------------------------------------
    def train(self) -> None:
        c, p = self.config, self.progress
        started = time.perf_counter() - p.wall_s
        bar = tqdm(total=c.t_max, initial=min(p.t_env, c.t_max), unit="step", file=sys.stderr,
                   disable=not self.show_progress, mininterval=1.0 if sys.stderr.isatty() else 30.0,
                   desc=f"{c.map} {c.method}" + (f" K={c.effective_interval}" if self.aggregator else ""))
        with bar:
            while p.t_env < c.t_max:
                p.wall_s = time.perf_counter() - started
                if p.t_env >= p.next_eval:
                    with self.timer.section("evaluation"):
                        self.evaluate(bar)
                    p.next_eval = (p.t_env // c.eval_interval + 1) * c.eval_interval
                if p.t_env >= p.next_checkpoint:
                    with self.timer.section("checkpoint"):
                        self.save_checkpoint()
                    p.next_checkpoint = (p.t_env // c.checkpoint_interval + 1) * c.checkpoint_interval
                before = p.t_env
                self.iteration()
                bar.update(min(p.t_env, c.t_max) - min(before, c.t_max))
            if not p.rows or p.rows[-1]["step"] != p.t_env:
                p.wall_s = time.perf_counter() - started
                with self.timer.section("evaluation"):
                    self.evaluate(bar)
            p.wall_s = time.perf_counter() - started

    def iteration(self) -> None:
        c, p, timer = self.config, self.progress, self.timer
        eps = epsilon_at(p.t_env, c.epsilon_start, c.epsilon_finish, c.epsilon_anneal_steps)
        env_before, start = self.train_runner.env_seconds, time.perf_counter()
        stats, batch = self.train_runner.collect(self.agents, eps, self.explore, record=True)
        env_s = self.train_runner.env_seconds - env_before
        timer.add("env", env_s)
        timer.add("acting", time.perf_counter() - start - env_s)
        assert batch is not None
        with timer.section("replay"):
            self.buffer.insert(batch)
        p.t_env += stats.steps
        p.episodes += self.train_env.n_envs
        p.train_returns.extend(stats.returns.tolist())
        for _ in range(self.train_env.n_envs):  # one learner update per collected episode
            if not self.buffer.can_sample(c.batch_size):
                break
            with timer.section("replay"):
                batch = self.buffer.sample(c.batch_size).to(self.device)
            # The authors' order: update u (counting from 1) aggregates first when u % K == 0,
            # then takes its gradient step, then copies the targets when u % target_interval
            # == 0, so a target copy on the same update already holds the aggregated networks.
            if self.aggregator and (self.learner.updates + 1) % c.effective_interval == 0:
                with timer.section("aggregation"):
                    self.aggregate()
            with timer.section("learner"):
                p.losses.append(self.learner.update(batch))

    def aggregate(self) -> None:
        assert self.aggregator is not None
        scores = None
        if self.swap_runner is not None:
            returns, steps = swap_scores(self.swap_runner, self.agents, self.config.rs_eval_episodes)
            scores = self.rs_scores(returns)
            self.progress.swap_env_steps += steps
        weights = self.aggregator.weights(self.info.n_agents, scores, self.config.rs_temperature)
        if scores is not None:
            self.progress.rs_weight_peaks.append(weight_peak(weights, self.aggregator.groups))
        self.aggregator.apply(self.agents, self.learner.slot_optimizer, weights)
        self.progress.aggregations += 1

    def rs_scores(self, returns: torch.Tensor) -> torch.Tensor:
        """RS-PPS scores on the learner's reward scale: the swap-evaluation returns are the
        backend's raw team returns (SMAX: at most ~2), the softmax is meant for SMAC-scale
        returns (the authors'), so one `rs_temperature` means the same on every backend."""
        return returns * self.config.effective_reward_scale

    def evaluate(self, bar: tqdm) -> None:
        c, p = self.config, self.progress
        returns, lengths, wins = [], [], []
        while len(returns) < c.eval_episodes:
            stats, _ = self.test_runner.collect(self.agents, 0.0, None, record=False)
            take = c.eval_episodes - len(returns)
            returns += stats.returns[:take].tolist()
            lengths += stats.lengths[:take].tolist()
            wins += stats.won[:take].float().tolist()
        row = {
            "step": p.t_env,
            "episodes": p.episodes,
            "updates": self.learner.updates,
            "wall_s": round(p.wall_s, 3),
            "test_win_rate": float(np.mean(wins)),
            "test_return_mean": float(np.mean(returns)),
            "test_ep_len_mean": float(np.mean(lengths)),
            "train_return_mean": float(np.mean(p.train_returns)) if p.train_returns else math.nan,
            "epsilon": epsilon_at(p.t_env, c.epsilon_start, c.epsilon_finish, c.epsilon_anneal_steps),
            "loss": float(np.mean(p.losses)) if p.losses else math.nan,
            "aggregations": p.aggregations,
        }
        p.rows.append(row)
        p.train_returns.clear()
        p.losses.clear()
        atomic.write_text(self.out_dir / rr.PARTIAL, rr.metrics_text(p.rows))
        rate = p.t_env / p.wall_s if p.wall_s > 0 else 0.0
        bar.set_postfix(win=f"{row['test_win_rate']:.2f}", steps_s=f"{rate:.0f}", refresh=False)

    # ---- checkpoint / resume ----------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        envs = {"train": self.train_env, "test": self.test_env}
        if self.swap_runner is not None:
            envs["swap"] = self.swap_runner.env
        return {
            "config": self.config.to_dict(),
            "learner": self.learner.state_dict(),
            "buffer": self.buffer.state_dict(),
            "explore": self.explore.get_state(),
            "env_rng": {k: e.get_rng_state() for k, e in envs.items()},
            "python_rng": random.getstate(),
            "numpy_rng": np.random.get_state(),
            "torch_rng": torch.get_rng_state(),
            "progress": self.progress.__dict__,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.learner.load_state_dict(state["learner"])
        self.buffer.load_state_dict(state["buffer"])
        self.explore.set_state(state["explore"])
        self.train_env.set_rng_state(state["env_rng"]["train"])
        self.test_env.set_rng_state(state["env_rng"]["test"])
        if self.swap_runner is not None:
            self.swap_runner.env.set_rng_state(state["env_rng"]["swap"])
        random.setstate(state["python_rng"])
        np.random.set_state(state["numpy_rng"])
        torch.set_rng_state(state["torch_rng"])
        self.progress = Progress(**state["progress"])
        self.timer = SectionTimer(self.progress.time_s)

    def save_checkpoint(self) -> None:
        state = self.state_dict()
        atomic.write_with(self.out_dir / rr.CHECKPOINT, lambda f: torch.save(state, f))

    def load_checkpoint(self) -> bool:
        path = self.out_dir / rr.CHECKPOINT
        if not path.exists():
            return False
        # mmap: the replay chunks are read into the buffer one at a time, not all at once first
        state = torch.load(path, map_location=self.device, weights_only=False, mmap=True)
        rr.check_same_run(self.out_dir, state, self.config)
        self.load_state_dict(state)
        return True

    def save_model(self) -> None:
        model = {"agents": self.agents.state_dict(), "mixer": self.learner.mixer.state_dict(),
                 "config": self.config.to_dict(), "env_info": dataclasses.asdict(self.info)}
        atomic.write_with(self.out_dir / rr.MODEL, lambda f: torch.save(model, f))


def run_training(config: RunConfig, out_dir: Path, show_progress: bool = True) -> str:
    """Train (or resume, or skip) one run into `out_dir`. Returns 'finished', 'resumed' or 'already finished'."""
    out_dir = Path(out_dir)
    previous = rr.read_run_json(out_dir)
    if previous is not None:
        rr.check_same_run(out_dir, previous, config)
        if previous.get("status") == "finished" and (out_dir / rr.METRICS).exists():
            return "already finished"
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(config, out_dir, show_progress)
    resumed = trainer.load_checkpoint()  # the checkpoint carries its config, checked on load
    if resumed and previous is not None:
        record = dict(previous, status="running", resumed=int(previous.get("resumed", 0)) + 1)
    else:
        record = rr.base_record(config, trainer.info.backend_version, trainer.method.label, deviations(config))
        record["env_info"] = dataclasses.asdict(trainer.info)
        record["team_reward"] = registry.backend(config.env).team_reward
        if trainer.swap_runner is not None:  # RS-PPS softmax runs on returns times this (DESIGN §3)
            record["rs_score_scale"] = config.effective_reward_scale
        record["resumed"] = int(resumed)
    if resumed:  # rows after the checkpoint are replayed, so drop them from the partial file
        atomic.write_text(out_dir / rr.PARTIAL, rr.metrics_text(trainer.progress.rows))
    rr.write_run_json(out_dir, record)
    try:
        trainer.train()
    except BaseException:
        record |= {"status": "failed", "ended_at": rr.now(), "wall_s": round(trainer.progress.wall_s, 3)}
        rr.write_run_json(out_dir, record)
        raise
    p = trainer.progress
    trainer.save_model()
    record |= {
        "status": "finished", "ended_at": rr.now(), "wall_s": round(p.wall_s, 3),
        "t_env": p.t_env, "episodes": p.episodes, "updates": trainer.learner.updates,
        "aggregations": p.aggregations, "swap_eval_env_steps": p.swap_env_steps,
        "rs_weight_peaks": rs_weight_summary(p.rs_weight_peaks),
        "time_s": trainer.timer.breakdown(p.wall_s),
        "learner_ms_per_update": (round(1000 * p.time_s.get("learner", 0.0) / trainer.learner.updates, 3)
                                  if trainer.learner.updates else None),
        "peak_rss_mb": peak_rss_mb(),
        "steps_per_s": round(p.t_env / p.wall_s, 1) if p.wall_s > 0 else None,
    }
    rr.write_run_json(out_dir, record)
    # metrics.csv last: its existence is what marks a run as finished (for Snakemake too)
    atomic.write_text(out_dir / rr.METRICS, rr.metrics_text(p.rows))
    (out_dir / rr.PARTIAL).unlink(missing_ok=True)
    (out_dir / rr.CHECKPOINT).unlink(missing_ok=True)
    return "resumed" if resumed else "finished"
