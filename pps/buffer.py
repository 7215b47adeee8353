"""Episode replay buffer: preallocated, padded to the episode limit, with masks.

One row is one episode of `T = episode_limit` transitions plus the final observation.
`filled[t]` marks real steps (episodes end early and are padded with zeros), and
`terminated[t]` marks a real terminal (win or loss) as opposed to the time limit, which
the learner bootstraps through.

Memory (docs/design.md §6): in the compact layout observations and states are float16,
available-action masks and flags are uint8/bool and actions uint8, which is under half
of an all-float32 layout. Storage is `torch.empty`, so pages are only committed as
episodes arrive; a 5000-episode buffer costs nothing up front. The layout itself is plain
data in `pps.replay_layout`, which the memory estimate (`pps.memory`) reads too, and a
checkpoint neither copies the buffer nor writes its unused capacity (`state_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pps.devices import upload
from pps.replay_layout import CHECKPOINT_CHUNK_BYTES, replay_fields


@dataclass
class EpisodeBatch:
    """B whole episodes, as the runner collects them and the learner consumes them.

    The dtypes below are the learner's. A batch sampled from the replay buffer comes in the
    buffer's own dtypes (compact: float16 observations and states, uint8 actions), which
    `to_learner` widens on the learner's device.
    """

    obs: torch.Tensor  # [B, T+1, N, obs_dim] float32
    state: torch.Tensor  # [B, T+1, state_dim] float32
    avail: torch.Tensor  # [B, T+1, N, n_actions] bool
    actions: torch.Tensor  # [B, T, N] int64
    reward: torch.Tensor  # [B, T] float32
    terminated: torch.Tensor  # [B, T] bool: a real terminal at step t
    filled: torch.Tensor  # [B, T] bool: step t happened

    def to_learner(self, device: torch.device) -> EpisodeBatch:
        """The batch on `device` in the learner's dtypes. A host batch crosses in the dtypes
        it has (from the compact buffer, float16 observations and states and uint8 actions:
        about half the bytes of the widened batch; `pps.devices.upload`) and is widened where
        it lands. Widening float16 to float32 and uint8 to int64 is exact, so the numbers are
        those of widening on the host, and on the CPU these are the very same operations."""
        return EpisodeBatch(*(upload(getattr(self, f), device).to(_LEARNER_DTYPES[f]) for f in _FIELDS))


_FIELDS = ("obs", "state", "avail", "actions", "reward", "terminated", "filled")
# What the learner computes with (`EpisodeBatch`'s comments); `Tensor.to` returns a tensor
# already in its dtype unchanged.
_LEARNER_DTYPES = {"obs": torch.float32, "state": torch.float32, "avail": torch.bool, "actions": torch.int64,
                   "reward": torch.float32, "terminated": torch.bool, "filled": torch.bool}


class ReplayBuffer:
    """A ring buffer of whole episodes with uniform sampling from its own generator.

    A run group keeps one store with a run dimension (`seed` a list, one per run): every
    field is `[R, capacity, ...]`, each run samples its own episodes with its own
    generator, and a sampled batch is R run blocks of `batch_size` episodes, run after run.
    Runs of a group insert in lockstep, so they share `size` and `position`.
    """

    def __init__(self, capacity: int, episode_limit: int, n_agents: int, obs_dim: int, state_dim: int,
                 n_actions: int, compact: bool = True, seed: int | list[int] = 0) -> None:
        self.capacity, self.episode_limit = capacity, episode_limit
        self.compact = compact
        seeds = seed if isinstance(seed, list) else [seed]
        self.n_runs = len(seeds)
        layout = replay_fields(episode_limit, n_agents, obs_dim, state_dim, n_actions, compact)
        self.storage: dict[str, torch.Tensor] = {
            f.name: torch.empty(self.n_runs, capacity, *f.shape, dtype=getattr(torch, f.dtype)) for f in layout
        }
        self.size = 0
        self.position = 0
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]

    def __len__(self) -> int:
        return self.size

    def bytes_per_episode(self) -> int:
        """Per run, measured on the allocated tensors (`pps.replay_layout.episode_bytes` must agree)."""
        return sum(v[0, 0].numel() * v.element_size() for v in self.storage.values())

    def insert(self, batch: EpisodeBatch) -> None:
        """`batch` holds R run blocks of n episodes each."""
        n = batch.obs.shape[0] // self.n_runs
        idx = (torch.arange(n) + self.position) % self.capacity
        for name in _FIELDS:
            store = self.storage[name]
            value = getattr(batch, name)
            store[:, idx] = value.reshape(self.n_runs, n, *value.shape[1:]).to(store.dtype)
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def can_sample(self, batch_size: int) -> bool:
        return self.size >= batch_size

    def sample(self, batch_size: int) -> EpisodeBatch:
        """`batch_size` distinct episodes per run, truncated to the longest of them (fewer
        padded steps to compute), on the host in the buffer's own dtypes (compact: float16
        observations and states, uint8 actions, bool masks), so that they cross to the
        learner's device at their stored size (`EpisodeBatch.to_learner` widens them there).
        In a group the truncation is the longest over all runs: the runs' tensors must have
        one length to stack. The learner's sums are chunked so that these extra zero-padded
        steps leave every run's numbers as alone (`pps.nets.row_sums`)."""
        picks = torch.stack([torch.randperm(self.size, generator=g)[:batch_size] for g in self.generators])
        runs = torch.arange(self.n_runs).unsqueeze(1)  # [R, 1] broadcasts against picks [R, batch]
        get = self.storage
        t = int(get["filled"][runs, picks].sum(dim=-1).max().item())

        def take(name: str, steps: int) -> torch.Tensor:
            rows = get[name][runs, picks, :steps]  # [R, batch, steps, ...]
            return rows.reshape(self.n_runs * batch_size, *rows.shape[2:])

        return EpisodeBatch(
            obs=take("obs", t + 1),
            state=take("state", t + 1),
            avail=take("avail", t + 1),
            actions=take("actions", t),
            reward=take("reward", t),
            terminated=take("terminated", t),
            filled=take("filled", t),
        )

    def state_dict(self, run: int = 0) -> dict:
        """Run `run`'s stored episodes plus the ring position and its RNG, sharing the
        buffer's memory (a run's checkpoint holds its own share only).

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
            "generator": self.generators[run].get_state(),
            "data": {k: _chunks(v[run], self.size) for k, v in self.storage.items()},
        }

    def load_state_dict(self, state: dict, run: int = 0) -> None:
        """Restore run `run` from `state_dict()` (or from a checkpoint holding one tensor per
        field). The runs of a group must be restored at one `size` and `position`.

        Consumes `state["data"]`: each chunk is dropped from its list as soon as it is
        copied, so a resume holds the buffer plus at most one chunk, not the buffer twice.
        """
        size = int(state["size"])
        if run > 0 and (size, int(state["position"])) != (self.size, self.position):
            raise ValueError(f"run {run}'s replay is at episode {size}, the group's at {self.size}")
        for name, parts in state["data"].items():
            if isinstance(parts, torch.Tensor):
                parts = [parts]
            store, start = self.storage[name][run], 0
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
        self.generators[run].set_state(state["generator"])


def _chunks(tensor: torch.Tensor, size: int) -> list[torch.Tensor]:
    """The first `size` rows of a contiguous CPU tensor as tensors whose storages hold only
    those rows (shared memory, no copy), each at most `CHECKPOINT_CHUNK_BYTES`."""
    if size == 0:
        return []
    rows = tensor.numpy()  # shares memory; numpy slices are exact sub-buffers
    per_row = max(rows[0].nbytes, 1)
    step = max(1, CHECKPOINT_CHUNK_BYTES // per_row)
    return [torch.from_numpy(rows[i: min(i + step, size)]) for i in range(0, size, step)]
