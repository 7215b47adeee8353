"""Config loading and validation: typed values, clear errors naming what is valid."""

import pytest

from pps.cli import main
from pps.config import (
    _POSITIVE_INT,
    AGENT_PARAMETER_NAMES,
    RUN_KEYS,
    SEED_LIMIT,
    load_config_file,
    parse_set_items,
    resolve_config,
)
from pps.errors import UserError


def test_defaults_are_the_authors_values():
    c = resolve_config()
    assert (c.lr, c.gamma, c.batch_size, c.buffer_size, c.target_update_interval, c.grad_clip) == (
        5e-4, 0.99, 96, 5000, 200, 10.0)
    assert c.pp_shared == ("fc1.weight", "fc1.bias", "rnn.weight_ih", "rnn.weight_hh")
    assert c.effective_interval is None and c.effective_mixer == "qmix"


def test_pps_methods_default_to_interval_300_and_vdn_to_its_mixer():
    assert resolve_config({"method": "a-pps"}).effective_interval == 300
    assert resolve_config({"method": "rs-pps", "interval": 50}).effective_interval == 50
    assert resolve_config({"method": "vdn"}).effective_mixer == "vdn"
    assert resolve_config({"method": "a-pps", "mixer": "vdn"}).effective_mixer == "vdn"


def test_set_items_are_read_as_yaml_and_coerced():
    c = resolve_config(parse_set_items(["lr=1e-3", "t_max=2e4", "double_q=false", "pp_shared=[fc2.weight]"]))
    assert c.lr == 1e-3 and c.t_max == 20000 and c.double_q is False and c.pp_shared == ("fc2.weight",)


@pytest.mark.parametrize("layer, words", [
    ({"learning_rate": 1}, ["Unknown config key 'learning_rate'", "Valid keys", "lr"]),
    ({"bach_size": 8}, ["Did you mean 'batch_size'"]),
    ({"method": "qmixx"}, ["Unknown method 'qmixx'", "Did you mean 'qmix'", "a-pps"]),
    ({"map": "3mm"}, ["3mm", "3m"]),
    ({"env": "starcraft"}, ["starcraft", "smax"]),
    ({"method": "a-pps", "interval": 0}, ["positive"]),
    ({"method": "a-pps", "interval": -5}, ["positive"]),
    ({"method": "qmix", "interval": 300}, ["never aggregates", "a-pps"]),
    ({"t_max": "lots"}, ["t_max", "int"]),
    ({"t_max": 1.5}, ["t_max"]),
    ({"groups": "type"}, ["unit_type", "all"]),
    ({"batch_size": 100, "buffer_size": 10}, ["batch_size"]),
    ({"opt_state_on_aggregate": "zero"}, ["keep", "average", "reset"]),
])
def test_bad_values_give_user_errors_naming_the_valid_ones(layer, words):
    with pytest.raises(UserError) as err:
        resolve_config(layer)
    for w in words:
        assert w in str(err.value)


def test_set_without_equals_is_an_error():
    with pytest.raises(UserError, match="KEY=VALUE"):
        parse_set_items(["lr"])


def test_config_file_flat_or_preset(tmp_path):
    flat = tmp_path / "flat.yaml"
    flat.write_text("lr: 0.001\nt_max: 5000\n")
    assert load_config_file(flat) == {"lr": 0.001, "t_max": 5000}
    preset = tmp_path / "preset.yaml"
    preset.write_text("maps: [3m]\nseeds: [0]\nrun:\n  t_max: 7000\n")
    assert load_config_file(preset) == {"t_max": 7000}
    with pytest.raises(UserError, match="does not exist"):
        load_config_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config_file(bad)


def test_every_design_key_exists():
    for key in ("env", "map", "method", "seed", "interval", "groups", "mixer", "t_max", "n_envs", "batch_size",
                "buffer_size", "lr", "optimizer", "gamma", "grad_clip", "epsilon_start", "epsilon_finish",
                "epsilon_anneal_steps", "target_update_interval", "double_q", "td_lambda", "rnn_hidden",
                "mixer_embed", "hypernet_hidden", "hypernet_layers", "eval_interval", "eval_episodes",
                "absolute_eval_episodes", "rs_temperature", "rs_eval_episodes", "rs_swap_agent_id", "pp_shared",
                "opt_state_on_aggregate", "checkpoint_interval", "device", "threads"):
        assert key in RUN_KEYS


# ---------------------------------------------------------------------------- `pps train` input checks

BAD_INPUT = [
    # (arguments after `pps train`, words the one-line message must contain)
    (["--seed", "-1"], ["'seed'", "0 to 4294967295"]),
    (["--seed", str(2**32)], ["'seed'", "0 to 4294967295"]),
    (["--seed", "1.5"], ["'seed'", "int"]),
    (["--seed"], ["--seed", "expected one argument"]),
    (["--set", "seed=null"], ["'seed'", "needs a value"]),
    (["--method", "a-pps", "--interval", "abc"], ["'interval'", "int"]),
    (["--method", "a-pps", "--interval", "0"], ["'interval'", "positive"]),
    (["--method", "a-pps", "--interval", "-3"], ["'interval'", "positive"]),
    (["--method", "qmix", "--interval", "5"], ["never aggregates", "a-pps"]),
    (["--t-max", "0"], ["'t_max'", "positive integer"]),
    (["--t-max", "lots"], ["'t_max'", "int"]),
    (["--set", "t_max=1e400"], ["'t_max'", "int"]),
    (["--set", "foo=1"], ["Unknown config key 'foo'", "Valid keys"]),
    (["--set", "foo"], ["--set expects KEY=VALUE"]),
    (["--bogus"], ["unrecognized arguments: --bogus"]),
    (["--env", "starcraft"], ["Unknown env 'starcraft'", "smax"]),
    (["--map", "3mm"], ["Unknown map '3mm'", "3m"]),
    (["--method", "ppsq"], ["Unknown method 'ppsq'", "a-pps"]),
    (["--config", "missing.yaml"], ["missing.yaml", "does not exist"]),
    *[(["--set", f"{key}={value}"], [f"'{key}'", "positive integer"])
      for key in _POSITIVE_INT for value in (0, -5)],
    (["--set", "gamma=0"], ["'gamma'", "(0, 1]"]),
    (["--set", "gamma=1.5"], ["'gamma'", "(0, 1]"]),
    (["--set", "gamma=nan"], ["'gamma'", "finite"]),
    (["--set", "lr=-0.001"], ["'lr'", "positive"]),
    (["--set", "lr=.inf"], ["'lr'", "finite"]),
    (["--set", "lr=.nan"], ["'lr'", "finite"]),
    (["--set", "lr=fast"], ["'lr'", "float"]),
    (["--set", "grad_clip=0"], ["'grad_clip'", "positive"]),
    (["--set", "rs_temperature=0"], ["'rs_temperature'", "positive"]),
    (["--set", "rs_temperature=-1"], ["'rs_temperature'", "positive"]),
    (["--set", "rs_temperature=nan"], ["'rs_temperature'", "finite"]),
    (["--set", "reward_scale=0"], ["'reward_scale'", "positive", "null"]),
    (["--set", "reward_scale=-10"], ["'reward_scale'", "positive"]),
    (["--set", "reward_scale=nan"], ["'reward_scale'", "finite"]),
    (["--set", "td_lambda=1.5"], ["'td_lambda'", "[0, 1]"]),
    (["--set", "td_lambda=-0.1"], ["'td_lambda'", "[0, 1]"]),
    (["--set", "epsilon_start=1.5"], ["'epsilon_start'", "[0, 1]"]),
    (["--set", "epsilon_finish=-0.1"], ["'epsilon_finish'", "[0, epsilon_start"]),
    (["--set", "epsilon_start=0.5", "--set", "epsilon_finish=0.9"], ["'epsilon_finish'", "epsilon_start = 0.5"]),
    (["--set", "hypernet_layers=3"], ["'hypernet_layers'", "1 or 2"]),
    (["--method", "pp-pps", "--set", "pp_shared=[fc1.wieght]"],
     ["'pp_shared'", "Did you mean 'fc1.weight'", "fc2.bias"]),
    (["--set", "pp_shared=[head]"], ["'pp_shared'", "'head'", "fc1.weight"]),
    (["--method", "pp-pps", "--set", "pp_shared=[]"], ["pp_shared"]),
    (["--set", "device=gpu"], ["'device'", "cpu", "cuda"]),
    (["--set", "optimizer=sgd"], ["'optimizer'", "adam", "rmsprop"]),
    (["--set", "groups=type"], ["'groups'", "unit_type", "all"]),
    (["--set", "mixer=sum"], ["'mixer'", "qmix", "vdn"]),
    (["--set", "opt_state_on_aggregate=zero"], ["'opt_state_on_aggregate'", "keep", "reset"]),
    (["--set", "double_q=maybe"], ["'double_q'", "bool"]),
    (["--set", "compact_buffer=2"], ["'compact_buffer'", "bool"]),
    (["--set", "batch_size=200", "--set", "buffer_size=100"], ["batch_size (200)", "buffer_size (100)"]),
]


@pytest.mark.parametrize("args, words", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_every_bad_key_and_flag_is_one_line_exit_2(tmp_path, capsys, monkeypatch, args, words):
    """`pps train` checks every run key and flag before building anything: one line naming the
    key and what is valid, exit code 2, no traceback, no run folder."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    try:
        code = main(["train", "--out", str(out), "--quiet", *args])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(("pps train: error: ", "pps: error: ")), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("layer", [
    {"seed": 0}, {"seed": SEED_LIMIT - 1}, {"gamma": 1.0}, {"td_lambda": 0.0}, {"td_lambda": 1.0},
    {"epsilon_start": 0.3, "epsilon_finish": 0.3}, {"epsilon_start": 0.0, "epsilon_finish": 0.0},
    {"reward_scale": None}, {"hypernet_layers": 2}, {"method": "pp-pps", "pp_shared": list(AGENT_PARAMETER_NAMES)},
])
def test_boundary_values_are_accepted(layer):
    resolve_config(layer)


def test_seed_range_and_parameter_names_match_the_code_that_uses_them():
    """The checks use static copies (config imports neither torch nor numpy); they must agree."""
    from pps.nets.agents import SlotAgents
    from pps.seeding import stream_seeds

    assert max(max(stream_seeds(s).values()) for s in (0, 1, SEED_LIMIT - 1)) < SEED_LIMIT
    names = [n for n, _ in SlotAgents(2, input_dim=5, hidden=4, n_actions=3).named_parameters()]
    assert sorted(names) == sorted(AGENT_PARAMETER_NAMES)


def test_invalid_yaml_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1\nb: 2\n")
    with pytest.raises(UserError) as err:
        load_config_file(bad)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("method, resumes", [("qmix", True), ("a-pps", True), ("pp-pps", True), ("rs-pps", False)])
def test_a_folder_from_before_the_rs_keys_resumes_unless_the_run_is_rs_pps(tmp_path, method, resumes):
    """A key added or changed later (RS-PPS's temperature and swap ids) changes nothing for a
    method that never reads it, so its folders keep resuming after an upgrade; an RS-PPS
    folder trained under the old meaning is a different run and is refused."""
    from pps.config import resolve_config
    from pps.run_folder import check_same_run

    config = resolve_config({"env": "smax", "map": "3m", "method": method}, {}, {})
    before = config.to_dict()
    del before["rs_swap_agent_id"]
    before["rs_temperature"] = 1.0
    if resumes:
        check_same_run(tmp_path, {"config": before}, config)
    else:
        with pytest.raises(UserError, match="rs_swap_agent_id"):
            check_same_run(tmp_path, {"config": before}, config)
    changed = dict(config.to_dict(), lr=1e-3)
    with pytest.raises(UserError, match="lr"):  # a key that matters is still compared
        check_same_run(tmp_path, {"config": changed}, config)


def test_the_absolute_evaluation_defaults_to_ten_test_evaluations_and_never_blocks_a_resume(tmp_path):
    from pps.run_folder import check_same_run

    assert resolve_config().effective_absolute_eval_episodes == 320
    assert resolve_config({"eval_episodes": 5}).effective_absolute_eval_episodes == 50
    assert resolve_config({"absolute_eval_episodes": 0}).effective_absolute_eval_episodes == 0  # none
    with pytest.raises(UserError, match="absolute_eval_episodes"):
        resolve_config({"absolute_eval_episodes": -1})
    # it changes nothing a run learns: a folder from before the key existed, or with another
    # value of it, resumes
    config = resolve_config({"absolute_eval_episodes": 64})
    before = config.to_dict()
    del before["absolute_eval_episodes"]
    check_same_run(tmp_path, {"config": before}, config)
    check_same_run(tmp_path, {"config": dict(before, absolute_eval_episodes=0)}, config)
