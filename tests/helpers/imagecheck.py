"""Checks on rendered pictures: not blank, and where a label's color shows (by hue, so shading counts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import rgb_to_hsv
from PIL import Image

#: A pixel shows a label color when its hue is within this of the color's hue (fraction of the circle).
HUE_TOLERANCE = 0.035
MIN_SATURATION = 0.45
#: Semi-transparent overlays on gray CT are paler: their hue stays, their saturation drops.
OVERLAY_SATURATION = 0.2
MIN_VALUE = 0.25


def load(path: Path) -> np.ndarray:
    assert Path(path).is_file(), f"{path} was not written"
    rgb = np.asarray(Image.open(path).convert("RGB"))
    return rgb


def assert_not_blank(rgb: np.ndarray, *, min_std: float = 12.0, min_colors: int = 50) -> None:
    gray = rgb.astype(float).mean(axis=2)
    assert gray.std() > min_std, f"image looks blank (luminance std {gray.std():.1f})"
    colors = len(np.unique(rgb.reshape(-1, 3)[:: max(1, rgb.size // 3 // 200000)], axis=0))
    assert colors >= min_colors, f"image has only {colors} colors"


def hue_mask(rgb: np.ndarray, color, *, hue_tol: float = HUE_TOLERANCE, min_sat: float = MIN_SATURATION) -> np.ndarray:
    """Pixels whose hue matches ``color`` (0..255 RGB), saturated and bright enough to be that color."""
    hsv = rgb_to_hsv(rgb.astype(float) / 255.0)
    target = rgb_to_hsv(np.asarray(color, dtype=float)[None, None] / 255.0)[0, 0]
    dh = np.abs(hsv[..., 0] - target[0])
    dh = np.minimum(dh, 1.0 - dh)
    return (dh < hue_tol) & (hsv[..., 1] > min_sat) & (hsv[..., 2] > MIN_VALUE)


def fraction_near(mask: np.ndarray, pixel, radius: int) -> float:
    """Share of ``mask`` pixels in the square of ``radius`` around pixel (column, row)."""
    col, row = (int(np.rint(v)) for v in np.ravel(pixel)[:2])
    h, w = mask.shape
    assert 0 <= col < w and 0 <= row < h, f"pixel {(col, row)} outside the {w}x{h} image"
    win = mask[max(row - radius, 0): row + radius + 1, max(col - radius, 0): col + radius + 1]
    return float(win.mean())


def centroid(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    assert len(rows), "no pixel of that color"
    return np.array([cols.mean(), rows.mean()])
