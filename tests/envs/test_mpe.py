"""The MPE backend (jaxmarl particle tasks), its reference table and `pps references`.

Every test builds envs of B = 4 so that one compiled reset/step per task serves them all
(the backend caches compiled functions per process).
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from pps.envs import registry
from pps.envs.mpe_tasks import MPE_MAPS, MPE_TASKS
from pps.errors import UserError

B = 4
TASKS = tuple(MPE_TASKS)
SPEAKER_LISTENER = "simple_speaker_listener_v4"


def random_actions(avail: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    b, n, a = avail.shape
    return torch.multinomial(avail.reshape(b * n, a).float(), 1, generator=gen).view(b, n)


def play(env, steps: int, seed: int = 0) -> list:
    """reset + `steps` random steps; every observation/result in order."""
    gen = torch.Generator().manual_seed(seed)
    out = [env.reset()]
    for _ in range(steps):
        out.append(env.step(random_actions(out[-1].avail, gen)))
    return out


def one_env(state, b: int):
    """Env b's jaxmarl state out of the backend's batched state."""
    import jax

    return jax.tree.map(lambda x: x[b], state)


@pytest.fixture(scope="module")
def envs():
    return {m: registry.make_env("mpe", m, B, seed=7) for m in TASKS}


# ---------------------------------------------------------------------------- table and registry


def test_static_table_matches_jaxmarl_and_env_info():
    from pps.envs.mpe import jaxmarl_env

    for name, task in MPE_TASKS.items():
        env = jaxmarl_env(name)  # raises if jaxmarl's sizes differ from the table
        assert env.num_agents == len(task.roles) and int(env.max_steps) == 25
        info = registry.env_info("mpe", name)
        spec = MPE_MAPS[name]
        assert (info.n_agents, info.n_actions, info.obs_dim, info.state_dim, info.episode_limit) == (
            spec.n_agents, spec.n_actions, spec.obs_dim, spec.state_dim, 25)
        assert info.has_win_condition is False and info.unit_type_names == task.roles
    assert (MPE_MAPS["simple_spread_v3"].n_agents, MPE_MAPS["simple_spread_v3_5ag"].n_agents) == (3, 5)
    assert MPE_MAPS["simple_reference_v3"].n_actions == 50
    assert registry.env_info("smax", "3m").has_win_condition is True


def test_roles_are_unit_types():
    info = registry.env_info("mpe", SPEAKER_LISTENER)
    assert info.unit_type_names == ("speaker", "listener") and info.unit_types[0] != info.unit_types[1]
    assert [registry.UNIT_TYPE_NAMES[t] for t in info.unit_types] == ["speaker", "listener"]
    spread = registry.env_info("mpe", "simple_spread_v3_5ag")
    assert spread.unit_type_names == ("agent",) * 5 and len(set(spread.unit_types)) == 1
    from pps.sharing import sharing_groups

    assert sharing_groups(info.unit_types, "unit_type") == [[0], [1]]


def test_bad_names_get_hints():
    with pytest.raises(UserError) as e:
        registry.check_env_map("mpe", "simple_spread")
    assert "Did you mean 'simple_spread_v3'" in str(e.value)
    with pytest.raises(UserError) as e:
        registry.check_env_map("smax", "simple_spread_v3")
    assert "exists for env 'mpe'" in str(e.value)
    with pytest.raises(UserError):
        registry.make_env("mpe", "simple_tag_v3", 2, 0)


def test_pps_maps_lists_every_mpe_task(pps_cli):
    out = pps_cli("maps", "--env", "mpe", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["map"] for r in rows] == list(MPE_TASKS)
    assert all(r["env"] == "mpe" and r["has_win_condition"] is False and r["episode_limit"] == 25 for r in rows)
    assert {r["map"]: r["unit_types"] for r in rows}[SPEAKER_LISTENER] == "1 speaker, 1 listener"
    table = pps_cli("maps")
    assert table.returncode == 0, table.stderr
    for name in MPE_TASKS:
        assert f" {name} " in table.stdout
    assert "scored by" in table.stdout


# ---------------------------------------------------------------------------- stepping


def test_speaker_listener_shapes_padding_and_masks(envs):
    env = envs[SPEAKER_LISTENER]
    steps = play(env, 6)
    expected_avail = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    for ob in steps:
        assert ob.obs.shape == (B, 2, 11) and ob.obs.dtype == torch.float32
        assert ob.state.shape == (B, 14) and ob.state.dtype == torch.float32
        assert ob.avail.shape == (B, 2, 5) and ob.avail.dtype == torch.bool
        assert torch.equal(ob.avail, expected_avail.expand(B, 2, 5))  # padded speaker actions never available
        assert (ob.obs[:, 0, 3:] == 0).all()  # the speaker's padded observation entries
        assert ob.obs[:, 0, :3].abs().sum() > 0 and ob.obs[:, 1].abs().sum() > 0
    res = steps[-1]
    for t in (res.reward, res.done, res.won, res.truncated):
        assert t.shape == (B,)
    assert res.reward.dtype == torch.float32 and res.done.dtype == torch.bool


@pytest.mark.parametrize("name", TASKS)
def test_real_observations_and_state_are_jaxmarls(envs, name):
    """The unpadded slice of each agent's observation is jaxmarl's get_obs of the env's state,
    and the global state is the concatenation of those slices. Equal up to float32 rounding:
    XLA may fuse the step and the observation differently in the two compiled programs
    (measured: at most 1 ulp)."""
    from pps.envs.mpe import jaxmarl_env

    env, jm = envs[name], jaxmarl_env(name)
    sizes = MPE_TASKS[name].obs_sizes
    gen = torch.Generator().manual_seed(3)
    ob = env.reset()
    for t in range(4):
        if t:
            ob = env.step(random_actions(ob.avail, gen))
        for b in range(B):
            real = jm.get_obs(one_env(env._state, b))
            parts = []
            for i, agent in enumerate(jm.agents):
                mine = np.asarray(real[agent], dtype=np.float32)
                assert mine.shape == (sizes[i],)
                np.testing.assert_allclose(ob.obs[b, i, :sizes[i]].numpy(), mine, rtol=1e-6, atol=1e-7)
                assert (ob.obs[b, i, sizes[i]:] == 0).all()
                parts.append(mine)
            np.testing.assert_allclose(ob.state[b].numpy(), np.concatenate(parts), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", TASKS)
def test_team_reward_is_the_sum_of_jaxmarls_rewards(envs, name):
    """Replay each env's step with jaxmarl's own step_env from the same state (MPE's physics
    has no noise, so the key does not matter): the team reward is the sum of its rewards."""
    import jax

    from pps.envs.mpe import jaxmarl_env

    env, jm = envs[name], jaxmarl_env(name)
    gen = torch.Generator().manual_seed(1)
    ob = env.reset()
    for _ in range(4):
        before = env._state
        actions = random_actions(ob.avail, gen)
        res = env.step(actions)
        for b in range(B):
            acts = {a: jax.numpy.int32(actions[b, i].item()) for i, a in enumerate(jm.agents)}
            obs, _, rewards, _, _ = jm.step_env(jax.random.PRNGKey(0), one_env(before, b), acts)
            total = sum(float(rewards[a]) for a in jm.agents)
            assert res.reward[b].item() == pytest.approx(total, rel=1e-5, abs=1e-5)
            np.testing.assert_allclose(res.obs[b, 0, :obs[jm.agents[0]].shape[0]].numpy(),
                                       np.asarray(obs[jm.agents[0]]), rtol=1e-6, atol=1e-6)
        ob = res
    assert (res.reward != 0).any()


def test_every_episode_is_truncated_at_step_25_and_then_frozen(envs):
    env = envs["simple_spread_v3"]
    gen = torch.Generator().manual_seed(2)
    ob = env.reset()
    for t in range(1, 26):
        res = env.step(random_actions(ob.avail, gen))
        if t < 25:
            assert not res.done.any() and not res.truncated.any(), t
        ob = res
    assert res.done.all() and res.truncated.all() and not res.won.any()  # the 25th step
    frozen_pos = np.asarray(env._state.p_pos).copy()
    for _ in range(2):
        after = env.step(random_actions(ob.avail, gen))
        assert after.done.all() and after.truncated.all() and not after.won.any()
        assert (after.reward == 0).all()
        np.testing.assert_array_equal(np.asarray(env._state.p_pos), frozen_pos)


def _same(xs, ys) -> bool:
    return len(xs) == len(ys) and all(torch.equal(a, b) for x, y in zip(xs, ys) for a, b in zip(x, y))


def test_same_seed_same_trajectory_and_rng_round_trip(envs):
    a = registry.make_env("mpe", SPEAKER_LISTENER, B, seed=123)
    b = registry.make_env("mpe", SPEAKER_LISTENER, B, seed=123)
    c = registry.make_env("mpe", SPEAKER_LISTENER, B, seed=124)
    first = play(a, 25)
    assert _same(first, play(b, 25))
    assert not torch.equal(c.reset().obs, first[0].obs)

    saved = pickle.loads(pickle.dumps(a.get_rng_state()))
    one = play(a, 25, seed=5)
    two = play(a, 25, seed=5)
    assert not torch.equal(one[0].obs, two[0].obs)  # the key moved on: a new episode
    a.set_rng_state(saved)
    assert _same(one, play(a, 25, seed=5))
    with pytest.raises(ValueError):
        a.set_rng_state(np.zeros(3, dtype=np.uint32))


# ---------------------------------------------------------------------------- references


def test_reference_table_covers_every_task_and_ref_beats_random():
    from pps.envs.references import load_references, normalised_score, reference_returns

    table = load_references()
    rows = {m: r for m, r in zip(table["map"], table.to_dict("records")) if r["env"] == "mpe"}
    assert set(rows) == set(MPE_TASKS)
    for name, r in rows.items():
        margin = 3 * np.hypot(r["r_random_se"], r["r_ref_se"])
        assert r["r_ref"] > r["r_random"] + margin, name
        assert r["r_random_episodes"] >= 1000 and r["r_ref_episodes"] >= 1000
        assert r["command"].startswith(f"pps references --env mpe --map {name} ")
        assert r["r_ref_source"] and r["episode_limit"] == 25
        r_random, r_ref = reference_returns("mpe", name, table)
        assert normalised_score(r_ref, "mpe", name, table) == pytest.approx(1.0)
        assert normalised_score(r_random, "mpe", name, table) == pytest.approx(0.0)
    with pytest.raises(UserError) as e:
        reference_returns("smax", "3m", table)
    assert "pps references" in str(e.value)


def test_reference_table_loads_without_jax_or_torch():
    code = ("import sys; from pps.envs.references import load_references; load_references(); "
            "print(sorted(m for m in ('jax', 'jaxmarl', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", TASKS)
def test_reference_policies_only_pick_available_actions(envs, name):
    from pps.envs.mpe_heuristics import REFERENCE_POLICIES

    env = envs[name]
    ob = env.reset()
    for _ in range(3):
        actions = REFERENCE_POLICIES[name].act(ob.obs, ob.avail)
        assert actions.shape == (B, env.info.n_agents) and actions.dtype == torch.long
        assert ob.avail.gather(-1, actions[..., None]).all()
        ob = env.step(actions)


def test_references_cli_rejects_envs_scored_by_win_rate(pps_cli):
    out = pps_cli("references", "--env", "smax")
    assert out.returncode == 2 and "win rate" in out.stderr and "mpe" in out.stderr
    out = pps_cli("references", "--env", "mpe", "--map", "simple_spred_v3")
    assert out.returncode == 2 and "Did you mean 'simple_spread_v3'" in out.stderr


@pytest.mark.slow
def test_references_command_reproduces_its_committed_row(tmp_path, pps_cli):
    """The row's own command, run again, writes the same numbers (fixed seeds)."""
    from pps.envs.references import load_references

    committed = load_references().set_index("map").loc[SPEAKER_LISTENER]
    args = committed["command"].split()[1:]  # drop 'pps'
    out = pps_cli(*args, "--out", str(tmp_path / "refs.csv"))
    assert out.returncode == 0, out.stderr
    fresh = load_references(tmp_path / "refs.csv").set_index("map").loc[SPEAKER_LISTENER]
    for column in ("r_random", "r_random_se", "r_ref", "r_ref_se", "r_random_episodes", "r_ref_episodes"):
        assert fresh[column] == pytest.approx(committed[column], abs=1e-4), column


# ---------------------------------------------------------------------------- training


@pytest.mark.slow
def test_pps_train_on_mpe_writes_metrics(tmp_path):
    import pandas as pd

    tiny = {"t_max": 600, "eval_interval": 300, "eval_episodes": 4, "batch_size": 4, "n_envs": 4,
            "target_update_interval": 20}
    sets = [arg for k, v in tiny.items() for arg in ("--set", f"{k}={v}")]
    out = subprocess.run(
        [sys.executable, "-m", "pps.cli", "train", "--env", "mpe", "--map", "simple_spread_v3", "--method", "a-pps",
         "--interval", "50", "--seed", "0", "--quiet", "--out", str(tmp_path), *sets],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert metrics["step"].iloc[-1] >= 600 and (metrics["test_ep_len_mean"] == 25).all()
    assert metrics["test_win_rate"].isna().all() and (metrics["test_return_mean"] < 0).all()  # no win condition
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["env"] == "mpe" and record["status"] == "finished"
    assert record["team_reward"] == "sum of the agents' jaxmarl rewards"
