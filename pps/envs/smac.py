"""SMAC backend: B oxwhirl `StarCraft2Env`s (real StarCraft II) stepped in a plain loop.

StarCraft II itself is the bottleneck, so a list loop is all the vectorisation needed.
`smac` is imported lazily, after the checks of `pps.envs.smac_tasks` (SMAC3 installed under
the same name, no StarCraft II, a missing map file) have turned the usual set-up failures
into a `UserError` that says what to do.

Episodes are synchronous: after an env's `done`, it is not stepped again until `reset()`;
its rows repeat its last obs/state/avail with reward 0 and done/won as at the end.
`won` is SMAC's `info["battle_won"]`; `truncated` is SMAC's `info["episode_limit"]`. Rewards are
SMAC's defaults (scaled to 20 per episode).

Time limits: `StarCraft2Env.step()` ends a time-out with `terminated=True` either way, and
puts `info["episode_limit"] = True` only when the env was built with
`continuing_episode=True` (its default is False, as in PyMARL's `sc2.yaml`); the flag
changes nothing else. So every env here is built with it: a time-out is then a truncation
that the learner bootstraps through, as on every other backend (docs/design.md §2). Counting steps
instead could not tell a time-out from a battle lost on the limit's last step, which SMAC
reports as a terminal (it checks the battle's end before the limit).

RNG: StarCraft II draws its randomness from the game seed given at launch (env i gets
`seed + i` wrapped into uint32, the protobuf field's type: `pps.envs.seeds.env_seeds`); it
cannot be captured mid-run, so `get_rng_state()` only records the seed and episode count
and a resumed run does not replay the same episodes (as in PyMARL).
"""

from __future__ import annotations

import warnings
from importlib.metadata import version
from typing import Any

import numpy as np
import torch

from pps.envs.base import EnvInfo, Observation, StepResult
from pps.envs.registry import check_env_map
from pps.envs.seeds import env_seeds
from pps.envs.smac_tasks import (
    SMAC_INSTALL,
    SMAC_MAPS,
    sc2_path,
    sc2_problem,
    smac_map_problem,
    smac_package_problem,
)
from pps.envs.tasks import UNIT_TYPE_NAMES
from pps.errors import UserError


def _import_starcraft2env():
    problem = smac_package_problem()
    if problem:
        raise UserError(f"The smac backend cannot run: {problem}")
    try:  # imported only after the checks: an SMAC3 imported by mistake is slow and has side effects
        from smac.env import StarCraft2Env
    except ImportError as err:  # e.g. pysc2 missing or broken
        raise UserError(
            f"The smac backend cannot run: importing smac.env.StarCraft2Env failed ({err}). "
            f"Reinstall it: {SMAC_INSTALL}"
        ) from err
    return StarCraft2Env


def _check_sc2(map_name: str) -> None:
    problem = sc2_problem() or smac_map_problem(map_name)
    if problem:
        raise UserError(f"The smac backend cannot run: {problem}")


def backend_version() -> str:
    try:
        smac_version = version("smac")
    except Exception:  # a missing or broken install only blanks a record's version
        smac_version = "?"
    return f"smac {smac_version}, StarCraft II at {sc2_path()}"


def _info_from_env(map_name: str, env: Any) -> EnvInfo:
    raw = env.get_env_info()
    spec = SMAC_MAPS[map_name]
    return EnvInfo(
        env="smac",
        map=map_name,
        n_agents=int(raw["n_agents"]),
        n_actions=int(raw["n_actions"]),
        obs_dim=int(raw["obs_shape"]),
        state_dim=int(raw["state_shape"]),
        episode_limit=int(raw["episode_limit"]),
        unit_types=spec.unit_types,
        unit_type_names=tuple(UNIT_TYPE_NAMES[t] for t in spec.unit_types),
        backend_version=backend_version(),
        has_win_condition=True,
    )


def smac_env_info(map_name: str) -> EnvInfo:
    """Static facts: needs the smac package (building a StarCraft2Env launches nothing)."""
    check_env_map("smac", map_name)
    env = _import_starcraft2env()(map_name=map_name)
    try:
        return _info_from_env(map_name, env)
    finally:
        env.close()


class SmacVecEnv:
    """B StarCraft II envs of one map behind the torch protocol."""

    def __init__(self, map_name: str, n_envs: int, seed: int, device: str = "cpu") -> None:
        check_env_map("smac", map_name)
        StarCraft2Env = _import_starcraft2env()
        _check_sc2(map_name)
        self.map_name = map_name
        self.n_envs = int(n_envs)
        self.seed = int(seed)
        self.device = torch.device(device)
        self.envs = [StarCraft2Env(map_name=map_name, seed=s, continuing_episode=True)
                     for s in env_seeds(self.seed, self.n_envs)]
        self.info = _info_from_env(map_name, self.envs[0])
        self._episodes = 0
        self._checked_types = False
        self._done = np.ones(self.n_envs, dtype=bool)
        self._won = np.zeros(self.n_envs, dtype=bool)
        self._truncated = np.zeros(self.n_envs, dtype=bool)
        self._last: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def _observe(self, env) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.asarray(env.get_obs(), dtype=np.float32),
            np.asarray(env.get_state(), dtype=np.float32),
            np.asarray(env.get_avail_actions(), dtype=bool),
        )

    def _check_unit_types(self) -> None:
        """Compare the static agent order with the live game's, once."""
        self._checked_types = True
        env = self.envs[0]
        try:
            live = [env.get_unit_type_id(env.get_unit_by_id(i), True) for i in range(self.info.n_agents)]
        except Exception:  # private API; a check, not a requirement
            return
        expected = self.info.unit_types
        # SMAC ids are per-map ranks; compare the grouping (which agents share a type).
        same = all((live[i] == live[j]) == (expected[i] == expected[j])
                   for i in range(len(live)) for j in range(len(live)))
        if not same:
            warnings.warn(
                f"smac {self.map_name}: live unit types {live} do not group agents like the static "
                f"table {self.info.unit_type_names}; identity-grouped sharing may be wrong.",
                stacklevel=2,
            )

    def _tensors(self, parts) -> tuple[torch.Tensor, ...]:
        return tuple(torch.from_numpy(np.stack(p)).to(self.device) for p in parts)

    def reset(self) -> Observation:
        self._last = []
        for env in self.envs:
            env.reset()
            self._last.append(self._observe(env))
        if not self._checked_types:
            self._check_unit_types()
        self._episodes += 1
        self._done[:] = False
        self._won[:] = False
        self._truncated[:] = False
        obs, state, avail = self._tensors(zip(*self._last))
        return Observation(obs, state, avail)

    def step(self, actions: torch.Tensor) -> StepResult:
        acts = actions.detach().cpu().numpy()
        reward = np.zeros(self.n_envs, dtype=np.float32)
        for i, env in enumerate(self.envs):
            if self._done[i]:
                continue
            r, terminated, info = env.step(acts[i].tolist())
            reward[i] = r
            self._done[i] = bool(terminated)
            self._won[i] = bool(info.get("battle_won", False))
            # SMAC ends a time-limited episode with terminated=True and says why in
            # info["episode_limit"] (continuing_episode=True above). A lost connection to
            # StarCraft II also ends it, with an empty info: a terminal, as in PyMARL.
            self._truncated[i] = bool(terminated) and bool(info.get("episode_limit", False))
            self._last[i] = self._observe(env)
        obs, state, avail = self._tensors(zip(*self._last))
        d = self.device
        return StepResult(
            obs, state, avail, torch.from_numpy(reward).to(d),
            torch.from_numpy(self._done.copy()).to(d), torch.from_numpy(self._won.copy()).to(d),
            torch.from_numpy(self._truncated.copy()).to(d),
        )

    def get_rng_state(self) -> Any:
        return {"seed": self.seed, "episodes": self._episodes}

    def set_rng_state(self, state: Any) -> None:
        # StarCraft II's randomness lives in the game process; it cannot be restored.
        self._episodes = int(state.get("episodes", 0)) if isinstance(state, dict) else 0

    def close(self) -> None:
        for env in self.envs:
            try:
                env.close()
            except Exception:  # closing a dead SC2 process
                pass

    def __repr__(self) -> str:
        return f"SmacVecEnv(map={self.map_name!r}, n_envs={self.n_envs})"
