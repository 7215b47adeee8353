"""Multi-agent env backends behind one protocol (DESIGN §2).

Import is cheap: nothing here imports torch, jax or smac. `registry` holds static map
tables and imports a backend only when an env is made; the protocol types of
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
