"""Pure slice geometry and colouring for the three 2D views (no Qt, no VTK).

Each view shows one array slice turned into the radiological screen orientation:
axial: patient left on screen right, anterior up; coronal: left on the right, head up;
sagittal: anterior on the left, head up. A `SlicePlane` knows which array axis is the view normal
and which array axes run along the screen's columns and rows (and whether they are flipped), so
that a screen pixel maps back to an array index and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ivcplan.volume import Grid

#: Window/level presets (width, centre) in HU.
PRESETS: dict[str, tuple[float, float]] = {
    "abdomen": (400.0, 40.0),
    "liver": (150.0, 90.0),
    "vessels": (600.0, 150.0),
    "bone": (1800.0, 400.0),
}
MIN_WINDOW_HU = 1.0

# view name -> (normal LPS axis, LPS axis growing to screen right (+1/-1), LPS axis growing up)
_ORIENTATIONS: dict[str, tuple[int, tuple[int, int], tuple[int, int]]] = {
    "axial": (2, (0, +1), (1, -1)),      # right = +L, up = anterior (-P)
    "coronal": (1, (0, +1), (2, +1)),    # right = +L, up = +S
    "sagittal": (0, (1, +1), (2, +1)),   # right = +P (anterior on the left), up = +S
}
VIEW_NAMES: tuple[str, ...] = tuple(_ORIENTATIONS)
_POSITIVE, _NEGATIVE = "LPS", "RAI"  # letter of each LPS axis' positive and negative direction


def screen_letters(name: str) -> dict[str, str]:
    """Anatomical letter at each screen edge of view ``name``: {"left", "right", "top", "bottom"} -> R/L/A/P/S/I."""
    if name not in _ORIENTATIONS:
        raise ValueError(f"view must be one of {VIEW_NAMES}, got {name!r}")
    _, (right_axis, right_sign), (up_axis, up_sign) = _ORIENTATIONS[name]

    def letter(axis: int, sign: int) -> str:
        return (_POSITIVE if sign > 0 else _NEGATIVE)[axis]

    return {"right": letter(right_axis, right_sign), "left": letter(right_axis, -right_sign),
            "top": letter(up_axis, up_sign), "bottom": letter(up_axis, -up_sign)}


#: Scale bar lengths (mm) to choose from: the longest that fits SCALE_BAR_MAX_SHARE of the view width.
SCALE_BAR_LENGTHS_MM: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0)
SCALE_BAR_MAX_SHARE = 0.25


def scale_bar_length(pixels_per_mm: float, view_width_px: float) -> float:
    """Longest `SCALE_BAR_LENGTHS_MM` entry not wider than `SCALE_BAR_MAX_SHARE` of the view (else the shortest)."""
    fits = [mm for mm in SCALE_BAR_LENGTHS_MM if mm * pixels_per_mm <= SCALE_BAR_MAX_SHARE * view_width_px]
    return fits[-1] if fits else SCALE_BAR_LENGTHS_MM[0]


@dataclass(frozen=True)
class SlicePlane:
    """How one 2D view cuts a grid: array axes and flips, plus pixel spacing on screen."""

    name: str
    normal_axis: int
    col_axis: int
    row_axis: int
    flip_col: bool
    flip_row: bool
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]

    @property
    def size(self) -> tuple[int, int]:
        """(columns, rows) of the displayed image."""
        return self.shape[self.col_axis], self.shape[self.row_axis]

    @property
    def pixel_spacing(self) -> tuple[float, float]:
        """(column, row) spacing in mm."""
        return self.spacing[self.col_axis], self.spacing[self.row_axis]

    @property
    def depth(self) -> int:
        return self.shape[self.normal_axis]

    def extract(self, array: np.ndarray, index: int) -> np.ndarray:
        """The slice at ``index`` along the normal as a (rows, cols) array, row 0 at the bottom."""
        sl: list[int | slice] = [slice(None)] * 3
        sl[self.normal_axis] = int(np.clip(index, 0, self.depth - 1))
        img = array[tuple(sl)]
        remaining = [a for a in range(3) if a != self.normal_axis]
        # img axes are `remaining` in order; bring them to (row_axis, col_axis).
        if remaining.index(self.row_axis) != 0:
            img = img.T
        if self.flip_row:
            img = img[::-1, :]
        if self.flip_col:
            img = img[:, ::-1]
        return img

    def to_index(self, col: float, row: float, depth_index: float) -> np.ndarray:
        """Fractional screen pixel (col, row from the bottom) on slice ``depth_index`` -> (z, y, x)."""
        ncol, nrow = self.size
        idx = np.zeros(3)
        idx[self.normal_axis] = depth_index
        idx[self.col_axis] = (ncol - 1 - col) if self.flip_col else col
        idx[self.row_axis] = (nrow - 1 - row) if self.flip_row else row
        return idx

    def to_pixel(self, index: Iterable[float]) -> tuple[float, float]:
        """Array index (z, y, x) -> (col, row) screen pixel on this plane."""
        idx = np.asarray(list(index), dtype=float)
        ncol, nrow = self.size
        col = idx[self.col_axis]
        row = idx[self.row_axis]
        return ((ncol - 1 - col) if self.flip_col else col, (nrow - 1 - row) if self.flip_row else row)


def plane_for(grid: Grid, name: str) -> SlicePlane:
    """The `SlicePlane` of view ``name`` (axial, coronal, sagittal) on ``grid``.

    Oblique grids are shown along the array axes closest to the anatomical ones (`Grid.reorientation`).
    """
    if name not in _ORIENTATIONS:
        raise ValueError(f"view must be one of {VIEW_NAMES}, got {name!r}")
    normal_lps, (right_lps, right_sign), (up_lps, up_sign) = _ORIENTATIONS[name]
    lps = grid.reorientation("LPS")  # array axis and flip of each of L, P, S
    normal, col, row = lps.axes[normal_lps], lps.axes[right_lps], lps.axes[up_lps]
    flip_col = lps.flips[right_lps] != (right_sign < 0)
    flip_row = lps.flips[up_lps] != (up_sign < 0)
    return SlicePlane(name, normal, col, row, bool(flip_col), bool(flip_row), grid.shape,
                      tuple(float(s) for s in grid.spacing))


def window_to_gray(image: np.ndarray, window: float, level: float) -> np.ndarray:
    """HU slice -> uint8 gray through a linear window (width ``window`` centred on ``level``)."""
    window = max(float(window), MIN_WINDOW_HU)
    lo = level - window / 2.0
    scaled = (image.astype(np.float32) - lo) * (255.0 / window)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def compose_rgb(gray: np.ndarray, labels: np.ndarray | None, colors: Mapping[int, tuple[int, int, int]],
                opacity: float) -> np.ndarray:
    """Gray (rows, cols) uint8 + optional label slice -> RGB uint8, labels blended at ``opacity``.

    Only the label values present in ``colors`` are drawn (hidden structures are left out).
    """
    rgb = np.repeat(gray[..., None], 3, axis=2)
    if labels is None or opacity <= 0 or not colors:
        return rgb
    lut = np.zeros((max(int(labels.max(initial=0)), max(colors)) + 1, 3), dtype=np.float32)
    shown = np.zeros(lut.shape[0], dtype=bool)
    for value, color in colors.items():
        lut[value] = color
        shown[value] = True
    mask = shown[labels]
    if not mask.any():
        return rgb
    out = rgb.astype(np.float32)
    out[mask] = (1.0 - opacity) * out[mask] + opacity * lut[labels[mask]]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def distance_mm(grid: Grid, a_index: Iterable[float], b_index: Iterable[float]) -> float:
    """Physical distance between two array indices (z, y, x), in mm."""
    pts = grid.index_to_lps(np.array([list(a_index), list(b_index)], dtype=float))
    return float(np.linalg.norm(pts[1] - pts[0]))
