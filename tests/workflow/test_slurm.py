"""The SLURM profile end to end on a real one-node cluster (slurmctld + slurmd on localhost).

tests/workflow/slurm/run_slurm_test.sh installs Slurm and munge from apt when missing, starts the
cluster, runs a slice of the grid through workflow/profiles/slurm in a temporary folder and
stops everything again. It needs root and apt (Debian/Ubuntu); elsewhere the test is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "slurm" / "run_slurm_test.sh"


@pytest.mark.slow
@pytest.mark.slurm
@pytest.mark.timeout(900)
def test_slurm_profile_runs_the_workflow(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the SLURM test needs root (it installs Slurm and starts its daemons)")
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        pytest.skip("Slurm is not installed and apt-get is not available to install it")
    proc = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "work")],
        capture_output=True, text=True, timeout=880, env=dict(os.environ, PPS_SLURM_TIMEOUT="600"),
    )
    assert proc.returncode == 0, f"{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    assert "PASSED" in proc.stdout
    work = tmp_path / "work"
    assert (work / "figures" / "learning_curves.png").is_file()
    assert (work / "results" / "runs" / "smax" / "3m" / "a-pps" / "50" / "seed0" / "metrics.csv").is_file()
