"""Config loading and validation: typed values, clear errors naming what is valid."""

import pytest

from pps.config import RUN_KEYS, load_config_file, parse_set_items, resolve_config
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
                "rs_temperature", "rs_eval_episodes", "pp_shared", "opt_state_on_aggregate",
                "checkpoint_interval", "device", "threads"):
        assert key in RUN_KEYS
