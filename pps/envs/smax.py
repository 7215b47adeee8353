"""SMAX backend: jaxmarl's `HeuristicEnemySMAX`, B envs vmapped in one jitted call.

The vectorisation, packing, freezing of finished envs and RNG handling are shared with the
other jaxmarl backends (`pps.envs.jaxvec`); this module says what is SMAX's own: the
static table (`pps.envs.smax_tasks`), the world-state scaling, and how an episode ends.

`done`, `won` and `truncated` are derived from the state at the end of the step, not
taken from jaxmarl's `done` (which fires one step late, after 101 steps). An episode
*terminates* when a team is wiped out: won when every enemy is dead and at least one ally
alive (jaxmarl's own condition for its win bonus), lost otherwise (both teams dead is a
draw, a loss for the win rate). It is *truncated* at the step that reaches the 100-step
limit with both teams alive; a team wiped out on that very step still terminates.
The team reward is jaxmarl's (every ally receives the same reward; the first ally's is used).

RNG: the backend owns one JAX PRNG key seeded from `seed`; every reset/step splits it
inside the jitted call. `get_rng_state()` is that key as a numpy uint32 array;
`set_rng_state()` restores it, so the same key and actions replay identical episodes.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from pps.envs.base import EnvInfo
from pps.envs.jaxvec import (
    JaxTask,
    JaxVecEnv,
    import_jax,
    import_jaxmarl_envs,
    jaxmarl_version,
    pin_jax_cpu_threads,
)
from pps.envs.registry import check_env_map
from pps.envs.smax_tasks import SMAX_MAPS
from pps.envs.tasks import UNIT_TYPE_NAMES

__all__ = ["SmaxVecEnv", "backend_version", "pin_jax_cpu_threads", "smax_env_info", "world_state_scale"]


def _import_smax():
    smax = import_jaxmarl_envs("smax")  # on first use: it imports jax
    return smax.HeuristicEnemySMAX, smax.map_name_to_scenario


@cache
def _jaxmarl_env(map_name: str):
    HeuristicEnemySMAX, map_name_to_scenario = _import_smax()
    return HeuristicEnemySMAX(scenario=map_name_to_scenario(map_name))


def backend_version() -> str:
    return jaxmarl_version()


def smax_env_info(map_name: str) -> EnvInfo:
    """Static facts from the jaxmarl env object (built, never stepped) and the map table."""
    check_env_map("smax", map_name)
    spec = SMAX_MAPS[map_name]
    import_jax("cpu")
    env = _jaxmarl_env(map_name)
    assert env.num_agents == spec.n_agents, (map_name, env.num_agents, spec.n_agents)
    return EnvInfo(
        env="smax",
        map=map_name,
        n_agents=env.num_agents,
        n_actions=int(env.num_ally_actions),
        obs_dim=int(env.obs_size),
        state_dim=int(env.state_size),
        episode_limit=int(env.max_steps),
        unit_types=spec.unit_types,
        unit_type_names=tuple(UNIT_TYPE_NAMES[t] for t in spec.unit_types),
        backend_version=backend_version(),
        has_win_condition=True,
    )


def world_state_scale(env) -> np.ndarray:
    """Per-feature factors that bring jaxmarl's world state into about [0, 1].

    jaxmarl's `get_world_state` is, per unit, [health fraction, x, y, weapon cooldown,
    unit-type one-hot], then every unit's team (0/1) and raw unit-type id. Positions run to
    the map size (32) and type ids to 5, so the QMIX hypernetworks, fed the raw state, start
    with team values in the hundreds while the reward per episode is at most about 2 (the
    observations are already normalised by jaxmarl). SMAC's state is normalised the same way.
    The weapon cooldown keeps counting down below zero once a unit may fire again, so the
    scaled state is also clipped to [-1, 1].
    """
    inner = env._env
    per_unit = np.ones(len(inner.own_features), dtype=np.float32)
    per_unit[inner.own_features.index("position_x")] = 1.0 / float(inner.map_width)
    per_unit[inner.own_features.index("position_y")] = 1.0 / float(inner.map_height)
    per_unit[inner.own_features.index("weapon_cooldown")] = 1.0 / float(np.max(inner.unit_type_weapon_cooldowns))
    n_units = inner.num_agents
    n_types = len(inner.unit_type_names)
    scale = np.concatenate([np.tile(per_unit, n_units), np.ones(n_units, np.float32),
                            np.full(n_units, 1.0 / max(n_types - 1, 1), np.float32)])
    assert scale.shape == (int(env.state_size),), (scale.shape, env.state_size)
    return scale


def smax_task(map_name: str) -> JaxTask:
    """One SMAX env as the pure functions `pps.envs.jaxvec.compile_vec` batches."""
    jax = import_jax("cpu")
    import jax.numpy as jnp  # after import_jax, which must import jax first

    env = _jaxmarl_env(map_name)
    agents = tuple(env.agents)
    n_allies = env.num_allies
    limit = int(env.max_steps)
    state_scale = jnp.asarray(world_state_scale(env))

    def step(key, state, actions):
        obs, new_state, rewards, _, _ = env.step_env(key, state, {a: actions[i] for i, a in enumerate(agents)})
        return obs, new_state, rewards[agents[0]]

    def observe(obs_dict, state):
        inner = state.state
        obs = jnp.stack([obs_dict[a] for a in agents], axis=1)  # [B, N, obs_dim]
        avail_dict = jax.vmap(env._env.get_avail_actions)(inner)
        avail = jnp.stack([avail_dict[a] for a in agents], axis=1).astype(jnp.bool_)
        world = jnp.clip(obs_dict["world_state"].astype(jnp.float32) * state_scale, -1.0, 1.0)
        return obs.astype(jnp.float32), world, avail

    def outcome(state):
        """(terminated, truncated, won) of each env [B]. jaxmarl's own `done` checks the time
        limit before counting the step, so it ends episodes after `limit + 1` steps; the
        suite ends them at `limit`, as SMAC does, and says which kind of end."""
        inner = state.state
        alive = inner.unit_alive  # [B, n_units]
        allies_alive = jnp.any(alive[:, :n_allies], axis=1)
        enemies_alive = jnp.any(alive[:, n_allies:], axis=1)
        terminated = ~allies_alive | ~enemies_alive  # win, loss or draw (both teams dead)
        truncated = ~terminated & (inner.step >= limit)
        return terminated, truncated, terminated & ~enemies_alive & allies_alive

    return JaxTask(reset=env.reset, step=step, observe=observe, outcome=outcome)


class SmaxVecEnv(JaxVecEnv):
    """B SMAX envs of one map (see the module docstring for episode, won and RNG rules)."""

    name = "SMAX"

    make_task = staticmethod(smax_task)
    make_info = staticmethod(smax_env_info)
