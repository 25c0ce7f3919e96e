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
    """An RGB image and, per named panel, the 3x3 matrix mapping data (x, y) to pixel (column, row); ``dpi`` the
    resolution it is meant to be printed at (the figure's size in inches is its size on paper) and
    ``min_text_px`` the height in pixels of its smallest text."""

    rgb: np.ndarray
    panels: dict[str, np.ndarray] = field(default_factory=dict)
    dpi: float | None = None
    min_text_px: float | None = None

    @property
    def min_text_pt(self) -> float | None:
        """The smallest text's size on paper, points."""
        return None if self.dpi is None or self.min_text_px is None else self.min_text_px * 72.0 / self.dpi

    def pixel_of(self, panel: str, xy) -> np.ndarray:
        pts = np.atleast_2d(np.asarray(xy, dtype=float))
        hom = np.c_[pts, np.ones(len(pts))] @ self.panels[panel].T
        return hom[:, :2]

    def save(self, path: str | Path) -> Path:
        return save_png(self.rgb, Path(path), dpi=self.dpi, min_text_px=self.min_text_px)


def new_figure(width_in: float, height_in: float, dpi: float = 100.0):
    """A figure on the Agg canvas (no display, no pyplot global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def smallest_text_pt(fig) -> float | None:
    """Font size (points) of the smallest visible, non-empty text of a drawn figure (ticks, labels, legends)."""
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
             and _inside(fig, t)]
    return min(sizes) if sizes else None


def _inside(fig, text) -> bool:
    """Whether a text is drawn within the figure (matplotlib keeps unused tick labels off-canvas)."""
    box = text.get_window_extent(renderer=fig.canvas.get_renderer())
    width, height = fig.canvas.get_width_height()
    return box.x1 > 0 and box.y1 > 0 and box.x0 < width and box.y0 < height


def capture_figure(fig, axes: dict) -> Picture:
    """Draw ``fig`` and return its pixels with the data -> pixel matrix of each named axes, its resolution and
    the pixel height of its smallest text."""
    fig.canvas.draw()
    smallest = smallest_text_pt(fig)
    rgba = np.asarray(fig.canvas.buffer_rgba())
    height = rgba.shape[0]
    panels = {}
    for name, ax in axes.items():
        m = ax.transData.get_affine().get_matrix().copy()  # data -> display (pixels, y up)
        flip = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, height], [0.0, 0.0, 1.0]])
        panels[name] = flip @ m
    return Picture(np.ascontiguousarray(rgba[:, :, :3]), panels, dpi=float(fig.dpi),
                   min_text_px=None if smallest is None else smallest * float(fig.dpi) / 72.0)


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
