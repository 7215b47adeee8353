"""The training loop: schedule, evaluation, aggregation, logging, checkpoint and resume.

A `Trainer` trains a *run group*: R runs of one cell (same env, map, method, interval and
run keys; different seeds) in one process, stacked along a run dimension everywhere (agent
slots, mixers, replay, learner; DESIGN §3). A run alone is the group of one, through the
same code. Every run keeps its own seeds, envs, exploration and replay streams, progress,
evaluations and run folder with today's files; runs never mix (losses, clipping and
aggregation are per run). Runs advance in lockstep, iteration by iteration; a run that
reaches `t_max` writes its outputs at once and idles (its networks keep being stepped,
unused) until the group ends.

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

from pps import atomic, host_memory, run_lock
from pps import run_record as rr
from pps.buffer import ReplayBuffer
from pps.config import RunConfig
from pps.devices import ENV_DEVICE, HOST, learner_device, to_host
from pps.envs import registry
from pps.learner import Learner, LearnerConfig
from pps.methods import get_method
from pps.nets.agents import SlotAgents, SlotLayout
from pps.nets.mixers import make_mixer
from pps import runstack
from pps.envs.group import RunGroupEnv
from pps.rs_scores import ScoreScale, score_scale
from pps.runner import Runner, epsilon_at, swap_agent_ids, swap_layout_agents, swap_scores_per_run
from pps.errors import UserError
from pps.run_cost import CostShares, cost_record
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
    cost_share: dict[str, Any] | None = None  # this run's share of time_s/wall_s as last checkpointed (pps.run_cost)
    finished: bool = False
    train_returns: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def deviations(config: RunConfig) -> list[str]:
    """Where this run departs from the authors' code (DESIGN §3), for run.json. Training in a
    run group is none: a run's results are the same alone (run.json's `group` records it)."""
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
        out.append(f"RS-PPS weights from a real swap evaluation, softmax(normalised score / {config.rs_temperature:g}) "
                   f"(authors: from zeros, = A-PPS)")
        if config.rs_swap_agent_id == "own":
            out.append("RS swap evaluation gives each network its own agent id in every seat "
                       "(authors: the id of the seat it plays)")
    if config.env == "smax":
        out.append("SMAX world state rescaled to [-1, 1]")
        if config.effective_reward_scale != 1.0:
            out.append(f"SMAX rewards scaled by {config.effective_reward_scale:g} (SMAC's scale; SMAX pays at most ~2)")
    if config.env == "smac":
        out.append("SMAC time-outs bootstrap as truncations (StarCraft2Env built with continuing_episode=True; "
                   "authors' PyMARL config: continuing_episode False, every time-out terminal)")
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


# Run keys that may differ between the runs of one group: everything else must be equal.
GROUP_FREE_KEYS = ("seed",)


def group_cell(config: RunConfig) -> dict[str, Any]:
    """What every run of a group shares: the config without its seed."""
    return {k: v for k, v in config.to_dict().items() if k not in GROUP_FREE_KEYS}


@dataclass
class GroupRun:
    """One run of a group: what it owns alone (its streams, test envs, progress and files)."""

    config: RunConfig
    out_dir: Path
    progress: Progress
    explore: torch.Generator
    test_env: Any
    test_runner: Runner
    agents: SlotAgents  # a view of this run's slots of the group's agents
    record: dict[str, Any] = field(default_factory=dict)


class Trainer:
    """Builds every part of a run group from its configs and trains it into the run folders."""

    def __init__(self, configs: RunConfig | list[RunConfig], out_dirs: Path | list[Path],
                 show_progress: bool = True) -> None:
        configs = configs if isinstance(configs, list) else [configs]
        out_dirs = [Path(d) for d in (out_dirs if isinstance(out_dirs, list) else [out_dirs])]
        if len(configs) != len(out_dirs) or not configs:
            raise ValueError("a run group needs one output folder per config")
        if any(group_cell(c) != group_cell(configs[0]) for c in configs[1:]):
            raise ValueError("the runs of one group must differ in their seed only")
        if len({c.seed for c in configs}) != len(configs):
            raise ValueError("the runs of one group must have different seeds")
        self.configs, self.show_progress = configs, show_progress
        self.config = c = configs[0]
        self.n_runs = r = len(configs)
        self.method = get_method(c.method)
        torch.set_num_threads(c.threads)
        seed_everything(c.seed)
        seeds = [stream_seeds(cfg.seed) for cfg in configs]
        # the learner's device; envs, replay and RNG stay on the host (`pps.devices`)
        self.device = learner_device(c.device)
        env_device = str(ENV_DEVICE)
        self.train_env = RunGroupEnv([registry.make_env(c.env, c.map, c.n_envs, s["train_env"], device=env_device)
                                      for s in seeds])
        info = self.info = self.train_env.info
        n, a = info.n_agents, info.n_actions
        input_dim = info.obs_dim + a + n
        self.slots_per_run = ns = 1 if self.method.shared_agents else n
        self.agents = SlotAgents(r * ns, input_dim, c.rnn_hidden, a)
        self.agents.reset_parameters([torch.Generator().manual_seed(s["init"]) for s in seeds])
        self.agents.to(self.device)
        kind = "shared" if self.method.shared_agents else "per_agent"
        layout = SlotLayout(kind, n, r * ns, r)
        mixer = make_mixer(c.effective_mixer, n, info.state_dim, c.mixer_embed, c.hypernet_hidden,
                           c.hypernet_layers, init_seeds=[s["init"] for s in seeds]).to(self.device)
        self.learner = Learner(self.agents, layout, mixer, LearnerConfig(
            gamma=c.gamma, lr=c.lr, optimizer=c.optimizer, grad_clip=c.grad_clip, double_q=c.double_q,
            td_lambda=c.td_lambda, target_update_interval=c.target_update_interval, reward_scale=c.effective_reward_scale))
        self.buffer = ReplayBuffer(c.buffer_size, info.episode_limit, n, info.obs_dim, info.state_dim, a,
                                   compact=c.compact_buffer, seed=[s["replay"] for s in seeds])
        self.train_runner = Runner(self.train_env, layout, self.device)
        solo_layout = SlotLayout(kind, n, ns)
        n_eval_envs = min(c.eval_episodes, MAX_EVAL_ENVS)
        self.runs: list[GroupRun] = []
        for i, (cfg, out, s) in enumerate(zip(configs, out_dirs, seeds)):
            test_env = registry.make_env(c.env, c.map, n_eval_envs, s["test_env"], device=env_device)
            self.runs.append(GroupRun(
                config=cfg, out_dir=out, progress=Progress(next_checkpoint=c.checkpoint_interval),
                explore=torch.Generator().manual_seed(s["explore"]), test_env=test_env,
                test_runner=Runner(test_env, solo_layout, self.device),
                agents=self.agents.slot_view(i * ns, (i + 1) * ns)))
        self.aggregator: Aggregator | None = None
        self.run_groups: list[list[list[int]]] = []  # per run: its sharing groups, in group slot indices
        self.swap_runner: Runner | None = None
        if self.method.aggregates:
            groups = sharing_groups(info.unit_types, c.groups)
            self.run_groups = [[[i * n + m for m in members] for members in groups] for i in range(r)]
            self.aggregator = Aggregator(self.method, [g for run in self.run_groups for g in run],
                                         c.pp_shared, c.opt_state_on_aggregate)
            self.aggregator.parameter_names(self.agents)  # fail early on a bad pp_shared list
            if self.method.aggregation == "reward_weighted":
                self.rs_scale: ScoreScale = score_scale(c.env, c.map)
                swap_env = RunGroupEnv([registry.make_env(c.env, c.map, n * c.rs_eval_episodes, s["swap_env"],
                                                          device=env_device) for s in seeds])
                ids = swap_agent_ids(n, r * n, c.rs_eval_episodes, c.rs_swap_agent_id)
                self.swap_runner = Runner(swap_env, swap_layout_agents(self.agents, n), self.device, agent_ids=ids)
        self.group_time_s: dict[str, float] = {}
        self.timer = SectionTimer(self.group_time_s)
        self.wall_s = 0.0
        self.costs = CostShares(r)
        self._started: float | None = None  # perf_counter() at the (virtual) start of training

    # ---- a run alone: the group of one ----------------------------------------------
    @property
    def progress(self) -> Progress:
        """The first run's progress (a run alone: its progress)."""
        return self.runs[0].progress

    @property
    def active(self) -> list[GroupRun]:
        return [run for run in self.runs if not run.progress.finished]

    # ---- the loop -------------------------------------------------------------------
    def train(self) -> None:
        """Train until every run has reached `t_max`; each run is finished (`finish`) as soon
        as it gets there."""
        c = self.config
        # from here on the group's cost is split among its runs (after a resume: on top of
        # what each run's checkpoint says it was charged before)
        self.costs = CostShares(self.n_runs, self.wall_s, self.group_time_s,
                                [run.progress.cost_share for run in self.runs])
        started = self._started = time.perf_counter() - self.wall_s
        label = f"{c.map} {c.method}" + (f" K={c.effective_interval}" if self.aggregator else "")
        if self.n_runs > 1:
            label += f" x{self.n_runs} seeds"
        shown = min(r.progress.t_env for r in self.runs)
        bar = tqdm(total=c.t_max, initial=min(shown, c.t_max), unit="step", file=sys.stderr,
                   disable=not self.show_progress, mininterval=1.0 if sys.stderr.isatty() else 30.0, desc=label)
        with bar:
            while True:
                self.wall_s = time.perf_counter() - started
                for run in self.active:
                    p = run.progress
                    p.wall_s = self.wall_s
                    if p.t_env >= c.t_max:
                        if not p.rows or p.rows[-1]["step"] != p.t_env:
                            with self.timer.section("evaluation"):
                                self.evaluate(run, bar)
                        self.finish(run)
                    elif p.t_env >= p.next_eval:
                        with self.timer.section("evaluation"):
                            self.evaluate(run, bar)
                        p.next_eval = (p.t_env // c.eval_interval + 1) * c.eval_interval
                active = self.active
                if not active:
                    break
                if any(run.progress.t_env >= run.progress.next_checkpoint for run in active):
                    with self.timer.section("checkpoint"):
                        self.save_checkpoints()
                before = min(run.progress.t_env for run in active)
                self.iteration()
                after = min(run.progress.t_env for run in self.active)
                bar.update(min(after, c.t_max) - min(before, c.t_max))

    def iteration(self) -> None:
        c, timer = self.config, self.timer
        eps = [epsilon_at(run.progress.t_env, c.epsilon_start, c.epsilon_finish, c.epsilon_anneal_steps)
               for run in self.runs]
        env_before, start = self.train_runner.env_seconds, time.perf_counter()
        stats, batch = self.train_runner.collect(self.agents, eps, [run.explore for run in self.runs], record=True)
        env_s = self.train_runner.env_seconds - env_before
        timer.add("env", env_s)
        timer.add("acting", time.perf_counter() - start - env_s)
        assert batch is not None
        with timer.section("replay"):
            self.buffer.insert(batch)
        b = self.train_env.per_run
        steps = stats.lengths.view(self.n_runs, b).sum(dim=1).tolist()
        returns = stats.returns.view(self.n_runs, b).tolist()
        for run, run_steps, run_returns in zip(self.runs, steps, returns):
            if run.progress.finished:
                continue
            run.progress.t_env += int(run_steps)
            run.progress.episodes += b
            run.progress.train_returns.extend(run_returns)
        for _ in range(b):  # one learner update per collected episode
            if not self.buffer.can_sample(c.batch_size):
                break
            with timer.section("replay"):
                sample = self.buffer.sample(c.batch_size).to(self.device)
            # The authors' order: update u (counting from 1) aggregates first when u % K == 0,
            # then takes its gradient step, then copies the targets when u % target_interval
            # == 0, so a target copy on the same update already holds the aggregated networks.
            if self.aggregator and (self.learner.updates + 1) % c.effective_interval == 0:
                with timer.section("aggregation"):
                    self.aggregate()
            with timer.section("learner"):
                losses = self.learner.update(sample)
            for run, loss in zip(self.runs, losses):
                if not run.progress.finished:
                    run.progress.losses.append(loss)

    def aggregate(self) -> None:
        assert self.aggregator is not None
        n = self.info.n_agents
        scores = None
        if self.swap_runner is not None:
            returns, steps = swap_scores_per_run(self.swap_runner, self.agents, self.config.rs_eval_episodes,
                                                 self.n_runs)
            scores = self.rs_scores(returns)
            for run, run_steps in zip(self.runs, steps):
                run.progress.swap_env_steps += run_steps
        weights = self.aggregator.weights(self.n_runs * n, scores, self.config.rs_temperature)
        self.aggregator.apply(self.agents, self.learner.slot_optimizer, weights)
        for i, run in enumerate(self.runs):
            if scores is not None:
                run.progress.rs_weight_peaks.append(weight_peak(weights, self.run_groups[i]))
            run.progress.aggregations += 1

    def rs_scores(self, returns: torch.Tensor) -> torch.Tensor:
        """RS-PPS scores: the swap evaluation's raw team returns as the task's normalised
        score (`pps.rs_scores`), so one `rs_temperature` means the same on every backend."""
        return self.rs_scale(returns)

    def evaluate(self, run: GroupRun, bar: tqdm) -> None:
        """Greedy test episodes of one run, in its own test envs, with its own slots."""
        c, p = self.config, run.progress
        returns, lengths, wins = [], [], []
        while len(returns) < c.eval_episodes:
            stats, _ = run.test_runner.collect(run.agents, 0.0, None, record=False)
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
        atomic.write_text(run.out_dir / rr.PARTIAL, rr.metrics_text(p.rows))
        rate = sum(r.progress.t_env for r in self.runs) / p.wall_s if p.wall_s > 0 else 0.0
        bar.set_postfix(score=f"{row['test_win_rate' if self.info.has_win_condition else 'test_return_mean']:.2f}",
                        steps_s=f"{rate:.0f}", refresh=False)

    # ---- finishing a run --------------------------------------------------------------
    def finish(self, run: GroupRun) -> None:
        """Write a run's model, run.json and metrics.csv (last: it marks the run finished),
        then let it idle while the rest of the group trains on."""
        p, i = run.progress, self.runs.index(run)
        self.save_model(i)
        updates = self.learner.updates
        run.record |= {
            "status": "finished", "ended_at": rr.now(),
            "t_env": p.t_env, "episodes": p.episodes, "updates": updates,
            "aggregations": p.aggregations, "swap_eval_env_steps": p.swap_env_steps,
            "rs_weight_peaks": rs_weight_summary(p.rs_weight_peaks),
            **self.cost_fields(i),
        }
        rr.write_run_json(run.out_dir, run.record)
        atomic.write_text(run.out_dir / rr.METRICS, rr.metrics_text(p.rows))
        (run.out_dir / rr.PARTIAL).unlink(missing_ok=True)
        (run.out_dir / rr.CHECKPOINT).unlink(missing_ok=True)
        p.finished = True

    def cost_fields(self, i: int) -> dict[str, Any]:
        """Run i's cost for run.json: its share at top level, the group's totals in
        `group_cost` (pps.run_cost). Charges the group's time so far first, up to now: the
        loop reads the clock once per pass, and the run's final evaluation came after that."""
        if self._started is not None:
            self.wall_s = max(self.wall_s, time.perf_counter() - self._started)
        self.costs.advance(self.wall_s, self.group_time_s,
                           [j for j, run in enumerate(self.runs) if not run.progress.finished])
        return cost_record(self.costs.state(i), self.wall_s, self.group_time_s, self.runs[i].progress.t_env,
                           sum(run.progress.t_env for run in self.runs), self.learner.updates, self.n_runs,
                           peak_rss_mb())

    # ---- checkpoint / resume ----------------------------------------------------------
    def state_dict(self, i: int = 0) -> dict[str, Any]:
        """Run i's checkpoint: its share of every group tensor and its own streams, in the
        format a run alone writes, so that it can resume alone or in any group."""
        run = self.runs[i]
        envs = {"train": self.train_env.envs[i], "test": run.test_env}
        if self.swap_runner is not None:
            envs["swap"] = self.swap_runner.env.envs[i]
        return {
            "config": run.config.to_dict(),
            "learner": to_host(self.learner.state_dict(i)),  # loads on any machine
            "buffer": self.buffer.state_dict(i),
            "explore": run.explore.get_state(),
            "env_rng": {k: e.get_rng_state() for k, e in envs.items()},
            "python_rng": random.getstate(),
            "numpy_rng": np.random.get_state(),
            "torch_rng": torch.get_rng_state(),
            "progress": dict(run.progress.__dict__, time_s=dict(self.group_time_s), wall_s=self.wall_s,
                             cost_share=self.costs.state(i)),
        }

    def load_state_dicts(self, states: list[dict[str, Any]]) -> None:
        """Restore every run of the group from its checkpoint (all at one position)."""
        positions = {int(s["progress"]["episodes"]) for s in states}
        if len(positions) != 1:
            raise ValueError(f"the runs of a group must resume at one position, got episodes {sorted(positions)}")
        self.learner.load_run_states([s["learner"] for s in states])
        for i, (run, state) in enumerate(zip(self.runs, states)):
            self.buffer.load_state_dict(state["buffer"], i)
            run.explore.set_state(state["explore"])
            self.train_env.envs[i].set_rng_state(state["env_rng"]["train"])
            run.test_env.set_rng_state(state["env_rng"]["test"])
            if self.swap_runner is not None:
                self.swap_runner.env.envs[i].set_rng_state(state["env_rng"]["swap"])
            run.progress = Progress(**state["progress"])
        first = states[0]
        random.setstate(first["python_rng"])
        np.random.set_state(first["numpy_rng"])
        torch.set_rng_state(first["torch_rng"])
        self.group_time_s = dict(first["progress"]["time_s"])
        self.timer = SectionTimer(self.group_time_s)
        self.wall_s = float(first["progress"]["wall_s"])

    def save_checkpoints(self) -> None:
        """Every unfinished run's checkpoint, all at this iteration. Each file is written
        atomically; a kill between two runs' files leaves runs at two positions, which
        `run_group` resumes as two groups (each exactly)."""
        c = self.config
        unfinished = [run for run in self.runs if not run.progress.finished]
        # One next boundary for the whole group, past its furthest run: a run a few steps
        # short of this boundary would otherwise trigger another save of every run at the
        # next iteration (measured: up to one save per run per boundary, 7% of a 3m group
        # of 5's time). Alone this is the run's own next boundary, as before.
        furthest = max(run.progress.t_env for run in unfinished)
        self.costs.advance(self.wall_s, self.group_time_s, [self.runs.index(run) for run in unfinished])
        upcoming = (furthest // c.checkpoint_interval + 1) * c.checkpoint_interval
        for i, run in enumerate(self.runs):
            if run.progress.finished:
                continue
            run.progress.next_checkpoint = upcoming
            state = self.state_dict(i)
            atomic.write_with(run.out_dir / rr.CHECKPOINT, lambda f: torch.save(state, f))

    def load_checkpoints(self) -> bool:
        """Resume every run from its checkpoint; False (nothing loaded) when no run has one."""
        paths = [run.out_dir / rr.CHECKPOINT for run in self.runs]
        if not any(p.exists() for p in paths):
            return False
        if not all(p.exists() for p in paths):
            raise ValueError("either every run of a group has a checkpoint or none has")
        states = []
        for run, path in zip(self.runs, paths):
            # mmap: the replay chunks are read into the buffer one at a time, not all at once first
            # on the host: RNG states must stay there, and the replay must not pass through
            # the device; the learner's load copies its own tensors to the device
            state = torch.load(path, map_location=HOST, weights_only=False, mmap=True)
            rr.check_same_run(run.out_dir, state, run.config)
            states.append(state)
        self.load_state_dicts(states)
        return True

    def save_model(self, i: int = 0) -> None:
        run = self.runs[i]
        agents = {k: v.detach().to(HOST, copy=True) for k, v in run.agents.state_dict().items()}
        mixer = to_host(runstack.split(self.learner.mixer.state_dict(), i, self.n_runs))
        model = {"agents": agents, "mixer": mixer, "config": run.config.to_dict(),
                 "env_info": dataclasses.asdict(self.info)}
        atomic.write_with(run.out_dir / rr.MODEL, lambda f: torch.save(model, f))


def checkpoint_position(out_dir: Path) -> int:
    """Episodes a run's checkpoint has trained (0 without one): runs at one position can
    resume together."""
    path = Path(out_dir) / rr.CHECKPOINT
    if not path.exists():
        return 0
    try:  # the first read of every checkpoint: a damaged one stops here, before anything is written
        state = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        return int(state["progress"]["episodes"])
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError, ... by how it is damaged
        reason = (str(err).strip().splitlines() or [""])[0].split(". ")[0][:160]  # torch's first sentence
        raise UserError(f"'{path}' is damaged or not a pps checkpoint ({type(err).__name__}: {reason}). "
                        f"Delete it and run the same command again to train this run from step 0, "
                        f"or put back a good copy to resume.") from None


def run_group(configs: list[RunConfig], out_dirs: list[Path], show_progress: bool = True) -> list[str]:
    """Train (or resume, or skip) runs of one cell in one process. Finished runs are skipped;
    the others train together, in as many groups as they have distinct checkpoint positions
    (normally one). Returns each run's outcome: 'finished', 'resumed' or 'already finished'.

    Before anything is written it checks that the group fits in memory (`pps.host_memory`);
    then it holds every run folder's lock (`pps.run_lock`) for as long as it works there."""
    out_dirs = [Path(d) for d in out_dirs]
    host_memory.check_fits(configs)
    for out in out_dirs:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"run folder '{out}' cannot be created: {err.strerror or err}.") from None
    with run_lock.hold_all(out_dirs):
        return _run_group_locked(configs, out_dirs, show_progress)


def _run_group_locked(configs: list[RunConfig], out_dirs: list[Path], show_progress: bool) -> list[str]:
    outcomes: dict[int, str] = {}
    todo: dict[int, list[int]] = {}
    previous: dict[int, dict[str, Any] | None] = {}
    for i, (config, out) in enumerate(zip(configs, out_dirs)):
        previous[i] = rr.read_run_json(out)
        if previous[i] is not None:
            rr.check_same_run(out, previous[i], config)
            if previous[i].get("status") == "finished" and (out / rr.METRICS).exists():
                outcomes[i] = "already finished"
                continue
        todo.setdefault(checkpoint_position(out), []).append(i)
    for position in sorted(todo, reverse=True):
        members = todo[position]
        for i in members:
            out_dirs[i].mkdir(parents=True, exist_ok=True)
        trainer = Trainer([configs[i] for i in members], [out_dirs[i] for i in members], show_progress)
        resumed = trainer.load_checkpoints()
        for run, i in zip(trainer.runs, members):
            run.record = _start_record(trainer, run, previous[i], resumed)
            if resumed:  # rows after the checkpoint are replayed, so drop them from the partial file
                atomic.write_text(run.out_dir / rr.PARTIAL, rr.metrics_text(run.progress.rows))
            rr.write_run_json(run.out_dir, run.record)
        try:
            trainer.train()
        except BaseException:
            for run in trainer.active:
                run.record |= {"status": "failed", "ended_at": rr.now(), **trainer.cost_fields(trainer.runs.index(run))}
                try:
                    rr.write_run_json(run.out_dir, run.record)
                except (UserError, OSError):  # e.g. the disk that just filled up: report the first error
                    pass
            raise
        for i in members:
            outcomes[i] = "resumed" if resumed else "finished"
    return [outcomes[i] for i in range(len(configs))]


def _start_record(trainer: Trainer, run: GroupRun, previous: dict[str, Any] | None, resumed: bool) -> dict[str, Any]:
    config = run.config
    if resumed and previous is not None:
        record = dict(previous, status="running", resumed=int(previous.get("resumed", 0)) + 1)
    else:
        record = rr.base_record(config, trainer.info.backend_version, trainer.method.label,
                                deviations(config))
        record["env_info"] = dataclasses.asdict(trainer.info)
        record["team_reward"] = registry.backend(config.env).team_reward
        if trainer.swap_runner is not None:  # RS-PPS score = (return - zero) / (one - zero) (DESIGN §3)
            record["rs_score_scale"] = trainer.rs_scale.to_record()
        record["resumed"] = int(resumed)
    # which runs shared this process (the last attempt's group when resumed)
    record["group"] = {"seeds": [r.config.seed for r in trainer.runs], "size": trainer.n_runs}
    return record


def run_training(config: RunConfig, out_dir: Path, show_progress: bool = True) -> str:
    """Train (or resume, or skip) one run into `out_dir`. Returns 'finished', 'resumed' or 'already finished'."""
    return run_group([config], [Path(out_dir)], show_progress)[0]
