"""Figures a paper can print: every figure of `pps plot`, `pps overhead` and `pps scaling` is drawn
on a canvas exactly as wide as its print size (7 in, 3.3 in), with every text at 8 pt or more
and nothing outside the canvas, no title or note unless asked for, and each method in its own
colour, line style and marker; on a grid with both task families, the hardest layout."""

from __future__ import annotations

import matplotlib.pyplot as plt  # matplotlib and the figures: only the figure tests import them
import pytest
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import ScalarFormatter

from pps.analysis.convergence import run_convergence, speedup_table
from pps.analysis.data.cells import chosen_cells
from pps.analysis.data.collect import collect
from pps.analysis.data.runs import load_runs
from pps.analysis.figures import layout as L
from pps.analysis.figures import paper as P
from pps.analysis.figures.files import save_figure
from pps.analysis.figures.layout import COLUMN, FULL, MIN_FONT_PT, SIZES, empty_figure, print_problems, shown_texts
from pps.analysis.figures.studies import overhead_figure, scaling_figure
from pps.analysis.outputs import FIGURE_NAMES, FIGURE_SIZES
from pps.analysis.render.style import method_style
from pps.analysis.stats import figure_data as FD
from pps.analysis.stats.tables import across_maps, cell_stats
from pps.analysis.studies.overhead import overhead_runs, summarise
from pps.analysis.studies.scaling import scaling_table
from tests.helpers.synthetic_runs import sigmoid_curve, write_grid, write_run

SPREAD, R_RANDOM, R_REF = "simple_spread_v3", -80.1471, -26.2971


@pytest.fixture(scope="module")
def makers(tmp_path_factory):
    """name -> (size, annotate) -> figure, for every figure of the three commands."""
    runs = tmp_path_factory.mktemp("print") / "runs"
    write_grid(runs, seeds=(0, 1, 2), methods=(("qmix", None), ("vdn", None), ("qmix-ns", None), ("a-pps", 100),
                                               ("a-pps", 300), ("rs-pps", 300), ("pp-pps", 300)))
    for seed in range(3):  # a task without a win condition: the figures give it its own panels
        for method, interval in (("qmix", None), ("a-pps", 300)):
            write_run(runs, env="mpe", map_=SPREAD, method=method, interval=interval, seed=seed, win=0.0,
                      returns=lambda s, k=seed: R_RANDOM + (sigmoid_curve(40_000 + 5_000 * k)(s) * 1.1 - 0.05)
                      * (R_REF - R_RANDOM))
    found = load_runs(runs, report=lambda _: None)
    curves, final = collect(found, 3, runs_root=runs)
    stats, across = cell_stats(final, "qmix", 0), across_maps(final, "qmix", 0)
    speed = speedup_table(run_convergence(curves, [0.5, 0.8], 3), "qmix", 0)
    chosen = chosen_cells(final, 300)
    wall = FD.wallclock_runs(final)
    table = overhead_runs(found, runs_root=runs)
    summary = summarise(table, "qmix", seed=0)
    scaling = scaling_table(final, table, "qmix", seed=0)

    def paper(annotate: bool):
        return P.all_figures(final=final, stats=stats, across=across, speed=speed,
                             bands=FD.learning_curve_bands(curves, chosen, 0), wall_runs=wall,
                             wall_medians=FD.wallclock_medians(wall, 0),
                             profiles=FD.performance_profiles(final, chosen, 0),
                             efficiency=FD.sample_efficiency(curves, final, chosen, 0), chosen=chosen,
                             baseline="qmix", claims_interval=300, annotate=annotate)

    plain, drafts = paper(False), paper(True)
    out = _Makers({name: (lambda size, annotate, n=name: (drafts if annotate else plain)[n](size))
                   for name in FIGURE_NAMES})
    out["overhead"] = lambda size, annotate: overhead_figure(summary, table, "qmix", size=size, annotate=annotate)
    out["scaling"] = lambda size, annotate: scaling_figure(scaling, table, "qmix", 300, size=size, annotate=annotate)
    out.across = across  # what the across-map views must draw
    return out


class _Makers(dict):
    """name -> maker, with the across_maps table the makers draw from as `across`."""


def _check(fig, size, name: str) -> None:
    try:
        assert tuple(fig.get_size_inches())[0] == pytest.approx(size.width, abs=1e-9), name
        assert print_problems(fig) == [], f"{name} at {size.name} width"
        smallest = min(t.get_fontsize() for t in shown_texts(fig))
        assert smallest >= MIN_FONT_PT, f"{name} at {size.name}: a text at {smallest} pt"
    finally:
        plt.close(fig)


def test_the_print_sizes_are_a_column_and_the_full_text_width():
    assert FIGURE_SIZES == {"full": 7.0, "column": 3.3} and [s.width for s in SIZES] == [7.0, 3.3]
    assert (FULL.name, COLUMN.name) == ("full", "column") and COLUMN.column and not FULL.column


@pytest.mark.parametrize("size", SIZES, ids=lambda s: s.name)
def test_every_figure_prints_at_8_pt_or_more_inside_its_canvas(makers, size):
    for name, make in makers.items():
        fig = make(size, False)
        # no title and no note on the canvas: captions live in the caption files
        assert not fig.texts and fig._suptitle is None, f"{name} carries a title or note"
        _check(fig, size, name)


def test_drafts_carry_title_and_note_and_still_print(makers):
    for name, make in makers.items():
        fig = make(COLUMN, True)
        title = fig.texts[0]
        assert title.get_fontweight() == "bold" and title.get_text(), name
        assert any("95%" in t.get_text() or "median" in t.get_text() for t in fig.texts[1:]), name
        _check(fig, COLUMN, name)


def test_a_figure_with_nothing_to_show_says_why_at_both_sizes():
    for size in SIZES:
        fig = empty_figure(size, "Interval sensitivity needs a PPS method run at ≥ 2 intervals K; this run has "
                                 "K = 300.", annotate=False, title="Interval sensitivity")
        assert any("needs a PPS method" in t.get_text().replace("\n", " ") for t in shown_texts(fig))
        _check(fig, size, "empty")


def _panel(ys, title="3m"):
    with L.drawing():
        fig, axes = L.new_figure(FULL, 1, 1, 2.0)
    axes[0, 0].plot([0, 1], ys)
    axes[0, 0].set_title(title)
    return fig, axes[0, 0]


def test_nothing_can_sit_under_a_panel_title():
    """Titles sit at a fixed height (matplotlib does not move them out of the way), so ticks
    carry whole values, never an offset or a power of ten at the axis end, and the check
    refuses whatever still puts one there (an untitled twin's too), or x labels at the top."""
    for ys in ([1e6, 1e6 + 1], [0, 1e-7], [2.5e8, 3e8]):
        fig, _ = _panel(ys)
        L.finish(fig, FULL, annotate=False, title="")
        try:
            assert print_problems(fig) == [], ys
        finally:
            plt.close(fig)
    fig, ax = _panel([0, 1])
    twin = ax.twinx()
    twin.plot([0, 1], [1e6, 1e6 + 1])
    twin.yaxis.set_major_formatter(ScalarFormatter(useOffset=True))
    fig.canvas.draw()
    assert any("offset" in p for p in print_problems(fig)), print_problems(fig)
    plt.close(fig)
    fig, ax = _panel([0, 1], title="")
    ax.set_title("3m", loc="left")
    ax.xaxis.tick_top()
    assert any("'3m'" in p and "top" in p for p in print_problems(fig)), print_problems(fig)
    plt.close(fig)


def test_every_format_is_saved_with_the_layout_it_was_drawn_with(makers, tmp_path):
    """One layout for the PNG and the PDF alike (the save does not lay the figure out again),
    on a draft whose header grew the canvas after its labels were fitted: saved straight from
    its maker, it sits where the same figure laid out once more does, and passes the checks."""
    fig, again = makers["learning_curves"](COLUMN, True), makers["learning_curves"](COLUMN, True)
    try:
        written = save_figure(fig, tmp_path / "lc", ("png", "pdf"))
        assert [p.suffix for p in written] == [".png", ".pdf"] and all(p.stat().st_size > 0 for p in written)
        assert not isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)  # kept as laid out
        again.draw_without_rendering()
        saved, expected = ([ax.get_position().bounds for ax in f.axes] for f in (fig, again))
        assert saved == [pytest.approx(b, abs=1e-9) for b in expected]
        assert print_problems(fig) == []
    finally:
        plt.close(fig)
        plt.close(again)


def test_each_method_is_drawn_in_its_colour_line_style_and_marker(makers):
    fig = makers["learning_curves"](FULL, False)
    seen = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            label = line.get_label()
            if label.startswith("_"):
                continue
            method = {"QMIX": "qmix", "VDN": "vdn", "QMIX-NS": "qmix-ns"}.get(label, label.split(" ")[0].lower())
            st = method_style(method)
            assert (line.get_color(), line.get_marker()) == (st.color, st.marker), label
            assert line.get_linestyle() == ("-" if st.linestyle == "solid" else "--"), label  # dashes are patterns
            seen[method] = (line.get_color(), str(line.get_dashes() if hasattr(line, "get_dashes") else ""),
                            line.get_marker())
    plt.close(fig)
    assert set(seen) == {"qmix", "vdn", "qmix-ns", "a-pps", "rs-pps", "pp-pps"}
    assert len({m for _, _, m in seen.values()}) == len(seen)  # a marker each, as well as a colour each


def test_a_column_never_sets_more_than_two_panels_side_by_side(makers):
    for name in ("learning_curves", "probability_of_improvement", "wallclock", "performance_profiles",
                 "sample_efficiency", "overhead", "scaling"):
        fig = makers[name](COLUMN, False)
        lefts = {round(ax.get_position().x0, 3) for ax in fig.axes if ax.get_visible()}
        plt.close(fig)
        assert len(lefts) <= 2, name


def test_the_across_map_views_draw_the_tables_numbers(makers):
    """The across_maps_estimates figure draws across_maps.csv's columns: QMIX's marker on each panel
    of the pooled row sits at the table's value (nothing is recomputed in the figure)."""
    row = makers.across[(makers.across["tasks"] == "all") & (makers.across["method"] == "qmix")].iloc[0]
    fig = makers["across_maps_estimates"](FULL, False)
    st = method_style("qmix")
    for title, column in (("Median", "median"), ("IQM", "iqm"), ("Mean", "mean"), ("Optimality gap", "optimality_gap")):
        ax = next(ax for ax in fig.axes if ax.get_title() == title)  # the first row: all tasks
        (point,) = [ln for ln in ax.get_lines() if ln.get_marker() == st.marker and len(ln.get_xdata()) == 1]
        assert point.get_xdata()[0] == row[column], title
        (bar,) = [ln for ln in ax.get_lines() if ln.get_color() == st.color and len(ln.get_xdata()) == 2]
        assert list(bar.get_xdata()) == [row[f"{column}_ci_low"], row[f"{column}_ci_high"]], title
    plt.close(fig)
