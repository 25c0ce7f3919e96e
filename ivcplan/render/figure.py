"""Matplotlib figures rendered headless (Agg) to RGB arrays, with each panel's data -> pixel mapping.

Keeping the mapping lets tests (and callers) check that a structure is drawn where it lies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ivcplan.render._vtk import save_png

#: Window/level presets (width, level) in HU.
WINDOWS: dict[str, tuple[float, float]] = {
    "abdomen": (400.0, 50.0),
    "liver": (150.0, 90.0),
    "vessels": (600.0, 150.0),
    "bone": (1800.0, 400.0),
    "lung": (1500.0, -600.0),
}


def window_range(window: str | tuple[float, float]) -> tuple[float, float]:
    """(vmin, vmax) of a preset name or a (width, level) pair."""
    if isinstance(window, str):
        if window not in WINDOWS:
            raise ValueError(f"window must be one of {sorted(WINDOWS)} or (width, level), got {window!r}")
        width, level = WINDOWS[window]
    else:
        width, level = (float(v) for v in window)
        if width <= 0:
            raise ValueError(f"window width must be positive, got {width}")
    return level - width / 2.0, level + width / 2.0


@dataclass(frozen=True)
class Picture:
    """An RGB image and, per named panel, the 3x3 matrix mapping data (x, y) to pixel (column, row)."""

    rgb: np.ndarray
    panels: dict[str, np.ndarray] = field(default_factory=dict)

    def pixel_of(self, panel: str, xy) -> np.ndarray:
        pts = np.atleast_2d(np.asarray(xy, dtype=float))
        hom = np.c_[pts, np.ones(len(pts))] @ self.panels[panel].T
        return hom[:, :2]

    def save(self, path: str | Path) -> Path:
        return save_png(self.rgb, Path(path))


def new_figure(width_in: float, height_in: float, dpi: float = 100.0):
    """A figure on the Agg canvas (no display, no pyplot global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def capture_figure(fig, axes: dict) -> Picture:
    """Draw ``fig`` and return its pixels with the data -> pixel matrix of each named axes."""
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    height = rgba.shape[0]
    panels = {}
    for name, ax in axes.items():
        m = ax.transData.get_affine().get_matrix().copy()  # data -> display (pixels, y up)
        flip = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, height], [0.0, 0.0, 1.0]])
        panels[name] = flip @ m
    return Picture(np.ascontiguousarray(rgba[:, :, :3]), panels)


def outline_text(ax, x, y, text, *, size=11, color="white", **kw):
    """Text with a dark outline, readable on any image."""
    from matplotlib import patheffects

    return ax.text(x, y, text, color=color, fontsize=size,
                   path_effects=[patheffects.withStroke(linewidth=2.5, foreground="black")], **kw)


def label_rgba(labels: np.ndarray, table, *, alpha: float, exclude=(), outline: bool = True) -> np.ndarray:
    """RGBA overlay of a 2D label image: filled at ``alpha``, opaque 1-pixel outlines."""
    from scipy import ndimage

    out = np.zeros((*labels.shape, 4), dtype=float)
    for value in np.unique(labels):
        if value == 0 or int(value) in exclude:
            continue
        mask = labels == value
        color = np.asarray(table.get(int(value), ("", (255, 255, 255)))[1], dtype=float) / 255.0
        out[mask, :3] = color
        out[mask, 3] = alpha
        if outline:
            edge = mask & ~ndimage.binary_erosion(mask)
            out[edge, 3] = 1.0
    return out


def nice_length(span_mm: float) -> float:
    """A round scale-bar length close to a fifth of ``span_mm``."""
    target = span_mm / 5.0
    for value in (5, 10, 20, 50, 100, 200):
        if value >= target * 0.7:
            return float(value)
    return 200.0
