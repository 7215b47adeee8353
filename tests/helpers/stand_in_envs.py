"""Stand-in backends that speak `pps.envs.base`'s protocol with outcomes fixed in advance,
so the runner, the buffer and the trainer can be checked cell by cell.

`BlockEnv`: env i ends after `lengths[i]` steps; after that it returns garbage (obs 999,
reward 7, won) that the runner must mask, as the protocol allows. Every observation encodes
(env, step), and the env asserts that every action it receives is available.
`ScriptedEnv`: env i ends after `lengths[i]` steps with a win, a loss or a time-limit cut.
"""

from __future__ import annotations

import torch

from pps.envs.base import EnvInfo, Observation, StepResult

N, A, OBS, STATE, GARBAGE = 2, 4, 3, 2, 999.0


class _Stateless:
    """What a stand-in needs of the protocol beyond reset/step: no RNG to save, nothing to close."""

    def get_rng_state(self):
        return None

    def set_rng_state(self, state) -> None:
        pass

    def close(self) -> None:
        pass


class BlockEnv(_Stateless):
    """B envs with fixed episode lengths and outcomes; a step pays `reward_of(actions)`."""

    def __init__(self, lengths: list[int], wins: list[bool] | None = None, limit: int = 6,
                 reward_of=None) -> None:
        self.n_envs, self.lengths = len(lengths), torch.tensor(lengths)
        self.wins = torch.tensor(wins or [False] * len(lengths))
        self.info = EnvInfo("stub", "stub", n_agents=N, n_actions=A, obs_dim=OBS, state_dim=STATE,
                            episode_limit=limit, unit_types=(0,) * N, unit_type_names=("marine",) * N)
        self.reward_of = reward_of or (lambda actions: torch.arange(1.0, self.n_envs + 1))  # env i pays i+1
        self.t, self.steps_taken, self.received = 0, 0, []

    def avail(self) -> torch.Tensor:
        """Agent k may not use action (t + k) % A, nor action 3 at odd steps."""
        mask = torch.ones(self.n_envs, N, A, dtype=torch.bool)
        for k in range(N):
            mask[:, k, (self.t + k) % A] = False
        if self.t % 2:
            mask[:, :, 3] = False
        return mask

    def observe(self) -> Observation:
        env = torch.arange(self.n_envs, dtype=torch.float32)
        obs = (100 * env + self.t).view(-1, 1, 1).expand(-1, N, OBS).clone()
        state = (100 * env + self.t).view(-1, 1).expand(-1, STATE).clone()
        ended = self.t > self.lengths  # steps after an env's end: garbage
        obs[ended], state[ended] = GARBAGE, GARBAGE
        return Observation(obs, state, self.avail())

    def reset(self) -> Observation:
        self.t = 0
        return self.observe()

    def step(self, actions: torch.Tensor) -> StepResult:
        avail = self.avail()
        live = self.t < self.lengths
        picked = avail.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        assert picked[live].all(), f"unavailable action at t={self.t}: {actions.tolist()}"
        self.received.append(actions.clone())
        self.t += 1
        self.steps_taken += 1
        done = self.t >= self.lengths
        after = self.t > self.lengths
        reward = torch.where(after, 7.0, self.reward_of(actions))
        won = (done & self.wins) | after  # garbage `won` once an env has ended
        o = self.observe()
        return StepResult(o.obs, o.state, o.avail, reward, done, won, torch.zeros(self.n_envs, dtype=torch.bool))



class ScriptedEnv(_Stateless):
    """A stand-in backend: env i ends after `lengths[i]` steps with `endings[i]`: "win",
    "loss" (a terminal that is not a win) or "cut" (truncation)."""

    def __init__(self, lengths: list[int], endings: list[str], limit: int = 6) -> None:
        self.n_envs, self.lengths = len(lengths), lengths
        self.truncates = [e == "cut" for e in endings]
        self.wins = [e == "win" for e in endings]
        self.info = EnvInfo("stub", "stub", n_agents=2, n_actions=3, obs_dim=4, state_dim=5,
                            episode_limit=limit, unit_types=(0, 0), unit_type_names=("marine",) * 2)
        self.t = 0

    def _obs(self) -> Observation:
        b = self.n_envs
        return Observation(torch.full((b, 2, 4), float(self.t)), torch.full((b, 5), float(self.t)),
                           torch.ones(b, 2, 3, dtype=torch.bool))

    def reset(self) -> Observation:
        self.t = 0
        return self._obs()

    def step(self, actions: torch.Tensor) -> StepResult:
        self.t += 1
        length = torch.tensor(self.lengths)
        done = self.t >= length
        truncated = done & torch.tensor(self.truncates)
        won = done & torch.tensor(self.wins)
        reward = torch.where(self.t <= length, 1.0, 0.0)
        o = self._obs()
        return StepResult(o.obs, o.state, o.avail, reward, done, won, truncated)
