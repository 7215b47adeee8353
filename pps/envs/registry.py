"""Backends by name, and every question about an (env, map) pair (docs/design.md §2).

The registry only lists backends (`BACKEND_MODULES`, one line each); each backend's
`<name>_tasks` module owns its task table and its availability check and names the heavy
module that builds its envs (see `pps.envs.tasks.Backend`). This module is imported by
config validation, `pps maps` and the workflow's planning, so it imports neither jax nor
torch nor smac: the `<name>_tasks` modules are plain data, and a backend's heavy module is
imported only by `make_env` / `env_info`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pps.envs.tasks import UNIT_TYPE_ID, UNIT_TYPE_NAMES, Backend, MapSpec, TaskSpec, summarize_units
from pps.errors import UserError, choice_error

if TYPE_CHECKING:  # pragma: no cover
    from pps.envs.base import EnvInfo, VecMultiAgentEnv

# env name -> the import-cheap module holding its `BACKEND` record. Adding a backend: write
# `pps/envs/<name>_tasks.py` (table + checks) and `pps/envs/<name>.py` (the env), add one line.
BACKEND_MODULES: dict[str, str] = {
    "smax": "pps.envs.smax_tasks",
    "smac": "pps.envs.smac_tasks",
    "mpe": "pps.envs.mpe_tasks",
}


def _load_backends() -> dict[str, Backend]:
    backends = {}
    for name, module in BACKEND_MODULES.items():
        backend = importlib.import_module(module).BACKEND
        if backend.name != name:
            raise RuntimeError(f"{module} declares backend '{backend.name}', registered as '{name}'")
        backends[name] = backend
    return backends


BACKENDS: dict[str, Backend] = _load_backends()
ENV_NAMES: tuple[str, ...] = tuple(BACKENDS)
# env -> its task table (the backend's own dict, not a copy).
MAPS: dict[str, Mapping[str, TaskSpec]] = {name: b.tasks for name, b in BACKENDS.items()}

__all__ = [
    "BACKENDS", "BACKEND_MODULES", "ENV_NAMES", "MAPS", "MapEntry", "MapSpec", "TaskSpec",
    "UNIT_TYPE_ID", "UNIT_TYPE_NAMES", "backend", "backend_available", "check_env", "check_env_map",
    "env_info", "list_maps", "make_env", "map_spec", "summarize_units",
]

@dataclass(frozen=True)
class MapEntry:
    """One row of `pps maps`."""

    env: str
    map: str
    n_agents: int
    n_enemies: int
    unit_types: str  # summary of the agents' unit types, e.g. "2 stalker, 3 zealot"
    enemies: str  # the same for the enemy team ('' when there is none)
    episode_limit: int
    usable_here: bool
    why_not: str  # "" when usable
    note: str = ""
    has_win_condition: bool = True  # False: scored by normalised team return (pps.envs.references)

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------- lookups


def check_env(env: str) -> None:
    if env not in BACKENDS:
        raise choice_error("env", env, ENV_NAMES)


def backend(env: str) -> Backend:
    """The registry's record of one backend; UserError for an unknown name."""
    check_env(env)
    return BACKENDS[env]


def check_env_map(env: str, map_name: str) -> None:
    """UserError for an unknown env or a map that env does not have. Imports nothing heavy."""
    maps = backend(env).tasks
    if map_name in maps:
        return
    msg = str(choice_error("map", map_name, maps)).replace("Valid maps:", f"Valid maps for env '{env}':")
    if "Did you mean" not in msg:  # difflib is case-sensitive; '3M' should still find '3m'
        same = [m for m in maps if m.lower() == str(map_name).lower()]
        if same:
            msg = msg.replace(f"'{map_name}'.", f"'{map_name}'. Did you mean '{same[0]}'?", 1)
    other = [e for e in ENV_NAMES if e != env and map_name in MAPS[e]]
    if other:
        msg += f" Map '{map_name}' exists for env '{other[0]}' (set env: {other[0]})."
    raise UserError(msg)


def map_spec(env: str, map_name: str) -> TaskSpec:
    check_env_map(env, map_name)
    return MAPS[env][map_name]


def backend_available(env: str) -> tuple[bool, str]:
    """(True, '') if the backend can run here, else (False, reason). Cheap: imports nothing heavy."""
    problem = backend(env).problem()
    return (not problem), problem


# ---------------------------------------------------------------------------- listing


def list_maps(env: str | None = None) -> list[MapEntry]:
    """Every (env, map) pair with static facts and whether it can run here."""
    if env is not None:
        check_env(env)
    entries = []
    for name, b in BACKENDS.items():
        if env is not None and name != env:
            continue
        ok, why = backend_available(name)
        for spec in b.tasks.values():
            reason = why if not ok else b.task_problem(spec.map)
            entries.append(
                MapEntry(
                    env=name, map=spec.map, n_agents=spec.n_agents, n_enemies=spec.n_enemies,
                    unit_types=summarize_units(spec.agents), enemies=summarize_units(spec.enemies),
                    episode_limit=spec.episode_limit, usable_here=not reason, why_not=reason, note=spec.note,
                    has_win_condition=b.has_win_condition,
                )
            )
    return entries


# ---------------------------------------------------------------------------- construction


def _resolve(path: str) -> Any:
    """The object at 'module:attribute' (imports the module)."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def make_env(env: str, map_name: str, n_envs: int, seed: int, device: str = "cpu") -> VecMultiAgentEnv:
    """B = n_envs environments of one map, stepped together, speaking torch tensors."""
    check_env_map(env, map_name)
    if int(n_envs) <= 0:
        raise UserError(f"n_envs must be a positive integer, got {n_envs}.")
    b = BACKENDS[env]
    ok, why = backend_available(env)
    if not ok:
        raise UserError(f"Env '{env}' cannot run here: {why}")
    return _resolve(b.vec_env)(map_name, int(n_envs), int(seed), device=device)


def env_info(env: str, map_name: str) -> EnvInfo:
    """Static facts of one (env, map) pair, without stepping (builds one env object, launches
    nothing; smac needs its package but not StarCraft II)."""
    check_env_map(env, map_name)
    b = BACKENDS[env]
    problem = (b.info_problem or b.problem)()
    if problem:
        raise UserError(f"Env '{env}' cannot run here: {problem}")
    return _resolve(b.env_info)(map_name)
