"""How much memory a training run needs, known before it starts (issue 8, item 7).

The workflow asks the scheduler for memory while it plans the grid, so the estimate must
come from static facts: it imports neither torch nor jax nor smac, builds no env, and
derives each map's observation/state sizes from the backends' own formulas (jaxmarl's
SMAX, oxwhirl's SMAC `get_obs_size`/`get_state_size` with their default flags).
`tests/test_memory.py` checks those against the installed jaxmarl and SMAC's published
sizes.

The replay layout lives here too, as plain data: `pps.buffer.ReplayBuffer` allocates its
tensors from `replay_fields`, so the estimate and the real buffer cannot drift apart.

A run's memory above its base (python + torch + jax + the compiled env) is
* the replay buffer, held once: `buffer_size * episode_bytes(...)`;
* one learner update's working set: the float32 batch and the autograd activations of
  the online and target unrolls, which grow with batch_size x episode_limit x n_agents
  (`learner_batch_bytes`, an upper bound calibrated on measurements);
* the checkpoint: saving writes the buffer straight from its own memory and resuming
  copies it back one chunk at a time, so at most one chunk (`CHECKPOINT_CHUNK_BYTES`)
  exists twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pps.envs import registry
from pps.errors import UserError

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
    otherwise everything float32 except int64 actions (the layout issue 5 measured against).
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


# ---------------------------------------------------------------------------- map sizes


@dataclass(frozen=True)
class MapDims:
    """The sizes that fix a map's replay layout and network widths."""

    n_agents: int
    n_actions: int
    obs_dim: int
    state_dim: int
    episode_limit: int


# jaxmarl SMAX (HeuristicEnemySMAX, unit_list observations): every unit carries 7 features
# plus a one-hot over jaxmarl's 6 unit types, an agent's own row 4 plus the one-hot, and
# the world state is (own row + team + type id) per unit; 5 movement actions + one attack
# per enemy.
_SMAX_UNIT_TYPES, _SMAX_UNIT_FEATURES, _SMAX_OWN_FEATURES, _SMAX_MOVES = 6, 7, 4, 5

# SMAC: the race of each unit type (a team's race decides whether it carries shields).
_SC2_RACE = {
    "marine": "T", "marauder": "T", "medivac": "T",
    "stalker": "P", "zealot": "P", "colossus": "P",
    "zergling": "Z", "hydralisk": "Z", "baneling": "Z", "spine crawler": "Z",
}


def _smax_dims(spec: registry.MapSpec) -> MapDims:
    """jaxmarl's `SMAX._get_obs_size` (unit_list) and `state_size`, for HeuristicEnemySMAX."""
    unit = _SMAX_UNIT_FEATURES + _SMAX_UNIT_TYPES
    own = _SMAX_OWN_FEATURES + _SMAX_UNIT_TYPES
    n, m = spec.n_agents, spec.n_enemies
    return MapDims(n_agents=n, n_actions=_SMAX_MOVES + m, obs_dim=unit * (n - 1 + m) + own,
                   state_dim=(own + 2) * (n + m), episode_limit=spec.episode_limit)


def _smac_dims(spec: registry.MapSpec) -> MapDims:
    """SMAC's StarCraft2Env sizes with its default flags (obs_all_health, state_last_action).

    `unit_type_bits` in SMAC's map table is the number of ally unit types on maps whose
    agents differ in type and 0 otherwise, which is what the registry's agent list gives.
    """
    n, m = spec.n_agents, spec.n_enemies
    n_actions = 6 + m  # no-op, stop, 4 moves, one attack per enemy
    ally_types = len(set(spec.agents))
    type_bits = ally_types if ally_types > 1 else 0
    shield_ally = int(_SC2_RACE[spec.agents[0]] == "P")
    shield_enemy = int(_SC2_RACE[spec.enemies[0]] == "P")
    ally_obs = 4 + type_bits + 1 + shield_ally
    enemy_obs = 4 + type_bits + 1 + shield_enemy
    own_obs = type_bits + 1 + shield_ally
    obs_dim = 4 + m * enemy_obs + (n - 1) * ally_obs + own_obs
    state_dim = n * (4 + shield_ally + type_bits) + m * (3 + shield_enemy + type_bits) + n * n_actions
    return MapDims(n_agents=n, n_actions=n_actions, obs_dim=obs_dim, state_dim=state_dim,
                   episode_limit=spec.episode_limit)


_DERIVED_DIMS = {"smax": _smax_dims, "smac": _smac_dims}


def map_dims(env: str, map_name: str) -> MapDims:
    """A map's sizes from static tables alone (no env is built); UserError for unknown names.

    Sizes a backend's task table fixes (`TaskSpec.obs_dim` etc., e.g. MPE) are taken as
    they are; SMAX and SMAC sizes follow from their formulas above.
    """
    spec = registry.map_spec(env, map_name)
    given = (getattr(spec, "n_actions", None), getattr(spec, "obs_dim", None), getattr(spec, "state_dim", None))
    if None not in given:
        n_actions, obs_dim, state_dim = given
        return MapDims(spec.n_agents, n_actions, obs_dim, state_dim, spec.episode_limit)
    if env not in _DERIVED_DIMS:
        raise UserError(
            f"No static sizes for env '{env}', map '{map_name}': its task table gives no "
            "n_actions/obs_dim/state_dim and pps.memory has no formula for it, so its memory "
            "cannot be estimated before the run."
        )
    return _DERIVED_DIMS[env](spec)


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


def learner_batch_bytes(dims: MapDims, batch_size: int, rnn_hidden: int = 64) -> int:
    """Upper bound on one learner update's working set for a batch of full-length episodes."""
    input_dim = dims.obs_dim + dims.n_actions + dims.n_agents
    per_row = 4 * (_INPUT_COPIES * input_dim + _HIDDEN_COPIES * rnn_hidden + _ACTION_COPIES * dims.n_actions)
    return batch_size * dims.episode_limit * dims.n_agents * per_row


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
