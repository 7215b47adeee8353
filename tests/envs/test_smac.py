"""The smac backend's set-up errors and its stepping loop, without StarCraft II.

There is no StarCraft II here, so: SMAC3 (the other PyPI 'smac') is simulated by a fake
package on sys.path or in sys.modules; a missing StarCraft II by pointing SC2PATH (or
HOME) at an empty temp dir; and the B-env loop runs against a stub StarCraft2Env.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest
import torch

from pps.envs import registry, smac_tasks
from pps.errors import UserError


@pytest.fixture
def no_smac(monkeypatch):
    """Forget any imported smac so each test controls what `import smac` finds."""
    for name in [m for m in sys.modules if m == "smac" or m.startswith("smac.")]:
        monkeypatch.delitem(sys.modules, name)
    importlib.invalidate_caches()
    yield
    importlib.invalidate_caches()


def _write(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def fake_smac3(tmp_path, monkeypatch, no_smac):
    root = tmp_path / "site"
    _write(root / "smac" / "__init__.py", '__version__ = "2.3.1"\n')
    _write(root / "smac" / "facade" / "__init__.py")
    _write(root / "smac-2.3.1.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: smac\nVersion: 2.3.1\n")
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    return root


STUB_ENV = '''
import numpy as np

# StarCraft2Env.__init__'s keyword arguments (oxwhirl/smac, smac/env/starcraft2/starcraft2.py):
# any other name is a TypeError there, and so here.
KWARGS = {
    "map_name", "step_mul", "move_amount", "difficulty", "game_version", "seed",
    "continuing_episode", "obs_all_health", "obs_own_health", "obs_last_action",
    "obs_pathing_grid", "obs_terrain_height", "obs_instead_of_state", "obs_timestep_number",
    "state_last_action", "state_timestep_number", "reward_sparse", "reward_only_positive",
    "reward_death_value", "reward_win", "reward_defeat", "reward_negative_scale", "reward_scale",
    "reward_scale_rate", "replay_dir", "replay_prefix", "window_size_x", "window_size_y",
    "heuristic_ai", "heuristic_rest", "debug",
}
# get_map_params(map_name)["limit"]: a test may shorten it
LIMITS = {"3m": 60}
# the agent step at which the connection to StarCraft II is lost (None: never)
CRASH_AT = None


class StarCraft2Env:
    """A stand-in with SMAC's API: 3 agents, 9 actions; env seed s's battle ends after
    2+s%3 steps, won when the seed is even, lost otherwise. Like SMAC, whose seed lands in
    the uint32 protobuf field RequestCreateGame.random_seed, it refuses seeds outside
    [0, 2**32). step() ends episodes as oxwhirl's does: the battle's end first, else the
    time limit (terminated=True either way; info["episode_limit"] only with
    continuing_episode=True); a lost connection returns (0, True, {})."""
    def __init__(self, map_name="8m", seed=None, continuing_episode=False, **kw):
        unknown = set(kw) - KWARGS
        if unknown:
            raise TypeError(f"__init__() got an unexpected keyword argument {sorted(unknown)[0]!r}")
        if seed is not None and not 0 <= seed < 2**32:
            raise ValueError(f"Value out of range: {seed}")
        self.map_name, self.seed, self.continuing_episode = map_name, seed or 0, continuing_episode
        self.episode_limit = LIMITS[map_name]
        self._episode_steps = self._episode_count = self.battles_game = self.timeouts = 0
    def get_env_info(self):
        return {"n_agents": 3, "n_actions": 9, "obs_shape": 30, "state_shape": 48,
                "episode_limit": self.episode_limit}
    def reset(self):
        self._episode_steps = 0
        return self.get_obs(), self.get_state()
    def step(self, actions):
        assert len(actions) == 3
        if CRASH_AT is not None and self._episode_steps + 1 == CRASH_AT:
            return 0, True, {}  # full_restart() after a ProtocolError
        self._episode_steps += 1
        battle_over = self._episode_steps >= 2 + self.seed % 3
        game_end_code = (1 if self.seed % 2 == 0 else -1) if battle_over else None
        terminated, reward = False, 1.0
        info = {"battle_won": False}
        info["dead_allies"] = 3 if game_end_code == -1 else 0
        info["dead_enemies"] = 3 if game_end_code == 1 else 0
        if game_end_code is not None:
            terminated = True
            self.battles_game += 1
            if game_end_code == 1:
                info["battle_won"] = True
        elif self._episode_steps >= self.episode_limit:
            terminated = True
            if self.continuing_episode:
                info["episode_limit"] = True
            self.battles_game += 1
            self.timeouts += 1
        if terminated:
            self._episode_count += 1
        return reward, terminated, info
    def get_obs(self):
        return [np.full(30, self._episode_steps, dtype=np.float32) for _ in range(3)]
    def get_state(self):
        return np.full(48, self.seed, dtype=np.float32)
    def get_avail_actions(self):
        return [[1] * 6 + [0] * 3 for _ in range(3)]
    def close(self):
        pass
'''


@pytest.fixture
def fake_oxwhirl_smac(tmp_path, monkeypatch, no_smac):
    root = tmp_path / "site"
    _write(root / "smac" / "__init__.py")
    _write(root / "smac" / "env" / "__init__.py", "from smac.env.starcraft2.starcraft2 import StarCraft2Env\n")
    _write(root / "smac" / "env" / "starcraft2" / "__init__.py")
    _write(root / "smac" / "env" / "starcraft2" / "starcraft2.py", STUB_ENV)
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    return root


def test_smac_missing_is_reported(monkeypatch, no_smac):
    monkeypatch.setattr(smac_tasks, "_smac_package_dirs", lambda: ([], None))
    ok, why = registry.backend_available("smac")
    assert not ok and "not installed" in why and "oxwhirl/smac" in why


def test_smac3_on_path_is_detected(fake_smac3):
    ok, why = registry.backend_available("smac")
    assert not ok
    assert "SMAC3" in why and "2.3.1" in why
    assert "pip uninstall smac && pip install git+https://github.com/oxwhirl/smac.git" in why
    with pytest.raises(UserError) as e:
        registry.make_env("smac", "MMM2", 1, 0)
    assert "SMAC3" in str(e.value) and "pip uninstall smac" in str(e.value)
    with pytest.raises(UserError) as e:
        registry.env_info("smac", "corridor")
    assert "SMAC3" in str(e.value)


def test_smac3_already_imported_is_detected(monkeypatch, no_smac):
    import types

    fake = types.ModuleType("smac")
    fake.__version__ = "2.0.0"
    fake.HyperparameterOptimizationFacade = object
    monkeypatch.setitem(sys.modules, "smac", fake)
    ok, why = registry.backend_available("smac")
    assert not ok and "SMAC3 2.0.0" in why and "pip uninstall smac" in why


def test_missing_sc2path_names_the_variable(fake_oxwhirl_smac, tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "StarCraftII"
    monkeypatch.setenv("SC2PATH", str(missing))
    ok, why = registry.backend_available("smac")
    assert not ok and "SC2PATH" in why and str(missing) in why
    with pytest.raises(UserError) as e:
        registry.make_env("smac", "3m", 2, 0)
    assert "SC2PATH" in str(e.value) and str(missing) in str(e.value)
    assert "s2client-proto" in str(e.value)  # where to get it


def test_default_sc2_path_is_home_starcraftii(fake_oxwhirl_smac, tmp_path, monkeypatch):
    monkeypatch.delenv("SC2PATH", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    ok, why = registry.backend_available("smac")
    assert not ok and "SC2PATH" in why and str(tmp_path / "StarCraftII") in why


@pytest.fixture
def fake_sc2(tmp_path, monkeypatch):
    sc2 = tmp_path / "StarCraftII"
    (sc2 / "Versions").mkdir(parents=True)
    _write(sc2 / "Maps" / "SMAC_Maps" / "3m.SC2Map", "stub")
    monkeypatch.setenv("SC2PATH", str(sc2))
    return sc2


def test_missing_smac_map_is_reported(fake_oxwhirl_smac, fake_sc2):
    assert registry.backend_available("smac") == (True, "")
    rows = {e.map: e for e in registry.list_maps("smac")}
    assert rows["3m"].usable_here and not rows["MMM2"].usable_here
    assert "SMAC_Maps" in rows["MMM2"].why_not
    with pytest.raises(UserError) as e:
        registry.make_env("smac", "MMM2", 1, 0)
    assert "MMM2.SC2Map" in str(e.value)


def test_stepping_loop_with_stub_env(fake_oxwhirl_smac, fake_sc2):
    env = registry.make_env("smac", "3m", 3, seed=0)  # env seeds 0, 1, 2: ends after 2, 3, 4 steps
    assert (env.info.n_agents, env.info.n_actions, env.info.obs_dim, env.info.state_dim) == (3, 9, 30, 48)
    assert env.info.unit_type_names == ("marine",) * 3 and env.info.episode_limit == 60
    ob = env.reset()
    assert ob.obs.shape == (3, 3, 30) and ob.state.shape == (3, 48) and ob.avail.shape == (3, 3, 9)
    assert ob.obs.dtype == torch.float32 and ob.avail.dtype == torch.bool
    acts = torch.zeros(3, 3, dtype=torch.long)
    dones, wons, rewards = [], [], []
    for _ in range(4):
        res = env.step(acts)
        dones.append(res.done.tolist()), wons.append(res.won.tolist()), rewards.append(res.reward.tolist())
    assert dones == [[False] * 3, [True, False, False], [True, True, False], [True, True, True]]
    assert wons[-1] == [True, False, True]
    assert rewards[2] == [0.0, 1.0, 1.0] and rewards[3] == [0.0, 0.0, 1.0]  # finished envs pay 0
    assert res.obs[0, 0, 0] == 2  # env 0 frozen at its last observation
    # StarCraft II's randomness cannot be captured: the RNG state is the seed and how many
    # episodes were played, and restoring it (from a pickled checkpoint) rewinds that count.
    import pickle

    state = env.get_rng_state()
    env.reset()
    assert env.get_rng_state() != state  # one more episode played
    env.set_rng_state(pickle.loads(pickle.dumps(state)))
    assert env.get_rng_state() == state
    fresh = registry.make_env("smac", "3m", 3, seed=0)
    fresh.reset()
    assert fresh.get_rng_state() == state  # same seed, same count: what a resumed run records
    other = registry.make_env("smac", "3m", 3, seed=1)
    other.reset()
    assert other.get_rng_state() != state  # the seed is part of it
    env.close()


def test_pps_maps_lists_smac_maps_as_unusable_here():
    out = subprocess.run([sys.executable, "-m", "pps.cli", "maps", "--env", "smac"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("smac ")]
    assert any(" MMM2 " in ln for ln in lines) and any(" corridor " in ln for ln in lines)
    if not registry.backend_available("smac")[0]:
        assert all(" no [" in ln for ln in lines)


def test_run_stream_seeds_reach_starcraft_within_uint32(fake_oxwhirl_smac, fake_sc2):
    """Every stream seed of a run, and every env's game seed derived from it, is a valid
    SMAC seed (the stand-in raises like protobuf on anything outside uint32)."""
    from pps.envs.seeds import SEED_LIMIT
    from pps.seeding import stream_seeds

    for run_seed in (0, 1, 2**32 - 1):
        for stream, seed in stream_seeds(run_seed).items():
            assert 0 <= seed < SEED_LIMIT, (run_seed, stream, seed)
            env = registry.make_env("smac", "3m", 4, seed=seed)
            env.reset()
            env.close()
    env = registry.make_env("smac", "3m", 3, seed=SEED_LIMIT - 2)  # game seeds wrap: 2**32-2, 2**32-1, 0
    assert [e.seed for e in env.envs] == [SEED_LIMIT - 2, SEED_LIMIT - 1, 0]


def test_smac_time_limit_is_a_truncation_and_a_battle_end_is_not(fake_oxwhirl_smac, fake_sc2, monkeypatch):
    """On real StarCraft II a time-out says so only when the env was built with
    continuing_episode=True; the backend must build it so, or every time-out is terminal."""
    from smac.env.starcraft2 import starcraft2

    monkeypatch.setitem(starcraft2.LIMITS, "3m", 3)
    env = registry.make_env("smac", "3m", 3, seed=0)  # battles end after 2, 3 and 4 steps
    assert env.info.episode_limit == 3
    env.reset()
    acts = torch.zeros(3, 3, dtype=torch.long)
    results = [env.step(acts) for _ in range(3)]
    assert results[-1].done.tolist() == [True, True, True]
    # env 1's battle ends on the limit's last step: SMAC reports the battle (a terminal);
    # env 2 is still fighting there: cut at the limit (a truncation)
    assert results[-1].truncated.tolist() == [False, False, True]
    assert results[-1].won.tolist() == [True, False, False]
    assert [e.timeouts for e in env.envs] == [0, 0, 1]


def test_the_stand_in_reports_time_outs_like_oxwhirls_step(fake_oxwhirl_smac, monkeypatch):
    """The stand-in's contract, as in StarCraft2Env.step(): terminated=True at the limit
    either way; `episode_limit` in info only with continuing_episode=True; a battle that
    ends on the limit's step is a battle end; a lost connection returns (0, True, {})."""
    from smac.env import StarCraft2Env
    from smac.env.starcraft2 import starcraft2

    monkeypatch.setitem(starcraft2.LIMITS, "short", 2)
    for continuing in (False, True):
        env = StarCraft2Env(map_name="short", seed=2, continuing_episode=continuing)  # battle: 4 steps
        env.reset()
        assert env.step([0] * 3)[1:] == (False, {"battle_won": False, "dead_allies": 0, "dead_enemies": 0})
        _, terminated, info = env.step([0] * 3)
        assert terminated and ("episode_limit" in info) == continuing and env.timeouts == 1
    env = StarCraft2Env(map_name="short", seed=0, continuing_episode=True)  # battle: 2 steps, won
    env.reset()
    env.step([0] * 3)
    assert env.step([0] * 3) == (1.0, True, {"battle_won": True, "dead_allies": 0, "dead_enemies": 3})
    with pytest.raises(TypeError, match="continuing_episodes"):
        StarCraft2Env(map_name="3m", continuing_episodes=True)
    monkeypatch.setattr(starcraft2, "CRASH_AT", 1)
    env = StarCraft2Env(map_name="3m", seed=1)
    env.reset()
    assert env.step([0] * 3) == (0, True, {})


def test_a_lost_connection_ends_the_episode_as_a_terminal(fake_oxwhirl_smac, fake_sc2, monkeypatch):
    from smac.env.starcraft2 import starcraft2

    monkeypatch.setattr(starcraft2, "CRASH_AT", 1)
    env = registry.make_env("smac", "3m", 2, seed=0)
    env.reset()
    res = env.step(torch.zeros(2, 3, dtype=torch.long))
    assert res.done.tolist() == [True, True]
    assert res.truncated.tolist() == [False, False] and res.won.tolist() == [False, False]
    assert res.reward.tolist() == [0.0, 0.0]
