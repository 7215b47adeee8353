"""Multi-agent env backends behind one protocol (docs/design.md §2).

Layout, and why. Validating a config, `pps maps` and the workflow's planning must answer
at once, so everything they ask is kept apart from the code that imports jax, torch or
StarCraft II. Each backend therefore has two modules:

- `<name>_tasks.py` owns its task table (`tasks.TaskSpec` per map, sizes included), its
  availability check and a `tasks.Backend` record naming the heavy module; it imports
  nothing heavy;
- `<name>.py` owns the vectorised env (`VecMultiAgentEnv`) and its `EnvInfo`; it imports
  jax, torch or smac;

and `registry.py` only lists the `<name>_tasks` modules (`BACKEND_MODULES`, one line per
backend) and answers every question from their records: `check_env_map`, `list_maps`,
`backend_available`, `make_env`, `env_info`. Nothing imports a heavy module except
`make_env` / `env_info`, so there is no import cycle (heavy modules import the registry,
never the other way round). Adding a backend = one `<name>_tasks.py`, one `<name>.py`,
one line in `BACKEND_MODULES`.

Shared pieces: `tasks.py` (the records and the canonical unit-type table, shared so that a
unit type id means the same on every backend), `jaxvec.py` (B jaxmarl envs in one jitted
vmap, used by `smax` and `mpe`), `base.py` (the protocol), `seeds.py` (the seed range every
backend takes), `references.py` (reference returns of return-scored tasks, readable
without jax).

Backends: `smax` (jaxmarl SMAX), `smac` (oxwhirl SMAC + StarCraft II), `mpe` (jaxmarl's
cooperative particle tasks; no win condition, scored by normalised return).

Import is cheap: nothing here imports torch, jax or smac; the protocol types of
`pps.envs.base` (which imports torch) load on first access.
"""

from __future__ import annotations

from pps.envs.registry import (
    ENV_NAMES,
    MapEntry,
    backend_available,
    check_env_map,
    env_info,
    list_maps,
    make_env,
)

_BASE_NAMES = ("EnvInfo", "Observation", "StepResult", "VecMultiAgentEnv")


def __getattr__(name: str):
    if name in _BASE_NAMES:
        from pps.envs import base

        return getattr(base, name)
    raise AttributeError(f"module 'pps.envs' has no attribute {name!r}")


__all__ = [
    "ENV_NAMES",
    "EnvInfo",
    "MapEntry",
    "Observation",
    "StepResult",
    "VecMultiAgentEnv",
    "backend_available",
    "check_env_map",
    "env_info",
    "list_maps",
    "make_env",
]
