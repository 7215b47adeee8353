"""Episode replay buffer: preallocated, padded to the episode limit, with masks.

One row is one episode of `T = episode_limit` transitions plus the final observation.
`filled[t]` marks real steps (episodes end early and are padded with zeros), and
`terminated[t]` marks a real terminal (win or loss) as opposed to the time limit, which
the learner bootstraps through.

Memory (DESIGN §6, issue 5): in the compact layout observations and states are float16,
available-action masks and flags are uint8/bool and actions uint8, which is under half
of an all-float32 layout. Storage is `torch.empty`, so pages are only committed as
episodes arrive; a 5000-episode buffer costs nothing up front.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class EpisodeBatch:
    """B whole episodes, as the runner collects them and the learner consumes them."""

    obs: torch.Tensor  # [B, T+1, N, obs_dim]
    state: torch.Tensor  # [B, T+1, state_dim]
    avail: torch.Tensor  # [B, T+1, N, n_actions] bool
    actions: torch.Tensor  # [B, T, N] int64
    reward: torch.Tensor  # [B, T] float32
    terminated: torch.Tensor  # [B, T] bool: a real terminal at step t
    filled: torch.Tensor  # [B, T] bool: step t happened

    def to(self, device: torch.device | str) -> "EpisodeBatch":
        return EpisodeBatch(*(getattr(self, f).to(device) for f in _FIELDS))


_FIELDS = ("obs", "state", "avail", "actions", "reward", "terminated", "filled")


class ReplayBuffer:
    """A ring buffer of whole episodes with uniform sampling from its own generator."""

    def __init__(self, capacity: int, episode_limit: int, n_agents: int, obs_dim: int, state_dim: int,
                 n_actions: int, compact: bool = True, seed: int = 0) -> None:
        self.capacity, self.episode_limit = capacity, episode_limit
        self.compact = compact
        t = episode_limit
        real = torch.float16 if compact else torch.float32
        self.storage: dict[str, torch.Tensor] = {
            "obs": torch.empty(capacity, t + 1, n_agents, obs_dim, dtype=real),
            "state": torch.empty(capacity, t + 1, state_dim, dtype=real),
            "avail": torch.empty(capacity, t + 1, n_agents, n_actions, dtype=torch.bool if compact else torch.float32),
            "actions": torch.empty(capacity, t, n_agents, dtype=torch.uint8 if compact and n_actions <= 256 else torch.int64),
            "reward": torch.empty(capacity, t, dtype=torch.float32),
            "terminated": torch.empty(capacity, t, dtype=torch.bool if compact else torch.float32),
            "filled": torch.empty(capacity, t, dtype=torch.bool if compact else torch.float32),
        }
        self.size = 0
        self.position = 0
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.size

    def bytes_per_episode(self) -> int:
        return sum(v[0].numel() * v.element_size() for v in self.storage.values())

    def insert(self, batch: EpisodeBatch) -> None:
        n = batch.obs.shape[0]
        idx = (torch.arange(n) + self.position) % self.capacity
        for name in _FIELDS:
            store = self.storage[name]
            store[idx] = getattr(batch, name).to(store.dtype)
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def can_sample(self, batch_size: int) -> bool:
        return self.size >= batch_size

    def sample(self, batch_size: int) -> EpisodeBatch:
        """`batch_size` distinct episodes, truncated to the longest of them (fewer padded steps to compute)."""
        idx = torch.randperm(self.size, generator=self.generator)[:batch_size]
        t = int(self.storage["filled"][idx].sum(dim=1).max().item())
        get = self.storage
        return EpisodeBatch(
            obs=get["obs"][idx, : t + 1].float(),
            state=get["state"][idx, : t + 1].float(),
            avail=get["avail"][idx, : t + 1].bool(),
            actions=get["actions"][idx, :t].long(),
            reward=get["reward"][idx, :t],
            terminated=get["terminated"][idx, :t].bool(),
            filled=get["filled"][idx, :t].bool(),
        )

    def state_dict(self) -> dict:
        """The stored episodes in insertion-independent order plus the ring position and RNG."""
        return {
            "size": self.size,
            "position": self.position,
            "generator": self.generator.get_state(),
            "data": {k: v[: self.size].clone() for k, v in self.storage.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        self.size, self.position = state["size"], state["position"]
        self.generator.set_state(state["generator"])
        for k, v in state["data"].items():
            self.storage[k][: self.size] = v
