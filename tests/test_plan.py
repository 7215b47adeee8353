"""The workflow's plan (pps.plan) without Snakemake's DAG: config checks and their messages,
the grid, seed groups, the training rules and their job arguments, outputs and captions.

Configs are built the way Snakemake builds them: a preset file, then `--config KEY=VALUE`
overrides parsed and merged by Snakemake's own functions (values arrive as strings).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from snakemake.cli import parse_config
from snakemake.utils import update_config

from pps import plan
from pps.analysis import outputs
from pps.envs import registry
from pps.errors import UserError
from pps.methods import METHODS

REPO = Path(__file__).resolve().parents[1]
PRESETS = REPO / "workflow" / "config"
DEFAULT = PRESETS / "default.yaml"
PAPER = PRESETS / "paper.yaml"
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


def config(preset: Path = DEFAULT, **overrides: str) -> dict:
    """A preset with `--config` overrides, checked as the workflow checks it."""
    cfg = yaml.safe_load(preset.read_text())
    update_config(cfg, parse_config([f"{k}={v}" for k, v in overrides.items()]))
    plan.check_config(cfg, SCHEMA)
    return cfg


def runs(cfg: dict) -> list[dict]:
    return plan.grid(cfg, plan.grid_maps(cfg)[0])


def expected_runs(maps: int, seeds: int, methods: list[str], intervals: int) -> int:
    baselines = sum(not METHODS[m].aggregates for m in methods)
    pps = sum(METHODS[m].aggregates for m in methods)
    return maps * seeds * (baselines + pps * intervals)


# ---------------------------------------------------------------------------- config checks

BAD_CONFIGS = [
    ({"mpas": "[3m]"}, "unknown key 'mpas'. Did you mean 'maps'? Valid keys: baseline,"),
    ({"maps": "[3mm]"}, "Unknown map '3mm'. Did you mean '3m'? Valid maps for env 'smax': 10m_vs_11m,"),
    ({"maps": "[MMM2]"}, "Map 'MMM2' exists for env 'smac'"),
    ({"methods": "[qmix,a-ps]"}, "Unknown method 'a-ps'. Did you mean 'a-pps'? Valid methods: a-pps,"),
    ({"run": "{lrr: 0.001}"}, "unknown run key 'lrr'. Did you mean 'lr'? Valid run keys:"),
    ({"run": "{map: 8m}"}, "run.map is set by the grid"),
    ({"run": "{lr: fast}"}, "Config key 'lr' must be of type float"),
    ({"seeds": "[a]"}, "'a' is not of type 'integer'"),
    ({"seeds": "[4294967296]"}, "4294967296 is greater than the maximum of 4294967295"),
    ({"intervals": "[0]"}, "intervals[0]: 0 is less than the minimum of 1"),
    ({"seeds_per_job": "0"}, "seeds_per_job: 0 is less than the minimum of 1. About seeds_per_job: runs of"),
    ({"seeds_per_job": "x"}, "seeds_per_job: 'x' is not of type 'integer'"),
    ({"seeds_per_job": "2.5"}, "seeds_per_job: 2.5 is not of type 'integer'"),
    ({"baseline": "vdn", "methods": "[qmix,a-pps]"}, "the baseline 'vdn' is not among the methods"),
    ({"envs": "{default: smaxx}"}, "Unknown env 'smaxx'. Did you mean 'smax'?"),
    ({"use_smac": "maybe"}, "use_smac"),
    ({"resources": "{train: {mem: 1}}"}, "'mem' was unexpected"),
]


@pytest.mark.parametrize("overrides, message", BAD_CONFIGS)
def test_bad_config_is_named_with_the_valid_values(overrides, message):
    with pytest.raises(UserError) as err:
        config(**overrides)
    assert message in str(err.value)


@pytest.mark.parametrize("overrides, message", [
    ({"run": "{threads: 4}"}, "run.threads follows the job's threads; set resources.train.threads instead."),
    ({"methods": "[qmix,a-pps]", "intervals": "[]"}, "methods that aggregate need at least one entry in `intervals`."),
    ({"envs": "{3m: nope}"}, "envs.3m: Unknown env 'nope'."),
])
def test_more_mistakes_are_named(overrides, message):
    with pytest.raises(UserError, match=re.escape(message)):
        config(**overrides)


def test_a_missing_required_key_is_named():
    cfg = yaml.safe_load(DEFAULT.read_text())
    del cfg["seeds"]
    with pytest.raises(UserError, match=re.escape("the configuration: 'seeds' is a required property.")):
        plan.check_config(cfg, SCHEMA)


def test_command_line_strings_are_typed_like_the_preset_files():
    cfg = config(seeds="[0,1]", intervals="[50]", seeds_per_job="2", use_smac="false",
                 run="{t_max: 5000, double_q: false, lr: 0.001, pp_shared: [fc1.weight, fc1.bias]}",
                 resources="{train: {runtime_per_mstep: 12.5}, slurm: {slurm_partition: short}}")
    assert cfg["seeds"] == [0, 1] and cfg["intervals"] == [50] and cfg["seeds_per_job"] == 2
    assert cfg["use_smac"] is False
    assert cfg["run"]["t_max"] == 5000 and cfg["run"]["double_q"] is False and cfg["run"]["lr"] == 0.001
    assert cfg["run"]["pp_shared"] in (["fc1.weight", "fc1.bias"], ("fc1.weight", "fc1.bias"))
    assert cfg["resources"]["train"]["runtime_per_mstep"] == 12.5
    assert cfg["resources"]["slurm"] == {"slurm_partition": "short"}


def test_the_schemas_defaults_fill_in_what_a_preset_leaves_out():
    cfg = {"maps": ["3m"], "methods": ["qmix", "a-pps"], "seeds": [0]}
    plan.check_config(cfg, SCHEMA)
    assert cfg["envs"] == {"default": "smax"} and cfg["use_smac"] == "auto" and cfg["intervals"] == [300]
    assert cfg["baseline"] == "qmix" and cfg["seeds_per_job"] == 5 and cfg["run"] == {}
    assert cfg["resources"]["train"] == {"threads": 1, "mem_mb": 2000, "runtime": 10, "runtime_per_mstep": 300}
    assert cfg["resources"]["analysis"] == {"threads": 1, "mem_mb": 4000, "runtime": 30}
    assert cfg["resources"]["slurm"] == {} and cfg["results_dir"] == "results"


def test_every_preset_passes_the_checks():
    for preset in sorted(PRESETS.glob("*.yaml")):
        config(preset)


# ---------------------------------------------------------------------------- the grid


def test_default_preset_covers_every_method():
    cfg = config()
    assert set(cfg["methods"]) == set(METHODS) and plan.grid_maps(cfg) == (("3m",), None)
    assert len(runs(cfg)) == expected_runs(1, 3, cfg["methods"], 2) == 27
    files = plan.run_files(cfg, ["3m"])
    assert "results/runs/smax/3m/qmix/-/seed0/metrics.csv" in files
    assert "results/runs/smax/3m/a-pps/200/seed2/metrics.csv" in files
    assert len(set(files)) == 27


def test_paper_preset_plans_maps_x_seeds_x_methods():
    cfg = config(PAPER)
    def n(maps):
        return expected_runs(maps, len(cfg["seeds"]), cfg["methods"], len(cfg["intervals"]))
    usable = {e.map for e in registry.list_maps("smac") if e.usable_here}
    assert len(runs(cfg)) == n(3 + len({"MMM2", "corridor"} & usable))
    assert len(runs(config(PAPER, use_smac="true"))) == n(5) == 450
    assert len(runs(config(PAPER, use_smac="false"))) == n(3) == 270
    assert {r["env"] for r in runs(config(PAPER, use_smac="true")) if r["map"] in ("MMM2", "corridor")} == {"smac"}


def test_smac_maps_that_cannot_run_here_are_left_out_with_a_warning(monkeypatch):
    entries = registry.list_maps("smac")
    unusable = [replace(e, usable_here=False, why_not="StarCraft II is not installed") for e in entries]
    monkeypatch.setattr(registry, "list_maps", lambda env=None: unusable)
    maps, warning = plan.grid_maps(config(PAPER))
    assert maps == ("8m", "3s_vs_5z", "2s3z")
    assert warning == ("Leaving out MMM2, corridor: StarCraft II is not installed "
                       "(set use_smac: true to plan them anyway).")


def test_command_line_narrows_any_preset():
    cfg = config(PAPER, maps="[3s_vs_5z]", seeds="[0,1]", methods="[qmix,rs-pps]", intervals="[300]")
    assert set(plan.run_files(cfg, plan.grid_maps(cfg)[0])) == {
        f"results/runs/smax/3s_vs_5z/{m}/{k}/seed{s}/metrics.csv"
        for m, k in (("qmix", "-"), ("rs-pps", "300")) for s in (0, 1)
    }


def test_wildcards_keep_to_known_backends_and_plain_names():
    constraints = plan.wildcard_constraints()
    assert set(constraints["env"].split("|")) == set(registry.ENV_NAMES)
    assert re.fullmatch(constraints["map"], "3s_vs_5z") and not re.fullmatch(constraints["map"], "3m/x")
    assert re.fullmatch(constraints["seed"], "12") and not re.fullmatch(constraints["seed"], "-1")


# ---------------------------------------------------------------------------- seed groups and rules


def test_seeds_are_chunked_in_config_order():
    cfg = config(seeds="[4,0,2,7,1]", seeds_per_job="2")
    assert plan.seed_groups(cfg) == [(4, 0), (2, 7), (1,)]
    assert plan.multi_seed_groups(cfg) == [(4, 0), (2, 7)]
    assert plan.seed_groups(config(seeds_per_job="1")) == [(0,), (1,), (2,)]
    assert plan.seed_groups(config(seeds_per_job="9")) == [(0, 1, 2)]
    assert plan.group_label((3,)) == "seed3" and plan.group_label((0, 1, 2)) == "seeds0-1-2"


def test_a_seed_has_one_rule_only():
    """The one-run rules take any seed that no chunk of several holds (seeds outside the grid too)."""
    pattern = plan.single_seed_constraint(config(seeds="[0,1,2,10]", seeds_per_job="2"))
    assert [s for s in range(12) if re.fullmatch(pattern, str(s))] == [3, 4, 5, 6, 7, 8, 9, 11]
    assert plan.single_seed_constraint(config(seeds_per_job="1")) == "[0-9]+"


def test_train_rules_one_per_kind_and_chunk():
    cfg = config(seeds="[0,1,2]", seeds_per_job="2")
    rules = plan.train_rules(cfg)
    assert [r.name for r in rules] == ["train", "train_pps", "train_seeds_0_1", "train_pps_seeds_0_1"]
    assert [r.n_runs for r in rules] == [1, 1, 2, 2]
    assert [r.name for r in plan.train_rules(config(PAPER, seeds_per_job="5"))] == [
        "train", "train_pps", "train_seeds_0_1_2_3_4", "train_pps_seeds_0_1_2_3_4"]


def test_run_paths_are_unambiguous():
    """Baselines live under <method>/-/, PPS methods under <method>/<K>/, one rule each."""
    single, single_pps, group, group_pps = plan.train_rules(config(seeds="[0,1,2]", seeds_per_job="2"))
    assert single.outputs("results") == ["results/runs/{env}/{map}/{method}/-/seed{seed}/metrics.csv"]
    assert single_pps.outputs("results") == ["results/runs/{env}/{map}/{method}/{interval}/seed{seed}/metrics.csv"]
    assert group_pps.outputs("res") == [f"res/runs/{{env}}/{{map}}/{{method}}/{{interval}}/seed{s}/metrics.csv"
                                        for s in (0, 1)]
    assert single.log_stem("results") == "results/logs/train/{env}/{map}/{method}/-/seed{seed}"
    assert group_pps.log_stem("results") == "results/logs/train/{env}/{map}/{method}/{interval}/seeds0-1"
    baselines, pps = (set(r.constraints(config())["method"].split("|")) for r in (single, single_pps))
    assert baselines == {m for m in METHODS if not METHODS[m].aggregates} and baselines.isdisjoint(pps)
    assert pps == {m for m in METHODS if METHODS[m].aggregates}
    assert "interval" not in single.constraints(config()) and "seed" not in group.constraints(config())
    interval = single_pps.constraints(config())["interval"]
    assert re.fullmatch(interval, "50") and not re.fullmatch(interval, "050") and not re.fullmatch(interval, "-")


# ---------------------------------------------------------------------------- job arguments


def test_train_arguments_come_from_the_outputs():
    assert plan.train_args(["results/runs/smax/3m/qmix/-/seed2/metrics.csv"]) == (
        "--seed 2 --out results/runs/smax/3m/qmix/-/seed2")
    assert plan.train_args(["results/runs/smax/3m/a-pps/50/seed0/metrics.csv"]) == (
        "--interval 50 --seed 0 --out results/runs/smax/3m/a-pps/50/seed0")
    assert plan.train_args([f"r/runs/smax/3m/pp-pps/50/seed{s}/metrics.csv" for s in (0, 1, 2)]) == (
        "--interval 50 --seeds 0 1 2 --out r/runs/smax/3m/pp-pps/50")
    assert plan.train_args([f"r/runs/smax/3m/vdn/-/seed{s}/metrics.csv" for s in (3, 4)]) == (
        "--seeds 3 4 --out r/runs/smax/3m/vdn/-")


def test_train_command_passes_every_run_key():
    cfg = config(run="{t_max: 5000, double_q: false, pp_shared: [fc1.weight, fc1.bias]}")
    args = plan.run_set_args(cfg)
    run = yaml.safe_load(DEFAULT.read_text())["run"] | {"t_max": 5000, "double_q": False}
    for key, value in run.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        assert f"{key}={text}" in args.split(" ")
    assert "--set 'pp_shared=[fc1.weight,fc1.bias]'" in args
    assert args.startswith("--set batch_size=")  # sorted by key
    assert plan.run_set_args({"run": {}}) == ""


# ---------------------------------------------------------------------------- analysis options


def test_preset_keys_become_the_analysis_commands_options():
    cfg = config(PRESETS / "evidence-mpe.yaml", final_window="5", figures_annotate="true")
    assert plan.collect_args(cfg) == ["--final-window", "5"]
    assert plan.stats_args(cfg) == ["--baseline", "qmix", "--thresholds", "0.3", "0.5"]
    assert plan.figure_args(cfg) == ["--annotate"] and plan.figure_flags(cfg) == "--annotate"
    assert plan.figure_args(config()) == [] and plan.figure_flags(config()) == ""
    assert plan.shell_flags(["--high-dim-maps", "a b"]) == "--high-dim-maps 'a b'"


def test_a_preset_file_is_loaded_and_checked_as_the_workflow_does(tmp_path):
    cfg = plan.load_preset(PRESETS / "evidence-mpe.yaml")
    assert cfg == config(PRESETS / "evidence-mpe.yaml")
    bad = tmp_path / "bad.yaml"
    for text, message in (("maps: [3m]\nmethods: [qmix]\nseeds: [0]\nbaseline: vdn\n", "baseline 'vdn' is not among"),
                          ("- a list\n", "does not hold a mapping of workflow keys"),
                          ("maps: [3m\n", "is not valid YAML")):
        bad.write_text(text)
        with pytest.raises(UserError, match=message) as err:
            plan.load_preset(bad)
        assert str(bad) in str(err.value)
    with pytest.raises(UserError, match="cannot read the preset .*Presets are in workflow/config/"):
        plan.load_preset(tmp_path / "missing.yaml")


# ---------------------------------------------------------------------------- outputs and captions


def test_outputs_follow_the_analysis_file_names():
    cfg = config(results_dir="out/", figures_dir="figs")
    assert plan.collect_files(cfg) == {Path(f).stem: f"out/{f}" for f in outputs.COLLECT_FILES}
    assert set(plan.stats_files(cfg).values()) == {f"out/{f}" for f in outputs.STATS_FILES}
    assert plan.stats_files(cfg)["tables_stats_md"] == "out/tables/stats.md"
    assert plan.figure_files(cfg) == [f"figs/{f}" for f in outputs.figure_files()]
    assert plan.export_files(cfg) == {"marl_eval": "out/marl_eval.json"}


def test_the_scaling_study_is_planned_only_over_several_agent_counts():
    cfg = config()
    assert not plan.scaling_planned(cfg, ["3m"]) and plan.scaling_planned(cfg, ["3m", "8m"])
    assert plan.study_table_files(cfg, ["3m"]) == [f"results/{f}" for f in outputs.OVERHEAD_FILES]
    assert plan.study_table_files(cfg, ["3m", "8m"])[-1] == "results/scaling.csv"
    assert plan.study_figure_files(cfg, ["3m", "8m"]) == [
        f"figures/{f}" for f in outputs.figure_files((outputs.OVERHEAD_FIGURE, outputs.SCALING_FIGURE))]


def test_every_figure_and_report_table_has_one_static_caption():
    captions = plan.figure_captions()
    assert set(captions) == set(plan.ALL_FIGURES) == {*outputs.FIGURE_NAMES, "overhead", "scaling"}
    assert all(len(text) > 80 and "\n" not in text for text in captions.values())
    tables = {*outputs.COLLECT_FILES, *outputs.STATS_FILES, *outputs.OVERHEAD_FILES, *outputs.SCALING_FILES}
    captioned = {f for f in tables if plan.table_caption_file(f)}
    assert captioned == {f for f in tables if not f.endswith((".tex", "curves.csv"))}
    # no caption file for an output that does not exist (e.g. one left behind by a rename)
    on_disk = {p.relative_to(plan.CAPTIONS_DIR / "results").as_posix().removesuffix(".rst")
               for p in (plan.CAPTIONS_DIR / "results").rglob("*.rst")}
    assert on_disk == captioned
    figures_on_disk = {p.stem for p in (plan.CAPTIONS_DIR / "figures").glob("*.rst")}
    assert figures_on_disk == set(plan.ALL_FIGURES)
