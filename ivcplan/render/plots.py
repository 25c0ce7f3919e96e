"""Profiles along the IVC centerline: lumen and tumor cross-section areas, diameters, landmarks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ivcplan.errors import InputError
from ivcplan.labels import CONTRACT_LANDMARKS, Label
from ivcplan.render.cpr import segment_spans, spread_labels
from ivcplan.render.figure import Picture, capture_figure, new_figure
from ivcplan.vocabulary import landmark_label

_SEGMENT_SHADES = ("#f2f2f2", "#e0e7f0")
#: Smallest horizontal distance between two landmark names, as a share of the centerline length.
LABEL_GAP = 0.06
#: Size on paper (inches) and print resolution of the profile: the report prints it across the page
#: (180 mm of text width), so its fonts, set in points, are their printed size.
WIDTH_IN = 7.0
DPI = 150.0
#: Font sizes (points on paper): at least 8 pt, the smallest that reads comfortably on a printed page.
FONT_PT = 8.5
_DIAMETER_NAMES = {"eq_diameter_mm": "equivalent", "max_diameter_mm": "largest", "min_diameter_mm": "smallest"}
#: Slant of the landmark names above the plot (degrees): long names need less height than upright.
LABEL_ROTATION = 25


def _series(name: str, values, n: int) -> np.ndarray | None:
    if values is None:
        return None
    arr = np.asarray(values, dtype=float)
    if arr.shape != (n,):
        raise InputError(f"{name} must have one value per centerline point ({n}), got shape {arr.shape}")
    return arr


def profile_picture(s, lumen_area, tumor_area=None, diameters: Mapping[str, object] | None = None,
                    landmarks_s: Mapping[str, float | None] | None = None, *, width_in: float = WIDTH_IN,
                    dpi: float = DPI) -> Picture:
    """Areas (top panel "area") and diameters (bottom panel "diameter") against s (mm), drawn at its printed
    size ``width_in`` (fonts in printed points)."""
    arc = np.asarray(s, dtype=float)
    if arc.ndim != 1 or len(arc) < 2 or np.any(np.diff(arc) <= 0):
        raise InputError("s must be a strictly increasing 1D array of at least two arc lengths")
    lumen = _series("lumen_area", lumen_area, len(arc))
    tumor = _series("tumor_area", tumor_area, len(arc))
    diam = {k: _series(f"diameters[{k!r}]", v, len(arc)) for k, v in (diameters or {}).items()}
    landmarks = {k: float(v) for k, v in (landmarks_s or {}).items() if v is not None and np.isfinite(v)}
    fig = new_figure(width_in, width_in * 0.66, dpi)
    top = fig.add_axes((0.09, 0.48, 0.72, 0.29))
    bottom = fig.add_axes((0.09, 0.11, 0.72, 0.33), sharex=top)
    lumen_color = np.asarray(Label.IVC_LUMEN.color) / 255.0
    tumor_color = np.asarray(Label.IVC_TUMOR.color) / 255.0
    base = np.zeros_like(arc)
    if lumen is not None:
        top.fill_between(arc, 0, lumen, color=lumen_color, alpha=0.8, label="lumen", linewidth=0)
        base = lumen
    if tumor is not None:
        top.fill_between(arc, base, base + tumor, color=tumor_color, alpha=0.9, label="tumor", linewidth=0)
    top.set_ylabel("area (mm²)", fontsize=FONT_PT)
    total = (lumen if lumen is not None else 0) + (tumor if tumor is not None else 0)
    top.set_ylim(0, max(float(np.nanmax(total)) if np.ndim(total) else 1.0, 1.0) * 1.15)
    styles = {"eq_diameter_mm": "-", "max_diameter_mm": "--", "min_diameter_mm": ":"}
    for name, values in diam.items():
        bottom.plot(arc, values, styles.get(name, "-"), color="black", linewidth=1.2,
                    label=_DIAMETER_NAMES.get(name, name.replace("_mm", "").replace("_", " ")))
    bottom.set_ylabel("diameter (mm)", fontsize=FONT_PT)
    bottom.set_xlabel("distance along the IVC from its lowest point in view (mm): caudal → cranial", fontsize=FONT_PT)
    highest = max([float(np.nanmax(v)) for v in diam.values() if np.isfinite(v).any()] or [1.0])
    bottom.set_ylim(0, highest * 1.3)
    # Segments shaded, landmarks as labelled vertical lines.
    spans = segment_spans(landmarks, float(arc[0]), float(arc[-1]))
    for ax in (top, bottom):
        for i, (lo, hi, _) in enumerate(spans):
            ax.axvspan(lo, hi, color=_SEGMENT_SHADES[i % 2], zorder=0)
        for value in landmarks.values():
            ax.axvline(value, color="gray", linewidth=0.8, linestyle="--")
        ax.set_xlim(arc[0], arc[-1])
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=FONT_PT)
    # Names of the contract landmarks (segment limits), spread apart; the veins' ostia stay unnamed lines.
    named = {k: v for k, v in landmarks.items() if k in CONTRACT_LANDMARKS}
    for name, value, x in spread_labels(named, LABEL_GAP * float(arc[-1] - arc[0])):
        top.annotate(landmark_label(name), xy=(value, 1.0), xycoords=top.get_xaxis_transform(), xytext=(x, 1.03),
                     textcoords=top.get_xaxis_transform(), rotation=LABEL_ROTATION, fontsize=FONT_PT, ha="left",
                     va="bottom",
                     color="#333333", annotation_clip=False,
                     arrowprops={"arrowstyle": "-", "color": "gray", "linewidth": 0.6})
    for lo, hi, name in spans:
        bottom.text((lo + hi) / 2, 0.92, name, transform=bottom.get_xaxis_transform(), ha="center",
                    fontsize=11, weight="bold", color="#555555")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=FONT_PT, frameon=False)
    if diam:
        bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=FONT_PT, frameon=False,
                      title="diameter", title_fontsize=FONT_PT, alignment="left")
    top.tick_params(labelbottom=False)
    return capture_figure(fig, {"area": top, "diameter": bottom})


def area_profile(s, lumen_area, tumor_area, diameters: Mapping[str, object] | None,
                 landmarks_s: Mapping[str, float | None] | None, path: str | Path) -> Path:
    """Write the area / diameter profile along the centerline to ``path`` (PNG)."""
    return profile_picture(s, lumen_area, tumor_area, diameters, landmarks_s).save(path)
