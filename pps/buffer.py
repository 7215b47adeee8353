"""Episode replay buffer: preallocated, padded to the episode limit, with masks.

One row is one episode of `T = episode_limit` transitions plus the final observation.
`filled[t]` marks real steps (episodes end early and are padded with zeros), and
`terminated[t]` marks a real terminal (win or loss) as opposed to the time limit, which
the learner bootstraps through.

Memory (DESIGN §6, issue 5): in the compact layout observations and states are float16,
available-action masks and flags are uint8/bool and actions uint8, which is under half
of an all-float32 layout. Storage is `torch.empty`, so pages are only committed as
episodes arrive; a 5000-episode buffer costs nothing up front. The layout itself is plain
data in `pps.memory`, which the workflow uses to request memory per map, and a checkpoint
neither copies the buffer nor writes its unused capacity (`state_dict`, issue 8).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pps.memory import CHECKPOINT_CHUNK_BYTES, replay_fields


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
        layout = replay_fields(episode_limit, n_agents, obs_dim, state_dim, n_actions, compact)
        self.storage: dict[str, torch.Tensor] = {
            f.name: torch.empty(capacity, *f.shape, dtype=getattr(torch, f.dtype)) for f in layout
        }
        self.size = 0
        self.position = 0
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.size

    def bytes_per_episode(self) -> int:
        """Measured on the allocated tensors (`pps.memory.episode_bytes` must agree)."""
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
        """The stored episodes plus the ring position and RNG, sharing the buffer's memory.

        No copy: a 5000-episode 8m buffer is 1.9 GB, and cloning it for every checkpoint
        doubled the run's memory. Nor a plain view `v[:size]`: `torch.save` writes a view's
        whole underlying storage, unused capacity included. Each field is instead a list of
        tensors over consecutive episodes whose storages are exactly those episodes' bytes
        (numpy slices of the buffer's memory), at most `CHECKPOINT_CHUNK_BYTES` each so that
        `load_state_dict` can free them one by one. The stored episodes are always the first
        `size` rows (the ring only wraps once it is full), so they are one contiguous prefix.
        The result aliases the buffer: save it before the buffer changes.
        """
        return {
            "size": self.size,
            "position": self.position,
            "generator": self.generator.get_state(),
            "data": {k: _chunks(v, self.size) for k, v in self.storage.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore from `state_dict()` (or from a checkpoint holding one tensor per field).

        Consumes `state["data"]`: each chunk is dropped from its list as soon as it is
        copied, so a resume holds the buffer plus at most one chunk, not the buffer twice.
        """
        size = int(state["size"])
        for name, parts in state["data"].items():
            if isinstance(parts, torch.Tensor):
                parts = [parts]
            store, start = self.storage[name], 0
            for i in range(len(parts)):
                part = parts[i]
                if isinstance(parts, list):
                    parts[i] = None  # the caller's reference: drop it so the chunk is freed
                store[start: start + len(part)] = part
                start += len(part)
                del part
            if start != size:
                raise ValueError(f"replay field '{name}' holds {start} episodes, expected {size}")
        self.size, self.position = size, int(state["position"])
        self.generator.set_state(state["generator"])


def _chunks(tensor: torch.Tensor, size: int) -> list[torch.Tensor]:
    """The first `size` rows of a contiguous CPU tensor as tensors whose storages hold only
    those rows (shared memory, no copy), each at most `CHECKPOINT_CHUNK_BYTES`."""
    if size == 0:
        return []
    rows = tensor.numpy()  # shares memory; numpy slices are exact sub-buffers
    per_row = max(rows[0].nbytes, 1)
    step = max(1, CHECKPOINT_CHUNK_BYTES // per_row)
    return [torch.from_numpy(rows[i: min(i + step, size)]) for i in range(0, size, step)]
