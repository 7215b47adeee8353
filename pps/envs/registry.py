"""Backends by name, and the static facts of every (env, map) pair (DESIGN §2).

This module is imported by config validation and by `pps maps`, so it imports neither
jax nor torch nor smac: the map tables below are static public facts (jaxmarl's SMAX
scenarios and SMAC's `map_param_registry`), and `tests/test_envs.py` checks the SMAX table
against the installed jaxmarl. The backends themselves (`pps.envs.smax`, `pps.envs.smac`)
are imported only by `make_env` / `env_info`.

Unit-type ids are one table for both backends (`UNIT_TYPE_NAMES`); its first six entries
are jaxmarl's SMAX ids, so a SMAX unit type id is its canonical id.
"""

from __future__ import annotations

import importlib.util
import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pps.errors import UserError, choice_error

if TYPE_CHECKING:  # pragma: no cover
    from pps.envs.base import EnvInfo, VecMultiAgentEnv

ENV_NAMES = ("smax", "smac")

# Canonical unit types. 0-5 are jaxmarl SMAX's ids in its own order; the rest appear only
# in SMAC maps. "random" marks agents whose type is drawn anew every episode (smacv2_*):
# all such agents are one group.
UNIT_TYPE_NAMES = (
    "marine", "marauder", "stalker", "zealot", "zergling", "hydralisk",
    "medivac", "colossus", "baneling", "spine crawler", "random",
)
UNIT_TYPE_ID = {name: i for i, name in enumerate(UNIT_TYPE_NAMES)}

_m, _M, _s, _z, _zg, _h = "marine", "marauder", "stalker", "zealot", "zergling", "hydralisk"


@dataclass(frozen=True)
class MapSpec:
    """Static facts of one map: per-agent unit type names (agent order), enemies, limit."""

    env: str
    map: str
    agents: tuple[str, ...]
    enemies: tuple[str, ...]
    episode_limit: int
    note: str = ""

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def n_enemies(self) -> int:
        return len(self.enemies)

    @property
    def unit_types(self) -> tuple[int, ...]:
        return tuple(UNIT_TYPE_ID[name] for name in self.agents)


def _team(*parts: tuple[int, str]) -> tuple[str, ...]:
    return tuple(name for count, name in parts for _ in range(count))


# --- SMAX: jaxmarl's MAP_NAME_TO_SCENARIO (jaxmarl 0.2.0), HeuristicEnemySMAX, max_steps 100.
SMAX_EPISODE_LIMIT = 100
_SMACV2_NOTE = "unit types drawn at random every episode (6 types); all agents form one group"
SMAX_MAPS: dict[str, MapSpec] = {
    spec.map: spec
    for spec in [
        MapSpec("smax", "3m", _team((3, _m)), _team((3, _m)), SMAX_EPISODE_LIMIT),
        MapSpec("smax", "2s3z", _team((2, _s), (3, _z)), _team((2, _s), (3, _z)), SMAX_EPISODE_LIMIT),
        MapSpec("smax", "25m", _team((25, _m)), _team((25, _m)), SMAX_EPISODE_LIMIT),
        MapSpec("smax", "3s5z", _team((3, _s), (5, _z)), _team((3, _s), (5, _z)), SMAX_EPISODE_LIMIT),
        MapSpec("smax", "8m", _team((8, _m)), _team((8, _m)), SMAX_EPISODE_LIMIT),
        MapSpec("smax", "5m_vs_6m", _team((5, _m)), _team((6, _m)), SMAX_EPISODE_LIMIT),
        MapSpec("smax", "10m_vs_11m", _team((10, _m)), _team((11, _m)), SMAX_EPISODE_LIMIT),
        MapSpec("smax", "27m_vs_30m", _team((27, _m)), _team((30, _m)), SMAX_EPISODE_LIMIT),
        MapSpec("smax", "3s5z_vs_3s6z", _team((3, _s), (5, _z)), _team((3, _s), (6, _z)), SMAX_EPISODE_LIMIT),
        MapSpec("smax", "3s_vs_5z", _team((3, _s)), _team((5, _z)), SMAX_EPISODE_LIMIT),
        MapSpec("smax", "6h_vs_8z", _team((6, _h)), _team((8, _z)), SMAX_EPISODE_LIMIT),
        MapSpec("smax", "smacv2_5_units", _team((5, "random")), _team((5, "random")), SMAX_EPISODE_LIMIT, _SMACV2_NOTE),
        MapSpec("smax", "smacv2_10_units", _team((10, "random")), _team((10, "random")), SMAX_EPISODE_LIMIT, _SMACV2_NOTE),
        MapSpec("smax", "smacv2_20_units", _team((20, "random")), _team((20, "random")), SMAX_EPISODE_LIMIT, _SMACV2_NOTE),
    ]
}

# --- SMAC: oxwhirl/smac `smac_maps.map_param_registry`. Agent order is SMAC's: sorted by
# SC2 unit type id (MMM: marauders, marines, medivac; 2s3z: stalkers, zealots; 1c3s5z:
# colossus, stalkers, zealots; bane_vs_bane: banelings, zerglings). The smac backend
# checks this order against the live game at its first reset.
SMAC_MAPS: dict[str, MapSpec] = {
    spec.map: spec
    for spec in [
        MapSpec("smac", "3m", _team((3, _m)), _team((3, _m)), 60),
        MapSpec("smac", "8m", _team((8, _m)), _team((8, _m)), 120),
        MapSpec("smac", "25m", _team((25, _m)), _team((25, _m)), 150),
        MapSpec("smac", "5m_vs_6m", _team((5, _m)), _team((6, _m)), 70),
        MapSpec("smac", "8m_vs_9m", _team((8, _m)), _team((9, _m)), 120),
        MapSpec("smac", "10m_vs_11m", _team((10, _m)), _team((11, _m)), 150),
        MapSpec("smac", "27m_vs_30m", _team((27, _m)), _team((30, _m)), 180),
        MapSpec("smac", "MMM", _team((2, _M), (7, _m), (1, "medivac")), _team((2, _M), (7, _m), (1, "medivac")), 150),
        MapSpec("smac", "MMM2", _team((2, _M), (7, _m), (1, "medivac")), _team((3, _M), (8, _m), (1, "medivac")), 180),
        MapSpec("smac", "2s3z", _team((2, _s), (3, _z)), _team((2, _s), (3, _z)), 120),
        MapSpec("smac", "3s5z", _team((3, _s), (5, _z)), _team((3, _s), (5, _z)), 150),
        MapSpec("smac", "3s5z_vs_3s6z", _team((3, _s), (5, _z)), _team((3, _s), (6, _z)), 170),
        MapSpec("smac", "3s_vs_3z", _team((3, _s)), _team((3, _z)), 150),
        MapSpec("smac", "3s_vs_4z", _team((3, _s)), _team((4, _z)), 200),
        MapSpec("smac", "3s_vs_5z", _team((3, _s)), _team((5, _z)), 250),
        MapSpec("smac", "1c3s5z", _team((1, "colossus"), (3, _s), (5, _z)), _team((1, "colossus"), (3, _s), (5, _z)), 180),
        MapSpec("smac", "2m_vs_1z", _team((2, _m)), _team((1, _z)), 150),
        MapSpec("smac", "corridor", _team((6, _z)), _team((24, _zg)), 400),
        MapSpec("smac", "6h_vs_8z", _team((6, _h)), _team((8, _z)), 150),
        MapSpec("smac", "2s_vs_1sc", _team((2, _s)), _team((1, "spine crawler")), 300),
        MapSpec("smac", "so_many_baneling", _team((7, _z)), _team((32, "baneling")), 100),
        MapSpec("smac", "bane_vs_bane", _team((4, "baneling"), (20, _zg)), _team((4, "baneling"), (20, _zg)), 200),
        MapSpec("smac", "2c_vs_64zg", _team((2, "colossus")), _team((64, _zg)), 400),
    ]
}

MAPS: dict[str, dict[str, MapSpec]] = {"smax": SMAX_MAPS, "smac": SMAC_MAPS}


def summarize_units(names: tuple[str, ...]) -> str:
    """'2 stalker, 3 zealot' in first-appearance order."""
    counts = Counter(names)
    return ", ".join(f"{counts[n]} {n}" for n in dict.fromkeys(names))


@dataclass(frozen=True)
class MapEntry:
    """One row of `pps maps`."""

    env: str
    map: str
    n_agents: int
    n_enemies: int
    unit_types: str  # summary of the agents' unit types, e.g. "2 stalker, 3 zealot"
    enemies: str  # the same for the enemy team
    episode_limit: int
    usable_here: bool
    why_not: str  # "" when usable
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------- lookups


def check_env(env: str) -> None:
    if env not in ENV_NAMES:
        raise choice_error("env", env, ENV_NAMES)


def check_env_map(env: str, map_name: str) -> None:
    """UserError for an unknown env or a map that env does not have. Imports nothing heavy."""
    check_env(env)
    maps = MAPS[env]
    if map_name not in maps:
        msg = str(choice_error("map", map_name, maps)).replace("Valid maps:", f"Valid maps for env '{env}':")
        if "Did you mean" not in msg:  # difflib is case-sensitive; '3M' should still find '3m'
            same = [m for m in maps if m.lower() == str(map_name).lower()]
            if same:
                msg = msg.replace(f"'{map_name}'.", f"'{map_name}'. Did you mean '{same[0]}'?", 1)
        other = [e for e in ENV_NAMES if e != env and map_name in MAPS[e]]
        if other:
            msg += f" Map '{map_name}' exists for env '{other[0]}' (set env: {other[0]})."
        raise UserError(msg)


def map_spec(env: str, map_name: str) -> MapSpec:
    check_env_map(env, map_name)
    return MAPS[env][map_name]


# ---------------------------------------------------------------------------- availability

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
    import sys

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
        from importlib.metadata import version

        return version("smac")
    except Exception:  # noqa: BLE001 - PackageNotFoundError or a broken install
        return None


def smac_package_problem() -> str:
    """'' when oxwhirl's StarCraft smac is importable, else why not (and how to fix it)."""
    import sys

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


def backend_available(env: str) -> tuple[bool, str]:
    """(True, '') if the backend can run here, else (False, reason). Cheap: imports nothing heavy."""
    check_env(env)
    if env == "smax":
        missing = [m for m in ("jax", "jaxmarl") if importlib.util.find_spec(m) is None]
        if missing:
            return False, f"{' and '.join(missing)} not installed (pip install jax jaxmarl)"
        return True, ""
    problem = smac_package_problem() or sc2_problem()
    return (not problem), problem


# ---------------------------------------------------------------------------- listing


def list_maps(env: str | None = None) -> list[MapEntry]:
    """Every (env, map) pair with static facts and whether it can run here."""
    if env is not None:
        check_env(env)
    entries = []
    for name in ENV_NAMES:
        if env is not None and name != env:
            continue
        ok, why = backend_available(name)
        for spec in MAPS[name].values():
            usable, reason = ok, why
            if ok and name == "smac":
                reason = smac_map_problem(spec.map)
                usable = not reason
            entries.append(
                MapEntry(
                    env=name, map=spec.map, n_agents=spec.n_agents, n_enemies=spec.n_enemies,
                    unit_types=summarize_units(spec.agents), enemies=summarize_units(spec.enemies),
                    episode_limit=spec.episode_limit, usable_here=usable, why_not=reason, note=spec.note,
                )
            )
    return entries


# ---------------------------------------------------------------------------- construction


def make_env(env: str, map_name: str, n_envs: int, seed: int, device: str = "cpu") -> VecMultiAgentEnv:
    """B = n_envs environments of one map, stepped together, speaking torch tensors."""
    check_env_map(env, map_name)
    if int(n_envs) <= 0:
        raise UserError(f"n_envs must be a positive integer, got {n_envs}.")
    ok, why = backend_available(env)
    if not ok:
        raise UserError(f"Env '{env}' cannot run here: {why}")
    if env == "smax":
        from pps.envs.smax import SmaxVecEnv

        return SmaxVecEnv(map_name, int(n_envs), int(seed), device=device)
    from pps.envs.smac import SmacVecEnv

    return SmacVecEnv(map_name, int(n_envs), int(seed), device=device)


def env_info(env: str, map_name: str) -> EnvInfo:
    """Static facts of one (env, map) pair, without stepping (builds one env object, launches
    nothing; smac needs its package but not StarCraft II)."""
    check_env_map(env, map_name)
    if env == "smax":
        ok, why = backend_available(env)
        if not ok:
            raise UserError(f"Env '{env}' cannot run here: {why}")
        from pps.envs.smax import smax_env_info

        return smax_env_info(map_name)
    from pps.envs.smac import smac_env_info

    return smac_env_info(map_name)
