"""Cost of one aggregation event for A-, RS- and PP-PPS, and the training time it is amortised over.

A/PP: `Aggregator.weights` + `Aggregator.apply` on N-slot agents whose Adam state exists
(policy `keep`, the authors' and the default). RS: the same plus its swap evaluation,
`swap_scores` over a real SMAX env of N x rs_eval_episodes envs (greedy, all N candidate
networks at once), which is where nearly all of its cost lies.

For the RS overhead target the same module also times what a training iteration spends
outside the learner: `Runner.collect` of `train_envs` recorded epsilon-greedy episodes
(the env time of training), per episode.
"""

from __future__ import annotations

from typing import Any

import torch

from pps.bench.common import Settings, median_time, row, say
from pps.bench.learner import build_learner, synthetic_batch
from pps.config import DEFAULT_PP_SHARED
from pps.envs.registry import env_info, make_env
from pps.methods import get_method
from pps.nets.agents import SlotLayout
from pps.runner import Runner, swap_layout_agents, swap_scores
from pps.sharing import Aggregator, sharing_groups


def bench_aggregation(s: Settings) -> list[dict[str, Any]]:
    device = torch.device("cpu")
    rows = []
    for map_name in s.agg_maps:
        info = env_info("smax", map_name)
        n, a = info.n_agents, info.n_actions
        learner = build_learner("independent", n, info.obs_dim + a + n, s.hidden, a, info.state_dim, device, s.seed)
        # one real update so the optimiser carries per-slot state, as mid-training
        learner.update(synthetic_batch(2, 4, n, info.obs_dim, info.state_dim, a, device, s.seed))
        agents, optimizer = learner.agents, learner.slot_optimizer
        groups = sharing_groups(info.unit_types, "unit_type")
        for method in ("a-pps", "pp-pps"):
            agg = Aggregator(get_method(method), groups, DEFAULT_PP_SHARED, "keep")

            def event(agg: Aggregator = agg) -> None:
                agg.apply(agents, optimizer, agg.weights(n, None, 1.0))

            median, _ = median_time(event, 2, s.agg_repeats)
            say(f"aggregation {map_name} {method}: {median * 1e3:.2f} ms/event")
            rows.append(row("aggregation", f"{map_name} N={n} {method}", median * 1e3, "ms/event",
                            map=map_name, n_agents=n, method=method, repeats=s.agg_repeats))

        # RS-PPS: swap evaluation on a real env + weighted aggregation
        n_swap = n * s.rs_eval_episodes
        say(f"aggregation {map_name} rs-pps: swap env of {n_swap} SMAX envs (first call compiles)")
        swap_runner = Runner(make_env("smax", map_name, n_swap, s.seed + 1), swap_layout_agents(agents), device)
        rs = Aggregator(get_method("rs-pps"), groups, DEFAULT_PP_SHARED, "keep")
        steps: list[int] = []

        def rs_event() -> None:
            scores, n_steps = swap_scores(swap_runner, agents, s.rs_eval_episodes)
            steps.append(n_steps)
            rs.apply(agents, optimizer, rs.weights(n, scores, 1.0))

        median, _ = median_time(rs_event, 1, s.rs_repeats)
        say(f"aggregation {map_name} rs-pps: {median:.3f} s/event ({steps[-1]} swap env steps)")
        rows.append(row("aggregation", f"{map_name} N={n} rs-pps (incl. swap eval)", median * 1e3, "ms/event",
                        map=map_name, n_agents=n, method="rs-pps", swap_envs=n_swap,
                        rs_eval_episodes=s.rs_eval_episodes, swap_env_steps=steps[-1], repeats=s.rs_repeats))

        # env time of training: recorded epsilon-greedy episodes in the training runner
        train_runner = Runner(make_env("smax", map_name, s.train_envs, s.seed + 2), SlotLayout("per_agent", n, n),
                              device)
        explore = torch.Generator().manual_seed(s.seed)
        lengths: list[float] = []

        def collect() -> None:
            stats, _ = train_runner.collect(agents, 0.5, explore, record=True)
            lengths.append(float(stats.lengths.float().mean()))

        say(f"train collect {map_name}: {s.train_envs} envs (first call compiles)")
        median, _ = median_time(collect, 1, s.rs_repeats)
        per_episode = median / s.train_envs
        rows.append(row("train_collect", f"{map_name} N={n} n_envs={s.train_envs}", per_episode * 1e3,
                        "ms/episode", map=map_name, n_agents=n, n_envs=s.train_envs, epsilon=0.5,
                        mean_episode_len=sum(lengths) / len(lengths)))
    return rows
