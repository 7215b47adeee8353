"""Replay-buffer bytes per stored episode, compact (float16/bool/uint8) vs all-float32 layout."""

from __future__ import annotations

from typing import Any

from pps.bench.common import Settings, row
from pps.buffer import ReplayBuffer
from pps.envs.registry import env_info


def bench_memory(s: Settings) -> list[dict[str, Any]]:
    rows = []
    for map_name in s.memory_maps:
        info = env_info("smax", map_name)
        sizes = {}
        for compact in (True, False):
            buf = ReplayBuffer(1, info.episode_limit, info.n_agents, info.obs_dim, info.state_dim, info.n_actions,
                               compact=compact)
            sizes[compact] = buf.bytes_per_episode()
        for compact, label in ((True, "compact"), (False, "float32")):
            rows.append(row("buffer_memory", f"{map_name} {label}", sizes[compact] / 1024, "KiB/episode",
                            map=map_name, layout=label, bytes_per_episode=sizes[compact],
                            episode_limit=info.episode_limit,
                            mib_per_5000_episodes=round(sizes[compact] * 5000 / 2**20, 1)))
    return rows
