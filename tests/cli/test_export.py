"""`pps export --format marl-eval`: the command a user and the workflow run, in a fresh interpreter."""

from __future__ import annotations

import json

from tests.helpers.synthetic_runs import write_run


def test_pps_export_writes_marl_eval_json_and_names_what_it_left_out(tmp_path, pps_cli):
    runs = tmp_path / "results" / "runs"
    for seed in (0, 1):
        write_run(runs, seed=seed, t_max=10_000, win=0.5, per_episode=2)
    write_run(runs, seed=2, t_max=10_000, win=0.5)  # trained before per-episode values were kept
    out = tmp_path / "elsewhere" / "marl.json"
    done = pps_cli("export", "--format", "marl-eval", "--results", str(tmp_path / "results"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"pps export: 2 runs (1 left out, listed above) -> {out}"
    assert f"pps export: left out {runs / 'smax' / '3m' / 'qmix' / '-' / 'seed2'}: no per-episode values" \
        in done.stderr
    data = json.loads(out.read_text())
    assert list(data["smax"]["3m"]["qmix"]) == ["run_0", "run_1"]
    # default --out: <results>/marl_eval.json
    assert pps_cli("export", "--results", str(tmp_path / "results")).returncode == 0
    assert (tmp_path / "results" / "marl_eval.json").is_file()


def test_pps_export_refuses_an_unknown_format_or_no_runs_in_one_line(tmp_path, pps_cli):
    bad = pps_cli("export", "--format", "csv", "--results", str(tmp_path))
    assert bad.returncode == 2 and "invalid choice: 'csv'" in bad.stderr and "Traceback" not in bad.stderr
    empty = pps_cli("export", "--results", str(tmp_path))
    assert empty.returncode == 2 and "does not exist" in empty.stderr and "Traceback" not in empty.stderr
    listed = pps_cli("--help")
    assert "export" in listed.stdout
