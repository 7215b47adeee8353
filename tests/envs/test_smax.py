"""The env registry, `pps maps` and the SMAX backend (jaxmarl, CPU). MPE: tests/envs/test_mpe.py.

Compiling a map's step takes a few seconds, so tests share one (map, B) per map: the
backend caches compiled functions per process.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest
import torch

from pps.envs import registry
from pps.envs.smax_tasks import SMAX_MAPS
from pps.errors import UserError

B = 8
STOP, EAST, N_MOVE = 4, 1, 5


# ---------------------------------------------------------------------------- registry


def test_check_env_map_accepts_known_pairs():
    registry.check_env_map("smax", "3m")
    registry.check_env_map("smax", "smacv2_10_units")
    registry.check_env_map("smac", "MMM2")
    registry.check_env_map("smac", "corridor")


def test_unknown_env_lists_valid_envs():
    with pytest.raises(UserError) as e:
        registry.check_env_map("starcraft", "3m")
    assert "smax" in str(e.value) and "smac" in str(e.value)


def test_unknown_map_lists_valid_maps_and_hints():
    with pytest.raises(UserError) as e:
        registry.check_env_map("smax", "3M")
    msg = str(e.value)
    assert "3M" in msg and "Did you mean '3m'" in msg and "2s3z" in msg
    with pytest.raises(UserError) as e:  # a SMAC-only map on SMAX names the env that has it
        registry.check_env_map("smax", "MMM2")
    assert "smac" in str(e.value)


def test_make_env_rejects_bad_names_before_importing_anything():
    with pytest.raises(UserError):
        registry.make_env("nope", "3m", 2, 0)
    with pytest.raises(UserError):
        registry.make_env("smax", "nope", 2, 0)
    with pytest.raises(UserError):
        registry.make_env("smax", "3m", 0, 0)


def test_registry_import_is_cheap():
    code = (
        "import sys; from pps.envs import registry; registry.check_env_map('smax', '3m'); "
        "registry.list_maps(); print(sorted(m for m in ('jax', 'jaxmarl', 'torch', 'smac') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# In a fresh interpreter, what a training process imports at its start, then the rest of jaxmarl.
_IMPORTS = """
import sys
from pps.envs.jaxvec import import_jax, import_jaxmarl_envs
import_jax()  # as every backend does first: jax on the CPU
from pps.envs.smax import _import_smax
from pps.envs.mpe import _import_mpe
_import_smax(), _import_mpe()
print(sorted(m.split(".")[2] for m in sys.modules if m.startswith("jaxmarl.environments.") and m.count(".") == 2))
import jaxmarl
same = [jaxmarl.environments.smax.HeuristicEnemySMAX is _import_smax()[0], jaxmarl.__version__ is not None,
        import_jaxmarl_envs("mpe") is _import_mpe()]  # jaxmarl imported already: the same modules
from jaxmarl.environments import HeuristicEnemySMAX
same.append(HeuristicEnemySMAX is _import_smax()[0])
print(all(same), type(jaxmarl.make("MPE_simple_spread_v3")).__name__, "'storm'" in str(dir(jaxmarl.environments)))
"""


def _fresh(prelude: str = "") -> tuple[str, str]:
    """(the jaxmarl envs imported by the two backends, then what the whole of jaxmarl gives)"""
    done = subprocess.run([sys.executable, "-c", prelude + _IMPORTS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded, whole = done.stdout.splitlines()  # nothing else: jaxmarl's own "Importing ..." lines stay silent
    return loaded, whole


def test_a_backend_imports_only_its_own_jaxmarl_envs_and_jaxmarl_stays_whole():
    """Not jaxmarl's other envs (2.3 s of a process's start), and the rest of jaxmarl still
    there afterwards: `jaxmarl.make`, with the very same classes."""
    loaded, whole = _fresh()
    assert "'mpe'" in loaded and "'smax'" in loaded and "'storm'" not in loaded and "'overcooked'" not in loaded
    assert whole == "True SimpleSpreadMPE True"


def test_a_jaxmarl_the_partial_import_cannot_handle_is_imported_whole():
    loaded, whole = _fresh("import pps.envs.jaxvec as J\n"
                           "def broken(name): raise ImportError('laid out otherwise')\n"
                           "J._enter_package_deferred = broken\n")
    assert "'storm'" in loaded and whole == "True SimpleSpreadMPE True"


def test_every_registered_backend_is_complete():
    """Each registered `<name>_tasks` module declares a backend under its registered name whose
    env class and info function exist, and whose tasks use canonical unit types."""
    import importlib

    assert registry.ENV_NAMES == tuple(registry.BACKEND_MODULES) == ("smax", "smac", "mpe")
    for name, module in registry.BACKEND_MODULES.items():
        b = importlib.import_module(module).BACKEND
        assert b.name == name and registry.backend(name) is b and registry.MAPS[name] is b.tasks
        for path in (b.vec_env, b.env_info):
            mod, _, attr = path.partition(":")
            assert callable(getattr(importlib.import_module(mod), attr)), path
        for spec in b.tasks.values():
            assert all(t < len(registry.UNIT_TYPE_NAMES) for t in spec.unit_types)
        assert isinstance(b.has_win_condition, bool)
    assert registry.UNIT_TYPE_NAMES[:6] == ("marine", "marauder", "stalker", "zealot", "zergling", "hydralisk")
    assert registry.MAPS["smax"] is SMAX_MAPS  # the registry lists the backend's own table


def test_smax_table_matches_jaxmarl():
    """The static SMAX table (used without importing jax) agrees with the installed jaxmarl."""
    from pps.envs.smax import _import_smax

    _import_smax()
    from jaxmarl.environments.smax.smax_env import MAP_NAME_TO_SCENARIO

    assert set(MAP_NAME_TO_SCENARIO) == set(SMAX_MAPS)
    for name, scenario in MAP_NAME_TO_SCENARIO.items():
        spec = SMAX_MAPS[name]
        assert (spec.n_agents, spec.n_enemies) == (scenario.num_allies, scenario.num_enemies), name
        if scenario.smacv2_unit_type_generation:
            assert set(spec.agents) == {"random"}
            continue
        types = [int(t) for t in scenario.unit_types]
        assert tuple(types[: spec.n_agents]) == spec.unit_types, name
        assert tuple(registry.UNIT_TYPE_NAMES[t] for t in types[spec.n_agents:]) == spec.enemies, name


def test_env_info_static_facts():
    info = registry.env_info("smax", "3m")
    assert (info.n_agents, info.obs_dim, info.state_dim, info.n_actions, info.episode_limit) == (3, 75, 72, 8, 100)
    assert info.unit_type_names == ("marine",) * 3 and len(set(info.unit_types)) == 1
    info = registry.env_info("smax", "8m")
    assert (info.n_agents, info.obs_dim, info.state_dim, info.n_actions) == (8, 205, 192, 13)
    info = registry.env_info("smax", "2s3z")
    assert info.unit_type_names == ("stalker",) * 2 + ("zealot",) * 3
    assert info.unit_types[0] == info.unit_types[1] != info.unit_types[2] == info.unit_types[4]
    assert info.backend_version.startswith("jaxmarl ") and "jax " in info.backend_version
    info = registry.env_info("smax", "smacv2_5_units")
    assert info.unit_type_names == ("random",) * 5


def test_list_maps():
    entries = registry.list_maps()
    pairs = {(e.env, e.map) for e in entries}
    assert ("smax", "3m") in pairs and ("smac", "MMM2") in pairs and ("smac", "corridor") in pairs
    by = {(e.env, e.map): e for e in entries}
    assert by["smax", "2s3z"].unit_types == "2 stalker, 3 zealot"
    assert by["smax", "3m"].usable_here and by["smax", "3m"].episode_limit == 100
    assert by["smac", "MMM2"].n_agents == 10 and by["smac", "corridor"].episode_limit == 400
    assert all(e.env == "smac" for e in registry.list_maps("smac"))
    assert by["smax", "3m"].has_win_condition and by["smac", "MMM2"].has_win_condition
    assert not by["mpe", "simple_spread_v3"].has_win_condition and by["mpe", "simple_spread_v3"].n_enemies == 0


# ---------------------------------------------------------------------------- pps maps


def test_pps_maps_table(pps_cli):
    out = pps_cli("maps")
    assert out.returncode == 0, out.stderr
    assert " 3m " in out.stdout and "MMM2" in out.stdout and "usable here" in out.stdout
    assert "Importing submoduled" not in out.stdout


def test_pps_maps_json_and_filter(pps_cli):
    out = pps_cli("maps", "--env", "smax", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {r["env"] for r in rows} == {"smax"} and any(r["map"] == "3m" for r in rows)


def test_pps_maps_unknown_env_exits_2_without_traceback(pps_cli):
    out = pps_cli("maps", "--env", "nope")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "smax" in out.stderr


# ---------------------------------------------------------------------------- SMAX stepping


def scripted(avail: torch.Tensor) -> torch.Tensor:
    """Attack the first enemy in range, else move east (towards the enemy), else stop."""
    n_actions = avail.shape[-1]
    attack = avail[..., N_MOVE:]
    first = attack.float().argmax(-1) + N_MOVE
    move = torch.where(avail[..., EAST], torch.full_like(first, EAST), torch.full_like(first, STOP))
    return torch.where(attack.any(-1), first, move).clamp(max=n_actions - 1)


def random_policy(avail: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    b, n, a = avail.shape
    return torch.multinomial(avail.reshape(b * n, a).float(), 1, generator=gen).reshape(b, n)


def run_episode(env, policy):
    """One synchronous episode of all B envs; returns per-step tensors (up to all done)."""
    ob = env.reset()
    avail = ob.avail
    steps = [ob]
    finished = torch.zeros(env.n_envs, dtype=torch.bool)
    returns = torch.zeros(env.n_envs)
    wins = torch.zeros(env.n_envs, dtype=torch.bool)
    lengths = torch.zeros(env.n_envs, dtype=torch.long)
    for _ in range(env.info.episode_limit + 1):
        actions = policy(avail)
        res = env.step(actions)
        steps.append(res)
        live = ~finished
        returns += torch.where(live, res.reward, 0.0)
        lengths += live.long()
        wins |= live & res.won
        assert not (res.won & ~res.done).any(), "won without done"
        finished |= res.done
        avail = res.avail
        if finished.all():
            break
    assert finished.all(), "episode longer than the limit"
    return steps, returns, wins, lengths


@pytest.fixture(scope="module")
def env3m():
    return registry.make_env("smax", "3m", B, seed=0)


def test_shapes_and_dtypes_3m(env3m):
    ob = env3m.reset()
    assert ob.obs.shape == (B, 3, 75) and ob.obs.dtype == torch.float32
    assert ob.state.shape == (B, 72) and ob.state.dtype == torch.float32
    assert ob.avail.shape == (B, 3, 8)
    res = env3m.step(scripted(ob.avail))
    assert res.obs.shape == (B, 3, 75) and res.state.shape == (B, 72) and res.avail.shape == (B, 3, 8)
    assert res.reward.shape == (B,) and res.reward.dtype == torch.float32
    assert res.done.shape == (B,) and res.done.dtype == torch.bool
    assert res.won.shape == (B,) and res.won.dtype == torch.bool
    for avail in (ob.avail, res.avail):
        assert set(avail.unique().tolist()) <= {0, 1}
        assert (avail.sum(-1) >= 1).all()  # stop is always available


def test_heterogeneous_map_2s3z():
    env = registry.make_env("smax", "2s3z", 2, seed=1)
    info = env.info
    assert info.n_agents == 5 and info.n_actions == 10
    ob = env.reset()
    assert ob.obs.shape == (2, 5, info.obs_dim) and ob.state.shape == (2, info.state_dim)
    assert ob.avail.shape == (2, 5, 10) and (ob.avail.sum(-1) >= 1).all()
    res = env.step(torch.full((2, 5), STOP, dtype=torch.long))
    assert res.obs.shape == (2, 5, info.obs_dim) and not res.done.any()


def test_won_random_never_scripted_sometimes(env3m):
    gen = torch.Generator().manual_seed(0)
    total_wins = 0
    for _ in range(3):  # 24 episodes
        _, returns, wins, lengths = run_episode(env3m, lambda a: random_policy(a, gen))
        total_wins += int(wins.sum())
        assert (returns <= 2.0 + 1e-4).all() and (lengths <= 100).all()
    assert total_wins == 0
    steps, returns, wins, _ = run_episode(env3m, scripted)
    assert wins.any(), "the scripted attack policy should win some of 8 episodes on 3m"
    # a win pays jaxmarl's win bonus of 1 on the winning step; the episode return exceeds 1
    assert (returns[wins] > 1.0).all() and (returns[~wins] <= 1.0 + 1e-4).all()
    # every env's episode ended with one of: all enemies dead (win), all allies dead, time limit
    final_won = torch.zeros(B, dtype=torch.bool)
    for res in steps[1:]:
        final_won |= res.won
    assert torch.equal(final_won, wins)


def test_finished_envs_are_frozen():
    """An env that ends before the others keeps its done/won/truncated flags, pays 0, and its
    jaxmarl state stops changing, for every later step of the synchronous episode."""
    import jax
    import numpy as np

    env = registry.make_env("smax", "3m", B, seed=7)  # own seed: independent of test order
    avail = env.reset().avail
    first_done, frozen_checks = None, 0
    for _ in range(env.info.episode_limit):
        res = env.step(scripted(avail))
        avail = res.avail
        leaves = [np.array(leaf) for leaf in jax.tree.leaves(env._state)]
        if first_done is not None:
            i, won, truncated, state = first_done
            assert bool(res.done[i]) and float(res.reward[i]) == 0.0
            assert (bool(res.won[i]), bool(res.truncated[i])) == (won, truncated)
            assert all(np.array_equal(now[i], then[i]) for now, then in zip(leaves, state)), "state moved"
            frozen_checks += 1
        elif res.done.any() and not res.done.all():
            i = int(res.done.nonzero()[0])
            first_done = (i, bool(res.won[i]), bool(res.truncated[i]), leaves)
        if res.done.all():
            break
    assert first_done is not None, "no env ended before the others"
    assert frozen_checks >= 3, f"only {frozen_checks} steps after the first env ended"


def test_same_seed_same_trajectory_and_rng_round_trip():
    a = registry.make_env("smax", "3m", B, seed=123)
    b = registry.make_env("smax", "3m", B, seed=123)
    c = registry.make_env("smax", "3m", B, seed=124)
    sa, *_ = run_episode(a, scripted)
    sb, *_ = run_episode(b, scripted)
    assert len(sa) == len(sb)
    for x, y in zip(sa, sb):
        for tx, ty in zip(x, y):
            assert torch.equal(tx, ty)
    assert not torch.equal(c.reset().obs, sa[0].obs)

    saved = pickle.loads(pickle.dumps(a.get_rng_state()))
    first, *_ = run_episode(a, scripted)
    run_episode(a, scripted)
    a.set_rng_state(saved)
    again, *_ = run_episode(a, scripted)
    assert len(first) == len(again)
    for x, y in zip(first, again):
        for tx, ty in zip(x, y):
            assert torch.equal(tx, ty)


def test_smax_world_state_is_normalised_to_unit_range():
    """Raw jaxmarl positions reach 32; fed to QMIX's hypernetworks they swamp a reward of ~2."""
    import torch

    from pps.envs.registry import make_env

    env = make_env("smax", "3m", 4, seed=5)
    first = env.reset()
    states, avail = [first.state], first.avail
    gen = torch.Generator().manual_seed(0)
    for _ in range(30):  # random available actions: units move, fire and wait out cooldowns
        actions = torch.multinomial(avail.float().reshape(-1, avail.shape[-1]).clamp(min=1e-6), 1, generator=gen)
        res = env.step(actions.view(4, 3))
        states.append(res.state)
        avail = res.avail
    stacked = torch.stack(states)  # [T, B, state_dim]
    assert stacked.abs().max() <= 1.0
    # The clip guarantees the bound above; each feature's meaning checks the scale itself.
    # Layout (jaxmarl get_world_state): per unit [health, x, y, weapon cooldown, 6 type bits],
    # then every unit's team, then its type id.
    units, per_unit = 6, 10
    rows = stacked[..., : units * per_unit].reshape(*stacked.shape[:2], units, per_unit)
    health, x, y, cooldown = rows[..., 0], rows[..., 1], rows[..., 2], rows[..., 3]
    assert (health >= 0).all() and (health <= 1).all()
    alive = health > 0
    for pos in (x, y):  # a map of 32: unscaled positions would all clip to 1, a wrong scale squeeze
        assert (pos[alive] > 0).all() and (pos[alive] < 1).all()
        assert pos[alive].max() - pos[alive].min() > 0.3
    # SMAX starts the teams about a quarter and three quarters across the map, centred vertically
    start = rows[0]
    assert ((start[..., 2] - 0.5).abs() < 0.1).all()
    assert 0.4 < float(start[:, 3:, 1].mean() - start[:, :3, 1].mean()) < 0.6
    # a marine's cooldown is a third of the longest (stalker's): positive values never reach the clip
    assert 0 < cooldown.max() < 0.5
    team = stacked[..., units * per_unit: units * per_unit + units]
    assert (team == torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])).all()
    assert (stacked[..., units * per_unit + units:] == 0).all()  # marines: type id 0
    # type ids 0..5 scaled to [0, 1]: 2s3z's stalkers (2) and zealots (3) read 0.4 and 0.6
    types = make_env("smax", "2s3z", 2, seed=1).reset().state[:, -10:]
    assert torch.allclose(types, torch.tensor([0.4, 0.4, 0.6, 0.6, 0.6] * 2).expand(2, 10))
