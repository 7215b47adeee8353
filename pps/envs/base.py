"""The multi-agent environment protocol every backend implements (docs/design.md §2).

A backend steps B environments at once and speaks torch tensors, so the runner never
touches a backend-specific type. Episodes are synchronous across the B envs: the runner
resets all of them together, keeps stepping until every env has finished, and ignores
(masks) whatever an env returns after its own `done`. That is PyMARL's parallel-runner
contract; it keeps the buffer layout trivial and costs little because a vectorised
backend steps finished envs for free.

Termination and truncation come from the backend, never from the runner's step count
(docs/design.md §2): `done & ~truncated` is a real terminal (win, loss or draw; the learner does
not bootstrap), `truncated` is the time limit (the learner bootstraps). A backend reports
the time limit at the step that reaches `episode_limit`, so an episode has at most
`episode_limit` steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import torch


@dataclass(frozen=True)
class EnvInfo:
    """Static facts about one (env, map) pair."""

    env: str
    map: str
    n_agents: int
    n_actions: int
    obs_dim: int
    state_dim: int
    episode_limit: int
    unit_types: tuple[int, ...]  # per agent; agents of equal type form a sharing group
    unit_type_names: tuple[str, ...]  # per agent, human-readable (e.g. "marine")
    backend_version: str = ""  # e.g. "jaxmarl 0.2.0" or the StarCraft II build
    # False where episodes have no outcome (MPE): `won` is always False and the task is
    # scored by its team return, normalised with `pps.envs.references`.
    has_win_condition: bool = True


class Observation(NamedTuple):
    """What the agents see after a reset or a step, for all B envs."""

    obs: torch.Tensor  # [B, N, obs_dim] float32
    state: torch.Tensor  # [B, state_dim] float32
    avail: torch.Tensor  # [B, N, n_actions] 0/1 (uint8 or bool)


class StepResult(NamedTuple):
    """One step of all B envs; rows of envs that were already done are meaningless."""

    obs: torch.Tensor  # [B, N, obs_dim]
    state: torch.Tensor  # [B, state_dim]
    avail: torch.Tensor  # [B, N, n_actions]
    reward: torch.Tensor  # [B] float32 team reward of this step
    done: torch.Tensor  # [B] bool: the episode has ended (at this step or before)
    won: torch.Tensor  # [B] bool: the episode ended in a win
    truncated: torch.Tensor  # [B] bool: it ended by the time limit, not by its outcome


class VecMultiAgentEnv(Protocol):
    """B environments of one map, stepped together."""

    info: EnvInfo
    n_envs: int

    def reset(self) -> Observation:
        """Start a new episode in every env."""
        ...

    def step(self, actions: torch.Tensor) -> StepResult:
        """Apply `actions` [B, N] (int64, each available) to every env."""
        ...

    def get_rng_state(self) -> Any:
        """Picklable RNG state, so a checkpoint resumes the exact same episodes."""
        ...

    def set_rng_state(self, state: Any) -> None:
        ...

    def close(self) -> None:
        ...
