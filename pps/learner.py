"""The TD learner: double-Q targets through target networks, masked loss, one optimiser.

Loss for a batch of episodes (QMIX, Rashid et al. 2018; PyMARL's QLearner):
    y_t = r_t + gamma * (1 - terminated_t) * Q_tot^target(s_{t+1}, a*_{t+1})
with a*_{t+1} = argmax over *available* actions of the online agent Qs (double Q) or of the
target agent Qs (plain Q-learning), or the TD(lambda) return built from the same one-step
bootstraps when `td_lambda > 0`. The squared error is averaged over real (unpadded) steps.
Agents, mixer and their targets live here; the sharing scheme only touches the agent slots.
"""

from __future__ import annotations

import copy
import dataclasses
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from pps import runstack
from pps.buffer import EpisodeBatch
from pps.nets.active_rows import ActiveRows
from pps.nets.agents import NEG_INF, SlotAgents, SlotLayout
from pps.nets.row_sums import matmuls_in, row_sum
from pps.slot_optimizer import SlotOptimizer


def build_agent_inputs(obs: torch.Tensor, actions: torch.Tensor | None, n_actions: int) -> torch.Tensor:
    """Agent input for every step: obs ⊕ one-hot previous action ⊕ one-hot agent id.

    obs `[B, T, N, obs_dim]`; actions `[B, T', N]` (the actions taken, T' >= T-1) or None for
    a single step with no previous action. Returns `[B, T, N, obs_dim + n_actions + N]`.
    """
    b, t, n, _ = obs.shape
    last = torch.zeros(b, t, n, n_actions, dtype=obs.dtype, device=obs.device)
    if actions is not None and t > 1:
        last[:, 1:] = nn.functional.one_hot(actions[:, : t - 1], n_actions).to(obs.dtype)
    ids = torch.eye(n, dtype=obs.dtype, device=obs.device).expand(b, t, n, n)
    return torch.cat([obs, last, ids], dim=-1)


def td_lambda_targets(rewards: torch.Tensor, terminated: torch.Tensor, filled: torch.Tensor,
                      next_values: torch.Tensor, gamma: float, td_lambda: float) -> torch.Tensor:
    """Targets `[B, T]`. With lambda = 0 the one-step target r + gamma (1-term) V(s').

    The lambda-return recursion G_t = r_t + gamma (1-term_t) [(1-lambda) V_{t+1} + lambda G_{t+1}]
    runs backwards; at an episode's last real step (or the batch end) G_{t+1} is replaced by
    V_{t+1}, so truncated episodes bootstrap and padded steps never leak in.
    """
    not_term = 1.0 - terminated.float()
    one_step = rewards + gamma * not_term * next_values
    if td_lambda == 0.0:
        return one_step
    t_len = rewards.shape[1]
    targets = torch.zeros_like(rewards)
    following = next_values[:, -1]
    for t in reversed(range(t_len)):
        continues = filled[:, t + 1].float() if t + 1 < t_len else torch.zeros_like(rewards[:, t])
        blend = (1 - td_lambda * continues) * next_values[:, t] + td_lambda * continues * following
        targets[:, t] = rewards[:, t] + gamma * not_term[:, t] * blend
        following = targets[:, t]
    return targets


# The run key `matmul_precision`: the dtype of the online networks' row-wise matmuls in the loss
MATMUL_DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class LearnerConfig:
    gamma: float
    lr: float
    optimizer: str
    grad_clip: float
    double_q: bool
    td_lambda: float
    target_update_interval: int
    reward_scale: float
    matmul_precision: str = "fp32"  # a key of MATMUL_DTYPES (see `Learner.loss`)


def clip_grad_norm_per_run(params: list[nn.Parameter], max_norm: float, n_runs: int) -> torch.Tensor:
    """`torch.nn.utils.clip_grad_norm_` for each run of a group on its own: every parameter's
    leading dimension holds R equal run blocks (agent slots or mixer runs, run after run);
    run r's gradient is scaled by min(1, max_norm / (||g_r|| + 1e-6)) with ||g_r|| the norm
    over all of run r's blocks, as torch computes it for a run alone. Returns the R norms.

    Each run's norms are taken over that run's own block, a tensor of the size it has alone:
    a reduction over `[R, L]` would split its work (threads, vector lanes) by R, and a run's
    norm would round differently in a group."""
    grads = [p.grad.view(n_runs, -1) for p in params if p.grad is not None]
    total = torch.stack([torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g[r]) for g in grads]))
                         for r in range(n_runs)])  # [R]
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        for r in range(n_runs):
            g[r].mul_(coef[r])
    return total


@dataclass(frozen=True)
class AgentRows:
    """The agent rows a loss computes, as `unroll_active` lays them out (`in_slots`) and as
    the batch's `[B, T+1, N]` holds them (`in_batch`)."""

    in_slots: ActiveRows
    in_batch: ActiveRows

    def to(self, device: torch.device) -> AgentRows:
        return AgentRows(self.in_slots.to(device), self.in_batch.to(device))


@dataclass(frozen=True)
class MixerRows:
    """Each run's real steps: in a `[B, T]` tensor (`steps`), and in the `[B, T+1]` states at
    the step (`states`) and after it (`next_states`)."""

    steps: ActiveRows
    states: ActiveRows
    next_states: ActiveRows

    def to(self, device: torch.device) -> MixerRows:
        return MixerRows(self.steps.to(device), self.states.to(device), self.next_states.to(device))


@dataclass(frozen=True)
class PreparedBatch:
    """A batch on the learner's device, in the learner's dtypes, with the rows its loss
    computes (`Learner.prepare`)."""

    episodes: EpisodeBatch
    agent_rows: AgentRows
    mixer_rows: MixerRows


class Learner:
    """Owns the online and target networks and the optimiser; `update(batch)` is one learner update.

    A run group (`n_runs` R > 1) trains R independent runs at once: the agents' slots and
    the mixer's parameters hold R run blocks (see `SlotLayout`, `QMixer`), a batch holds R
    run blocks of episodes, each run's loss is its own masked mean, the summed loss's
    gradient is therefore each run's own, and clipping and the optimiser step are per run
    (each on the run's own block of every tensor, so they round as they do alone).
    """

    def __init__(self, agents: SlotAgents, layout: SlotLayout, mixer: nn.Module, cfg: LearnerConfig) -> None:
        if cfg.matmul_precision not in MATMUL_DTYPES:
            raise ValueError(f"matmul_precision must be one of {', '.join(MATMUL_DTYPES)}, "
                             f"got {cfg.matmul_precision!r}")
        self.agents, self.layout, self.mixer, self.cfg = agents, layout, mixer, cfg
        self.n_runs = layout.n_runs
        self.target_agents = copy.deepcopy(agents).requires_grad_(False)
        self.target_mixer = copy.deepcopy(mixer).requires_grad_(False)
        self.params = list(agents.parameters()) + list(mixer.parameters())
        if cfg.optimizer == "adam":
            # fused: one kernel per parameter instead of ~10 foreach passes (2.6x faster on
            # CPU at the default sizes); `SlotOptimizer` applies it to each run's block alone
            self.optimizer: torch.optim.Optimizer = torch.optim.Adam(self.params, lr=cfg.lr, fused=True)
        else:  # PyMARL's RMSprop settings
            self.optimizer = torch.optim.RMSprop(self.params, lr=cfg.lr, alpha=0.99, eps=1e-5)
        # steps the optimiser and lets aggregation restart single agent slots (`reset` policy)
        self.slot_optimizer = SlotOptimizer(self.optimizer, self.n_runs)
        self.updates = 0

    def agent_qs(self, agents: SlotAgents, inputs: torch.Tensor, packed: torch.Tensor, rows: AgentRows) -> torch.Tensor:
        """Q-values `[B, T, N, A]` for whole episodes from zero hidden state, computed on
        `rows`' active (step, env, agent) rows (`packed`: those rows of `inputs`, packed once
        for the online and the target network); the others hold zeros (or filler)."""
        b, t, n, _ = inputs.shape
        q = agents.unroll_active(packed, rows.in_slots, t)
        return rows.in_batch.unpack(q).view(b, t, n, -1)

    def agent_rows(self, batch: EpisodeBatch) -> AgentRows:
        """The agent rows the loss reads: step t of an episode of L real steps for t <= L
        (Q at the steps taken, and at the observation after the last one for its target).
        L is the count of `filled` steps: the replay buffer's `filled` is a prefix (an
        episode's real steps come first, then padding)."""
        b, t, n = batch.actions.shape
        lengths = batch.filled.sum(dim=1)  # [B]
        steps = torch.arange(t + 1, device=lengths.device)
        active = (steps <= lengths.unsqueeze(1)).unsqueeze(-1).expand(b, t + 1, n)  # [B, T+1, N]
        positions = torch.arange(b * (t + 1) * n, device=lengths.device).view(b, t + 1, n)
        in_slots = ActiveRows.from_mask(self._slot_time_major(active))
        return AgentRows(in_slots, in_slots.through(self._slot_time_major(positions).reshape(-1)))

    def _slot_time_major(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, T, N]` -> `[S, T * M]`: each slot's rows, time-major (the unroll's layout)."""
        slots = self.layout.to_slots(x.transpose(1, 2))  # [S, M, T]
        return slots.transpose(1, 2).reshape(slots.shape[0], -1)

    def mixer_rows(self, batch: EpisodeBatch) -> MixerRows:
        """Each run's real steps, time-major as the run has them alone ([R, T, B/R]: a run's
        rows do not move when other runs' episodes are longer)."""
        b, t = batch.filled.shape
        in_runs = ActiveRows.from_mask(self._time_major(batch.filled).reshape(self.n_runs, -1))

        def positions(width: int) -> torch.Tensor:  # step t of episode e in a [B, width] layout
            grid = torch.arange(b * width, device=batch.filled.device).view(b, width)[:, :t]
            return self._time_major(grid).reshape(-1)

        states = in_runs.through(positions(t + 1), size=b * (t + 1))
        return MixerRows(steps=in_runs.through(positions(t)), states=states, next_states=states.shifted(1))

    def prepare(self, batch: EpisodeBatch) -> PreparedBatch:
        """`batch` ready for `loss` and `update`: the rows its loss computes, planned where the
        batch is, then the batch and those rows on the learner's device (`EpisodeBatch.to_learner`).

        Planning reads the batch's `filled` mask (how many rows each slot packs is a tensor
        shape), so a host batch, as the replay buffer samples it, is planned on the host and
        nothing is read back from the device; on a GPU the host then queues updates without
        waiting for the device. A batch already on the device is planned there, which waits
        for it. On the CPU this is the planning `loss` does for an unprepared batch, in the
        same operations."""
        plan = dataclasses.replace(batch, filled=batch.filled.bool())  # the compact buffer's is bool already
        agent_rows, mixer_rows = self.agent_rows(plan), self.mixer_rows(plan)
        return PreparedBatch(batch.to_learner(self.device), agent_rows.to(self.device), mixer_rows.to(self.device))

    @property
    def device(self) -> torch.device:
        """The device the learner's networks are on."""
        return self.params[0].device

    def loss(self, batch: EpisodeBatch | PreparedBatch) -> torch.Tensor:
        """Each run's masked mean squared TD error, `[R]`, of a prepared batch (an
        `EpisodeBatch` is prepared first, `prepare`).

        Only real steps are computed (`pps.nets.active_rows`): the agents' row-wise layers
        on each episode's steps up to its last observation, the mixers and the TD error on
        its steps taken, each run's rows time-major as it has them alone; the batch's
        zero-padded steps (a third of a batch's rows on SMAX) cost no row-wise work.

        `matmul_precision: bf16` runs the online agents' and mixer's row-wise matmuls (each
        `SlotAffine` of more than one output: input layer, GRU input gates, output head,
        hypernetworks; forward and backward), the bulk of an update's multiply work, in
        bfloat16 (`pps.nets.row_sums`).
        Everything else stays float32: parameters, optimiser state and the gradients' sums;
        the GRU recurrence `h @ W_hh` and the mixer's per-row products (small, step-bound
        matmuls where the casts would cost what bfloat16 saves, and the hidden state keeps
        its precision); and the TD targets. The target networks, like acting, evaluation and
        RS-PPS's swap evaluation, run without a gradient, outside `SlotAffine`: a forward
        pass only (about a quarter of an update's multiply work), and the regression goal
        the rounded gradient path is measured against stays as it is at fp32.
        """
        cfg = self.cfg
        n_actions = self.agents.n_actions
        if not isinstance(batch, PreparedBatch):
            batch = self.prepare(batch)
        agent_rows, rows, batch = batch.agent_rows, batch.mixer_rows, batch.episodes
        inputs = build_agent_inputs(batch.obs, batch.actions, n_actions)
        packed = agent_rows.in_batch.pack(inputs)
        with self._online_precision():
            q = self.agent_qs(self.agents, inputs, packed, agent_rows)  # [B, T+1, N, A]
        chosen = q[:, :-1].gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)  # [B, T, N]
        with torch.no_grad():
            target_q = self.agent_qs(self.target_agents, inputs, packed, agent_rows)[:, 1:]
            unavailable = ~batch.avail[:, 1:]
            chooser = q[:, 1:].detach() if cfg.double_q else target_q
            best = chooser.masked_fill(unavailable, NEG_INF).argmax(dim=-1, keepdim=True)
            next_q = target_q.gather(-1, best).squeeze(-1)
            next_tot = self.target_mixer(rows.steps.pack(next_q), rows.next_states.pack(batch.state))
            # back to [B, T] for the recursion over time: padded steps hold zeros or filler
            # (finite values the recursion multiplies by 0, never a real step's target)
            next_values = rows.steps.unpack(next_tot).view_as(batch.reward)
            targets = td_lambda_targets(batch.reward * cfg.reward_scale, batch.terminated, batch.filled,
                                        next_values, cfg.gamma, cfg.td_lambda)
        with self._online_precision():
            q_tot = self.mixer(rows.steps.pack(chosen), rows.states.pack(batch.state))  # [R, K]
        keep = rows.steps.keep()
        errors = ((q_tot - rows.steps.pack(targets, feature_dims=0)) * keep) ** 2
        # [R]: each run's masked mean
        return row_sum(errors) / rows.steps.counts.float().clamp(min=1.0)

    def _online_precision(self) -> AbstractContextManager[None]:
        """The context the online networks run in: at fp32 a no-op (no precision state is
        set, no autocast), so the float32 path runs exactly the ops it ran before the key."""
        dtype = MATMUL_DTYPES[self.cfg.matmul_precision]
        return nullcontext() if dtype is None else matmuls_in(dtype)

    def _time_major(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, T, *f]` (R run blocks of B/R episodes) -> `[R, T, B/R, *f]`."""
        return x.reshape(self.n_runs, -1, *x.shape[1:]).transpose(1, 2)

    def update(self, batch: EpisodeBatch | PreparedBatch) -> torch.Tensor:
        """One learner update of every run; returns each run's loss, `[R]`, detached, on the
        learner's device. Reading it (`.tolist()`) waits for the device to finish the update,
        so a caller that logs losses keeps them and reads many at once (`Trainer.read_losses`);
        nothing in an update of a prepared batch reads from the device."""
        losses = self.loss(batch)
        self.slot_optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()  # run r's parameters get run r's gradient only
        clip_grad_norm_per_run(self.params, self.cfg.grad_clip, self.n_runs)
        self.slot_optimizer.step()
        self.updates += 1
        if self.updates % self.cfg.target_update_interval == 0:
            self.update_targets()
        return losses.detach()

    @torch.no_grad()
    def update_targets(self) -> None:
        self.target_agents.load_state_dict(self.agents.state_dict())
        self.target_mixer.load_state_dict(self.mixer.state_dict())

    def state_dict(self, run: int = 0) -> dict:
        """Run `run`'s networks, targets and optimiser state (all of it for a run alone), in
        the format a run alone saves (`pps.runstack`)."""
        state = {
            "agents": self.agents.state_dict(),
            "mixer": self.mixer.state_dict(),
            "target_agents": self.target_agents.state_dict(),
            "target_mixer": self.target_mixer.state_dict(),
            "optimizer": self.slot_optimizer.state_dict(),
            "updates": self.updates,
        }
        return runstack.split(state, run, self.n_runs)

    def load_run_states(self, states: list[dict]) -> None:
        """Restore a group from one `state_dict` per run (in run order)."""
        self.load_state_dict(runstack.join(states))

    def load_state_dict(self, state: dict) -> None:
        self.agents.load_state_dict(state["agents"])
        self.mixer.load_state_dict(state["mixer"])
        self.target_agents.load_state_dict(state["target_agents"])
        self.target_mixer.load_state_dict(state["target_mixer"])
        self.slot_optimizer.load_state_dict(state["optimizer"])
        self.updates = state["updates"]
