"""SMAX backend: jaxmarl's `HeuristicEnemySMAX`, B envs vmapped in one jitted call.

Speed. `jax.jit(env.step)` on the jaxmarl object re-traces its bound-method pytree on
every call (~11 ms per call measured); this module instead jits its *own* functions that
close over the env, once per process per (map, B, device) (`_compiled`), so a step of 8
3m envs costs a fraction of a millisecond. Every output of a step is packed into one
float32 row per env inside the jitted call and leaves jax as a single zero-copy torch view
(through numpy, which measured faster than DLPack; DLPack on CUDA), which `_unpack` slices
into obs/state/avail/reward/done/won; actions enter as the int64 torch tensor's numpy view. Compiled executables are also kept
on disk across processes (`_enable_compilation_cache`).

Episodes are synchronous (see `pps.envs.base`). The backend uses jaxmarl's
non-auto-resetting `step_env`; `reset()` starts a fresh episode in all B envs. An env
that has finished is *frozen*: its jaxmarl state stops changing, its reward is 0 and
`done`/`won` stay at their terminal values. Its obs/state/avail rows after `done` are
those of a phantom step from the frozen state and are meaningless (the runner masks them).

`won` is derived from the state at the end of the step: every enemy dead and at least
one ally alive (jaxmarl's own condition for its win bonus; both teams dead is a draw).
An episode that hits the 100-step limit with enemies alive is not won.

RNG: the backend owns one JAX PRNG key seeded from `seed`; every reset/step splits it
inside the jitted call. `get_rng_state()` is that key as a numpy uint32 array;
`set_rng_state()` restores it, so the same key and actions replay identical episodes.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from pps.envs.base import EnvInfo, Observation, StepResult
from pps.envs.registry import SMAX_MAPS, UNIT_TYPE_NAMES, check_env_map


def _import_jax(device: str):
    """Import jax, pinned to the CPU unless a CUDA device is requested, with a persistent
    compilation cache (see `_enable_compilation_cache`)."""
    if "jax" not in sys.modules and not str(device).startswith("cuda"):
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    _enable_compilation_cache(jax)
    return jax


def pin_jax_cpu_threads(threads: int) -> None:
    """With one thread per run, keep XLA's CPU pool on one core too, so that `--cores N`
    packs N runs without oversubscription. Takes effect only before jax is first imported."""
    if threads == 1:
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")


_CACHE_SET = False


def _enable_compilation_cache(jax) -> None:
    """Compiling one map's step takes seconds and every training run is its own process, so
    keep compiled executables on disk: `$PPS_JAX_CACHE_DIR`, else ~/.cache/pps-bench/jax.
    `PPS_JAX_CACHE_DIR=off` disables it; a cache the user configured for jax is left alone.
    The cache changes compile time only, never results."""
    global _CACHE_SET
    if _CACHE_SET:
        return
    _CACHE_SET = True
    setting = os.environ.get("PPS_JAX_CACHE_DIR")
    if setting is not None and setting.strip().lower() in ("", "off", "0", "none", "false"):
        return
    if os.environ.get("JAX_COMPILATION_CACHE_DIR") or jax.config.jax_compilation_cache_dir:
        return
    path = os.path.expanduser(setting or os.path.join("~", ".cache", "pps-bench", "jax"))
    try:
        os.makedirs(path, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", path)
    except Exception:  # noqa: BLE001 - an unwritable home only costs compile time
        pass


def _jax_device(device: str):
    jax = _import_jax(device)
    if str(device).startswith("cuda"):
        try:
            gpus = jax.devices("gpu")
        except RuntimeError:
            gpus = []
        if gpus:
            index = int(str(device).split(":")[1]) if ":" in str(device) else 0
            return gpus[index]
    return jax.devices("cpu")[0]


@contextlib.contextmanager
def _quiet_stdout():
    """Swallow stdout. jaxmarl prints two lines when `jaxmarl.environments` is imported and a
    module it imports resets `sys.stdout` to `sys.__stdout__`, so swap both."""
    saved = sys.stdout, sys.__stdout__
    sys.stdout = sys.__stdout__ = io.StringIO()
    try:
        yield
    finally:
        sys.stdout, sys.__stdout__ = saved


def _import_smax():
    with _quiet_stdout():
        from jaxmarl.environments.smax import HeuristicEnemySMAX, map_name_to_scenario
    return HeuristicEnemySMAX, map_name_to_scenario


@lru_cache(maxsize=None)
def _jaxmarl_env(map_name: str):
    HeuristicEnemySMAX, map_name_to_scenario = _import_smax()
    return HeuristicEnemySMAX(scenario=map_name_to_scenario(map_name))


def backend_version() -> str:
    from importlib.metadata import version

    try:
        return f"jaxmarl {version('jaxmarl')}, jax {version('jax')}"
    except Exception:  # noqa: BLE001
        return "jaxmarl (unknown version)"


def smax_env_info(map_name: str) -> EnvInfo:
    """Static facts from the jaxmarl env object (built, never stepped) and the map table."""
    check_env_map("smax", map_name)
    _import_jax("cpu")
    env = _jaxmarl_env(map_name)
    spec = SMAX_MAPS[map_name]
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


@lru_cache(maxsize=None)
def _compiled(map_name: str, n_envs: int, device_key: str):
    """The jitted reset/step of B envs of one map. Cached: traced and compiled once per process."""
    jax = _import_jax(device_key)
    import jax.numpy as jnp

    env = _jaxmarl_env(map_name)
    agents = tuple(env.agents)
    n_allies = env.num_allies
    B = n_envs

    state_scale = jnp.asarray(world_state_scale(env))

    def observe(obs_dict, inner_state):
        obs = jnp.stack([obs_dict[a] for a in agents], axis=1)  # [B, N, obs_dim]
        avail_dict = jax.vmap(env._env.get_avail_actions)(inner_state)
        avail = jnp.stack([avail_dict[a] for a in agents], axis=1).astype(jnp.bool_)
        world = jnp.clip(obs_dict["world_state"].astype(jnp.float32) * state_scale, -1.0, 1.0)
        return obs.astype(jnp.float32), world, avail

    def pack(*arrays):
        """Every per-env output in one float32 row per env, so the host side converts one
        array instead of six (each conversion waits on the device and costs Python time)."""
        return jnp.concatenate([a.reshape(B, -1).astype(jnp.float32) for a in arrays], axis=1)

    def won_of(inner_state):
        alive = inner_state.unit_alive  # [B, n_units]
        return ~jnp.any(alive[:, n_allies:], axis=1) & jnp.any(alive[:, :n_allies], axis=1)

    def reset(key):
        key, sub = jax.random.split(key)
        obs_dict, state = jax.vmap(env.reset)(jax.random.split(sub, B))
        # jaxmarl's reset makes some leaves weakly typed and step_env strongly typed; make
        # them all strong so step() sees one input signature and compiles once.
        state = jax.tree.map(lambda x: jax.lax.convert_element_type(x, x.dtype), state)
        return key, state, pack(*observe(obs_dict, state.state))

    def step(key, state, actions):
        key, sub = jax.random.split(key)
        actions = actions.astype(jnp.int32)

        def one(k, s, a):
            return env.step_env(k, s, {ag: a[i] for i, ag in enumerate(agents)})

        obs_dict, new_state, rewards, dones, _ = jax.vmap(one)(jax.random.split(sub, B), state, actions)
        was_done = state.state.done  # [B]: finished before this step -> freeze
        frozen = jax.tree.map(
            lambda old, new: jnp.where(was_done.reshape((B,) + (1,) * (new.ndim - 1)), old, new),
            state, new_state,
        )
        reward = jnp.where(was_done, 0.0, rewards[agents[0]]).astype(jnp.float32)
        done = was_done | dones["__all__"]
        won = done & won_of(frozen.state)
        obs, world, avail = observe(obs_dict, new_state.state)
        return key, frozen, pack(obs, world, avail, reward, done, won)

    device = _jax_device(device_key)
    # Inputs are committed to `device` (the key is device_put there), so the calls run there.
    return jax.jit(reset), jax.jit(step), device


def _silence_readonly_warning() -> None:
    """torch warns once per process when wrapping a read-only numpy array; jax's CPU arrays
    are read-only views. The tensors handed out are never written back into jax (only the
    key and the env state go back in, and those stay jax arrays), so the warning is noise:
    trigger it once here, silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ro = np.zeros(1)
        ro.flags.writeable = False
        torch.from_numpy(ro)


def _to_torch(x, device: torch.device) -> torch.Tensor:
    """A jax array as a torch tensor. On the CPU a zero-copy view through numpy: measured
    ~1.5 us per array against ~6 us for `torch.from_dlpack` (both zero-copy)."""
    if device.type == "cpu":
        return torch.from_numpy(np.asarray(x))
    return torch.from_dlpack(x).to(device)


def _unpack(packed: torch.Tensor, b: int, n: int, obs_dim: int, state_dim: int, n_actions: int,
            with_outcome: bool) -> tuple[torch.Tensor, ...]:
    """Views into the packed [B, F] row per env: obs, state, avail (+ reward, done, won)."""
    o, s, a = n * obs_dim, state_dim, n * n_actions
    obs = packed[:, :o].view(b, n, obs_dim)
    state = packed[:, o:o + s]
    avail = packed[:, o + s:o + s + a].reshape(b, n, n_actions) > 0.5
    if not with_outcome:
        return obs, state, avail
    tail = packed[:, o + s + a:]
    return obs, state, avail, tail[:, 0], tail[:, 1] > 0.5, tail[:, 2] > 0.5


class SmaxVecEnv:
    """B SMAX envs of one map (see the module docstring for episode, won and RNG rules)."""

    def __init__(self, map_name: str, n_envs: int, seed: int, device: str = "cpu") -> None:
        check_env_map("smax", map_name)
        self.jax = _import_jax(device)
        _silence_readonly_warning()
        self.map_name = map_name
        self.n_envs = int(n_envs)
        self.device = torch.device(device)
        self.info = smax_env_info(map_name)
        self._reset_fn, self._step_fn, self._jax_device = _compiled(map_name, self.n_envs, str(device))
        self._key = self.jax.device_put(self.jax.random.PRNGKey(int(seed) % (2**32)), self._jax_device)
        self._state = None
        info = self.info
        self._dims = (self.n_envs, info.n_agents, info.obs_dim, info.state_dim, info.n_actions)

    # -- protocol

    def reset(self) -> Observation:
        self._key, self._state, packed = self._reset_fn(self._key)
        return Observation(*_unpack(_to_torch(packed, self.device), *self._dims, with_outcome=False))

    def step(self, actions: torch.Tensor) -> StepResult:
        if self._state is None:
            raise RuntimeError("step() before reset()")
        if actions.shape != (self.n_envs, self.info.n_agents):
            raise ValueError(f"actions must be [{self.n_envs}, {self.info.n_agents}], got {tuple(actions.shape)}")
        if actions.device.type == "cpu":
            acts = actions.detach().numpy().astype(np.int32, copy=False)
        else:
            acts = self.jax.dlpack.from_dlpack(actions.detach().to(torch.int32).contiguous())
        self._key, self._state, packed = self._step_fn(self._key, self._state, acts)
        return StepResult(*_unpack(_to_torch(packed, self.device), *self._dims, with_outcome=True))

    def get_rng_state(self) -> Any:
        return np.array(self._key, dtype=np.uint32)

    def set_rng_state(self, state: Any) -> None:
        key = np.asarray(state, dtype=np.uint32)
        if key.shape != (2,):
            raise ValueError(f"SMAX RNG state must be a uint32 key of shape (2,), got shape {key.shape}")
        self._key = self.jax.device_put(key, self._jax_device)

    def close(self) -> None:
        self._state = None

    def __repr__(self) -> str:
        return f"SmaxVecEnv(map={self.map_name!r}, n_envs={self.n_envs}, device={str(self.device)!r})"
