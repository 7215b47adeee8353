"""Helpers that tests import by name; `REPO` is the repository root (checked, so a test moved
to another depth fails here instead of looking for files in the wrong place)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if not (REPO / "Snakefile").is_file():
    raise RuntimeError(f"tests/helpers expected the repository root at {REPO}")
