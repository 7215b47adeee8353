"""SMAC's task table and its installation diagnostics (import-cheap; the backend is `pps.envs.smac`).

The table is oxwhirl/smac's `smac_maps.map_param_registry` as static facts, with each map's
observation, state and action sizes from StarCraft2Env's own formulas (`get_obs_size`,
`get_state_size` with its default flags), so a run can be sized without StarCraft II;
`tests/test_memory.py` checks them against SMAC's published sizes. Agent order is
SMAC's: sorted by SC2 unit type id (MMM: marauders, marines, medivac; 2s3z: stalkers,
zealots; 1c3s5z: colossus, stalkers, zealots; bane_vs_bane: banelings, zerglings). The smac
backend checks this order against the live game at its first reset.

The diagnostics turn the usual set-up failures into one sentence that says what to do,
without importing smac (importing SMAC3 by mistake is slow and has side effects):

* the PyPI package named `smac` is also SMAC3, a hyperparameter optimiser;
* StarCraft II is looked for where pysc2 looks on Linux: `$SC2PATH`, else ~/StarCraftII;
* each map needs its file under `$SC2PATH/Maps/SMAC_Maps/`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from importlib import metadata
from pathlib import Path

from pps.envs.tasks import Backend, TaskSpec, team

_m, _M, _s, _z, _zg, _h = "marine", "marauder", "stalker", "zealot", "zergling", "hydralisk"
_MMM = team((2, _M), (7, _m), (1, "medivac"))

# The race of each unit type (a team's race decides whether its units carry shields).
_RACE = {
    "marine": "T", "marauder": "T", "medivac": "T",
    "stalker": "P", "zealot": "P", "colossus": "P",
    "zergling": "Z", "hydralisk": "Z", "baneling": "Z", "spine crawler": "Z",
}


def _spec(map_name: str, agents: tuple[str, ...], enemies: tuple[str, ...], episode_limit: int) -> TaskSpec:
    """One map's facts, its sizes as StarCraft2Env computes them with its default flags
    (obs_all_health, state_last_action). `unit_type_bits` in SMAC's map table is the number
    of ally unit types on maps whose agents differ in type and 0 otherwise, which is what
    the agent list gives."""
    n, m = len(agents), len(enemies)
    n_actions = 6 + m  # no-op, stop, 4 moves, one attack per enemy
    ally_types = len(set(agents))
    type_bits = ally_types if ally_types > 1 else 0
    shield_ally = int(_RACE[agents[0]] == "P")
    shield_enemy = int(_RACE[enemies[0]] == "P")
    ally_obs = 4 + type_bits + 1 + shield_ally
    enemy_obs = 4 + type_bits + 1 + shield_enemy
    own_obs = type_bits + 1 + shield_ally
    obs_dim = 4 + m * enemy_obs + (n - 1) * ally_obs + own_obs
    state_dim = n * (4 + shield_ally + type_bits) + m * (3 + shield_enemy + type_bits) + n * n_actions
    return TaskSpec("smac", map_name, agents, enemies, episode_limit, n_actions=n_actions, obs_dim=obs_dim,
                    state_dim=state_dim)


SMAC_MAPS: dict[str, TaskSpec] = {
    spec.map: spec
    for spec in [
        _spec("3m", team((3, _m)), team((3, _m)), 60),
        _spec("8m", team((8, _m)), team((8, _m)), 120),
        _spec("25m", team((25, _m)), team((25, _m)), 150),
        _spec("5m_vs_6m", team((5, _m)), team((6, _m)), 70),
        _spec("8m_vs_9m", team((8, _m)), team((9, _m)), 120),
        _spec("10m_vs_11m", team((10, _m)), team((11, _m)), 150),
        _spec("27m_vs_30m", team((27, _m)), team((30, _m)), 180),
        _spec("MMM", _MMM, _MMM, 150),
        _spec("MMM2", _MMM, team((3, _M), (8, _m), (1, "medivac")), 180),
        _spec("2s3z", team((2, _s), (3, _z)), team((2, _s), (3, _z)), 120),
        _spec("3s5z", team((3, _s), (5, _z)), team((3, _s), (5, _z)), 150),
        _spec("3s5z_vs_3s6z", team((3, _s), (5, _z)), team((3, _s), (6, _z)), 170),
        _spec("3s_vs_3z", team((3, _s)), team((3, _z)), 150),
        _spec("3s_vs_4z", team((3, _s)), team((4, _z)), 200),
        _spec("3s_vs_5z", team((3, _s)), team((5, _z)), 250),
        _spec("1c3s5z", team((1, "colossus"), (3, _s), (5, _z)), team((1, "colossus"), (3, _s), (5, _z)), 180),
        _spec("2m_vs_1z", team((2, _m)), team((1, _z)), 150),
        _spec("corridor", team((6, _z)), team((24, _zg)), 400),
        _spec("6h_vs_8z", team((6, _h)), team((8, _z)), 150),
        _spec("2s_vs_1sc", team((2, _s)), team((1, "spine crawler")), 300),
        _spec("so_many_baneling", team((7, _z)), team((32, "baneling")), 100),
        _spec("bane_vs_bane", team((4, "baneling"), (20, _zg)), team((4, "baneling"), (20, _zg)), 200),
        _spec("2c_vs_64zg", team((2, "colossus")), team((64, _zg)), 400),
    ]
}

SMAC_INSTALL = "pip install git+https://github.com/oxwhirl/smac.git"
SC2_HELP = (
    "Install StarCraft II (Linux package: https://github.com/Blizzard/s2client-proto#downloads, "
    "unzip into ~/StarCraftII with the password 'iagreetotheeula') and the SMAC maps "
    "(https://github.com/oxwhirl/smac/releases/download/v0.1-beta1/SMAC_Maps.zip, unzip into "
    "$SC2PATH/Maps/), or point the SC2PATH environment variable at an existing installation."
)


def sc2_path() -> Path:
    """Where pysc2 looks for StarCraft II on Linux: $SC2PATH, else ~/StarCraftII."""
    return Path(os.environ.get("SC2PATH") or Path.home() / "StarCraftII").expanduser()


def _smac_package_dirs() -> tuple[list[str], str | None]:
    """The directories of the importable top-level `smac` package, without importing it."""
    mod = sys.modules.get("smac")
    if mod is not None:
        paths = list(getattr(mod, "__path__", []) or [])
        if not paths and getattr(mod, "__file__", None):
            paths = [os.path.dirname(mod.__file__)]
        return paths, getattr(mod, "__version__", None)
    try:
        spec = importlib.util.find_spec("smac")
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return [], None
    paths = list(spec.submodule_search_locations or [])
    if not paths and spec.origin:
        paths = [os.path.dirname(spec.origin)]
    return paths, None


def _installed_smac_version() -> str | None:
    try:
        return metadata.version("smac")
    except Exception:  # PackageNotFoundError or a broken install
        return None


def smac_package_problem() -> str:
    """'' when oxwhirl's StarCraft smac is importable, else why not (and how to fix it)."""
    paths, mod_version = _smac_package_dirs()
    if not paths and "smac" not in sys.modules:
        return (
            "the StarCraft Multi-Agent Challenge package 'smac' is not installed; "
            f"install it with: {SMAC_INSTALL}"
        )
    mod = sys.modules.get("smac")
    if mod is not None and hasattr(getattr(mod, "env", None), "StarCraft2Env"):
        return ""
    if any(os.path.isfile(os.path.join(p, "env", "starcraft2", "starcraft2.py")) for p in paths):
        return ""
    version = mod_version or _installed_smac_version()
    found = f"SMAC3 {version}" if version else "SMAC3"
    return (
        f"the installed 'smac' package is not the StarCraft Multi-Agent Challenge but {found}, "
        "the hyperparameter-optimisation library that shares its name (it has no "
        "smac.env.StarCraft2Env). Replace it: pip uninstall smac && "
        f"{SMAC_INSTALL} (in a separate virtual environment if you need SMAC3 too)."
    )


def sc2_problem() -> str:
    """'' when a StarCraft II installation is found, else why not."""
    path = sc2_path()
    where = "SC2PATH" if os.environ.get("SC2PATH") else "SC2PATH (unset, so the default)"
    if not path.is_dir():
        return f"StarCraft II was not found at {where} = {path}. {SC2_HELP}"
    if not (path / "Versions").is_dir():
        return f"{path} (from {where}) is not a StarCraft II installation: it has no Versions/ folder. {SC2_HELP}"
    return ""


def smac_map_problem(map_name: str) -> str:
    path = sc2_path() / "Maps" / "SMAC_Maps" / f"{map_name}.SC2Map"
    if not path.is_file():
        return f"the SMAC map file {path} is missing. {SC2_HELP}"
    return ""


def smac_problem() -> str:
    """'' when the smac package and StarCraft II are both here."""
    return smac_package_problem() or sc2_problem()


BACKEND = Backend(
    name="smac",
    tasks=SMAC_MAPS,
    vec_env="pps.envs.smac:SmacVecEnv",
    env_info="pps.envs.smac:smac_env_info",
    problem=smac_problem,
    info_problem=smac_package_problem,  # env_info builds a StarCraft2Env, which launches nothing
    task_problem=smac_map_problem,
    has_win_condition=True,
    description="oxwhirl's SMAC on StarCraft II",
    team_reward="SMAC's shaped team reward (damage, kills, win bonus), scaled to at most 20 per episode",
    max_return=20.0,  # StarCraft2Env's reward_scale_rate: rewards are divided by max_reward / 20
)
