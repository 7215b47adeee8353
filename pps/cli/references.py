"""`pps references`: measure R_random and R_ref of return-scored tasks, and (with --write) commit them.

    pps references                                   # every return-scored task, print only
    pps references --env mpe --map simple_spread_v3 --episodes 1000 --write

Both policies play `--episodes` episodes with the suite's own backend (`registry.make_env`),
in `MEASURE_ENVS` parallel envs, from fixed seeds: the envs' stream seed is `--seed` for
both policies (so they face the same initial positions, which makes their difference less
noisy), and the random policy's generator is seeded with `--seed` as well. The same command
on the same code and jaxmarl version therefore writes the same row. `--write` replaces the
rows of the measured tasks in the table (`pps.envs.references`) and keeps every other row.
"""

from __future__ import annotations

import argparse
import importlib
import math
import statistics
from pathlib import Path

import pandas as pd
import torch

from pps.envs import registry
from pps.envs.references import COLUMNS, load_references, references_path
from pps.errors import UserError

MEASURE_ENVS = 250  # parallel envs per batch of episodes (a fixed part of the measurement)
DEFAULT_EPISODES = 1000
TEAM_REWARD = "sum of the agents' rewards"


def scored_envs() -> tuple[str, ...]:
    """Envs whose tasks are scored by return and that declare reference policies."""
    return tuple(name for name, b in registry.BACKENDS.items() if not b.has_win_condition and b.reference_policies)


def _policies(env: str) -> dict:
    b = registry.backend(env)
    if b.has_win_condition or not b.reference_policies:
        raise UserError(
            f"Env '{env}' is scored by win rate, so it needs no reference returns. "
            f"Envs scored by return: {', '.join(scored_envs())}."
        )
    module, _, attribute = b.reference_policies.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _returns(env, policy, episodes: int, generator) -> list[float]:
    """Team returns of `episodes` episodes of `policy(obs, avail, generator) -> actions`."""
    out: list[float] = []
    while len(out) < episodes:
        first = env.reset()
        obs, avail = first.obs, first.avail.bool()
        running = torch.ones(env.n_envs, dtype=torch.bool)
        total = torch.zeros(env.n_envs, dtype=torch.float64)
        for _ in range(env.info.episode_limit):
            result = env.step(policy(obs, avail, generator))
            total += torch.where(running, result.reward.double(), 0.0)
            running &= ~result.done
            obs, avail = result.obs, result.avail.bool()
            if not running.any():
                break
        if running.any():
            raise RuntimeError(f"{env!r}: an episode ran past its limit of {env.info.episode_limit} steps")
        out += total.tolist()
    return out[:episodes]


def random_action(obs, avail, generator):
    """Uniform over each agent's available actions."""
    b, n, a = avail.shape
    return torch.multinomial(avail.reshape(b * n, a).float(), 1, generator=generator).view(b, n)


def measure(env_name: str, map_name: str, episodes: int = DEFAULT_EPISODES, seed: int = 0) -> dict:
    """One row of the reference table: R_random and R_ref of one task, measured now."""
    registry.check_env_map(env_name, map_name)
    policies = _policies(env_name)
    if map_name not in policies:
        raise UserError(f"No reference policy for {env_name}/{map_name} (pps/envs/*_heuristics.py).")
    if episodes < 2:
        raise UserError(f"--episodes must be at least 2 (a standard error needs two), got {episodes}.")
    if not 0 <= seed < 2**32:
        raise UserError(f"--seed must be an integer from 0 to 2**32 - 1, got {seed}.")
    reference = policies[map_name]
    n_envs = min(MEASURE_ENVS, episodes)
    rows = {}
    for name, policy in (("random", random_action), ("ref", lambda o, a, g: reference.act(o, a))):
        env = registry.make_env(env_name, map_name, n_envs, seed)
        returns = _returns(env, policy, episodes, torch.Generator().manual_seed(seed))
        env.close()
        rows[name] = (statistics.fmean(returns), statistics.stdev(returns) / math.sqrt(len(returns)))
    info = env.info
    return {
        "env": env_name, "map": map_name,
        "r_random": round(rows["random"][0], 4), "r_random_se": round(rows["random"][1], 4),
        "r_random_episodes": episodes,
        "r_ref": round(rows["ref"][0], 4), "r_ref_se": round(rows["ref"][1], 4), "r_ref_episodes": episodes,
        "r_ref_source": reference.description, "episode_limit": info.episode_limit, "team_reward": TEAM_REWARD,
        "seed": seed, "backend_version": info.backend_version,
        "command": f"pps references --env {env_name} --map {map_name} --episodes {episodes} --seed {seed} --write",
    }


def write_rows(rows: list[dict], path: Path) -> None:
    """Replace the measured (env, map) rows in the table at `path`, keep the others, order by
    the registry's task order."""
    new = pd.DataFrame(rows, columns=list(COLUMNS))
    if path.is_file():
        old = load_references(path)
        keys = set(zip(new["env"], new["map"]))
        old = old[[(e, m) not in keys for e, m in zip(old["env"], old["map"])]]
        new = pd.concat([old, new], ignore_index=True)
    order = {(e.env, e.map): i for i, e in enumerate(registry.list_maps())}
    new = new.assign(_order=[order.get((e, m), len(order)) for e, m in zip(new["env"], new["map"])])
    new = new.sort_values(["_order", "env", "map"]).drop(columns="_order")
    tmp = path.with_suffix(path.suffix + ".tmp")
    new.to_csv(tmp, index=False, lineterminator="\n")
    tmp.replace(path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env",
                        help=f"only this env (default: every env scored by return: {', '.join(scored_envs())})")
    parser.add_argument("--map", nargs="+", metavar="MAP", help="only these tasks (default: every task of the env)")
    parser.add_argument("--episodes", type=int, default=DEFAULT_EPISODES,
                        help=f"episodes per policy (default {DEFAULT_EPISODES})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the envs and of the random policy (default 0)")
    parser.add_argument("--write", action="store_true", help="write the rows into the committed table")
    parser.add_argument("--out", type=Path, help=f"table to write (default: the package's {references_path().name})")


def run(args: argparse.Namespace) -> int:
    envs = (args.env,) if args.env else scored_envs()
    if args.map and not args.env:
        raise UserError("--map needs --env (a map name is only unique within its env).")
    tasks = []
    for env in envs:
        policies = _policies(env)  # UserError for an env scored by win rate
        maps = args.map or [m for m in registry.backend(env).tasks if m in policies]
        for map_name in maps:
            registry.check_env_map(env, map_name)
            tasks.append((env, map_name))
    rows = []
    print(f"{'env':5} {'map':28} {'R_random':>18} {'R_ref':>18}  episodes")
    for env, map_name in tasks:
        row = measure(env, map_name, args.episodes, args.seed)
        rows.append(row)
        print(f"{env:5} {map_name:28} {row['r_random']:>10.3f} ± {row['r_random_se']:<5.3f} "
              f"{row['r_ref']:>10.3f} ± {row['r_ref_se']:<5.3f}  {args.episodes}", flush=True)
        margin = 3 * math.hypot(row["r_random_se"], row["r_ref_se"])
        if row["r_ref"] <= row["r_random"] + margin:
            print(f"warning: on {env}/{map_name} the reference policy does not clearly beat the random one "
                  f"(by {row['r_ref'] - row['r_random']:.3f}, less than 3 standard errors = {margin:.3f})")
    if args.write:
        path = args.out or references_path()
        write_rows(rows, path)
        print(f"wrote {len(rows)} row(s) to {path}")
    return 0
