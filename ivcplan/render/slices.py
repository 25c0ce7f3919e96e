"""Orthogonal slices (axial, coronal, sagittal) with colored label overlays.

Display conventions (radiological): axial seen from the feet (patient right on the image left,
anterior up); coronal seen from the front (patient right on the left, head up); sagittal seen from
the patient's left (anterior on the left, head up). Every image carries its orientation letters,
a scale bar, the window and the plane position.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ivcplan.errors import InputError
from ivcplan.labels import Label
from ivcplan.render.figure import (
    Picture,
    capture_figure,
    label_rgba,
    new_figure,
    nice_length,
    outline_text,
    window_range,
)
from ivcplan.vocabulary import label_name
from ivcplan.volume import Labelmap, Volume

log = logging.getLogger(__name__)

PLANES = ("axial", "coronal", "sagittal")
#: Fill opacity of the label overlay (outlines are opaque).
OVERLAY_ALPHA = 0.35
#: Not overlaid: the body would tint the whole image.
OVERLAY_EXCLUDED = (int(Label.BODY),)
# plane -> (LPS axis across the image, LPS axis down the image, axis normal to the plane,
#           whether the down axis is flipped (head up), letters left/right/top/bottom)
_PLANES = {
    "axial": (0, 1, 2, False, ("R", "L", "A", "P")),
    "coronal": (0, 2, 1, True, ("R", "L", "S", "I")),
    "sagittal": (1, 2, 0, True, ("A", "P", "S", "I")),
}
_AXIS_NAMES = ("x", "y", "z")
#: Width on paper (inches): the report prints the three slices side by side (58 mm each); fonts are in printed
#: points, at least 8.
WIDTH_IN = 2.25
FONT_PT = 8.5
LETTER_PT = 11.0


def plane_xy(volume: Volume, plane: str, points_lps) -> np.ndarray:
    """Data coordinates (mm across, mm down the image) of LPS points in a plane's picture panel."""
    across, down, _, flip, _ = _PLANES[plane]
    can = volume.grid.reorientation("LPS").grid
    idx = can.lps_to_index(np.asarray(points_lps, dtype=float))
    x = (idx[..., across] + 0.5) * can.spacing[across]
    d = idx[..., down]
    if flip:
        d = can.shape[down] - 1 - d
    y = (d + 0.5) * can.spacing[down]
    return np.stack([x, y], axis=-1)


def plane_picture(volume: Volume, labelmap: Labelmap | None, plane: str, center_lps, *,
                  window: str | tuple[float, float] = "abdomen", width_px: int = 512, width_in: float = WIDTH_IN,
                  title: str | None = None, legend: bool = True) -> Picture:
    """One plane through ``center_lps`` as a Picture (panel name = plane), ``width_px`` wide for a print
    ``width_in`` wide; ``legend`` names the structures cut (off: the page around it has a colour key)."""
    if plane not in _PLANES:
        raise InputError(f"plane must be one of {PLANES}, got {plane!r}")
    if labelmap is not None and not labelmap.grid.is_same(volume.grid):
        labelmap = labelmap.resample_to(volume.grid)
    vmin, vmax = window_range(window)
    across, down, normal, flip, letters = _PLANES[plane]
    reorient = volume.grid.reorientation("LPS")  # array axes growing to L, P, S
    can = reorient.grid
    centre = can.lps_to_index(np.asarray(center_lps, dtype=float))
    k = int(np.clip(np.rint(centre[normal]), 0, can.shape[normal] - 1))

    def cut(array: np.ndarray) -> np.ndarray:
        index: list[int | slice] = [slice(None)] * 3
        index[normal] = k
        image = reorient.apply(array)[tuple(index)]  # a view (np.take would copy the volume); axes in L, P, S order
        if min(a for a in range(3) if a != normal) != down:
            image = image.T  # rows run along the down axis
        return np.ascontiguousarray(image[::-1] if flip else image)

    ct = cut(volume.array).astype(np.float32)
    width_mm = can.shape[across] * can.spacing[across]
    height_mm = can.shape[down] * can.spacing[down]
    dpi = width_px / width_in  # the figure is as large as printed: fonts in printed points
    fig_h = width_in * height_mm / width_mm
    fig = new_figure(width_in, fig_h, dpi)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    extent = (0.0, width_mm, height_mm, 0.0)
    ax.imshow(ct, cmap="gray", vmin=vmin, vmax=vmax, extent=extent, interpolation="bilinear")
    names = []
    if labelmap is not None:
        lab = cut(labelmap.array)
        ax.imshow(label_rgba(lab, labelmap.table, alpha=OVERLAY_ALPHA, exclude=OVERLAY_EXCLUDED), extent=extent,
                  interpolation="nearest")
        names = [(labelmap.name(v), labelmap.color(v)) for v in np.unique(lab) if v and v not in OVERLAY_EXCLUDED]
    ax.set_xlim(0, width_mm)
    ax.set_ylim(height_mm, 0)
    # Orientation letters, title, scale bar, legend of the structures cut by this plane.
    left, right, top, bottom = letters
    for x, y, letter, placement in ((0.015, 0.5, left, {"va": "center"}),
                                    (0.985, 0.5, right, {"va": "center", "ha": "right"}),
                                    (0.5, 0.985, top, {"va": "top", "ha": "center"}),
                                    (0.5, 0.015, bottom, {"va": "bottom", "ha": "center"})):
        outline_text(ax, x, y, letter, size=LETTER_PT, weight="bold", transform=ax.transAxes, **placement)
    plane_idx = centre.copy()
    plane_idx[normal] = k
    position = float(can.index_to_lps(plane_idx)[normal])
    # Name and position on separate lines: one line "Coronal  y = 8.8 mm" reaches the top letter at 2.25 in.
    head = title or f"{plane.capitalize()}\n{_AXIS_NAMES[normal]} = {position:.1f} mm"
    outline_text(ax, 0.03, 0.955, f"{head}\nW {vmax - vmin:.0f} / L {(vmax + vmin) / 2:.0f}", size=FONT_PT,
                 transform=ax.transAxes, va="top")
    bar = nice_length(width_mm)
    x1 = width_mm * 0.96
    y1 = height_mm * 0.95
    ax.plot([x1 - bar, x1], [y1, y1], color="white", linewidth=3, solid_capstyle="butt")
    outline_text(ax, x1 - bar / 2, y1 - height_mm * 0.015, f"{bar:.0f} mm", size=FONT_PT, ha="center", va="bottom")
    line = FONT_PT * 1.35 / 72.0 / fig_h  # one text line, as a share of the height
    for i, (name, color) in enumerate(names[:8] if legend else []):
        outline_text(ax, 0.03, 0.03 + line * i, label_name(name), size=FONT_PT,
                     color=np.asarray(color) / 255.0, transform=ax.transAxes, va="bottom")
    return capture_figure(fig, {plane: ax})


def orthogonal(volume: Volume, labelmap: Labelmap | None, center_lps, path_prefix: str | Path, *,
               window: str | tuple[float, float] = "abdomen", width_px: int = 512,
               legend: bool = True) -> dict[str, Path]:
    """Axial, coronal and sagittal PNGs through ``center_lps``: ``<prefix>_<plane>.png``."""
    center = np.asarray(center_lps, dtype=float)
    if center.shape != (3,) or not np.all(np.isfinite(center)):
        raise InputError(f"center_lps must be 3 finite LPS coordinates, got {center_lps!r}")
    if not volume.grid.contains_index(volume.grid.lps_to_index(center)):
        raise InputError(f"center_lps {center.round(1).tolist()} lies outside the volume")
    prefix = Path(path_prefix)
    out = {}
    for plane in PLANES:
        pic = plane_picture(volume, labelmap, plane, center, window=window, width_px=width_px, legend=legend)
        out[plane] = pic.save(prefix.parent / f"{prefix.name}_{plane}.png")
    return out


def tumor_center(labelmap: Labelmap) -> np.ndarray | None:
    """LPS centre of the tumor's largest axial cross-section (None without tumor)."""
    mask = labelmap.mask(Label.IVC_TUMOR)
    if not mask.any():
        return None
    axis = labelmap.grid.axis_of(2)
    other = tuple(a for a in range(3) if a != axis)
    areas = mask.sum(axis=other)
    k = int(np.argmax(areas))
    idx = np.argwhere(np.take(mask, k, axis=axis))
    centre = np.insert(idx.mean(axis=0), axis, k)
    return labelmap.grid.index_to_lps(centre)
