"""The training loop: schedule, evaluation, aggregation, logging, checkpoint and resume.

A `Trainer` trains a *run group*: R runs of one cell (same env, map, method, interval and
run keys; different seeds) in one process, stacked along a run dimension everywhere (agent
slots, mixers, replay, learner; docs/design.md §3). A run alone is the group of one, through the
same code. Every run keeps its own seeds, envs, exploration and replay streams, progress,
evaluations and run folder with today's files; runs never mix (losses, clipping and
aggregation are per run). Runs advance in lockstep, iteration by iteration; a run that
reaches `t_max` writes its outputs at once and idles (its networks keep being stepped,
unused) until the group ends.

Schedule (docs/design.md §3): each iteration plays one synchronous episode in each of the
`n_envs` training envs, stores them, then runs one learner update per collected episode
(once the buffer holds a batch). PPS methods aggregate at the start of every
`interval`-th learner update, before its gradient step and target copy (the authors'
order). Evaluation (greedy, separate envs) happens at step 0 and whenever `eval_interval`
env steps have passed; checkpoints likewise every `checkpoint_interval` steps, always at
the top of an iteration so that a resumed run continues exactly where the saved one was.
When a run reaches `t_max`, an *absolute evaluation* plays `absolute_eval_episodes` greedy
episodes of the trained policy in envs seeded from a stream of its own (`absolute_env`), so
it never changes what the run, or any run of its group, learns.

The progress bar shows the score the tables use (`pps.envs.scores`: the win rate, or the
normalised return on a task without a win condition), one per seed in a group.

The parts are built in `pps.train.build`; every file a run writes goes through its
`pps.run_folder.RunFolder`.
"""

from __future__ import annotations

import dataclasses
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from pps import provenance, runstack
from pps.config import RunConfig
from pps.devices import HOST, learner_device, to_host
from pps.envs.scores import ScoreRule
from pps.float_format import clean_float
from pps.methods import get_method
from pps.nets.agents import SlotAgents
from pps.rs_scores import ScoreScale
from pps.run_cost import CostShares, cost_record
from pps.run_folder import ABSOLUTE, TEST, Evaluation, RunFolder
from pps.runner import Runner, epsilon_at, swap_scores_per_run
from pps.seeding import seed_everything, stream_seeds
from pps.sharing import Aggregator
from pps.timing import SectionTimer, peak_rss_mb
from pps.train import build
from pps.train.build import GroupRun, Progress


def weight_peak(weights: torch.Tensor, groups: list[list[int]]) -> float:
    """How far one RS-PPS event is from A-PPS: the largest member weight of any group times
    the group's size (1 = a plain mean, the group size = one agent's network takes all)."""
    return max(float(weights[members].max()) * len(members) for members in groups)


def rs_weight_summary(peaks: list[float]) -> dict[str, Any] | None:
    """run.json's record of how non-uniform RS-PPS weights were over a run: the spread of
    `weight_peak` over its aggregation events."""
    if not peaks:
        return None
    q = np.quantile(np.asarray(peaks), [0.0, 0.5, 0.9, 1.0])
    return {"events": len(peaks), "peak_min": round(float(q[0]), 4), "peak_median": round(float(q[1]), 4),
            "peak_p90": round(float(q[2]), 4), "peak_max": round(float(q[3]), 4)}


def progress_label(config: RunConfig, seeds: list[int], aggregates: bool) -> str:
    """The bar's name: map, method, K, and the seed (a group: how many; `progress_postfix`
    names each)."""
    label = f"{config.map} {config.method}" + (f" K={config.effective_interval}" if aggregates else "")
    return label + (f" seed {seeds[0]}" if len(seeds) == 1 else f", {len(seeds)} seeds")


def progress_postfix(name: str, scores: list[tuple[int, float | None]], steps_per_s: float) -> str:
    """The bar's text after the counts: the latest score of each run, named by its seed in a
    group ('-' before its first evaluation), and the group's speed."""
    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    if len(scores) == 1:
        values = shown(scores[0][1])
    else:
        values = " ".join(f"s{seed}={shown(value)}" for seed, value in scores)
    return f"{name} {values}, {steps_per_s:.0f} steps/s"


def absolute_record(evaluation: Evaluation, rule: ScoreRule | None) -> dict[str, Any]:
    """run.json's `absolute_eval`: the final evaluation's means (its episodes are in
    episodes.csv.gz) and its score by the tables' rule."""
    ret = float(np.mean(evaluation.returns))
    win = clean_float(np.mean(evaluation.won)) if evaluation.won is not None else None
    score = float(rule(win, ret)) if rule is not None else None
    return {"step": evaluation.step, "episodes": len(evaluation.returns), "win_rate": win,
            "return_mean": clean_float(ret), "score": None if score is None else clean_float(score),
            "score_kind": rule.kind if rule is not None else None}


class Trainer:
    """Builds every part of a run group from its configs and trains it into the run folders."""

    def __init__(self, configs: RunConfig | list[RunConfig], out_dirs: Path | list[Path],
                 show_progress: bool = True) -> None:
        configs = configs if isinstance(configs, list) else [configs]
        out_dirs = [Path(d) for d in (out_dirs if isinstance(out_dirs, list) else [out_dirs])]
        build.check_group(configs, len(out_dirs))
        self.configs, self.show_progress = configs, show_progress
        self.config = c = configs[0]
        self.n_runs = len(configs)
        self.method = get_method(c.method)
        torch.set_num_threads(c.threads)
        seed_everything(c.seed)
        seeds = [stream_seeds(cfg.seed) for cfg in configs]
        # the learner's device; envs, replay and RNG stay on the host (`pps.devices`)
        self.device = learner_device(c.device)
        # the parts, in a fixed order (build.py)
        self.train_env = build.train_env(c, seeds)
        self.info = self.train_env.info
        self.slots_per_run = build.slots_per_run(self.method, self.info)
        self.agents, layout = build.agents(self.method, self.info, c, seeds, self.device)
        self.learner = build.learner(c, self.info, self.agents, layout, seeds, self.device)
        self.buffer = build.replay(c, self.info, seeds)
        self.train_runner = Runner(self.train_env, layout, self.device)
        self.runs: list[GroupRun] = build.group_runs(configs, [RunFolder(d) for d in out_dirs], seeds, self.method,
                                                     self.info, self.agents, self.device)
        shared = build.sharing(self.method, c, self.info, self.agents, seeds, self.device)
        self.aggregator: Aggregator | None = shared.aggregator
        self.run_groups = shared.run_groups  # per run: its sharing groups, in group slot indices
        self.swap_runner: Runner | None = shared.swap_runner
        self.rs_scale: ScoreScale | None = shared.rs_scale
        self.score_rule: ScoreRule | None = build.score_rule_or_none(c)  # the tables' score, for the bar
        self.group_time_s: dict[str, float] = {}
        self.timer = SectionTimer(self.group_time_s)
        self.wall_s = 0.0
        self.costs = CostShares(self.n_runs)
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
        label = progress_label(c, [run.config.seed for run in self.runs], self.aggregator is not None)
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
                # sampled and planned on the host, then on its way to the device (`Learner.prepare`)
                sample = self.learner.prepare(self.buffer.sample(c.batch_size))
            # The authors' order: update u (counting from 1) aggregates first when u % K == 0,
            # then takes its gradient step, then copies the targets when u % target_interval
            # == 0, so a target copy on the same update already holds the aggregated networks.
            if self.aggregator and (self.learner.updates + 1) % c.effective_interval == 0:
                with timer.section("aggregation"):
                    self.aggregate()
            with timer.section("learner"):
                losses = self.learner.update(sample)
            for i, run in enumerate(self.runs):
                if not run.progress.finished:
                    run.progress.losses.append(losses[i])  # read later, with the others: `read_losses`

    def read_losses(self) -> None:
        """Every run's losses still on the learner's device, read in one copy and kept as
        floats, the values `.tolist()` gives. An update's losses stay on the device (reading
        each would make the host wait for every update to finish on a GPU) until something
        reads them: an evaluation's mean loss, a checkpoint's progress."""
        pending = [(p, j) for p in (run.progress for run in self.runs)
                   for j, loss in enumerate(p.losses) if isinstance(loss, torch.Tensor)]
        if not pending:
            return
        values = torch.stack([p.losses[j] for p, j in pending]).tolist()
        for (p, j), value in zip(pending, values):
            p.losses[j] = value

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
        assert self.rs_scale is not None
        return self.rs_scale(returns)

    @staticmethod
    def play(runner: Runner, agents: SlotAgents, episodes: int) -> tuple[list[float], list[int], list[bool]]:
        """`episodes` greedy episodes in `runner`'s envs, round after round: returns, lengths, wins."""
        returns: list[float] = []
        lengths: list[int] = []
        wins: list[bool] = []
        while len(returns) < episodes:
            stats, _ = runner.collect(agents, 0.0, None, record=False)
            take = episodes - len(returns)
            returns += stats.returns[:take].tolist()
            lengths += stats.lengths[:take].tolist()
            wins += stats.won[:take].tolist()
        return returns, lengths, wins

    def evaluate(self, run: GroupRun, bar: tqdm) -> None:
        """Greedy test episodes of one run, in its own test envs, with its own slots."""
        c, p = self.config, run.progress
        self.read_losses()
        returns, lengths, wins = self.play(run.test_runner, run.agents, c.eval_episodes)
        has_win = self.info.has_win_condition
        row = {
            "step": p.t_env,
            "episodes": p.episodes,
            "updates": self.learner.updates,
            "wall_s": round(p.wall_s, 3),
            # a task without a win condition leaves it empty: not a win rate of 0
            "test_win_rate": float(np.mean(wins)) if has_win else math.nan,
            "test_return_mean": float(np.mean(returns)),
            "test_ep_len_mean": float(np.mean(lengths)),
            "train_return_mean": float(np.mean(p.train_returns)) if p.train_returns else math.nan,
            "epsilon": epsilon_at(p.t_env, c.epsilon_start, c.epsilon_finish, c.epsilon_anneal_steps),
            "loss": float(np.mean(p.losses)) if p.losses else math.nan,
            "aggregations": p.aggregations,
        }
        p.rows.append(row)
        p.evaluations.append({"step": p.t_env, "returns": returns, "won": wins if has_win else None})
        p.train_returns.clear()
        p.losses.clear()
        run.folder.write_partial(p.rows)
        rate = sum(r.progress.t_env for r in self.runs) / p.wall_s if p.wall_s > 0 else 0.0
        bar.set_postfix_str(self.progress_text(rate), refresh=False)

    def shown_score(self, row: dict[str, Any]) -> float:
        """The score of one metrics row as the tables compute it (the raw return when the task
        has no reference returns yet)."""
        if self.score_rule is None:
            return float(row["test_return_mean"])
        return float(self.score_rule(row["test_win_rate"], row["test_return_mean"]))

    def progress_text(self, steps_per_s: float) -> str:
        """The bar's postfix: every run's latest score, named by its seed (`progress_postfix`)."""
        name = self.score_rule.short_name if self.score_rule is not None else "return"
        scores = [(run.config.seed, self.shown_score(run.progress.rows[-1]) if run.progress.rows else None)
                  for run in self.runs]
        return progress_postfix(name, scores, steps_per_s)

    def absolute_evaluation(self, run: GroupRun) -> Evaluation | None:
        """The final evaluation of a run's trained policy: `absolute_eval_episodes` greedy
        episodes (None for 0) in envs seeded from the run's `absolute_env` stream, built now and
        closed after. The run's test envs are closed first: it is done with them (on SMAC that
        frees their StarCraft II processes before new ones start)."""
        episodes = run.config.effective_absolute_eval_episodes
        if episodes == 0:
            return None
        run.test_env.close()
        env = build.eval_env(run.config, stream_seeds(run.config.seed)["absolute_env"])
        try:
            returns, _, wins = self.play(Runner(env, run.test_runner.layout, self.device), run.agents, episodes)
        finally:
            env.close()
        return Evaluation(ABSOLUTE, run.progress.t_env, returns, wins if self.info.has_win_condition else None)

    # ---- finishing a run --------------------------------------------------------------
    def finish(self, run: GroupRun) -> None:
        """Evaluate the trained policy once more (the absolute evaluation), write the run's
        model, run.json, episodes.csv.gz and metrics.csv (last: it marks the run finished), then
        let it idle while the rest of the group trains on."""
        p, i = run.progress, self.runs.index(run)
        with self.timer.section("evaluation"):
            absolute = self.absolute_evaluation(run)
        self.save_model(i)
        run.record |= {
            "status": "finished", "ended_at": provenance.now(),
            "t_env": p.t_env, "episodes": p.episodes, "updates": self.learner.updates,
            "aggregations": p.aggregations, "swap_eval_env_steps": p.swap_env_steps,
            "rs_weight_peaks": rs_weight_summary(p.rs_weight_peaks),
            **self.cost_fields(i),
        }
        if absolute is not None:
            run.record["absolute_eval"] = absolute_record(absolute, self.score_rule)
        run.folder.finish(run.record, p.rows, self.episodes_of(run, absolute))
        p.finished = True

    def episodes_of(self, run: GroupRun, absolute: Evaluation | None) -> list[Evaluation] | None:
        """What episodes.csv.gz holds: every test evaluation, then the absolute one. None (no
        file) for a run resumed from a checkpoint written before episodes were kept, whose
        early evaluations are lost."""
        p = run.progress
        if len(p.evaluations) != len(p.rows):
            return None
        tests = [Evaluation(TEST, e["step"], e["returns"], e["won"]) for e in p.evaluations]
        return tests + ([absolute] if absolute is not None else [])

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
        self.read_losses()  # a checkpoint holds plain floats
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
            # the losses copied: training appends the next updates' to the run's own list
            "progress": dict(run.progress.__dict__, time_s=dict(self.group_time_s), wall_s=self.wall_s,
                             cost_share=self.costs.state(i), losses=list(run.progress.losses)),
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
            run.folder.save_checkpoint(self.state_dict(i))

    def load_checkpoints(self) -> bool:
        """Resume every run from its checkpoint; False (nothing loaded) when no run has one."""
        have = [run.folder.has_checkpoint() for run in self.runs]
        if not any(have):
            return False
        if not all(have):
            raise ValueError("either every run of a group has a checkpoint or none has")
        self.load_state_dicts([run.folder.load_checkpoint(run.config) for run in self.runs])
        return True

    def save_model(self, i: int = 0) -> None:
        """Run i's trained weights (its agent slots and its mixer) as its model.pt."""
        run = self.runs[i]
        agents = {k: v.detach().to(HOST, copy=True) for k, v in run.agents.state_dict().items()}
        mixer = to_host(runstack.split(self.learner.mixer.state_dict(), i, self.n_runs))
        run.folder.save_model({"agents": agents, "mixer": mixer, "config": run.config.to_dict(),
                               "env_info": dataclasses.asdict(self.info)})
