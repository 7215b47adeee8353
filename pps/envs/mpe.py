"""MPE backend: jaxmarl's cooperative particle tasks (discrete actions), B envs in one jitted vmap.

Tasks and their sizes: `pps.envs.mpe_tasks` (`pps maps --env mpe`). Vectorisation, packing,
frozen finished envs and the RNG are shared with SMAX (`pps.envs.jaxvec`); what is MPE's
own is how agents of different roles are stacked, the team reward and how episodes end.

* Agents of different roles (simple_speaker_listener: a speaker seeing 3 numbers with 3
  actions, a listener seeing 11 with 5) are padded to one `obs_dim` (the largest; padded
  observation entries are 0) and one `n_actions` (the largest), so that slot-stacked agent
  networks take every agent in one batched call. `avail` marks each agent's real actions;
  padded actions are never available (should one arrive anyway it is clamped to the role's
  last real action rather than indexing out of range). `EnvInfo.unit_types` are the roles
  ("speaker", "listener"; "agent" on tasks whose agents are all alike), so `groups:
  unit_type` groups by role.
* Global state = the concatenation, in agent order, of every agent's real (unpadded)
  observation. MPE has no separate world state, and its observations are already
  agent-centred positions and velocities of order 1, so no rescaling is applied.
* Team reward = the sum of the agents' jaxmarl rewards at the step (jaxmarl's defaults,
  e.g. `local_ratio` 0.5 on simple_spread and simple_reference; on
  simple_speaker_listener both agents receive the same reward, so the team reward is twice it).
* No win condition: `won` is always False and nothing terminates early; every episode is
  truncated at the step that reaches jaxmarl's 25-step limit (`done & truncated`, which the
  learner bootstraps). jaxmarl's own `done` fires a step later (it checks the limit before
  counting the step), so it is not used: the limit is read from the state's `step`.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from pps.envs.base import EnvInfo
from pps.envs.jaxvec import JaxTask, JaxVecEnv, import_jax, import_jaxmarl_envs, jaxmarl_version
from pps.envs.mpe_tasks import MPE_MAPS, MPE_TASKS
from pps.envs.registry import check_env_map
from pps.envs.tasks import UNIT_TYPE_NAMES

__all__ = ["MpeVecEnv", "jaxmarl_env", "mpe_env_info", "mpe_task"]


def _import_mpe():
    return import_jaxmarl_envs("mpe")  # on first use: it imports jax


@cache
def jaxmarl_env(map_name: str):
    """The jaxmarl env object of one task (discrete actions), checked against the static table."""
    check_env_map("mpe", map_name)
    import_jax("cpu")
    task = MPE_TASKS[map_name]
    env = getattr(_import_mpe(), task.jaxmarl_class)(**dict(task.kwargs))
    sizes = tuple(int(env.observation_space(a).shape[0]) for a in env.agents)
    counts = tuple(int(env.action_space(a).n) for a in env.agents)
    if (sizes, counts, len(env.agents)) != (task.obs_sizes, task.action_counts, len(task.roles)):
        raise RuntimeError(
            f"mpe {map_name}: the installed jaxmarl has observation sizes {sizes} and action counts "
            f"{counts}, the static table (pps/envs/mpe_tasks.py) {task.obs_sizes} and {task.action_counts}"
        )
    return env


def mpe_env_info(map_name: str) -> EnvInfo:
    """Static facts of one task; the jaxmarl env is built (never stepped) to check the table."""
    env = jaxmarl_env(map_name)
    spec = MPE_MAPS[map_name]
    if int(env.max_steps) != spec.episode_limit:
        raise RuntimeError(f"mpe {map_name}: jaxmarl's limit is {env.max_steps}, the table's {spec.episode_limit}")
    return EnvInfo(
        env="mpe",
        map=map_name,
        n_agents=spec.n_agents,
        n_actions=spec.n_actions,
        obs_dim=spec.obs_dim,
        state_dim=spec.state_dim,
        episode_limit=spec.episode_limit,
        unit_types=spec.unit_types,
        unit_type_names=tuple(UNIT_TYPE_NAMES[t] for t in spec.unit_types),
        backend_version=jaxmarl_version(),
        has_win_condition=False,
    )


def avail_mask(map_name: str) -> np.ndarray:
    """[N, n_actions] bool: each agent's real actions (the first `action_counts[i]`)."""
    task, spec = MPE_TASKS[map_name], MPE_MAPS[map_name]
    mask = np.zeros((spec.n_agents, spec.n_actions), dtype=bool)
    for i, count in enumerate(task.action_counts):
        mask[i, :count] = True
    return mask


def mpe_task(map_name: str) -> JaxTask:
    """One MPE env as the pure functions `pps.envs.jaxvec.compile_vec` batches."""
    import_jax("cpu")
    import jax.numpy as jnp  # after import_jax, which must import jax first

    env = jaxmarl_env(map_name)
    task, spec = MPE_TASKS[map_name], MPE_MAPS[map_name]
    agents = tuple(env.agents)
    limit = spec.episode_limit
    last_action = jnp.asarray([c - 1 for c in task.action_counts], dtype=jnp.int32)
    avail = jnp.asarray(avail_mask(map_name))

    def step(key, state, actions):
        actions = jnp.minimum(actions, last_action)
        obs, new_state, rewards, _, _ = env.step_env(key, state, {a: actions[i] for i, a in enumerate(agents)})
        return obs, new_state, sum(rewards[a] for a in agents)

    def observe(obs_dict, state):
        real = [obs_dict[a].astype(jnp.float32) for a in agents]  # each [B, size_i]
        b = real[0].shape[0]
        padded = [jnp.pad(o, ((0, 0), (0, spec.obs_dim - o.shape[1]))) for o in real]
        return jnp.stack(padded, axis=1), jnp.concatenate(real, axis=1), jnp.broadcast_to(avail, (b,) + avail.shape)

    def outcome(state):
        """Only the time limit ends an MPE episode: truncated once `limit` steps are done."""
        truncated = state.step >= limit
        never = jnp.zeros_like(truncated)
        return never, truncated, never

    return JaxTask(reset=env.reset, step=step, observe=observe, outcome=outcome)


class MpeVecEnv(JaxVecEnv):
    """B envs of one MPE task (see the module docstring for padding, reward and episode rules)."""

    name = "MPE"

    make_task = staticmethod(mpe_task)
    make_info = staticmethod(mpe_env_info)
