"""How a colour looks to a reader: CIELAB, CIEDE2000 colour difference, greyscale and simulated
colour-vision deficiency.

The method colours (`pps.analysis.render.style`) must stay apart when a figure is printed in
greyscale or read by someone with a colour-vision deficiency; these functions are how that
is measured rather than assumed (a test holds the palette to a minimum difference):

- **sRGB to CIELAB** (D65 white): IEC 61966-2-1 linearisation, the sRGB-to-XYZ matrix and
  CIE 1976 L*a*b*.
- **CIEDE2000** (Sharma, Wu and Dalal 2005, the formula and test data): the colour difference
  whose value tracks how different two colours look; about 1 is just noticeable, and 10 or
  more tells two lines apart at a glance.
- **Colour-vision deficiency**: the Machado, Oliveira and Fernandes (2009) matrices for
  protanopia, deuteranopia and tritanopia at severity 1.0 (complete dichromacy, the hardest
  case), applied to linear sRGB and clipped to the gamut, as colorspacious and colour-science
  apply them.
- **Greyscale**: a greyscale print keeps the relative luminance Y (CIE 1931), and a reader
  sees it as its lightness L*; two lines whose L* differ by a few units are the same grey.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# IEC 61966-2-1 sRGB primaries, D65 white: linear RGB -> XYZ (Y of white = 1)
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_WHITE_D65 = _RGB_TO_XYZ.sum(axis=1)

# Machado, Oliveira & Fernandes (2009), severity 1.0, on linear sRGB
CVD_MATRICES: dict[str, np.ndarray] = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
VISIONS: tuple[str, ...] = ("normal", *CVD_MATRICES)


def hex_to_rgb(colour: str) -> np.ndarray:
    """'#0173b2' -> sRGB in [0, 1]."""
    h = colour.lstrip("#")
    if len(h) != 6:
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    return np.array([int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)])


def srgb_to_linear(rgb) -> np.ndarray:
    rgb = np.asarray(rgb, float)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def linear_to_lab(linear) -> np.ndarray:
    """Linear sRGB [..., 3] -> CIELAB [..., 3] (D65)."""
    xyz = np.asarray(linear, float) @ _RGB_TO_XYZ.T / _WHITE_D65
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def srgb_to_lab(rgb) -> np.ndarray:
    return linear_to_lab(srgb_to_linear(rgb))


def simulate(rgb, vision: str) -> np.ndarray:
    """Linear sRGB as a reader with `vision` ('normal' or a key of CVD_MATRICES) sees it."""
    linear = srgb_to_linear(rgb)
    if vision == "normal":
        return linear
    return np.clip(linear @ CVD_MATRICES[vision].T, 0.0, 1.0)


def relative_luminance(rgb) -> np.ndarray:
    """CIE Y of sRGB colours: what a greyscale print keeps (0 black, 1 white)."""
    return srgb_to_linear(rgb) @ _RGB_TO_XYZ[1]


def lightness(rgb) -> np.ndarray:
    """CIE L* of sRGB colours (0 black, 100 white): the grey a reader sees in a greyscale print."""
    return srgb_to_lab(rgb)[..., 0]


def delta_e2000(lab1, lab2) -> np.ndarray:
    """CIEDE2000 colour difference of CIELAB colours [..., 3] (kL = kC = kH = 1)."""
    lab1, lab2 = np.asarray(lab1, float), np.asarray(lab2, float)
    L1, a1, b1 = np.moveaxis(lab1, -1, 0)
    L2, a2, b2 = np.moveaxis(lab2, -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dLp, dCp = L2 - L1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dHp = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    L_bar, c_bar_p = (L1 + L2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(np.abs(h1p - h2p) <= 180, h_sum / 2, np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2))
    h_bar = np.where(c1p * c2p == 0, h_sum, h_bar)
    t = (1 - 0.17 * np.cos(np.radians(h_bar - 30)) + 0.24 * np.cos(np.radians(2 * h_bar))
         + 0.32 * np.cos(np.radians(3 * h_bar + 6)) - 0.20 * np.cos(np.radians(4 * h_bar - 63)))
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(c_bar_p**7 / (c_bar_p**7 + 25.0**7))
    s_l = 1 + 0.015 * (L_bar - 50) ** 2 / np.sqrt(20 + (L_bar - 50) ** 2)
    s_c = 1 + 0.045 * c_bar_p
    s_h = 1 + 0.015 * c_bar_p * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return np.sqrt((dLp / s_l) ** 2 + (dCp / s_c) ** 2 + (dHp / s_h) ** 2 + r_t * (dCp / s_c) * (dHp / s_h))


def pairwise_delta_e(colours: Sequence[str], vision: str = "normal") -> dict[tuple[int, int], float]:
    """{(i, j): CIEDE2000 between colours i < j as a reader with `vision` sees them}."""
    lab = linear_to_lab(simulate(np.array([hex_to_rgb(c) for c in colours]), vision))
    return {(i, j): float(delta_e2000(lab[i], lab[j])) for i in range(len(colours)) for j in range(i + 1, len(colours))}


def pairwise_lightness_gap(colours: Sequence[str]) -> dict[tuple[int, int], float]:
    """{(i, j): |L*_i - L*_j|}: how far apart colours i < j are as greys."""
    light = lightness(np.array([hex_to_rgb(c) for c in colours]))
    return {(i, j): float(abs(light[i] - light[j])) for i in range(len(colours)) for j in range(i + 1, len(colours))}
