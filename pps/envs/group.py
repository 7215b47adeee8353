"""The envs of a run group behind the one-env protocol: R runs' env blocks side by side.

A run group (docs/design.md §3) steps R runs together. Each run keeps its own B envs with its own
seed, so its episodes are exactly the ones it would play alone; `RunGroupEnv` presents them
as one env of R*B envs in run blocks (run r's envs are rows rB..rB+B-1), which is the
layout every part of a group (slots, replay, learner) shares. RNG state is per run, so each
run's checkpoint carries its own envs' state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from pps.envs.base import Observation, StepResult, VecMultiAgentEnv


class RunGroupEnv:
    """R vectorised envs of one map, one per run, stepped as one env of R*B envs."""

    def __init__(self, envs: Sequence[VecMultiAgentEnv]) -> None:
        if not envs:
            raise ValueError("a run group needs at least one env")
        sizes = {e.n_envs for e in envs}
        if len(sizes) != 1:
            raise ValueError(f"every run of a group has the same number of envs, got {sorted(sizes)}")
        self.envs = list(envs)
        self.info = envs[0].info
        self.n_runs = len(self.envs)
        self.per_run = envs[0].n_envs
        self.n_envs = self.per_run * self.n_runs
        devices = {str(getattr(e, "device", "cpu")) for e in envs}
        if len(devices) != 1:
            raise ValueError(f"every run of a group hands out tensors on one device, got {sorted(devices)}")
        self.device = torch.device(devices.pop())  # where the envs' tensors live (`pps.devices`)

    def reset(self) -> Observation:
        parts = [env.reset() for env in self.envs]
        self._last: list[StepResult | None] = [None] * self.n_runs
        return parts[0] if self.n_runs == 1 else Observation(*(torch.cat(field) for field in zip(*parts)))

    def step(self, actions: torch.Tensor) -> StepResult:
        """Step every run whose episodes are not all over. A run whose B envs have all ended
        is not stepped again until the next reset (its rows repeat its last result), exactly
        as a run alone stops stepping then: a step draws from the env's RNG even for ended
        episodes, so stepping it on would change the run's later episodes."""
        parts = []
        for i, (env, block) in enumerate(zip(self.envs, actions.split(self.per_run))):
            last = self._last[i]
            if last is None or not bool(last.done.all()):
                # kept as returned: a backend hands out fresh tensors (or views of a fresh
                # jax output) every step, so a repeated result is never overwritten
                last = self._last[i] = env.step(block)
            parts.append(last)
        # a run alone passes its env's tensors through untouched (no copy per step)
        return parts[0] if self.n_runs == 1 else StepResult(*(torch.cat(field) for field in zip(*parts)))

    def get_rng_state(self) -> list[Any]:
        """One state per run, in run order."""
        return [env.get_rng_state() for env in self.envs]

    def set_rng_state(self, state: list[Any]) -> None:
        for env, s in zip(self.envs, state, strict=True):
            env.set_rng_state(s)

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def __repr__(self) -> str:
        return f"RunGroupEnv({self.n_runs} x {self.envs[0]!r})"
