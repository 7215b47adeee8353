"""Killing the workflow mid-run and starting it again: nothing retrained, nothing half-done kept.

The workflow mechanics are tested against a stand-in `pps` (put first on PATH) that keeps
the real command's file contract (docs/design.md §4, pps.train): run.json and checkpoint.pt
while running, metrics.csv.partial growing, metrics.csv written atomically at the end, a
rerun on the same folder resumes from the checkpoint, a finished run is a no-op. It also
logs the step every attempt starts from, so the test can prove that no run started from
scratch twice. The real `pps` end to end is in test_workflow_e2e.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.helpers import REPO

SNAKEFILE = REPO / "Snakefile"

FAKE_PPS = textwrap.dedent(
    """\
    #!{python}
    import argparse, json, os, sys, time
    from pathlib import Path

    from pps.analysis import outputs

    command, argv = sys.argv[1], sys.argv[2:]
    p = argparse.ArgumentParser()
    for flag in ("--env", "--map", "--method", "--interval", "--seed", "--out", "--runs", "--results",
                 "--baseline", "--final-window", "--figures", "--format"):
        p.add_argument(flag)
    p.add_argument("--seeds", nargs="+")
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--thresholds", nargs="*")
    a = p.parse_args(argv)

    if command == "train":
        sets = dict(item.split("=", 1) for item in a.set)
        # one run (--seed; --out is its folder) or a run group (--seeds; --out holds seed<S>/)
        outs = [Path(a.out)] if a.seeds is None else [Path(a.out) / f"seed{{s}}" for s in a.seeds]
        steps = {{}}
        for out in outs:
            out.mkdir(parents=True, exist_ok=True)
            if (out / "metrics.csv").exists():
                continue  # a finished run is a no-op
            ckpt, run_json = out / "checkpoint.pt", out / "run.json"
            # like pps.train: resume needs both run.json and the checkpoint
            steps[out] = int(ckpt.read_text()) if ckpt.exists() and run_json.exists() else 0
            with open(out / "attempts.log", "a") as f:
                f.write(f"{{steps[out]}}\\n")
            run_json.write_text(json.dumps({{"status": "running"}}))
        t_max, every = int(sets["t_max"]), int(sets["eval_interval"])
        while steps:  # the runs of a group train in lockstep
            time.sleep(float(os.environ.get("FAKE_PPS_STEP_S", "0")))
            for out in list(steps):
                ckpt = out / "checkpoint.pt"
                steps[out] += every
                if steps[out] > int(os.environ.get("FAKE_PPS_FAIL_AFTER", t_max)):
                    sys.exit("fake pps: failing as asked")
                with open(out / "metrics.csv.partial", "a") as f:
                    f.write(f"{{steps[out]}}\\n")
                (out / "checkpoint.tmp").write_text(str(steps[out]))
                os.replace(out / "checkpoint.tmp", ckpt)
                if steps[out] >= t_max:  # finished: metrics.csv last, as pps.train does
                    (out / "run.json").write_text(json.dumps({{"status": "finished"}}))
                    os.replace(out / "metrics.csv.partial", out / "metrics.csv")
                    ckpt.unlink()
                    del steps[out]
    elif command == "overhead":
        for root, names in ((Path(a.out), outputs.OVERHEAD_FILES),
                            (Path(a.figures), outputs.figure_files((outputs.OVERHEAD_FIGURE,)))):
            root.mkdir(parents=True, exist_ok=True)
            for name in names:
                (root / name).write_text(command)
    elif command == "export":
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(command)
    else:
        root = Path(a.out or a.results)
        files = {{"collect": outputs.COLLECT_FILES, "stats": outputs.STATS_FILES,
                  "plot": outputs.figure_files()}}[command]
        for name in files:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(command)
    """
)

SEEDS = "[0,1]"
METHODS = "[qmix,a-pps]"
RUNS = [f"results/runs/smax/3m/{m}/{k}/seed{s}" for m, k in (("qmix", "-"), ("a-pps", "50")) for s in (0, 1)]


@pytest.fixture
def fake_env(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pps"
    fake.write_text(FAKE_PPS.format(python=sys.executable))
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return env


def command(workdir: Path, *extra: str) -> list[str]:
    return [
        "snakemake", "-s", str(SNAKEFILE), "-d", str(workdir), "--cores", "2", *extra, "all",
        "--config", f"seeds={SEEDS}", f"methods={METHODS}", "intervals=[50]", "seeds_per_job=2",
        "run={t_max: 40, eval_interval: 1}",
    ]


def attempts(workdir: Path, run: str) -> list[int]:
    path = workdir / run / "attempts.log"
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def default_sigint() -> None:
    """Ctrl-C must reach the workflow even when the test suite itself was started as a
    background job (`cmd &` in a script), which makes it and its children ignore SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigint", "sigkill"])
def test_killed_workflow_resumes_without_retraining(tmp_path, fake_env, how):
    work = tmp_path / "work"
    env = dict(fake_env, FAKE_PPS_STEP_S="0.1")  # 40 steps: ~4 s per job
    proc = subprocess.Popen(command(work), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, preexec_fn=default_sigint)
    # two jobs (qmix, a-pps) of two seeds each train all four runs at once: wait until every
    # run is half-way (a checkpoint exists, no metrics.csv yet), then kill. (Not sooner: a run
    # killed before its first checkpoint rightly starts from scratch again.)
    def half_done():
        return [r for r in RUNS if (work / r / "checkpoint.pt").exists()]
    wait_for(lambda: len(half_done()) == len(RUNS), timeout=60)
    if how == "sigint":  # Ctrl-C: Snakemake stops its jobs and exits
        os.killpg(proc.pid, signal.SIGINT)
    else:  # the machine or the scheduler kills everything at once
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    interrupted = [r for r in RUNS if (work / r / "checkpoint.pt").exists()]
    assert len(interrupted) >= 1
    for run in interrupted:
        assert not (work / run / "metrics.csv").exists()  # a half-written run is not done
        assert (work / run / "metrics.csv.partial").exists()

    # start again, as the README says: after a hard kill Snakemake's lock is left behind and
    # `--unlock` clears it; then the very same command, no extra flag needed
    if how == "sigkill":
        unlock = subprocess.run(command(work, "--unlock"), env=env, capture_output=True, text=True, timeout=120)
        assert unlock.returncode == 0, unlock.stdout + unlock.stderr
    again = subprocess.run(command(work), env=env, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    for run in RUNS:
        starts = attempts(work, run)
        assert starts.count(0) == 1, (run, starts)  # trained from scratch exactly once
        assert (work / run / "metrics.csv").read_text().split() == [str(s) for s in range(1, 41)]
    for run in interrupted:
        assert attempts(work, run)[-1] > 0, "the interrupted run did not resume from its checkpoint"
    assert (work / "figures" / "learning_curves.png").exists()

    # and once everything is there, nothing is to be done
    done = subprocess.run(command(work), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Nothing to be done" in done.stdout + done.stderr


@pytest.mark.slow
def test_failed_job_keeps_its_checkpoint(tmp_path, fake_env):
    """A job that fails (e.g. OOM, time limit) loses only metrics.csv, which it never wrote."""
    work = tmp_path / "work"
    run = work / RUNS[0]
    run.mkdir(parents=True)
    (run / "run.json").write_text('{"status": "running"}')
    (run / "checkpoint.pt").write_text("20")
    (run / "metrics.csv.partial").write_text("".join(f"{s}\n" for s in range(1, 21)))
    target = f"{RUNS[0]}/metrics.csv"
    proc = subprocess.run(
        ["snakemake", "-s", str(SNAKEFILE), "-d", str(work), "--cores", "1", target,
         "--config", f"seeds={SEEDS}", f"methods={METHODS}", "intervals=[50]", "run={t_max: 40, eval_interval: 1}"],
        env=fake_env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert attempts(work, RUNS[0]) == [20]
    assert (run / "metrics.csv").read_text().split() == [str(s) for s in range(1, 41)]


@pytest.mark.slow
def test_group_job_leaves_its_finished_runs_alone(tmp_path, fake_env):
    """A job of several runs (seeds_per_job) reruns when some of them are missing: Snakemake
    must neither delete the finished ones' metrics.csv before it (they would train again from
    scratch: their checkpoints are gone) nor after it fails (their outputs are update())."""
    work = tmp_path / "work"
    done, half = work / RUNS[0], work / RUNS[1]  # qmix seeds 0 and 1: one job
    for run in (done, half):
        run.mkdir(parents=True)
    (done / "run.json").write_text('{"status": "finished"}')
    (done / "metrics.csv").write_text("".join(f"{s}\n" for s in range(1, 41)))
    (done / "attempts.log").write_text("0\n")
    (half / "run.json").write_text('{"status": "running"}')
    (half / "checkpoint.pt").write_text("20")
    (half / "metrics.csv.partial").write_text("".join(f"{s}\n" for s in range(1, 21)))
    target = [
        "snakemake", "-s", str(SNAKEFILE), "-d", str(work), "--cores", "1", f"{RUNS[1]}/metrics.csv",
        "--config", f"seeds={SEEDS}", f"methods={METHODS}", "intervals=[50]", "seeds_per_job=2",
        "run={t_max: 40, eval_interval: 1}",
    ]
    failed = subprocess.run(target, env=dict(fake_env, FAKE_PPS_FAIL_AFTER="30"), capture_output=True, text=True,
                            timeout=120)
    assert failed.returncode != 0 and "pps train" in failed.stdout + failed.stderr
    assert "--seeds 0 1 --out" in failed.stdout + failed.stderr  # one job for both runs
    assert (done / "metrics.csv").read_text().split() == [str(s) for s in range(1, 41)]
    assert (half / "checkpoint.pt").read_text() == "30"

    again = subprocess.run(target, env=fake_env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert attempts(work, RUNS[0]) == [0]  # never trained again
    assert attempts(work, RUNS[1]) == [20, 30]  # resumed, twice
    for run in (done, half):
        assert (run / "metrics.csv").read_text().split() == [str(s) for s in range(1, 41)]
