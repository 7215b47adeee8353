"""Building a run group's parts from its configs: envs, agents, mixer, learner, replay, runners, sharing.

Each function builds one part, as BenchMARL's experiment sets up its task, algorithm and
collector one by one; `Trainer.__init__` calls them in a fixed order. Every part is seeded
from the run's own seed streams (`pps.seeding.stream_seeds`), so what a run builds does not
depend on which runs share its group (docs/design.md §3). Nothing here writes a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from pps.buffer import ReplayBuffer
from pps.config import RunConfig
from pps.devices import ENV_DEVICE
from pps.envs import registry
from pps.envs.base import EnvInfo
from pps.envs.group import RunGroupEnv
from pps.envs.scores import ScoreRule, score_rule
from pps.errors import UserError
from pps.learner import Learner, LearnerConfig
from pps.methods import Method
from pps.nets.agents import SlotAgents, SlotLayout
from pps.nets.mixers import make_mixer
from pps.rs_scores import ScoreScale, score_scale
from pps.run_folder import RunFolder
from pps.runner import Runner, swap_agent_ids, swap_layout_agents
from pps.sharing import Aggregator, sharing_groups

# Test episodes run in at most this many envs at once (more episodes take several rounds).
MAX_EVAL_ENVS = 64
# Run keys that may differ between the runs of one group: everything else must be equal.
GROUP_FREE_KEYS = ("seed",)


@dataclass
class Progress:
    """Counters and running sums that a checkpoint must carry."""

    t_env: int = 0
    episodes: int = 0
    aggregations: int = 0
    next_eval: int = 0
    next_checkpoint: int = 0
    wall_s: float = 0.0
    swap_env_steps: int = 0
    rs_weight_peaks: list[float] = field(default_factory=list)  # per RS-PPS event, see trainer.weight_peak
    time_s: dict[str, float] = field(default_factory=dict)  # seconds per pps.timing section
    cost_share: dict[str, Any] | None = None  # this run's share of time_s/wall_s as last checkpointed (pps.run_cost)
    finished: bool = False
    train_returns: list[float] = field(default_factory=list)
    # each learner update's loss since the last evaluation; the latest may still be 0-dim
    # tensors on the learner's device, until `Trainer.read_losses` reads them as floats
    losses: list[float | torch.Tensor] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    # per row of `rows`: the episodes behind it ({"step", "returns", "won"}: pps.run_folder.Evaluation's
    # fields but the phase), plain data so that checkpoints stay readable
    evaluations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class GroupRun:
    """One run of a group: what it owns alone (its streams, test envs, progress and folder)."""

    config: RunConfig
    folder: RunFolder
    progress: Progress
    explore: torch.Generator
    test_env: Any
    test_runner: Runner
    agents: SlotAgents  # a view of this run's slots of the group's agents
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sharing:
    """How a PPS method shares parameters: its aggregator, each run's sharing groups (in the
    group's slot indices) and, for RS-PPS, the swap evaluation that scores the agents."""

    aggregator: Aggregator | None = None
    run_groups: list[list[list[int]]] = field(default_factory=list)
    swap_runner: Runner | None = None
    rs_scale: ScoreScale | None = None


def group_cell(config: RunConfig) -> dict[str, Any]:
    """What every run of a group shares: the config without its seed."""
    return {k: v for k, v in config.to_dict().items() if k not in GROUP_FREE_KEYS}


def check_group(configs: list[RunConfig], n_folders: int) -> None:
    """ValueError unless `configs` can train as one group into `n_folders` run folders."""
    if len(configs) != n_folders or not configs:
        raise ValueError("a run group needs one output folder per config")
    if any(group_cell(c) != group_cell(configs[0]) for c in configs[1:]):
        raise ValueError("the runs of one group must differ in their seed only")
    if len({c.seed for c in configs}) != len(configs):
        raise ValueError("the runs of one group must have different seeds")


def train_env(c: RunConfig, seeds: list[dict[str, int]]) -> RunGroupEnv:
    """Every run's `n_envs` training envs, side by side."""
    return RunGroupEnv([registry.make_env(c.env, c.map, c.n_envs, s["train_env"], device=str(ENV_DEVICE))
                        for s in seeds])


def agents(method: Method, info: EnvInfo, c: RunConfig, seeds: list[dict[str, int]],
           device: torch.device) -> tuple[SlotAgents, SlotLayout]:
    """The group's agent networks, one slot per agent (per run, or one per run when agents
    share a network), each run's slots initialised from its own seed."""
    n, a, r = info.n_agents, info.n_actions, len(seeds)
    ns = slots_per_run(method, info)
    slots = SlotAgents(r * ns, info.obs_dim + a + n, c.rnn_hidden, a)
    slots.reset_parameters([torch.Generator().manual_seed(s["init"]) for s in seeds])
    slots.to(device)
    return slots, SlotLayout(layout_kind(method), n, r * ns, r)


def slots_per_run(method: Method, info: EnvInfo) -> int:
    return 1 if method.shared_agents else info.n_agents


def layout_kind(method: Method) -> str:
    return "shared" if method.shared_agents else "per_agent"


def learner(c: RunConfig, info: EnvInfo, slots: SlotAgents, layout: SlotLayout, seeds: list[dict[str, int]],
            device: torch.device) -> Learner:
    """The group's mixer (one per run, stacked) and the learner that trains agents and mixers."""
    mixer = make_mixer(c.effective_mixer, info.n_agents, info.state_dim, c.mixer_embed, c.hypernet_hidden,
                       c.hypernet_layers, init_seeds=[s["init"] for s in seeds]).to(device)
    return Learner(slots, layout, mixer, LearnerConfig(
        gamma=c.gamma, lr=c.lr, optimizer=c.optimizer, grad_clip=c.grad_clip, double_q=c.double_q,
        td_lambda=c.td_lambda, target_update_interval=c.target_update_interval, reward_scale=c.effective_reward_scale,
        matmul_precision=c.matmul_precision))


def replay(c: RunConfig, info: EnvInfo, seeds: list[dict[str, int]]) -> ReplayBuffer:
    """The group's replay buffer, one store per run, each sampled from the run's own stream."""
    return ReplayBuffer(c.buffer_size, info.episode_limit, info.n_agents, info.obs_dim, info.state_dim,
                        info.n_actions, compact=c.compact_buffer, seed=[s["replay"] for s in seeds])


def eval_env(c: RunConfig, seed: int) -> Any:
    """Envs for greedy evaluation episodes (test and absolute evaluations): one round holds
    up to MAX_EVAL_ENVS episodes. Every evaluation env of a task has the same size, so the
    jaxmarl backends compile its step once."""
    return registry.make_env(c.env, c.map, min(c.eval_episodes, MAX_EVAL_ENVS), seed, device=str(ENV_DEVICE))


def score_rule_or_none(c: RunConfig) -> ScoreRule | None:
    """The task's score rule (`pps.envs.scores`), the tables' score, for the progress bar and
    run.json; None for a return-scored task without a row in the reference table yet (training
    does not need one: the bar then shows the raw return)."""
    try:
        return score_rule(c.env, c.map)
    except UserError:
        return None


def group_runs(configs: list[RunConfig], folders: list[RunFolder], seeds: list[dict[str, int]],
               method: Method, info: EnvInfo, slots: SlotAgents, device: torch.device) -> list[GroupRun]:
    """Each run's own parts: its exploration stream, test envs and runner, and its slots."""
    c = configs[0]
    ns = slots_per_run(method, info)
    solo_layout = SlotLayout(layout_kind(method), info.n_agents, ns)
    runs = []
    for i, (cfg, folder, s) in enumerate(zip(configs, folders, seeds)):
        test_env = eval_env(c, s["test_env"])
        runs.append(GroupRun(
            config=cfg, folder=folder, progress=Progress(next_checkpoint=c.checkpoint_interval),
            explore=torch.Generator().manual_seed(s["explore"]), test_env=test_env,
            test_runner=Runner(test_env, solo_layout, device),
            agents=slots.slot_view(i * ns, (i + 1) * ns)))
    return runs


def sharing(method: Method, c: RunConfig, info: EnvInfo, slots: SlotAgents, seeds: list[dict[str, int]],
            device: torch.device) -> Sharing:
    """The aggregator of a PPS method (nothing for the baselines) and RS-PPS's swap evaluation
    in envs of its own."""
    if not method.aggregates:
        return Sharing()
    n, r = info.n_agents, len(seeds)
    groups = sharing_groups(info.unit_types, c.groups)
    run_groups = [[[i * n + m for m in members] for members in groups] for i in range(r)]
    aggregator = Aggregator(method, [g for run in run_groups for g in run], c.pp_shared, c.opt_state_on_aggregate)
    aggregator.parameter_names(slots)  # fail early on a bad pp_shared list
    if method.aggregation != "reward_weighted":
        return Sharing(aggregator, run_groups)
    rs_scale = score_scale(c.env, c.map)
    swap_env = RunGroupEnv([registry.make_env(c.env, c.map, n * c.rs_eval_episodes, s["swap_env"],
                                              device=str(ENV_DEVICE)) for s in seeds])
    ids = swap_agent_ids(n, r * n, c.rs_eval_episodes, c.rs_swap_agent_id)
    swap_runner = Runner(swap_env, swap_layout_agents(slots, n), device, agent_ids=ids)
    return Sharing(aggregator, run_groups, swap_runner, rs_scale)
