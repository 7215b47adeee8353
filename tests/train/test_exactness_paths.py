"""The exactness properties under every BLAS and vector code path this CPU can be forced onto.

A run group's promise (a run's bits do not depend on its group) rests on `pps.nets.row_sums`
and on per-run optimiser steps, not on how one BLAS happens to block its loops. Each
setting below makes MKL or torch take another code path (instruction set, conditional
numerical reproducibility mode, thread count, torch's own kernel set); the
`exactness`-marked tests must hold under every one of them. Settings the machine cannot
honour (an instruction set it lacks, a BLAS other than MKL) fall back to the default path
and still must pass. The default path itself (all cores' threads) is the ordinary test run.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import REPO

ROOT = REPO
SETTINGS = {
    "mkl-sse4_2": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "mkl-avx2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "mkl-cbwr-compatible": {"MKL_CBWR": "COMPATIBLE"},
    # torch's scalar kernels, on one thread (one process for both keeps the suite short)
    "aten-scalar-one-thread": {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
}
# the exactness tests of the layers and the optimiser, at a few sizes each (the end-to-end
# group tests run once, on the default path, in test_run_groups.py)
SELECTION = ["tests/nets/test_row_sums.py", "tests/nets/test_active_rows.py", "tests/nets/test_agents_mixers.py",
             "tests/test_slot_optimizer.py", "tests/train/test_run_groups.py", "-m", "exactness", "-k",
             "not 64-192 and not 15-64"]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SETTINGS))
def test_exactness_holds_on_every_forced_code_path(name):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MKL_", "ATEN_CPU"))}
    env.update(SETTINGS[name])
    # one process (-n 0): the suite around this test already keeps every core busy
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-n", "0", "-p", "no:cacheprovider", *SELECTION],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{name}: {done.stdout[-3000:]}{done.stderr[-2000:]}"
    assert " passed" in done.stdout
