"""Fixtures shared across the suite.

Helpers that tests import by name (synthetic run folders, the CPU stand-in for CUDA, an
interrupted training loop, stand-in env backends) live in `tests/helpers/`; fixtures that
pytest injects live here.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch


def _run_pps(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """`pps ARGS` in a fresh interpreter: what a user's shell runs, startup and exit code included."""
    return subprocess.run([sys.executable, "-m", "pps.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


@pytest.fixture
def pps_cli() -> Callable[..., subprocess.CompletedProcess]:
    """Run the `pps` command line in a subprocess: `pps_cli("maps", "--env", "smax")`."""
    return _run_pps


@pytest.fixture(autouse=True)
def malloc_policy_stays_glibcs(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pps train` and `pps bench` called in-process (`pps.cli.main`) would switch this test
    worker's malloc to keep freed memory for every later test; the policy is tested in
    subprocesses (tests/test_allocator.py), where the commands run as users run them."""
    monkeypatch.setattr("pps.allocator.retain_freed_memory", lambda: False)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread, as every training run uses by default: the bit-identity promises hold
    there. Restores the previous count afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The SLURM test first: it spends its two minutes mostly waiting on the scheduler, so it
    overlaps the other worker's CPU-bound tests instead of running alone at the end (xdist's
    work stealing hands each worker a contiguous share of the collection, in this order)."""
    items.sort(key=lambda item: item.get_closest_marker("slurm") is None)
