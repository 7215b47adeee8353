"""Learner update time: slot-stacked independent agents vs one shared agent vs a per-agent loop,
and what skipping the batch's padded steps saves.

One "update" is `Learner.update(batch)`: build inputs, online and target unrolls, double-Q
targets, QMIX mixer, masked TD loss, backward, grad-norm clip and an Adam step.
The batch is synthetic (random observations, all actions available) with the map's real
dimensions from `env_info`: B episodes cut to the longest, T steps, whose lengths fill
`Settings.fill` of the batch's steps (SMAX batches measured 0.64-0.74 filled on 3m).

The "every row" variants are the same learner computing the padded steps too
(`EveryRowLearner`: every row marked active, so it also pays the index work the learner
before the skip did not do): their ratio to the plain variants is what skipping padding
saves, measured in the same run.

The reference learner replaces only the agent unroll (`agent_qs`) by the structure of the
authors' code: N separate `RNNAgent` modules, `for t in T: for i in N: q, h_i = agent_i(x[:, t, i], h_i)`.
Mixer, targets, loss and optimiser are the suite's own, so the difference is the agent loop.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Any

import torch
from torch import nn

from pps.bench.common import Settings, row, say
from pps.buffer import EpisodeBatch
from pps.envs.registry import env_info
from pps.learner import AgentRows, Learner, LearnerConfig, MixerRows
from pps.nets.agents import RNNAgent, SlotAgents, SlotLayout
from pps.nets.mixers import QMixer

VARIANTS = ("shared", "independent", "shared every row", "independent every row", "reference-loop")


def learner_config() -> LearnerConfig:
    """The authors' optimisation settings (docs/design.md §3)."""
    return LearnerConfig(gamma=0.99, lr=5e-4, optimizer="adam", grad_clip=10.0, double_q=True, td_lambda=0.0,
                         target_update_interval=200, reward_scale=1.0)


def synthetic_batch(b: int, t: int, n: int, obs_dim: int, state_dim: int, n_actions: int,
                    device: torch.device, seed: int = 0, fill: float = 1.0) -> EpisodeBatch:
    """B episodes cut to the longest (T steps); the others' lengths are uniform on
    [T (2 fill - 1), T] (fill >= 0.5) or [0, 2 T fill], so about `fill` of the steps are
    real; padded steps are zeros, as the replay buffer stores them."""
    g = torch.Generator().manual_seed(seed)
    low, high = (2 * fill - 1, 1.0) if fill >= 0.5 else (0.0, 2 * fill)
    lengths = (t * (low + (high - low) * torch.rand(b, generator=g))).ceil().long().clamp(1, t)
    lengths[0] = t
    filled = torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)
    seen = (torch.arange(t + 1).unsqueeze(0) <= lengths.unsqueeze(1)).float()
    return EpisodeBatch(
        obs=torch.randn(b, t + 1, n, obs_dim, generator=g) * seen[..., None, None],
        state=torch.randn(b, t + 1, state_dim, generator=g) * seen[..., None],
        avail=torch.ones(b, t + 1, n, n_actions, dtype=torch.bool),
        actions=torch.randint(0, n_actions, (b, t, n), generator=g) * filled.unsqueeze(-1),
        reward=torch.rand(b, t, generator=g) * filled,
        terminated=torch.zeros(b, t, dtype=torch.bool),
        filled=filled,
    ).to_learner(device)  # already in the learner's dtypes: only the move


class EveryRowLearner(Learner):
    """`Learner` that computes the padded steps as well (treated as real: a timing stand-in
    for the learner before it skipped padding, not a correct loss)."""

    def agent_rows(self, batch: EpisodeBatch) -> AgentRows:
        return super().agent_rows(_all_filled(batch))

    def mixer_rows(self, batch: EpisodeBatch) -> MixerRows:
        return super().mixer_rows(_all_filled(batch))


def _all_filled(batch: EpisodeBatch) -> EpisodeBatch:
    return dataclasses.replace(batch, filled=torch.ones_like(batch.filled))


class AgentLoop(nn.Module):
    """N plain `RNNAgent`s (the authors' per-agent networks), with SlotAgents' attribute names."""

    def __init__(self, n_agents: int, input_dim: int, hidden: int, n_actions: int) -> None:
        super().__init__()
        self.n_agents, self.input_dim, self.hidden, self.n_actions = n_agents, input_dim, hidden, n_actions
        self.nets = nn.ModuleList(RNNAgent(input_dim, hidden, n_actions) for _ in range(n_agents))


class ReferenceLoopLearner(Learner):
    """`Learner` with the agent unroll written as the authors' code: per time step, per agent."""

    def agent_qs(self, agents: AgentLoop, inputs: torch.Tensor, packed: torch.Tensor,  # type: ignore[override]
                 rows: AgentRows) -> torch.Tensor:
        """Every step of every episode (the authors' loop has no notion of padding)."""
        b, t, n, _ = inputs.shape
        hs = [inputs.new_zeros(b, agents.hidden) for _ in range(n)]
        steps = []
        for ti in range(t):
            qs = []
            for i, net in enumerate(agents.nets):
                q, hs[i] = net(inputs[:, ti, i], hs[i])
                qs.append(q)
            steps.append(torch.stack(qs, dim=1))  # [B, N, A]
        return torch.stack(steps, dim=1)  # [B, T, N, A]


def build_learner(variant: str, n: int, input_dim: int, hidden: int, n_actions: int, state_dim: int,
                  device: torch.device, seed: int = 0) -> Learner:
    torch.manual_seed(seed)
    mixer = QMixer(n, state_dim, embed=32, hypernet_hidden=64, hypernet_layers=1).to(device)
    if variant == "reference-loop":
        agents = AgentLoop(n, input_dim, hidden, n_actions).to(device)
        return ReferenceLoopLearner(agents, SlotLayout("per_agent", n, n), mixer, learner_config())  # type: ignore[arg-type]
    n_slots = 1 if variant.startswith("shared") else n
    slots = SlotAgents(n_slots, input_dim, hidden, n_actions)
    slots.reset_parameters(torch.Generator().manual_seed(seed))
    slots.to(device)
    layout = SlotLayout("shared" if n_slots == 1 else "per_agent", n, n_slots)
    kind = EveryRowLearner if variant.endswith("every row") else Learner
    return kind(slots, layout, mixer, learner_config())


def time_interleaved(learners: dict[str, Learner], batch: EpisodeBatch, warmup: int, repeats: dict[str, int],
                     sync=None) -> dict[str, list[float]]:
    """Per-update wall times of each learner, the variants taking turns within every round, so
    that a load change on a shared machine hits all of them alike (the ratios are what count)."""
    for name, learner in learners.items():
        for _ in range(min(warmup, 1) if name == "reference-loop" else warmup):
            learner.update(batch)
    times: dict[str, list[float]] = {name: [] for name in learners}
    for r in range(max(repeats.values())):
        for name, learner in learners.items():
            if r >= repeats[name]:
                continue
            if sync:
                sync()
            t0 = time.perf_counter()
            learner.update(batch)
            if sync:
                sync()
            times[name].append(time.perf_counter() - t0)
    return times


def bench_learner(s: Settings, device: torch.device) -> list[dict[str, Any]]:
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    rows = []
    for map_name in s.learner_maps:
        info = env_info("smax", map_name)
        n, a = info.n_agents, info.n_actions
        input_dim = info.obs_dim + a + n
        batch = synthetic_batch(s.batch_episodes, s.episode_len, n, info.obs_dim, info.state_dim, a, device, s.seed,
                                s.fill)
        learners = {v: build_learner(v, n, input_dim, s.hidden, a, info.state_dim, device, s.seed) for v in VARIANTS}
        repeats = {v: s.reference_repeats if v == "reference-loop" else s.repeats for v in VARIANTS}
        filled = batch.filled.float().mean().item()
        say(f"learner {map_name} (N={n}, B={s.batch_episodes}, T={s.episode_len}, {filled:.2f} filled, {device}): "
            f"{', '.join(VARIANTS)} interleaved, {s.warmup} warm-up + {s.repeats} timed updates each "
            f"({s.reference_repeats} for the loop)")
        times = time_interleaved(learners, batch, s.warmup, repeats, sync)
        for variant in VARIANTS:
            median = statistics.median(times[variant])
            say(f"learner {map_name} {variant}: {median * 1e3:.1f} ms/update")
            rows.append(row("learner_update", f"{map_name} N={n} {variant}", median * 1e3, "ms/update",
                            map=map_name, n_agents=n, variant=variant, device=str(device),
                            batch_episodes=s.batch_episodes, episode_len=s.episode_len, input_dim=input_dim,
                            filled=round(filled, 4),
                            n_actions=a, state_dim=info.state_dim, repeats=repeats[variant],
                            min_ms=min(times[variant]) * 1e3, times_s=[round(x, 6) for x in times[variant]]))
    return rows
