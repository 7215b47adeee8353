"""How much memory a training run needs, known before it starts.

The workflow asks the scheduler for memory while it plans the grid, so the estimate must
come from static facts: it imports neither torch nor jax nor smac and builds no env. A
map's observation, state and action sizes come from its backend's task table (each
`pps/envs/<name>_tasks.py` fills them in from its env's own formulas; the backends' tests
check them against the live envs and SMAC's published sizes), and the replay layout from
`pps.replay_layout`, the plain-data layout `pps.buffer.ReplayBuffer` allocates, so the
estimate and the real buffer cannot drift apart.

A run's memory above its base (python + torch + jax + the compiled env) is
* the replay buffer, held once: `buffer_size * episode_bytes(...)`;
* one learner update's working set: the float32 batch and the autograd activations of
  the online and target unrolls, which grow with batch_size x episode_limit x n_agents
  (`learner_batch_bytes`, an upper bound calibrated on measurements), plus what the
  process's allocator policy keeps of earlier updates;
* the checkpoint: saving writes the buffer straight from its own memory and resuming
  copies it back one chunk at a time, so at most one chunk (`CHECKPOINT_CHUNK_BYTES`)
  exists twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pps.envs import registry
from pps.errors import UserError
from pps.replay_layout import CHECKPOINT_CHUNK_BYTES, episode_bytes

# ---------------------------------------------------------------------------- map sizes


@dataclass(frozen=True)
class MapDims:
    """The sizes that fix a map's replay layout and network widths."""

    n_agents: int
    n_actions: int
    obs_dim: int
    state_dim: int
    episode_limit: int


def map_dims(env: str, map_name: str) -> MapDims:
    """A map's sizes from its backend's task table alone (no env is built); UserError for
    unknown names and for a task whose table gives no sizes."""
    spec = registry.map_spec(env, map_name)
    if None in (spec.n_actions, spec.obs_dim, spec.state_dim):
        raise UserError(
            f"No static sizes for env '{env}', map '{map_name}': its task table gives no "
            "n_actions/obs_dim/state_dim, so its memory cannot be estimated before the run."
        )
    return MapDims(spec.n_agents, spec.n_actions, spec.obs_dim, spec.state_dim, spec.episode_limit)


# ---------------------------------------------------------------------------- per run

# Bytes one (episode, step, agent) row of a learner batch costs, as float32 counts: the
# agent input is held ~3 times (float32 batch, the concatenated input, its slot-major
# copy), the recurrent unroll keeps ~20 hidden-sized tensors per step for backward
# (input layer, gates, r/z/n and their products, the stacked outputs, and the gradients
# of the largest of them), and ~4 action-sized ones (online and target Qs, the masked copy,
# gradients). Measured peak RSS growth of one update at batch 96 (torch 2.13, CPU):
# 8m (T 100, 8 slots) 447 MiB against 589 estimated; corridor (T 400, obs 156) 1422 MiB
# with 6 slots and 1696 MiB with one shared slot, against 1737 estimated.
_INPUT_COPIES, _HIDDEN_COPIES, _ACTION_COPIES = 3, 20, 4
# `pps train` keeps freed memory for reuse (`pps.allocator`), and glibc settles only after the
# heap holds more than one update's large tensors: at 25m, batch 96, with the batch shape
# changing every update, peak RSS was 3,058 MB against 2,484 MB without the policy (+23%).
_KEPT_BY_ALLOCATOR = 1.25


def learner_batch_bytes(dims: MapDims, batch_size: int, rnn_hidden: int = 64) -> int:
    """Upper bound on one learner update's working set for a batch of full-length episodes."""
    input_dim = dims.obs_dim + dims.n_actions + dims.n_agents
    per_row = 4 * (_INPUT_COPIES * input_dim + _HIDDEN_COPIES * rnn_hidden + _ACTION_COPIES * dims.n_actions)
    return math.ceil(_KEPT_BY_ALLOCATOR * batch_size * dims.episode_limit * dims.n_agents * per_row)


def train_memory_bytes(env: str, map_name: str, buffer_size: int, batch_size: int,
                       compact_buffer: bool = True, rnn_hidden: int = 64) -> dict[str, int]:
    """A run's memory above its base, by part: replay, learner, checkpoint (and their total)."""
    d = map_dims(env, map_name)
    per_episode = episode_bytes(d.episode_limit, d.n_agents, d.obs_dim, d.state_dim, d.n_actions, compact_buffer)
    replay = buffer_size * per_episode
    parts = {
        "replay": replay,
        "learner": learner_batch_bytes(d, batch_size, rnn_hidden),
        "checkpoint": min(replay, CHECKPOINT_CHUNK_BYTES),
    }
    parts["total"] = sum(parts.values())
    return parts


def train_memory_mb(env: str, map_name: str, buffer_size: int, batch_size: int,
                    compact_buffer: bool = True, rnn_hidden: int = 64) -> int:
    """MiB a training run needs above its base; what the workflow adds to `resources.train.mem_mb`."""
    total = train_memory_bytes(env, map_name, buffer_size, batch_size, compact_buffer, rnn_hidden)["total"]
    return math.ceil(total / 2**20)
