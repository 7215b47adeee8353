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
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from pps import runstack
from pps.buffer import EpisodeBatch
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

    def agent_qs(self, agents: SlotAgents, inputs: torch.Tensor) -> torch.Tensor:
        """Q-values `[B, T, N, A]` for whole episodes from zero hidden state."""
        b, t, n, f = inputs.shape
        x = self.layout.to_slots(inputs.transpose(1, 2))  # [B, N, T, f] -> [S, M, T, f]
        q = agents.unroll(x)
        return self.layout.from_slots(q, b).transpose(1, 2)

    def loss(self, batch: EpisodeBatch) -> torch.Tensor:
        """Each run's masked mean squared TD error, `[R]`.

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
        inputs = build_agent_inputs(batch.obs, batch.actions, n_actions)
        with self._online_precision():
            q = self.agent_qs(self.agents, inputs)  # [B, T+1, N, A]
        chosen = q[:, :-1].gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)  # [B, T, N]
        with torch.no_grad():
            target_q = self.agent_qs(self.target_agents, inputs)[:, 1:]
            unavailable = ~batch.avail[:, 1:]
            chooser = q[:, 1:].detach() if cfg.double_q else target_q
            best = chooser.masked_fill(unavailable, NEG_INF).argmax(dim=-1, keepdim=True)
            next_q = target_q.gather(-1, best).squeeze(-1)
            # time-major like the online mixer below: a row's place in the mixer's matmuls
            # must not depend on how long the other episodes of the batch are
            next_tot = self._batch_major(self.target_mixer(self._time_major(next_q),
                                                           self._time_major(batch.state[:, 1:])))
            targets = td_lambda_targets(batch.reward * cfg.reward_scale, batch.terminated, batch.filled,
                                        next_tot, cfg.gamma, cfg.td_lambda)
        # time-major from here on ([R, T, B/R]): a group's zero-padded steps are then trailing
        # rows, which the mixer's gradients and the loss's sum add exactly (`pps.nets.row_sums`)
        with self._online_precision():
            q_tot = self.mixer(self._time_major(chosen), self._time_major(batch.state[:, :-1]))
        mask = self._time_major(batch.filled.float())
        errors = ((q_tot - self._time_major(targets)) * mask) ** 2
        # [R]: each run's masked mean
        return row_sum(errors.reshape(self.n_runs, -1)) / mask.reshape(self.n_runs, -1).sum(dim=1).clamp(min=1.0)

    def _online_precision(self) -> AbstractContextManager[None]:
        """The context the online networks run in: at fp32 a no-op (no precision state is
        set, no autocast), so the float32 path runs exactly the ops it ran before the key."""
        dtype = MATMUL_DTYPES[self.cfg.matmul_precision]
        return nullcontext() if dtype is None else matmuls_in(dtype)

    def _time_major(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, T, *f]` (R run blocks of B/R episodes) -> `[R, T, B/R, *f]`."""
        return x.reshape(self.n_runs, -1, *x.shape[1:]).transpose(1, 2)

    @staticmethod
    def _batch_major(x: torch.Tensor) -> torch.Tensor:
        """The inverse of `_time_major`: `[R, T, B/R, *f]` -> `[B, T, *f]`."""
        return x.transpose(1, 2).flatten(0, 1)

    def update(self, batch: EpisodeBatch) -> list[float]:
        """One learner update of every run; returns each run's loss."""
        losses = self.loss(batch)
        self.slot_optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()  # run r's parameters get run r's gradient only
        clip_grad_norm_per_run(self.params, self.cfg.grad_clip, self.n_runs)
        self.slot_optimizer.step()
        self.updates += 1
        if self.updates % self.cfg.target_update_interval == 0:
            self.update_targets()
        return losses.detach().tolist()

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
