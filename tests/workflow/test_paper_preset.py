"""The paper preset runs the authors' set-up and says where it does not."""

from __future__ import annotations

import yaml

from pps.config import load_config_file, resolve_config
from pps.train import deviations
from tests.helpers import REPO

PAPER = REPO / "workflow" / "config" / "paper.yaml"

# Each deviation that run.json can list for a paper-preset run, and the words of the
# preset header's bullet that names it.
HEADER_WORDS = {
    "parallel training envs": "n_envs 8",
    "per-agent epsilon": "own epsilon coin",
    "separate envs": "separate envs",
    "RS-PPS weights": "RS-PPS weights",
    "float16": "float16",
    "SMAX rewards scaled": "rewards x10",
    "SMAX world state": "world state",
    "SMAC time-outs": "time-outs bootstrap",
}


def _header() -> str:
    return "".join(line for line in PAPER.read_text().splitlines(keepends=True) if line.startswith("#"))


def test_paper_preset_groups_all_agents_like_the_authors():
    for method in ("a-pps", "rs-pps", "pp-pps"):
        config = resolve_config(load_config_file(PAPER), {"method": method, "map": "2s3z"})
        assert config.groups == "all"
        assert not any("unit type" in d for d in deviations(config))


def test_every_deviation_of_a_paper_run_is_named_in_the_preset_header():
    header = _header()
    listed = set()
    for env, map_name in (("smax", "8m"), ("smac", "MMM2")):
        config = resolve_config(load_config_file(PAPER), {"method": "rs-pps", "env": env, "map": map_name})
        listed |= set(deviations(config))
    for deviation in listed:
        keys = [k for k in HEADER_WORDS if k in deviation]
        assert keys, f"run.json deviation {deviation!r} has no entry in HEADER_WORDS"
        assert HEADER_WORDS[keys[0]] in header, f"paper.yaml's header does not name: {deviation}"
    assert len(listed) == len(HEADER_WORDS)


def test_unit_type_grouping_is_a_documented_ablation():
    assert "groups: unit_type" in _header()
    assert yaml.safe_load(PAPER.read_text())["run"]["groups"] == "all"
