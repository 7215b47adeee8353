"""The method palette holds up in greyscale and for readers with a colour-vision deficiency,
measured with the CIEDE2000 colour difference (checked against its published test data) on
colours seen through Machado et al.'s (2009) simulation; and each method has a second cue, its
own line style and marker."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pps.analysis.render import vision as V
from pps.analysis.render.style import MIN_DELTA_E, MIN_LIGHTNESS_GAP, method_style, registered_styles
from pps.methods import METHODS

# Sharma, Wu and Dalal (2005), Table 1: (Lab 1, Lab 2, CIEDE2000)
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 2.8361, -74.0200), (50.0, 0.0, -82.7485), 3.4412),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0009), 7.1792),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.694), (23.0331, 14.973, -42.5619), 2.0373),
    ((2.0776, 0.0795, -1.135), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize("lab1, lab2, expected", SHARMA)
def test_ciede2000_matches_the_published_test_pairs(lab1, lab2, expected):
    assert float(V.delta_e2000(lab1, lab2)) == pytest.approx(expected, abs=1e-4)
    assert float(V.delta_e2000(lab2, lab1)) == pytest.approx(expected, abs=1e-4)  # symmetric


def test_colour_conversions_and_simulations_keep_their_fixed_points():
    np.testing.assert_allclose(V.srgb_to_lab(V.hex_to_rgb("#ffffff")), [100, 0, 0], atol=1e-3)
    np.testing.assert_allclose(V.srgb_to_lab(V.hex_to_rgb("#ff0000")), [53.24, 80.09, 67.20], atol=0.01)
    assert V.relative_luminance(V.hex_to_rgb("#ffffff")) == pytest.approx(1.0, abs=1e-6)
    grey = V.hex_to_rgb("#777777")
    for vision in V.CVD_MATRICES:  # a dichromat sees greys as greys (each matrix's rows sum to 1)
        np.testing.assert_allclose(V.simulate(grey, vision), V.srgb_to_linear(grey), atol=2e-3)
    # deuteranopia confuses red and green: their difference shrinks to a fraction of the normal one
    red, green = V.hex_to_rgb("#d62728"), V.hex_to_rgb("#2ca02c")
    normal = V.delta_e2000(V.srgb_to_lab(red), V.srgb_to_lab(green))
    deutan = V.delta_e2000(V.linear_to_lab(V.simulate(red, "deuteranopia")),
                           V.linear_to_lab(V.simulate(green, "deuteranopia")))
    assert deutan < 0.5 * normal


def test_every_pair_of_method_colours_stays_apart_in_every_vision_and_in_greyscale():
    styles = registered_styles()
    assert list(styles) == list(METHODS)  # every registered method has a style of its own
    colours = [s.color for s in styles.values()]
    names = list(styles)
    report = {}
    for vision in V.VISIONS:
        d = V.pairwise_delta_e(colours, vision)
        (i, j), worst = min(d.items(), key=lambda kv: kv[1])
        report[vision] = (names[i], names[j], round(worst, 1))
        assert worst >= MIN_DELTA_E, f"{vision}: {names[i]} vs {names[j]} CIEDE2000 {worst:.1f} < {MIN_DELTA_E}"
    gaps = V.pairwise_lightness_gap(colours)
    (i, j), worst = min(gaps.items(), key=lambda kv: kv[1])
    assert worst >= MIN_LIGHTNESS_GAP, f"greyscale: {names[i]} vs {names[j]} L* apart by {worst:.1f}"
    # what the style module's docstring promises (L* 20 ... 74, in the table's order)
    lightness = V.lightness(np.array([V.hex_to_rgb(c) for c in colours]))
    assert np.round(lightness).tolist() == [20, 42, 52, 31, 63, 74]


def test_each_method_also_has_its_own_line_style_and_marker():
    styles = registered_styles().values()
    assert len({str(s.linestyle) for s in styles}) == len(METHODS)
    assert len({s.marker for s in styles}) == len(METHODS)
    assert method_style("qmix").line() == {"color": "#192d64", "linestyle": "solid", "marker": "o"}
    # a scheme not yet in the method table still gets a distinct, stable style
    a, b = method_style("zz-new", ["zz-new", "aa-new"]), method_style("aa-new", ["zz-new", "aa-new"])
    assert a != b and a == method_style("zz-new", ["aa-new", "zz-new"])
    assert not ({a.color, b.color} & {s.color for s in styles})


def test_the_palette_minimums_are_not_slack():
    """The thresholds are the measured palette's, rounded down: a change to a colour that makes
    any pair closer than today fails here rather than passing a loose bound."""
    colours = [s.color for s in registered_styles().values()]
    worst_de = min(min(V.pairwise_delta_e(colours, v).values()) for v in V.VISIONS)
    worst_l = min(V.pairwise_lightness_gap(colours).values())
    assert MIN_DELTA_E <= worst_de < MIN_DELTA_E + 1 and MIN_LIGHTNESS_GAP <= worst_l < MIN_LIGHTNESS_GAP + 1
    assert all(a != b for a, b in itertools.combinations(colours, 2))
