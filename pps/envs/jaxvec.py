"""What the jaxmarl backends (`smax`, `mpe`) share: B envs in one jitted vmap behind the torch protocol.

A jaxmarl backend describes one env of its task with four pure functions (`JaxTask`) and
`compile_vec` turns them into a jitted reset/step of B envs that guarantees, for every
backend alike:

* Speed. `jax.jit(env.step)` on a jaxmarl object re-traces its bound-method pytree on every
  call (~11 ms measured on SMAX); the functions here close over the env and are compiled
  once per process per (task, B, device) by the backend's cache. Every output of a step is
  packed into one float32 row per env inside the jitted call and leaves jax as a single
  zero-copy torch view (through numpy, which measured faster than DLPack; DLPack on CUDA);
  `JaxVecEnv` slices it into obs/state/avail/reward/done/won/truncated. Compiled
  executables are also kept on disk across processes (`enable_compilation_cache`).
* Synchronous episodes with frozen finished envs (see `pps.envs.base`): `reset()` starts a
  fresh episode in all B envs with jaxmarl's non-auto-resetting functions; an env whose
  state had already ended before a step keeps its state, pays 0 and keeps its
  done/won/truncated. Its obs/state/avail rows after `done` come from a phantom step and
  are meaningless (the runner masks them).
* Outcomes from the state, never from jaxmarl's `done` (which checks the step limit before
  counting the step, so it fires one step late): `outcome(state)` says, from the state at
  the end of a step, whether the episode terminated, was truncated, or was won.
* RNG: one JAX PRNG key seeded from the stream seed, split inside every jitted call;
  `get_rng_state()` is that key as a numpy uint32 array and `set_rng_state()` restores it,
  so the same key and actions replay identical episodes.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.util
import io
import os
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from types import ModuleType
from typing import Any

import numpy as np
import torch

from pps.envs.base import EnvInfo, Observation, StepResult

# ---------------------------------------------------------------------------- importing jax


def import_jax(device: str = "cpu"):
    """Import jax, pinned to the CPU unless a CUDA device is requested, with a persistent
    compilation cache (see `enable_compilation_cache`).

    Training builds its envs on the CPU (`pps.devices.ENV_DEVICE`), so jax never touches a
    GPU there. A CUDA build of jax would otherwise take 75% of the GPU's memory the moment
    its GPU backend starts, leaving the learner too little: preallocation is turned off for
    every device (`XLA_PYTHON_CLIENT_PREALLOCATE=false`, read when that backend starts). Both
    variables are defaults: a value the user set wins, and a jax imported before pps keeps
    the platforms it was imported with."""
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if "jax" not in sys.modules and not str(device).startswith("cuda"):
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax  # here, not at the top: only after the variables above are set


    enable_compilation_cache(jax)
    return jax


def pin_jax_cpu_threads(threads: int) -> None:
    """With one thread per run, keep XLA's CPU pool on one core too, so that `--cores N`
    packs N runs without oversubscription. Takes effect only before jax is first imported."""
    if threads == 1:
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")


_CACHE_SET = False


def enable_compilation_cache(jax) -> None:
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
    except Exception:  # an unwritable home only costs compile time
        pass


def jax_device(device: str):
    """The jax device for a torch device string ('cpu', 'cuda', 'cuda:1'); the CPU when jax
    sees no GPU."""
    jax = import_jax(device)
    if str(device).startswith("cuda"):
        try:
            gpus = jax.devices("gpu")
        except RuntimeError:
            gpus = []
        if gpus:
            index = int(str(device).split(":")[1]) if ":" in str(device) else 0
            return gpus[index]
    return jax.devices("cpu")[0]


def import_jaxmarl_envs(name: str) -> ModuleType:
    """`jaxmarl.environments.<name>` (`smax`, `mpe`) without importing every other env jaxmarl ships.

    jaxmarl's two package `__init__`s import all of its environments, and some build tables
    with jax as they are imported (STORM turns a list of a million items into an array):
    about 2 of the ~12 s every training process spent before its first step, for envs no run
    uses. So `jaxmarl` and `jaxmarl.environments` are entered as package modules whose
    `__init__` runs only when a name it defines is first asked for (PEP 562 `__getattr__`),
    and Python imports just the submodules the backend needs. `import jaxmarl;
    jaxmarl.make(...)` still works afterwards; the classes are the same objects either way.
    If jaxmarl was imported already, or the partial import fails, the whole package is
    imported as usual."""
    target = f"jaxmarl.environments.{name}"
    if "jaxmarl" not in sys.modules:
        try:
            for package in ("jaxmarl", "jaxmarl.environments"):
                _enter_package_deferred(package)
            return importlib.import_module(target)
        except Exception:  # a jaxmarl laid out otherwise: fall back to the ordinary import
            for module in [m for m in sys.modules if m == "jaxmarl" or m.startswith("jaxmarl.")]:
                del sys.modules[module]
    with quiet_stdout():  # jaxmarl prints when `jaxmarl.environments` runs its __init__
        return importlib.import_module(target)


_DEFERRED_INIT_LOCK = threading.RLock()


def _enter_package_deferred(name: str) -> None:
    """Put package `name` in `sys.modules` (and on its parent package, as an import does) with
    its `__init__` not yet run; the `__init__` runs, once, the first time the module is asked
    for a name that is not one of its submodules. Another thread asking meanwhile waits for it;
    a name the `__init__` itself asks for before defining it is missing, as in any module still
    being imported; an `__init__` that raises is run again at the next request."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{name} is not a package")
    module = importlib.util.module_from_spec(spec)
    running = False

    def __getattr__(attr: str):
        nonlocal running
        # `from package import submodule` asks first: answering "no such name" makes Python
        # import the submodule alone; of the dunders, only those the __init__ defines count
        if ((attr.startswith("__") and attr not in ("__all__", "__version__"))
                or importlib.machinery.PathFinder.find_spec(f"{name}.{attr}", module.__path__)):
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        with _DEFERRED_INIT_LOCK:
            if running:
                raise AttributeError(f"partially initialised module {name!r} has no attribute {attr!r} (yet)")
            if module.__dict__.get("__getattr__") is __getattr__:
                running = True
                try:
                    with quiet_stdout():
                        spec.loader.exec_module(module)
                finally:
                    running = False
                if module.__dict__.get("__getattr__") is __getattr__:
                    del module.__dict__["__getattr__"]
        return getattr(module, attr)  # the real __init__ has run: an ordinary lookup

    module.__getattr__ = __getattr__
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)


@contextlib.contextmanager
def quiet_stdout():
    """Swallow stdout. jaxmarl prints two lines when `jaxmarl.environments` is imported and a
    module it imports resets `sys.stdout` to `sys.__stdout__`, so swap both; another resets
    `sys.stderr` to `sys.__stderr__`, so put stderr back as it was too."""
    saved = sys.stdout, sys.__stdout__, sys.stderr, sys.__stderr__
    sys.stdout = sys.__stdout__ = io.StringIO()
    try:
        yield
    finally:
        sys.stdout, sys.__stdout__, sys.stderr, sys.__stderr__ = saved


def jaxmarl_version() -> str:
    try:
        return f"jaxmarl {version('jaxmarl')}, jax {version('jax')}"
    except Exception:  # a missing or broken install only blanks a record's version
        return "jaxmarl (unknown version)"


# ---------------------------------------------------------------------------- one task, B envs


@dataclass(frozen=True)
class JaxTask:
    """One env of a task as pure jax functions; `compile_vec` vmaps and jits them.

    * `reset(key) -> (raw_obs, state)` for one env;
    * `step(key, state, actions[N] int32) -> (raw_obs, new_state, team_reward)` for one env,
      jaxmarl's non-auto-resetting step;
    * `observe(raw_obs, state) -> (obs [B,N,obs_dim], state [B,state_dim], avail [B,N,A] bool)`
      for all B envs at once (batched `raw_obs` and `state`);
    * `outcome(state) -> (terminated, truncated, won)`, each [B] bool, for all B envs.
    """

    reset: Callable
    step: Callable
    observe: Callable
    outcome: Callable


def compile_vec(task: JaxTask, n_envs: int, device: str):
    """(reset, step, jax device): `reset(key) -> (key, state, packed)` and
    `step(key, state, actions [B,N] int32) -> (key, state, packed)`, both jitted."""
    jax = import_jax(device)
    import jax.numpy as jnp  # after import_jax, which must import jax first

    B = n_envs

    def pack(*arrays):
        """Every per-env output in one float32 row per env, so the host side converts one
        array instead of seven (each conversion waits on the device and costs Python time)."""
        return jnp.concatenate([a.reshape(B, -1).astype(jnp.float32) for a in arrays], axis=1)

    def reset(key):
        key, sub = jax.random.split(key)
        raw, state = jax.vmap(task.reset)(jax.random.split(sub, B))
        # jaxmarl's reset makes some leaves weakly typed and its step strongly typed; make
        # them all strong so step() sees one input signature and compiles once.
        state = jax.tree.map(lambda x: jax.lax.convert_element_type(x, x.dtype), state)
        return key, state, pack(*task.observe(raw, state))

    def step(key, state, actions):
        key, sub = jax.random.split(key)
        raw, new_state, rewards = jax.vmap(task.step)(jax.random.split(sub, B), state, actions.astype(jnp.int32))
        ended_before, cut_before, _ = task.outcome(state)
        was_done = ended_before | cut_before  # [B]: finished before this step -> freeze
        frozen = jax.tree.map(
            lambda old, new: jnp.where(was_done.reshape((B,) + (1,) * (new.ndim - 1)), old, new),
            state, new_state,
        )
        reward = jnp.where(was_done, 0.0, rewards).astype(jnp.float32)
        terminated, truncated, won = task.outcome(frozen)
        obs, world, avail = task.observe(raw, new_state)
        return key, frozen, pack(obs, world, avail, reward, terminated | truncated, won, truncated)

    device_obj = jax_device(device)
    # Inputs are committed to `device` (the key is device_put there), so the calls run there.
    return jax.jit(reset), jax.jit(step), device_obj


# ---------------------------------------------------------------------------- jax -> torch


def silence_readonly_warning() -> None:
    """torch warns once per process when wrapping a read-only numpy array; jax's CPU arrays
    are read-only views. The tensors handed out are never written back into jax (only the
    key and the env state go back in, and those stay jax arrays), so the warning is noise:
    trigger it once here, silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ro = np.zeros(1)
        ro.flags.writeable = False
        torch.from_numpy(ro)


def to_torch(x, device: torch.device) -> torch.Tensor:
    """A jax array as a torch tensor. On the CPU a zero-copy view through numpy: measured
    ~1.5 us per array against ~6 us for `torch.from_dlpack` (both zero-copy)."""
    if device.type == "cpu":
        return torch.from_numpy(np.asarray(x))
    return torch.from_dlpack(x).to(device)


def unpack(packed: torch.Tensor, b: int, n: int, obs_dim: int, state_dim: int, n_actions: int,
           with_outcome: bool) -> tuple[torch.Tensor, ...]:
    """Views into the packed [B, F] row per env: obs, state, avail (+ reward, done, won, truncated)."""
    o, s, a = n * obs_dim, state_dim, n * n_actions
    obs = packed[:, :o].view(b, n, obs_dim)
    state = packed[:, o:o + s]
    avail = packed[:, o + s:o + s + a].reshape(b, n, n_actions) > 0.5
    if not with_outcome:
        return obs, state, avail
    tail = packed[:, o + s + a:]
    return obs, state, avail, tail[:, 0], tail[:, 1] > 0.5, tail[:, 2] > 0.5, tail[:, 3] > 0.5


@cache
def compiled_task(make_task: Callable[[str], JaxTask], map_name: str, n_envs: int, device_key: str) -> tuple:
    """The jitted reset/step of B envs of one task. Cached: traced and compiled once per process."""
    import_jax(device_key)
    return compile_vec(make_task(map_name), n_envs, device_key)


class JaxVecEnv:
    """B envs of one jaxmarl task behind the torch protocol (`pps.envs.base.VecMultiAgentEnv`).

    A backend subclass names its task builder (`make_task`: map -> `JaxTask`) and its
    `EnvInfo` (`make_info`: map -> `EnvInfo`); this class compiles the task once per process
    and owns the PRNG key and the batched jaxmarl state (`_state`).
    """

    name = "jax"
    make_task: Callable[[str], JaxTask]
    make_info: Callable[[str], EnvInfo]

    def __init__(self, map_name: str, n_envs: int, seed: int, device: str = "cpu") -> None:
        self.jax = import_jax(device)  # before anything imports jax, so that the CPU pin applies
        silence_readonly_warning()
        info = type(self).make_info(map_name)
        self.info = info
        self.map_name = info.map
        self.n_envs = int(n_envs)
        self.device = torch.device(device)
        compiled = compiled_task(type(self).make_task, map_name, self.n_envs, str(device))
        self._reset_fn, self._step_fn, self._jax_device = compiled
        self._key = self.jax.device_put(self.jax.random.PRNGKey(int(seed) % (2**32)), self._jax_device)
        self._state = None
        self._dims = (self.n_envs, info.n_agents, info.obs_dim, info.state_dim, info.n_actions)

    # -- protocol

    def reset(self) -> Observation:
        self._key, self._state, packed = self._reset_fn(self._key)
        return Observation(*unpack(to_torch(packed, self.device), *self._dims, with_outcome=False))

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
        return StepResult(*unpack(to_torch(packed, self.device), *self._dims, with_outcome=True))

    def get_rng_state(self) -> Any:
        return np.array(self._key, dtype=np.uint32)

    def set_rng_state(self, state: Any) -> None:
        key = np.asarray(state, dtype=np.uint32)
        if key.shape != (2,):
            raise ValueError(f"{self.name} RNG state must be a uint32 key of shape (2,), got shape {key.shape}")
        self._key = self.jax.device_put(key, self._jax_device)

    def close(self) -> None:
        self._state = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(map={self.map_name!r}, n_envs={self.n_envs}, device={str(self.device)!r})"
