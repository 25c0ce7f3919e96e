"""Stretched curved planar reformation (CPR) along the IVC centerline.

Each image row is one centerline point (cranial at the top); each column an offset along a
lateral direction perpendicular to the centerline: the patient's left-right axis for the coronal
panel (patient right on the image left) and the antero-posterior axis for the sagittal panel
(anterior on the left). Rows are evenly spaced in arc length s, so vertical distances in the
image are distances along the vein. Landmarks and the IVC segment boundaries are drawn as lines.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from scipy import ndimage

from ivcplan.errors import InputError
from ivcplan.labels import Label
from ivcplan.render.figure import Picture, capture_figure, label_rgba, new_figure, outline_text, window_range
from ivcplan.vocabulary import landmark_label
from ivcplan.volume import Labelmap, Volume

log = logging.getLogger(__name__)

#: Sampling step of the reformation along s and across (mm).
CPR_STEP_MM = 0.75
#: Half width of the reformatted strip (mm).
CPR_HALF_WIDTH_MM = 40.0
#: Smoothing of the centerline before computing the sampling frame (mm), so voxel steps do not
#: make the strip wiggle.
FRAME_SMOOTHING_MM = 6.0
OVERLAY_ALPHA = 0.3
#: Smallest vertical distance between two landmark names, as a share of the strip length.
LABEL_GAP = 0.03
#: Segment boundaries: landmark name -> (segment below, segment above).
SEGMENT_BOUNDARIES = {"renal_veins": ("I", "II"), "hepatic_veins": ("II", "III")}
#: Size on paper: the report prints the CPR at this height (inches), narrower than the text width; its fonts,
#: set in points, are their printed size (at least 8 pt).
HEIGHT_IN = 6.3
MAX_WIDTH_IN = 7.0
DPI = 150.0
FONT_PT = 8.5
_PANELS = {"coronal": (np.array([1.0, 0.0, 0.0]), ("R", "L")), "sagittal": (np.array([0.0, 1.0, 0.0]), ("A", "P"))}


def _validate(points, s) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(points, dtype=float)
    arc = np.asarray(s, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) < 2:
        raise InputError(f"centerline_points must be an (N >= 2, 3) array, got shape {pts.shape}")
    if arc.shape != (len(pts),) or not np.all(np.isfinite(arc)) or np.any(np.diff(arc) <= 0):
        raise InputError("s must hold one strictly increasing arc length per centerline point")
    return pts, arc


def stretched_frame(points, s, step_mm: float = CPR_STEP_MM):
    """Resample the centerline every ``step_mm``: (s_u, points_u, tangents_u) with smoothed tangents."""
    pts, arc = _validate(points, s)
    s_u = np.arange(arc[0], arc[-1] + 1e-9, step_mm)
    p_u = np.stack([np.interp(s_u, arc, pts[:, a]) for a in range(3)], axis=1)
    sigma = FRAME_SMOOTHING_MM / step_mm
    smooth = ndimage.gaussian_filter1d(p_u, sigma, axis=0, mode="nearest") if len(p_u) > 3 else p_u
    tangents = np.gradient(smooth, axis=0)
    tangents /= np.maximum(np.linalg.norm(tangents, axis=1, keepdims=True), 1e-9)
    return s_u, p_u, tangents


def sample_strip(volume: Volume, labelmap: Labelmap | None, points, s, reference,
                 half_width_mm: float = CPR_HALF_WIDTH_MM, step_mm: float = CPR_STEP_MM):
    """(s_u, offsets, ct (rows=s, cols=offset), labels or None) sampled across ``reference`` direction."""
    s_u, p_u, tangents = stretched_frame(points, s, step_mm)
    ref = np.asarray(reference, dtype=float)
    lateral = ref - (tangents @ ref)[:, None] * tangents
    norms = np.linalg.norm(lateral, axis=1, keepdims=True)
    if np.any(norms < 0.2):
        log.warning("centerline runs nearly along the CPR reference direction; the strip may twist")
    lateral /= np.maximum(norms, 1e-9)
    offsets = np.arange(-half_width_mm, half_width_mm + 1e-9, step_mm)
    grid_pts = p_u[:, None, :] + offsets[None, :, None] * lateral[:, None, :]
    ct = volume.sample(grid_pts, order=1, fill=-1024.0)
    labels = None
    if labelmap is not None:
        idx = labelmap.grid.lps_to_index(grid_pts.reshape(-1, 3))
        labels = ndimage.map_coordinates(labelmap.array, idx.T, order=0, mode="nearest")
        labels[~labelmap.grid.contains_index(idx)] = 0
        labels = labels.reshape(ct.shape)
    return s_u, offsets, ct, labels


def cpr_picture(volume: Volume, labelmap: Labelmap | None, centerline_points, s,
                landmarks_s: Mapping[str, float | None] | None = None, *,
                window: str | tuple[float, float] = "abdomen", half_width_mm: float = CPR_HALF_WIDTH_MM,
                height_px: int = round(HEIGHT_IN * DPI), height_in: float = HEIGHT_IN,
                max_width_in: float = MAX_WIDTH_IN) -> Picture:
    """The two-panel stretched CPR as a Picture; panel data coordinates are (offset mm, s mm).

    Drawn at its printed size: ``height_in`` tall (less when a short IVC would make it wider than
    ``max_width_in``), ``height_px`` pixels high."""
    vmin, vmax = window_range(window)
    landmarks = {k: float(v) for k, v in (landmarks_s or {}).items() if v is not None and np.isfinite(v)}
    strips = {name: sample_strip(volume, labelmap, centerline_points, s, ref, half_width_mm)
              for name, (ref, _) in _PANELS.items()}
    s_u = next(iter(strips.values()))[0]
    length = float(s_u[-1] - s_u[0]) or 1.0
    dpi = height_px / height_in
    fig_h = height_in
    panel_w = fig_h * 0.86 * (2 * half_width_mm) / length
    fig_w = 2 * panel_w + 3.0
    if fig_w > max_width_in:  # a short IVC: the panels would be wide; keep the page width, shorten the strip
        panel_w = (max_width_in - 3.0) / 2.0
        fig_h = panel_w * length / (0.86 * 2 * half_width_mm)
        fig_w = max_width_in
    fig = new_figure(fig_w, fig_h, dpi)
    fig.patch.set_facecolor("black")
    axes = {}
    for i, (name, (_, letters)) in enumerate(_PANELS.items()):
        s_rows, offsets, ct, labels = strips[name]
        left = (0.9 + i * (panel_w + 0.35)) / fig_w
        ax = fig.add_axes((left, 0.07, panel_w / fig_w, 0.86))
        extent = (offsets[0] - CPR_STEP_MM / 2, offsets[-1] + CPR_STEP_MM / 2,
                  s_rows[0] - CPR_STEP_MM / 2, s_rows[-1] + CPR_STEP_MM / 2)
        ax.imshow(ct, cmap="gray", vmin=vmin, vmax=vmax, origin="lower", extent=extent, aspect="equal",
                  interpolation="bilinear")
        if labels is not None:
            ax.imshow(label_rgba(labels, labelmap.table, alpha=OVERLAY_ALPHA, exclude=(int(Label.BODY),)),
                      origin="lower", extent=extent, aspect="equal", interpolation="nearest")
        for lm_name, value in landmarks.items():
            boundary = lm_name in SEGMENT_BOUNDARIES
            ax.axhline(value, color="white" if boundary else "cyan", linewidth=1.4 if boundary else 0.9,
                       linestyle="-" if boundary else "--")
        if i == 1:
            # Names beside the right panel, spread apart where landmarks lie close together.
            # at least a line of text apart: a font's height, in s millimetres
            line = FONT_PT * 1.5 / 72.0 / (0.86 * fig_h) * length
            for lm_name, value, y in spread_labels(landmarks, max(LABEL_GAP * length, line)):
                ax.annotate(landmark_label(lm_name), xy=(extent[1], value), xytext=(extent[1] + 4.0, y),
                            color="white", fontsize=FONT_PT, va="center", ha="left", annotation_clip=False,
                            arrowprops={"arrowstyle": "-", "color": "gray", "linewidth": 0.6})
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        ax.set_title(f"CPR {name}", color="white", fontsize=10)
        ax.tick_params(colors="white", labelsize=FONT_PT)
        ax.set_xlabel(f"{letters[0]} ← mm → {letters[1]}", color="white", fontsize=FONT_PT)
        if i == 0:
            ax.set_ylabel("along the IVC from its lowest point in view (mm)", color="white", fontsize=FONT_PT)
            _segment_labels(ax, landmarks, extent)
        axes[name] = ax
    return capture_figure(fig, axes)


def spread_labels(landmarks: Mapping[str, float], gap: float) -> list[tuple[str, float, float]]:
    """(name, s, label position) with label positions at least ``gap`` apart, in increasing s."""
    items = sorted(landmarks.items(), key=lambda kv: kv[1])
    out, last = [], -np.inf
    for name, value in items:
        y = max(value, last + gap)
        out.append((name, value, y))
        last = y
    return out


def segment_spans(landmarks_s: Mapping[str, float], start: float, stop: float) -> list[tuple[float, float, str]]:
    """(from s, to s, segment name) of the IVC segments between ``start`` and ``stop``, from the boundaries."""
    present = sorted((landmarks_s[n], n) for n in SEGMENT_BOUNDARIES if n in landmarks_s)
    if not present:
        return []
    names = [SEGMENT_BOUNDARIES[present[0][1]][0]] + [SEGMENT_BOUNDARIES[n][1] for _, n in present]
    edges = [start, *(v for v, _ in present), stop]
    spans = [(max(lo, start), min(hi, stop), name)
             for (lo, hi), name in zip(itertools.pairwise(edges), names, strict=True)]
    return [span for span in spans if span[1] > span[0]]


def _segment_labels(ax, landmarks: Mapping[str, float], extent) -> None:
    """Roman numerals of the IVC segments between the boundaries (left margin of the first panel)."""
    for lo, hi, name in segment_spans(landmarks, extent[2], extent[3]):
        outline_text(ax, extent[0] + 2.0, (lo + hi) / 2, name, size=14, weight="bold", va="center", color="#ffe680")


def curved_reformation(volume: Volume, labelmap: Labelmap | None, centerline_points, s,
                       landmarks_s: Mapping[str, float | None] | None, path: str | Path, *,
                       window: str | tuple[float, float] = "abdomen",
                       half_width_mm: float = CPR_HALF_WIDTH_MM) -> Path:
    """Write the stretched CPR (coronal and sagittal panels) with landmarks and segments to ``path``."""
    pic = cpr_picture(volume, labelmap, centerline_points, s, landmarks_s, window=window,
                      half_width_mm=half_width_mm)
    return pic.save(path)
