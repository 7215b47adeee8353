"""SMAX's task table and availability check (import-cheap; the backend is `pps.envs.smax`).

The table is jaxmarl's `MAP_NAME_TO_SCENARIO` (jaxmarl 0.2.0) written out as static facts,
so config validation and `pps maps` never import jax: `HeuristicEnemySMAX`, 100-step limit,
agents in jaxmarl's order, and each map's observation, state and action sizes from jaxmarl's
own formulas (what the memory estimate sizes a run with). `tests/envs/test_smax.py` and
`tests/test_memory.py` check the table against the installed jaxmarl.
"""

from __future__ import annotations

from pps.envs.tasks import Backend, TaskSpec, missing_modules_problem, team

SMAX_EPISODE_LIMIT = 100
_SMACV2_NOTE = "unit types drawn at random every episode (6 types); all agents form one group"
_m, _s, _z, _h = "marine", "stalker", "zealot", "hydralisk"

# jaxmarl SMAX (HeuristicEnemySMAX, unit_list observations): every unit carries 7 features
# plus a one-hot over jaxmarl's 6 unit types, an agent's own row 4 plus the one-hot, and
# the world state is (own row + team + type id) per unit; 5 movement actions + one attack
# per enemy.
_UNIT_TYPES, _UNIT_FEATURES, _OWN_FEATURES, _MOVES = 6, 7, 4, 5


def _spec(map_name: str, agents: tuple[str, ...], enemies: tuple[str, ...], note: str = "") -> TaskSpec:
    """One map's facts, its sizes from jaxmarl's `SMAX._get_obs_size` (unit_list) and `state_size`."""
    unit = _UNIT_FEATURES + _UNIT_TYPES
    own = _OWN_FEATURES + _UNIT_TYPES
    n, m = len(agents), len(enemies)
    return TaskSpec("smax", map_name, agents, enemies, SMAX_EPISODE_LIMIT, note, n_actions=_MOVES + m,
                    obs_dim=unit * (n - 1 + m) + own, state_dim=(own + 2) * (n + m))


SMAX_MAPS: dict[str, TaskSpec] = {
    spec.map: spec
    for spec in [
        _spec("3m", team((3, _m)), team((3, _m))),
        _spec("2s3z", team((2, _s), (3, _z)), team((2, _s), (3, _z))),
        _spec("25m", team((25, _m)), team((25, _m))),
        _spec("3s5z", team((3, _s), (5, _z)), team((3, _s), (5, _z))),
        _spec("8m", team((8, _m)), team((8, _m))),
        _spec("5m_vs_6m", team((5, _m)), team((6, _m))),
        _spec("10m_vs_11m", team((10, _m)), team((11, _m))),
        _spec("27m_vs_30m", team((27, _m)), team((30, _m))),
        _spec("3s5z_vs_3s6z", team((3, _s), (5, _z)), team((3, _s), (6, _z))),
        _spec("3s_vs_5z", team((3, _s)), team((5, _z))),
        _spec("6h_vs_8z", team((6, _h)), team((8, _z))),
        _spec("smacv2_5_units", team((5, "random")), team((5, "random")), _SMACV2_NOTE),
        _spec("smacv2_10_units", team((10, "random")), team((10, "random")), _SMACV2_NOTE),
        _spec("smacv2_20_units", team((20, "random")), team((20, "random")), _SMACV2_NOTE),
    ]
}

JAX_INSTALL = "pip install jax jaxmarl"


def jaxmarl_problem() -> str:
    """'' when jax and jaxmarl are importable (the jaxmarl backends share this check)."""
    return missing_modules_problem(("jax", "jaxmarl"), JAX_INSTALL)


BACKEND = Backend(
    name="smax",
    tasks=SMAX_MAPS,
    vec_env="pps.envs.smax:SmaxVecEnv",
    env_info="pps.envs.smax:smax_env_info",
    problem=jaxmarl_problem,
    has_win_condition=True,
    description="jaxmarl's SMAX (StarCraft-like micromanagement in JAX, no StarCraft II)",
    team_reward="jaxmarl SMAX's team reward: enemy health lost (at most 1 per episode) plus 1 for a win",
    max_return=2.0,  # all enemy health (1) plus the win bonus (1)
)
