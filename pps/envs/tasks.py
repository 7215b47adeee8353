"""What every backend declares about itself, in plain data (import-cheap: no jax, torch, smac).

A backend is two modules (see `pps.envs` for the why):

* `pps/envs/<name>_tasks.py` (cheap): its task table (`TaskSpec` per map), whether it can
  run here, and a `Backend` record naming the heavy module that builds its envs;
* `pps/envs/<name>.py` (heavy): the vectorised env behind the torch protocol.

`pps.envs.registry` lists the `<name>_tasks` modules, one line per backend, and answers every
question (`pps maps`, config validation, the workflow's planning) from these records alone.

Unit types are one canonical table for all backends (`UNIT_TYPE_NAMES`): a unit type id
means the same thing whatever the map, so `groups: unit_type` and run records can compare
them across backends. New names are appended, so existing ids never change; the first six
are jaxmarl SMAX's own ids (a SMAX unit type id is its canonical id).
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# 0-5: jaxmarl SMAX's ids in its own order; then the unit types that only appear in SMAC
# maps; "random" marks agents whose type is drawn anew every episode (smacv2_*: one group);
# then the roles of particle (MPE) tasks: "agent" for tasks whose agents are all alike,
# "speaker" and "listener" for simple_speaker_listener.
UNIT_TYPE_NAMES: tuple[str, ...] = (
    "marine", "marauder", "stalker", "zealot", "zergling", "hydralisk",
    "medivac", "colossus", "baneling", "spine crawler", "random",
    "agent", "speaker", "listener",
)
UNIT_TYPE_ID: dict[str, int] = {name: i for i, name in enumerate(UNIT_TYPE_NAMES)}


@dataclass(frozen=True)
class TaskSpec:
    """Static facts of one (env, map) pair, known without importing the backend.

    `agents` holds each agent's unit type (or role) name in the env's agent order; a name
    must be in `UNIT_TYPE_NAMES`. The sizes `n_actions`, `obs_dim` and `state_dim` are what
    the memory estimate (`pps.memory`) sizes a run with before any env is built; each backend
    fills them in from its env's own formulas or task table (None where only the live env
    knows them: such a task cannot be sized in advance). The backends' tests check the given
    sizes against the live env or its published sizes.
    """

    env: str
    map: str
    agents: tuple[str, ...]
    enemies: tuple[str, ...]
    episode_limit: int
    note: str = ""
    n_actions: int | None = None
    obs_dim: int | None = None
    state_dim: int | None = None

    def __post_init__(self) -> None:
        unknown = [name for name in self.agents if name not in UNIT_TYPE_ID]
        if unknown:  # a table typo, caught when the table is imported
            raise ValueError(f"{self.env}/{self.map}: unit type(s) {unknown} are not in UNIT_TYPE_NAMES")

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def n_enemies(self) -> int:
        return len(self.enemies)

    @property
    def unit_types(self) -> tuple[int, ...]:
        return tuple(UNIT_TYPE_ID[name] for name in self.agents)


# The name the rest of the suite has used since the first backend.
MapSpec = TaskSpec


def team(*parts: tuple[int, str]) -> tuple[str, ...]:
    """('stalker', 'stalker', 'zealot') from (2, 'stalker'), (1, 'zealot')."""
    return tuple(name for count, name in parts for _ in range(count))


def summarize_units(names: tuple[str, ...]) -> str:
    """'2 stalker, 3 zealot' in first-appearance order ('' for no units)."""
    counts = Counter(names)
    return ", ".join(f"{counts[n]} {n}" for n in dict.fromkeys(names))


def missing_modules_problem(modules: tuple[str, ...], install: str) -> str:
    """'' when every module is importable, else which are missing and how to install them.
    Uses `find_spec`, which imports nothing heavy."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        return f"{' and '.join(missing)} not installed ({install})"
    return ""


def _no_problem(_map_name: str) -> str:
    return ""


@dataclass(frozen=True)
class Backend:
    """One backend as the registry sees it: its tasks, its checks, and where its code lives.

    `vec_env` and `env_info` are "module:attribute" paths into the heavy module, imported
    only when an env is built, so listing or validating never pays for jax, torch or smac.
    """

    name: str
    tasks: Mapping[str, TaskSpec]
    vec_env: str  # "module:Class", called as Class(map_name, n_envs, seed, device=device)
    env_info: str  # "module:function", called as function(map_name) -> EnvInfo
    problem: Callable[[], str]  # '' when the backend can run here, else why not and how to fix it
    has_win_condition: bool  # False: episodes have no outcome, tasks are scored by return
    description: str = ""
    # what the team reward of a step is, as run.json records it (docs/design.md §2)
    team_reward: str = ""
    # '' when one task can run (given that the backend can), else why not (e.g. a missing map file)
    task_problem: Callable[[str], str] = _no_problem
    # what `env_info` needs ('' = fine); default: the same as `problem`. SMAC's env_info needs
    # the smac package but not StarCraft II.
    info_problem: Callable[[], str] | None = None
    # "module:attribute" of a {map: ReferencePolicy} table for return-scored tasks, or ''
    reference_policies: str = ""
    # The most team return one episode can pay (a won battle with every enemy dead), for
    # backends with a win condition; None where tasks are scored against reference returns.
    # RS-PPS scores returns as a fraction of it (pps.rs_scores).
    max_return: float | None = None

    def __post_init__(self) -> None:
        wrong = [m for m, spec in self.tasks.items() if (spec.env, spec.map) != (self.name, m)]
        if wrong:
            raise ValueError(f"backend {self.name}: task table entries {wrong} are filed under the wrong name")
