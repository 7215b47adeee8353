"""The Snakemake workflow's grid and config validation, by dry runs (no job runs here).

Every call runs `snakemake` on the repository's Snakefile in a temporary working directory,
so nothing here touches the user's results/ or figures/.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from snakemake.api import SnakemakeApi
from snakemake.settings.enums import Quietness
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings
from snakemake_interface_common.exceptions import WorkflowError

from pps.envs import registry
from pps.methods import METHODS
from tests.helpers import REPO
from tests.test_plan import BAD_CONFIGS, expected_runs

SNAKEFILE = REPO / "Snakefile"
PAPER = REPO / "workflow" / "config" / "paper.yaml"
DEFAULT = REPO / "workflow" / "config" / "default.yaml"


@dataclass
class PlannedJob:
    rule: str
    output: list[str]
    log: list[str]
    resources: dict
    shellcmd: str


def plan(workdir: Path, *targets: str, configfile: Path | None = None, **config) -> list[PlannedJob]:
    """Every job `snakemake -n` would run, in-process (the CLI costs ~3 s of imports per call).

    `config` is what `--config KEY=VALUE` gives; values as strings, exactly as the CLI parses
    them (`seeds="[0,1]"`), go through the same parsing. Reads the DAG through Snakemake's API;
    the DAG object itself is not public API, so this helper is the one place that touches it.
    """
    from snakemake.cli import parse_config

    overrides = parse_config([f"{k}={v}" for k, v in config.items()])
    cwd = os.getcwd()
    try:
        with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
            workflow = api.workflow(
                snakefile=SNAKEFILE, workdir=workdir,
                config_settings=ConfigSettings(config=overrides, configfiles=[configfile] if configfile else []),
                resource_settings=ResourceSettings(cores=1),
            )
            dag_api = workflow.dag(DAGSettings(targets=set(targets)))
            with contextlib.redirect_stdout(io.StringIO()):
                dag_api.summary()  # builds the DAG
            dag = dag_api.workflow_api._workflow.dag
            return [
                PlannedJob(job.rule.name, [str(f) for f in job.output], [str(f) for f in job.log],
                           dict(job.resources.items()), job.shellcmd or "")
                for job in dag.jobs
            ]
    finally:
        os.chdir(cwd)


def snakemake_cli(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["snakemake", "-s", str(SNAKEFILE), "-d", str(workdir), *args],
        capture_output=True, text=True, timeout=120,
    )


def train_runs(jobs: list[PlannedJob]) -> Counter:
    """How many training runs each kind of train rule plans: `train` (baselines) and
    `train_pps`, each counting its jobs of several seeds (train_seeds_*, train_pps_seeds_*)."""
    return Counter(kind(j) for j in train_jobs(jobs) for _ in j.output)


def train_jobs(jobs: list[PlannedJob]) -> list[PlannedJob]:
    return [j for j in jobs if j.rule.startswith("train")]


def kind(job: PlannedJob) -> str:
    return "train_pps" if job.rule.startswith("train_pps") else "train"


# ---------------------------------------------------------------------------- the grid


def test_default_preset_covers_every_method(tmp_path):
    cfg = yaml.safe_load(DEFAULT.read_text())
    assert set(cfg["methods"]) == set(METHODS)
    assert len(cfg["intervals"]) >= 2 and len(cfg["seeds"]) == 3 and cfg["maps"] == ["3m"]
    jobs = plan(tmp_path)
    assert train_runs(jobs) == {"train": 3 * 3, "train_pps": 3 * 3 * len(cfg["intervals"])}
    assert Counter(j.rule for j in jobs if not j.rule.startswith("train")) == {
        "collect": 1, "stats": 1, "plot": 1, "overhead": 1, "export": 1, "all": 1
    }  # one map, one agent count: no scaling study


def test_paper_preset_plans_maps_x_seeds_x_methods(tmp_path):
    cfg = yaml.safe_load(PAPER.read_text())
    smac = [m for m in cfg["maps"] if cfg["envs"].get(m, cfg["envs"]["default"]) == "smac"]
    assert set(smac) == {"MMM2", "corridor"}
    usable = {e.map for e in registry.list_maps("smac") if e.usable_here}
    maps_here = len(cfg["maps"]) - len([m for m in smac if m not in usable])
    def n(maps):
        return expected_runs(maps, len(cfg["seeds"]), cfg["methods"], len(cfg["intervals"]))

    assert sum(train_runs(plan(tmp_path, configfile=PAPER)).values()) == n(maps_here)
    assert sum(train_runs(plan(tmp_path, configfile=PAPER, use_smac="true")).values()) == n(5) == 450
    assert sum(train_runs(plan(tmp_path, configfile=PAPER, use_smac="false")).values()) == n(3) == 270


def test_paper_preset_replaces_the_default_one(tmp_path):
    """--configfile paper.yaml must not inherit default.yaml's run keys (Snakemake merges)."""
    jobs = plan(tmp_path, configfile=PAPER, maps="[8m]", seeds="[0]")
    commands = [j.shellcmd for j in train_jobs(jobs)]
    assert len(commands) == 3 + 3 * 5  # one seed: one run per job
    assert all("--set t_max=2000000" in c and "--set batch_size=96" in c for c in commands)
    assert not any("n_envs" in c for c in commands)  # set in default.yaml, not in paper.yaml


def test_command_line_narrows_any_preset(tmp_path):
    jobs = plan(tmp_path, configfile=PAPER, maps="[3s_vs_5z]", seeds="[0,1]", methods="[qmix,rs-pps]",
                intervals="[300]")
    files = {f for j in jobs for f in j.output if f.endswith("metrics.csv")}
    assert files == {
        f"results/runs/smax/3s_vs_5z/{m}/{k}/seed{s}/metrics.csv"
        for m, k in (("qmix", "-"), ("rs-pps", "300")) for s in (0, 1)
    }


def test_run_paths_are_unambiguous(tmp_path):
    """Baselines live under <method>/-/, PPS methods under <method>/<K>/, one rule each."""
    jobs = plan(tmp_path)
    for job in train_jobs(jobs):
        assert {Path(f).name for f in job.output} == {"metrics.csv"}  # only the file a finished run has
        for path in job.output:
            _, _, env, map_name, method, interval, seed, _name = path.split("/")
            assert (env, map_name) == ("smax", "3m") and seed in ("seed0", "seed1", "seed2")
            if METHODS[method].aggregates:
                assert kind(job) == "train_pps" and interval in ("50", "200")
            else:
                assert kind(job) == "train" and interval == "-"
    (collect,) = [j for j in jobs if j.rule == "collect"]
    assert collect.output == ["results/curves.csv", "results/final.csv"]


@pytest.mark.parametrize(
    "target",
    [
        "results/runs/smax/3m/qmix/50/seed0/metrics.csv",  # a baseline with an interval
        "results/runs/smax/3m/a-pps/-/seed0/metrics.csv",  # a PPS method without one
        "results/runs/smax/3m/a-pps/050/seed0/metrics.csv",  # the same K spelt two ways
        "results/runs/smax/3m/qmix/-/seed0/extra/metrics.csv",  # a path read two ways
        "results/runs/nope/3m/qmix/-/seed0/metrics.csv",  # an unknown backend
    ],
)
def test_paths_that_name_no_valid_run_have_no_rule(tmp_path, target):
    with pytest.raises(Exception, match="No rule to produce"):
        plan(tmp_path, target)


def test_train_command_passes_every_run_key(tmp_path):
    (job,) = plan(
        tmp_path, "results/runs/smax/3m/pp-pps/50/seed1/metrics.csv",
        run="{t_max: 5000, double_q: false, pp_shared: [fc1.weight, fc1.bias]}",
    )
    command = job.shellcmd
    run = yaml.safe_load(DEFAULT.read_text())["run"] | {"t_max": 5000, "double_q": False}
    # the default preset trains its three seeds of a cell in one job (seeds_per_job: 5)
    assert "pps train --env smax --map 3m --method pp-pps --interval 50 --seeds 0 1 2" in command
    assert "--out results/runs/smax/3m/pp-pps/50 " in command
    for key, value in run.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        assert f"--set {key}={text} " in command
    assert "--set 'pp_shared=[fc1.weight,fc1.bias]'" in command
    assert "--set threads=1 " in command


def test_resources_scale_with_map_and_budget(tmp_path):
    def train_resources(map_name="3m", **config):
        (job,) = plan(tmp_path, f"results/runs/smax/{map_name}/qmix/-/seed0/metrics.csv", **config)
        return job.resources

    small = train_resources()
    big = train_resources("8m", maps="[8m]")
    longer = train_resources(run="{t_max: 2000000}")
    assert small["_cores"] == 1 and small["mem_mb"] > 1000
    assert big["mem_mb"] > small["mem_mb"] and big["runtime"] > small["runtime"]
    assert longer["runtime"] > small["runtime"] and longer["mem_mb"] == small["mem_mb"]
    site = train_resources(resources="{slurm: {slurm_partition: short, slurm_account: proj}}")
    assert site["slurm_partition"] == "short" and site["slurm_account"] == "proj"
    assert "slurm_partition" not in small


def test_train_memory_is_the_base_plus_the_runs_own_bytes(tmp_path):
    """mem_mb = resources.train.mem_mb + pps.memory's replay, learner batch and checkpoint:
    the episode limit counts (SMAC corridor: 400 steps, ~1 MB per stored episode)."""
    from pps import memory

    def mem_mb(env, map_name, **config):  # of a job that trains one run
        (job,) = plan(tmp_path, f"results/runs/{env}/{map_name}/qmix/-/seed0/metrics.csv",
                      seeds_per_job=1, **config)
        return job.resources["mem_mb"]

    run = yaml.safe_load(DEFAULT.read_text())["run"]
    base = yaml.safe_load(DEFAULT.read_text())["resources"]["train"]["mem_mb"]
    assert mem_mb("smax", "8m", maps="[8m]") == base + memory.train_memory_mb(
        "smax", "8m", buffer_size=run["buffer_size"], batch_size=run["batch_size"])
    paper = yaml.safe_load(PAPER.read_text())
    corridor = mem_mb("smac", "corridor", configfile=PAPER, use_smac="true")
    assert corridor == paper["resources"]["train"]["mem_mb"] + memory.train_memory_mb(
        "smac", "corridor", buffer_size=paper["run"]["buffer_size"], batch_size=paper["run"]["batch_size"])
    # 5000 corridor episodes alone are 5 GB; the old per-agent rule asked for 3.8 GB in all
    assert corridor > paper["resources"]["train"]["mem_mb"] + 5000
    assert mem_mb("smax", "8m", maps="[8m]", run="{compact_buffer: false}") > mem_mb("smax", "8m", maps="[8m]")


# ---------------------------------------------------------------------------- seeds_per_job

CELLS = [("qmix", "-"), ("a-pps", "50")]
SMALL_GRID = dict(seeds="[0,1,2]", methods="[qmix,a-pps]", intervals="[50]")


def test_seeds_per_job_groups_each_cells_seeds_into_jobs(tmp_path):
    """seeds_per_job 2, seeds 0-2: two jobs per cell, {0, 1} together and {2} alone, whose
    outputs are exactly the cell's three runs; the rest of the plan is unchanged."""
    grouped = plan(tmp_path, seeds_per_job=2, **SMALL_GRID)
    single = plan(tmp_path, seeds_per_job=1, **SMALL_GRID)
    def cell_jobs(m):
        return [j for j in train_jobs(grouped) if f"/{m}/" in j.output[0]]
    for method, k in CELLS:
        cell = f"results/runs/smax/3m/{method}/{k}"
        pair, alone = sorted(cell_jobs(method), key=lambda j: -len(j.output))
        assert len(cell_jobs(method)) == 2
        assert pair.output == [f"{cell}/seed0/metrics.csv", f"{cell}/seed1/metrics.csv"]
        assert alone.output == [f"{cell}/seed2/metrics.csv"]
        prefix = "train_pps" if k != "-" else "train"
        assert (pair.rule, alone.rule) == (f"{prefix}_seeds_0_1", prefix)
        interval = "" if k == "-" else f" --interval {k}"
        assert f"pps train --env smax --map 3m --method {method}{interval} --seeds 0 1 --out {cell} " in pair.shellcmd
        assert f"--seed 2 --out {cell}/seed2 " in alone.shellcmd
        assert pair.log == [f"results/logs/train/smax/3m/{method}/{k}/seeds0-1.log"]
        assert alone.log == [f"results/logs/train/smax/3m/{method}/{k}/seed2.log"]
        # one process: the threads of one run, the base memory once plus two runs' own, twice the time
        base = yaml.safe_load(DEFAULT.read_text())["resources"]["train"]["mem_mb"]
        assert pair.resources["_cores"] == alone.resources["_cores"] == 1
        assert pair.resources["mem_mb"] - base == 2 * (alone.resources["mem_mb"] - base)
        assert pair.resources["runtime"] in (2 * alone.resources["runtime"], 2 * alone.resources["runtime"] + 1)
    # every run exactly once, the same runs as one job per run, and the same analysis jobs
    def files(jobs):
        return sorted(f for j in train_jobs(jobs) for f in j.output)
    assert files(grouped) == files(single) and len(files(grouped)) == len(set(files(grouped))) == 6
    def others(jobs):
        return sorted((j.rule, j.output) for j in jobs if not j.rule.startswith("train"))
    assert others(grouped) == others(single)


def test_seeds_per_job_1_plans_one_job_per_run(tmp_path):
    jobs = plan(tmp_path, seeds_per_job=1, **SMALL_GRID)
    assert len(train_jobs(jobs)) == 6 and {j.rule for j in train_jobs(jobs)} == {"train", "train_pps"}
    for job in train_jobs(jobs):
        (path,) = job.output
        run = str(Path(path).parent)
        seed = Path(run).name.removeprefix("seed")
        assert f" --seed {seed} --out {run} " in job.shellcmd and "--seeds" not in job.shellcmd
        assert job.log == [run.replace("results/runs/", "results/logs/train/") + ".log"]


def test_seeds_per_job_larger_than_the_seeds_makes_one_job_per_cell(tmp_path):
    assert yaml.safe_load(PAPER.read_text())["seeds_per_job"] == 1  # batch 96: groups gain little on a CPU
    jobs = plan(tmp_path, configfile=PAPER, maps="[8m]", methods="[qmix,a-pps]", intervals="[300]", seeds_per_job="5")
    assert sorted(j.rule for j in train_jobs(jobs)) == ["train_pps_seeds_0_1_2_3_4", "train_seeds_0_1_2_3_4"]
    assert all(len(j.output) == 5 for j in train_jobs(jobs))
    # a seed outside the grid is still one run of the one-run rule; a grouped seed is its group's
    (job,) = plan(tmp_path, "results/runs/smax/8m/qmix/-/seed12/metrics.csv", configfile=PAPER, seeds_per_job="5")
    assert job.rule == "train" and job.output == ["results/runs/smax/8m/qmix/-/seed12/metrics.csv"]
    (job,) = plan(tmp_path, "results/runs/smax/8m/qmix/-/seed2/metrics.csv", configfile=PAPER, seeds_per_job="5")
    assert job.rule == "train_seeds_0_1_2_3_4"


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize("config, message", BAD_CONFIGS)
def test_bad_config_is_named_with_the_valid_values(tmp_path, config, message):
    with pytest.raises(WorkflowError) as err:
        plan(tmp_path, **config)
    assert "Invalid workflow configuration" in str(err.value) and message in str(err.value)


def test_bad_config_stops_the_real_command_before_any_job(tmp_path):
    proc = snakemake_cli(tmp_path, "--cores", "1", "all", "--config", "mpas=[3m]")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "unknown key 'mpas'. Did you mean 'maps'?" in out
    assert "Building DAG" not in out and not (tmp_path / "results").exists()


def test_the_analysis_jobs_pass_the_options_a_reference_set_records(tmp_path):
    """`pps evidence` records `pps.plan.collect_args`, `stats_args` and `figure_args` as the
    options a set's tables were made with: the rules pass exactly those."""
    jobs = {j.rule: j.shellcmd for j in plan(tmp_path, final_window="4", thresholds="[0.4,0.9]",
                                              figures_annotate="true")}
    assert "pps collect --runs results/runs --out results --final-window 4 >" in jobs["collect"]
    assert "pps stats --results results --baseline qmix --thresholds 0.4 0.9 >" in jobs["stats"]
    assert "pps plot --results results --out figures --annotate >" in jobs["plot"]


def test_workflow_is_lint_clean():
    proc = subprocess.run(["snakemake", "--lint"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr


# ---------------------------------------------------------------------------- the default profile

PROFILE_FLAGS = ("keep_going", "rerun_incomplete", "keep_incomplete", "show_failed_logs", "printshellcmds")


def test_a_plain_snakemake_loads_the_default_profile(monkeypatch):
    """`snakemake --cores 2 all` in the repository, parsed as the `snakemake` command parses
    it: Snakemake looks for profiles/default next to the Snakefile (and in the working
    directory); the top-level profiles/ is a link to workflow/profiles, so one file counts."""
    from snakemake.cli import parse_args

    assert (REPO / "profiles" / "default" / "config.yaml").resolve() == \
        (REPO / "workflow" / "profiles" / "default" / "config.yaml").resolve()
    monkeypatch.chdir(REPO)
    _, plain = parse_args(["--cores", "2", "all"])
    assert all(getattr(plain, flag) for flag in PROFILE_FLAGS) and plain.cores == 2
    _, without = parse_args(["--cores", "2", "all", "--workflow-profile", "none"])
    assert not any(getattr(without, flag) for flag in PROFILE_FLAGS)
    # under the SLURM profile too, and without a `cores` that would cap every job's threads
    _, slurm = parse_args(["--profile", "workflow/profiles/slurm", "all"])
    assert slurm.executor == "slurm" and slurm.cores is None
    assert all(getattr(slurm, flag) for flag in PROFILE_FLAGS)


def test_the_default_profile_shows_in_a_plain_dry_run(tmp_path):
    """The real command, from the repository and from elsewhere (-s, as the tests run it):
    Snakemake names the profile, and printshellcmds makes the dry run show every command."""
    for cwd, snakefile in ((REPO, []), (tmp_path, ["-s", str(SNAKEFILE)])):
        proc = subprocess.run(["snakemake", *snakefile, "-d", str(tmp_path / "work"), "-n", "--cores", "2", "all"],
                              cwd=cwd, capture_output=True, text=True, timeout=120)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        assert "Using workflow specific profile" in out and "profiles/default" in out
        assert "pps train --env smax --map 3m --method qmix --seeds 0 1 2 --out results/runs/smax/3m/qmix/-" in out
