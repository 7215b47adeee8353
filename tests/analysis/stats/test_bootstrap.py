"""One bootstrap resample count for the whole suite: every CI of every table, every band and
interval on a figure, and every caption that names a bootstrap use `N_RESAMPLES` (they were
1,000, 2,000 and 20,000 in different places)."""

from __future__ import annotations

import ast

import numpy as np

from pps.analysis.stats import bootstrap as B
from pps.analysis.stats import figure_data as FD
from pps.analysis.stats.estimators import iqm
from tests.helpers import REPO

ANALYSIS = REPO / "pps" / "analysis"
# the claim rules' permutation tests draw Monte Carlo relabellings, not bootstrap resamples
NOT_BOOTSTRAP = (ANALYSIS / "claims",)


def _modules():
    for path in sorted(ANALYSIS.rglob("*.py")):
        if not any(path.is_relative_to(p) for p in NOT_BOOTSTRAP):
            yield path, ast.parse(path.read_text())


def test_no_module_sets_a_resample_count_of_its_own():
    owners = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) else []
            owners += [(path.name, t.id) for t in targets if isinstance(t, ast.Name) and "RESAMPLES" in t.id]
            # nor passes a literal count to a bootstrap (n_resamples=1000) or draws a literal number of rows
            if isinstance(node, ast.keyword) and node.arg == "n_resamples":
                assert not isinstance(node.value, ast.Constant), f"{path.name}: n_resamples={node.value.value}"
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "integers":
                sizes = [a for a in node.args[2:3] + [k.value for k in node.keywords if k.arg == "size"]]
                for size in sizes:
                    first = size.elts[0] if isinstance(size, ast.Tuple) else size
                    assert not isinstance(first, ast.Constant), f"{path.name}: draws {first.value} resamples"
    assert owners == [("bootstrap.py", "N_RESAMPLES"), ("bootstrap.py", "RESAMPLES_TEXT")]
    assert B.N_RESAMPLES == 20_000 and B.RESAMPLES_TEXT == "20,000 resamples"
    assert B.RESAMPLES_TEXT in B.CI_METHOD and B.RESAMPLES_TEXT in B.STRATIFIED_CI_METHOD


def test_learning_curve_bands_draw_the_suites_resample_count():
    matrix = np.array([[0.0, 0.5, 1.0], [0.2, 0.4, 0.8], [0.1, 0.9, 0.6], [0.3, 0.3, 0.7]])
    _, lo, hi = FD.iqm_band(matrix, np.random.default_rng(5))
    rows = np.random.default_rng(5).integers(0, 4, size=(B.N_RESAMPLES, 4))
    np.testing.assert_allclose((lo, hi), B.percentile_band(iqm(matrix[rows], axis=1)))


def test_every_caption_that_names_a_bootstrap_names_the_count():
    captions = sorted((REPO / "workflow" / "report" / "captions").rglob("*.rst"))
    named = [p for p in captions if "bootstrap" in p.read_text()]
    assert len(named) >= 10
    for path in named:
        assert B.RESAMPLES_TEXT in " ".join(path.read_text().split()), path.relative_to(REPO)
    for doc in ("figures/README.md", "docs/statistics.md"):
        text = " ".join((REPO / doc).read_text().split())
        for other in ("1,000 resamples", "2,000 resamples", "1000 resamples", "2000 resamples"):
            assert other not in text, doc


def test_mean_band_is_the_percentile_band_of_resampled_seed_means():
    """`mean_band` counts each resample's draws instead of copying [resamples, seeds, steps]:
    the band equals the one built from the copies, drawn from the same generator."""
    matrix = np.random.default_rng(0).normal(size=(6, 7))
    point, lo, hi = FD.mean_band(matrix, np.random.default_rng(3))
    draws = np.random.default_rng(3).integers(0, 6, size=(FD.N_RESAMPLES, 6))
    naive = matrix[draws].mean(axis=1)
    assert np.allclose(point, matrix.mean(axis=0))
    assert np.allclose(lo, np.quantile(naive, 0.025, axis=0)) and np.allclose(hi, np.quantile(naive, 0.975, axis=0))
    assert np.isnan(FD.mean_band(matrix[:1], np.random.default_rng(0))[1]).all()  # one seed: no band
