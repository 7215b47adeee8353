"""MPE's task table and availability check (import-cheap; the backend is `pps.envs.mpe`).

jaxmarl's cooperative multi-agent particle tasks with discrete actions. Every size is fixed
by the task, so the table carries each agent's real observation size and action count;
`tests/envs/test_mpe.py` checks them against the installed jaxmarl. The backend pads agents to
one `obs_dim` / `n_actions` (see `pps.envs.mpe`), so `TaskSpec.obs_dim`/`n_actions` are the
padded sizes and `state_dim` is the sum of the real observation sizes.

No task has a win condition: every episode runs to jaxmarl's 25-step limit and tasks are
scored by team return, normalised with the committed reference table
(`pps.envs.references`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pps.envs.smax_tasks import jaxmarl_problem
from pps.envs.tasks import Backend, TaskSpec

MPE_EPISODE_LIMIT = 25  # jaxmarl's MAX_STEPS for every MPE env


@dataclass(frozen=True)
class MpeTask:
    """How to build one task from jaxmarl, and its agents' real sizes (in jaxmarl's agent order)."""

    map: str
    jaxmarl_class: str  # a class of jaxmarl.environments.mpe
    kwargs: tuple[tuple[str, int], ...]  # constructor arguments beyond jaxmarl's defaults
    roles: tuple[str, ...]  # per agent, a unit type name (pps.envs.tasks.UNIT_TYPE_NAMES)
    obs_sizes: tuple[int, ...]  # per agent, jaxmarl's observation size
    action_counts: tuple[int, ...]  # per agent, jaxmarl's number of discrete actions
    note: str = ""

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(
            "mpe", self.map, self.roles, (), MPE_EPISODE_LIMIT, self.note,
            n_actions=max(self.action_counts), obs_dim=max(self.obs_sizes), state_dim=sum(self.obs_sizes),
        )


def _spread(map_name: str, n: int) -> MpeTask:
    # Own velocity and position (4), every landmark relative to the agent (2n), every other
    # agent relative to it (2(n-1)) and their (silent, always zero) messages (2(n-1)).
    obs = 4 + 2 * n + 4 * (n - 1)
    return MpeTask(map_name, "SimpleSpreadMPE", (("num_agents", n), ("num_landmarks", n)),
                   ("agent",) * n, (obs,) * n, (5,) * n,
                   f"{n} agents cover {n} landmarks; collisions cost")


MPE_TASKS: dict[str, MpeTask] = {
    t.map: t
    for t in [
        _spread("simple_spread_v3", 3),
        _spread("simple_spread_v3_5ag", 5),
        MpeTask("simple_reference_v3", "SimpleReferenceMPE", (), ("agent",) * 2, (21, 21), (50, 50),
                "each agent knows the other's goal; action = move (5) x message (10)"),
        MpeTask("simple_speaker_listener_v4", "SimpleSpeakerListenerMPE", (), ("speaker", "listener"),
                (3, 11), (3, 5),
                "speaker (obs 3, 3 actions) and listener (obs 11, 5 actions), padded to obs 11 and 5 actions"),
    ]
}

MPE_MAPS: dict[str, TaskSpec] = {name: task.spec for name, task in MPE_TASKS.items()}

BACKEND = Backend(
    name="mpe",
    tasks=MPE_MAPS,
    vec_env="pps.envs.mpe:MpeVecEnv",
    env_info="pps.envs.mpe:mpe_env_info",
    problem=jaxmarl_problem,
    has_win_condition=False,
    description="jaxmarl's cooperative particle tasks (MPE), discrete actions",
    team_reward="sum of the agents' jaxmarl rewards",
    reference_policies="pps.envs.mpe_heuristics:REFERENCE_POLICIES",
)
