"""The replay buffer's layout as plain data: each stored field's per-episode shape and dtype.

`pps.buffer.ReplayBuffer` allocates its tensors from `replay_fields`, and the memory
estimate (`pps.memory`) sizes a run from the same fields, so the estimate and the real
buffer cannot drift apart. The layout lives in this module of its own, not in
`pps.buffer`, because the estimate is made while the workflow plans its jobs and must not
import torch: this module imports the standard library only.

Compact layout: observations and states float16, available-action masks and flags bool,
actions uint8 (when they fit), which is under half of an all-float32 layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Bytes per element of the dtypes the replay buffer uses (torch's names).
ITEMSIZE = {"float16": 2, "float32": 4, "int64": 8, "uint8": 1, "bool": 1}

# A checkpoint holds the buffer's episodes in chunks of at most this many bytes per field,
# so a resume frees each chunk as soon as it is copied back (see ReplayBuffer.state_dict).
CHECKPOINT_CHUNK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class ReplayField:
    """One tensor of the replay buffer: its per-episode shape and dtype name."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * ITEMSIZE[self.dtype]


def replay_fields(episode_limit: int, n_agents: int, obs_dim: int, state_dim: int, n_actions: int,
                  compact: bool = True) -> tuple[ReplayField, ...]:
    """The replay buffer's per-episode layout: T = episode_limit steps plus the final observation.

    Compact: observations/states float16, masks and flags bool, actions uint8 (when they fit);
    otherwise everything float32 except int64 actions (the plain layout the compact one is
    measured against).
    """
    t = episode_limit
    real = "float16" if compact else "float32"
    binary = "bool" if compact else "float32"
    return (
        ReplayField("obs", (t + 1, n_agents, obs_dim), real),
        ReplayField("state", (t + 1, state_dim), real),
        ReplayField("avail", (t + 1, n_agents, n_actions), binary),
        ReplayField("actions", (t, n_agents), "uint8" if compact and n_actions <= 256 else "int64"),
        ReplayField("reward", (t,), "float32"),
        ReplayField("terminated", (t,), binary),
        ReplayField("filled", (t,), binary),
    )


def episode_bytes(episode_limit: int, n_agents: int, obs_dim: int, state_dim: int, n_actions: int,
                  compact: bool = True) -> int:
    """Bytes one stored episode occupies (equals `ReplayBuffer(...).bytes_per_episode()`)."""
    return sum(f.nbytes for f in replay_fields(episode_limit, n_agents, obs_dim, state_dim, n_actions, compact))
