"""Vectorised rollouts: B envs stepped together, per-agent epsilon-greedy, greedy evaluation.

One `collect` call plays one synchronous episode in each of the B envs (PyMARL's parallel
runner): envs that finish early are masked until the slowest one ends. Training, test and
RS-PPS swap-evaluation episodes use three separate env instances with their own seeds, so
evaluating more or less often never changes what training sees.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from pps.buffer import EpisodeBatch
from pps.devices import env_device
from pps.envs.base import VecMultiAgentEnv
from pps.nets.agents import NEG_INF, SlotAgents, SlotLayout


@dataclass
class EpisodeStats:
    """Per-env outcomes of one `collect` call."""

    returns: torch.Tensor  # [B] undiscounted team return
    lengths: torch.Tensor  # [B] steps
    won: torch.Tensor  # [B] bool

    @property
    def steps(self) -> int:
        return int(self.lengths.sum().item())


def epsilon_at(step: int, start: float, finish: float, anneal_steps: int) -> float:
    """Linear annealing over environment steps, then constant."""
    frac = min(step / anneal_steps, 1.0)
    return start + frac * (finish - start)


def select_actions(q: torch.Tensor, avail: torch.Tensor, epsilon: float | Sequence[float],
                   generator: torch.Generator | Sequence[torch.Generator] | None,
                   playing: Sequence[bool] | None = None) -> torch.Tensor:
    """Per-agent epsilon-greedy over available actions. q, avail `[B, N, A]` -> `[B, N]`.

    Each agent draws its own coin (the authors' code drew one for the whole team); a random
    action is uniform over that agent's available actions. A run group passes one epsilon
    and one generator per run: the B envs are R equal run blocks, and each block draws from
    its own run's generator exactly what that run alone would draw. A run that is not
    `playing` (its episodes have all ended while other runs play on) draws nothing, as it
    would not have been asked alone.
    """
    b, n, a = avail.shape
    # Rows with no available action (envs that already ended) fall back to action 0.
    avail = avail.clone()
    avail[..., 0] |= ~avail.any(dim=-1)
    greedy = q.masked_fill(~avail, NEG_INF).argmax(dim=-1)
    epsilons = [epsilon] if isinstance(epsilon, (int, float)) else list(epsilon)
    generators = generator if isinstance(generator, (list, tuple)) else [generator] * len(epsilons)
    if all(e <= 0.0 for e in epsilons):
        return greedy
    per_run = b // len(epsilons)
    actions = []
    for run, (eps, gen) in enumerate(zip(epsilons, generators)):
        rows = slice(run * per_run, (run + 1) * per_run)
        if eps <= 0.0 or (playing is not None and not playing[run]):
            actions.append(greedy[rows])
            continue
        explore = torch.rand(per_run, n, generator=gen) < eps
        weights = avail[rows].float().reshape(per_run * n, a)
        random = torch.multinomial(weights, 1, generator=gen).view(per_run, n)
        actions.append(torch.where(explore, random, greedy[rows]))
    return actions[0] if len(actions) == 1 else torch.cat(actions)


class Runner:
    """Plays episodes with a given slot network in one vectorised env.

    Two devices (`pps.devices`): the agents' (`device`, the learner's) and the env's
    (`env_device`, the host), where the episode bookkeeping, the exploration draws from the
    runs' CPU generators and the recorded `EpisodeBatch` stay. A step copies the agents'
    input to `device` once and their Q-values back once; the env needs its actions on the
    host, so nothing else crosses per step.
    """

    def __init__(self, env: VecMultiAgentEnv, layout: SlotLayout, device: torch.device,
                 agent_ids: torch.Tensor | None = None) -> None:
        self.env, self.layout, self.device = env, layout, device
        # `[B, N, N]` one-hot ids the agents see; None: agent k sees k (`swap_agent_ids`)
        self.agent_ids = agent_ids
        self.env_device = env_device(env)
        info = env.info
        self.n_envs, self.n_agents, self.n_actions = env.n_envs, info.n_agents, info.n_actions
        self.limit = info.episode_limit
        self.env_seconds = 0.0  # time spent inside env.reset/step, for the overhead split
        self.n_runs = getattr(env, "n_runs", 1)  # a run group's env: R run blocks of envs

    def _timed(self, call, *args):
        start = time.perf_counter()
        try:
            return call(*args)
        finally:
            self.env_seconds += time.perf_counter() - start

    @torch.no_grad()
    def collect(self, agents: SlotAgents, epsilon: float | Sequence[float],
                generator: torch.Generator | Sequence[torch.Generator] | None,
                record: bool) -> tuple[EpisodeStats, EpisodeBatch | None]:
        """One episode in every env. With `record`, also the padded `EpisodeBatch` for the buffer.
        A run group's env holds R run blocks of envs; `epsilon` and `generator` are then per run."""
        b, n, a, limit = self.n_envs, self.n_agents, self.n_actions, self.limit
        first = self._timed(self.env.reset)
        obs, state, avail = first.obs, first.state, first.avail.bool()
        if record:
            # Uninitialised: every step writes its whole slice (zeros for envs that ended), and
            # the steps never played are zeroed once at the end. Zero-filling it up front wrote
            # the played steps twice: at 27 agents the batch is 64 MB per episode, whatever
            # the episode's length.
            ep = EpisodeBatch(
                obs=torch.empty(b, limit + 1, n, obs.shape[-1]),
                state=torch.empty(b, limit + 1, state.shape[-1]),
                avail=torch.empty(b, limit + 1, n, a, dtype=torch.bool),
                actions=torch.empty(b, limit, n, dtype=torch.long),
                reward=torch.empty(b, limit),
                terminated=torch.empty(b, limit, dtype=torch.bool),
                filled=torch.empty(b, limit, dtype=torch.bool),
            )
            ep.obs[:, 0], ep.state[:, 0], ep.avail[:, 0] = obs, state, avail
            zero = obs.new_zeros(())
        returns = torch.zeros(b)
        lengths = torch.zeros(b, dtype=torch.long)
        won = torch.zeros(b, dtype=torch.bool)
        running = torch.ones(b, dtype=torch.bool)
        hidden = self.layout.to_slots(torch.zeros(b, n, agents.hidden, device=self.device))
        last_action = torch.zeros(b, n, a)
        agent_ids = torch.eye(n).expand(b, n, n)
        if self.agent_ids is not None:
            agent_ids = self.agent_ids.to(agent_ids.device)
        played = 0  # steps played so far (the slowest env's)
        for t in range(limit):
            x = torch.cat([obs, last_action, agent_ids], dim=-1).to(self.device)
            q, hidden = agents.step(self.layout.to_slots(x), hidden)
            q = self.layout.from_slots(q, b).to(self.env_device)
            playing = running.view(self.n_runs, -1).any(dim=1).tolist() if self.n_runs > 1 else None
            actions = select_actions(q, avail, epsilon, generator, playing)
            result = self._timed(self.env.step, actions)
            if record:
                # a run whose episodes have all ended records nothing more (alone it stopped)
                ep.actions[:, t] = actions if playing is None else actions * run_rows(playing, b)
                ep.reward[:, t] = torch.where(running, result.reward, 0.0)
                ep.filled[:, t] = running
                # The backend says how each episode ended (docs/design.md §2): a time limit
                # bootstraps, a win, loss or draw does not. An env still running after
                # `limit` steps counts as truncated (never terminated).
                ep.terminated[:, t] = running & result.done & ~result.truncated
            returns += torch.where(running, result.reward, 0.0)
            lengths += running.long()
            won |= running & result.won
            obs, state, avail = result.obs, result.state, result.avail.bool()
            if record:  # what follows step t, kept only for envs that were still playing
                # written in place (`out=`): no temporary of the step's observations per field
                torch.where(running.view(b, 1, 1), obs, zero, out=ep.obs[:, t + 1])
                torch.where(running.view(b, 1), state, zero, out=ep.state[:, t + 1])
                torch.logical_and(avail, running.view(b, 1, 1), out=ep.avail[:, t + 1])
            running &= ~result.done
            played = t + 1
            if not running.any():
                break
            last_action = torch.nn.functional.one_hot(actions, a).float()
        if record:  # the steps after the last one played: zeros, as an env that ended records
            for field in (ep.actions, ep.reward, ep.terminated, ep.filled):
                field[:, played:].zero_()
            for field in (ep.obs, ep.state, ep.avail):
                field[:, played + 1:].zero_()
        stats = EpisodeStats(returns=returns, lengths=lengths, won=won)
        return stats, (ep if record else None)


def run_rows(playing: Sequence[bool], n_envs: int) -> torch.Tensor:
    """`[B, 1]` 1/0 per env: whether its run is still playing (runs are equal env blocks)."""
    flags = torch.tensor(playing, dtype=torch.long)
    return flags.repeat_interleave(n_envs // len(playing)).unsqueeze(1)


def swap_layout_agents(agents: SlotAgents, n_agents: int | None = None) -> SlotLayout:
    """The RS-PPS swap-evaluation layout: env block i is played entirely by slot i's network
    (agent i's; in a run group, slot rN+i is run r's agent i). `n_agents` is the env's agent
    count, which equals the slot count for a run alone."""
    return SlotLayout("per_env_group", agents.n_slots if n_agents is None else n_agents, agents.n_slots)


def swap_agent_ids(n_agents: int, n_slots: int, episodes_per_slot: int, mode: str) -> torch.Tensor | None:
    """The ids of the swap evaluation's `[B, N, N]` inputs (B = n_slots * episodes_per_slot
    envs, block g played by slot g, which is agent g % N's network): `agent` gives seat k
    id k, as in training (None: the runner's default); `own` gives every seat of block g
    the id of the agent whose network plays it. A per-agent network has only ever seen
    its own id, so `own` evaluates it on inputs it was trained on; with `agent`, the input
    weights of the other ids are untrained (or averaged in at the last aggregation)."""
    if mode == "agent":
        return None
    if mode != "own":
        raise ValueError(f"unknown swap agent id mode {mode!r}; valid: own, agent")
    owner = torch.arange(n_slots) % n_agents
    ids = torch.eye(n_agents)[owner].repeat_interleave(episodes_per_slot, dim=0)  # [B, N]
    return ids.unsqueeze(1).expand(-1, n_agents, -1).contiguous()


@torch.no_grad()
def swap_scores(runner: Runner, agents: SlotAgents, episodes_per_agent: int) -> tuple[torch.Tensor, int]:
    """RS-PPS reward scores `[N]` (and the env steps spent): mean greedy team return when every
    agent acts with agent i's network.

    All N candidates run at once: the runner's env holds N * episodes_per_agent envs, block i
    driven by slot i, each episode from a fresh hidden state.
    """
    scores, steps = swap_scores_per_run(runner, agents, episodes_per_agent, 1)
    return scores, steps[0]


@torch.no_grad()
def swap_scores_per_run(runner: Runner, agents: SlotAgents, episodes_per_agent: int,
                        n_runs: int) -> tuple[torch.Tensor, list[int]]:
    """`swap_scores` of a run group: scores `[R*N]` (slot order) and each run's env steps.
    The swap env holds R run blocks of N * episodes_per_agent envs, as `swap_layout_agents`
    maps them (env block g is played by slot g, run r's candidates are slots rN..rN+N-1)."""
    stats, _ = runner.collect(agents, epsilon=0.0, generator=None, record=False)
    scores = stats.returns.view(agents.n_slots, episodes_per_agent).mean(dim=1)
    steps = [int(x) for x in stats.lengths.view(n_runs, -1).sum(dim=1).tolist()]
    return scores, steps
