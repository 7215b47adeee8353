"""SMAX env throughput: the suite's backend (`SmaxVecEnv`) vs a bare jitted jaxmarl loop.

Both step B envs of one map for `env_steps` steps from a reset, with the same
pre-drawn random actions (the policy does not change the cost of a SMAX step; finished envs
keep being stepped in both: the backend freezes them, the bare loop steps past `done`).
Throughput is env steps summed over the B envs per second.

- backend: `SmaxVecEnv.step(torch actions)` -> torch obs/state/avail/reward/done/won, i.e.
  what the runner pays per step (the backend's vmap(step_env), available actions, freezing
  finished envs, `won`, and the jax -> torch hand-over).
- bare: `jax.jit(lambda key, state, a: vmap(env.step_env)(split(key, B), state, a))`
  closing over the jaxmarl env, actions already jax arrays, results left in jax (async
  dispatch, blocked once at the end): the floor any backend built on jaxmarl can reach.
- bare, blocked per step: the same, waiting for each step's result before the next call,
  as any loop whose policy reads the observation must (reported for context).
Repeats alternate between the two so slow drifts of the machine hit both alike.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import torch

from pps.bench.common import Settings, row, say
from pps.envs.registry import make_env


def _bare_loop(map_name: str, b: int, seed: int):
    """(reset, step) jitted over B envs of the jaxmarl env object itself."""
    # jax here, not at the top: `pps bench` pins jax's CPU threads first, and jax takes them
    # from the environment only when it is first imported
    import jax
    from jaxmarl.environments.smax import HeuristicEnemySMAX, map_name_to_scenario  # imported quietly by pps.envs.smax

    env = HeuristicEnemySMAX(scenario=map_name_to_scenario(map_name))
    agents = tuple(env.agents)

    @jax.jit
    def reset(key):
        _, state = jax.vmap(env.reset)(jax.random.split(key, b))
        # strong types, so that step() compiles once (reset makes some leaves weakly typed)
        return jax.tree.map(lambda x: jax.lax.convert_element_type(x, x.dtype), state)

    @jax.jit
    def step(key, state, actions):
        def one(k, st, a):
            return env.step_env(k, st, {ag: a[i] for i, ag in enumerate(agents)})

        return jax.vmap(one)(jax.random.split(key, b), state, actions)

    return reset, step


def bench_envs(s: Settings) -> list[dict[str, Any]]:
    import jax  # here, not at the top: see _bare_loop
    import jax.numpy as jnp

    rows = []
    k = s.env_steps
    for map_name in s.env_maps:
        for b in s.env_batches:
            env = make_env("smax", map_name, b, s.seed)
            n, a = env.info.n_agents, env.info.n_actions
            g = torch.Generator().manual_seed(s.seed)
            actions = torch.randint(0, a, (k, b, n), generator=g)
            j_actions = [jnp.asarray(actions[i].numpy().astype(np.int32)) for i in range(k)]
            keys = list(jax.random.split(jax.random.PRNGKey(s.seed), k))
            bare_reset, bare_step = _bare_loop(map_name, b, s.seed)

            def backend_rep() -> float:
                env.reset()
                t0 = time.perf_counter()
                for i in range(k):
                    env.step(actions[i])
                return time.perf_counter() - t0

            def bare_rep() -> float:
                state = jax.block_until_ready(bare_reset(keys[0]))
                t0 = time.perf_counter()
                for i in range(k):
                    _, state, _, _, _ = bare_step(keys[i], state, j_actions[i])
                jax.block_until_ready(state)
                return time.perf_counter() - t0

            def bare_synced_rep() -> float:
                state = jax.block_until_ready(bare_reset(keys[0]))
                t0 = time.perf_counter()
                for i in range(k):
                    out = bare_step(keys[i], state, j_actions[i])
                    state = jax.block_until_ready(out)[1]  # a policy needs each step's obs before the next
                return time.perf_counter() - t0

            say(f"env {map_name} B={b}: compiling backend and bare loop")
            t0 = time.perf_counter()
            env.reset()
            env.step(actions[0])
            env.step(actions[0])
            compile_backend = time.perf_counter() - t0
            t0 = time.perf_counter()
            st = bare_reset(keys[0])
            st = bare_step(keys[0], st, j_actions[0])[1]
            jax.block_until_ready(bare_step(keys[0], st, j_actions[0]))
            compile_bare = time.perf_counter() - t0
            backend_times, bare_times, synced_times = [], [], []
            for _ in range(max(s.env_repeats, 1)):
                backend_times.append(backend_rep())
                bare_times.append(bare_rep())
                synced_times.append(bare_synced_rep())
            backend_sps = b * k / statistics.median(backend_times)
            bare_sps = b * k / statistics.median(bare_times)
            synced_sps = b * k / statistics.median(synced_times)
            say(f"env {map_name} B={b}: backend {backend_sps:,.0f} steps/s, bare {bare_sps:,.0f} steps/s, "
                f"bare blocked per step {synced_sps:,.0f} steps/s")
            common = dict(map=map_name, n_envs=b, steps_per_repeat=k, repeats=s.env_repeats)
            rows.append(row("env_throughput", f"{map_name} B={b} backend", backend_sps, "env steps/s",
                            impl="backend", first_calls_s=round(compile_backend, 3), **common))
            rows.append(row("env_throughput", f"{map_name} B={b} bare jit", bare_sps, "env steps/s",
                            impl="bare", first_calls_s=round(compile_bare, 3), **common))
            rows.append(row("env_throughput", f"{map_name} B={b} bare jit, blocked per step", synced_sps,
                            "env steps/s", impl="bare_synced", **common))
            env.close()
    return rows
