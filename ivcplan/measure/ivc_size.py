"""The IVC's own size where it is normal, and what the tumor leaves of its lumen.

Surgeons size a caval graft on the IVC's transverse (left-right) diameter at the resection margin
(Pantoja 2019: about 0.6 x that diameter) and judge occlusion from the lumen left open, not from
how much of a swollen vein the tumor fills. Both need the *native* IVC: sections of normal vein.

A section is **normal** when it holds no tumor or thrombus, lies at least `TUMOR_CLEARANCE_MM`
along the centerline from the tumor, below the cavoatrial junction with no right atrium in its
ring, at no branch vein's mouth (renal, hepatic, iliac vein in its ring) and not at a cut end of
the field of view. Diameters are medians over the `SECTIONS_PER_LEVEL` normal sections nearest to
each level:

* ``renal_veins``: within `RENAL_WINDOW_MM` of the I/II boundary (cranial edge of the highest
  renal vein inflow), the mouths themselves excluded;
* ``above_tumor`` / ``below_tumor``: within `MARGIN_WINDOW_MM` beyond the tumor's poles.

A level without enough normal sections is null with the reason (what the rejected sections
touched). The **native area** along the tumor is interpolated linearly between the normal areas
above and below it (one side when only one is known, else the normal IVC at the renal veins).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ivcplan.measure.centerline import Centerline

#: Sections within this arc length (mm) of a tumor pole may be bulged or tapered by it: not normal.
TUMOR_CLEARANCE_MM = 5.0
#: Normal sections searched beyond each tumor pole (mm): graft sizing at the resection margin.
MARGIN_WINDOW_MM = 30.0
#: ... and on either side of the renal vein level (mm).
RENAL_WINDOW_MM = 20.0
#: Sections at the cut ends of the field of view (mm) are not whole.
FOV_END_MM = 3.0
#: Diameters are medians of this many normal sections (about 1 mm apart) nearest to the level,
#: and at least `MIN_SECTIONS` are needed.
SECTIONS_PER_LEVEL = 5
MIN_SECTIONS = 3
#: A lumen smaller than this (mm2, a channel under ~1.6 mm across) cannot be told from no lumen on
#: a portal-venous CT with 1-3 mm voxels: such a section is taken as occluded.
LUMEN_ABSENT_MM2 = 2.0
#: Growth beyond the native outline by more than this (mm; partial-volume margin) is extraluminal.
EXTRALUMINAL_MARGIN_MM = 1.0

LEVELS = ("renal_veins", "above_tumor", "below_tumor")


@dataclass(frozen=True)
class Level:
    """Native IVC size at one level (diameters null with ``reason`` when not measurable)."""

    ap_mm: float | None
    transverse_mm: float | None
    area_mm2: float | None
    s_mm: float | None  # median arc length of the sections used
    sections: int
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(float(v), 1)

        return {"ap": r(self.ap_mm), "transverse": r(self.transverse_mm), "area_mm2": r(self.area_mm2),
                "s_mm": r(self.s_mm), "sections": self.sections, "reason": self.reason}


def _missing(reason: str) -> Level:
    return Level(None, None, None, None, 0, reason)


def normal_sections(cl: Centerline, tumor_range: tuple[float, float] | None = None,
                    caj_s: float | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Boolean mask of the normal sections, and per reason the mask of sections rejected for it."""
    n = len(cl.s)
    zeros = np.zeros(n, dtype=bool)
    near_tumor = zeros.copy()
    if tumor_range is not None:
        lo, hi = tumor_range
        near_tumor = (cl.s >= lo - TUMOR_CLEARANCE_MM) & (cl.s <= hi + TUMOR_CLEARANCE_MM)
    rejected = {
        "tumor or thrombus": (cl.tumor_area_mm2 > 0) | (cl.thrombus_area_mm2 > 0) | near_tumor,
        "the right atrium": (cl.atrium_contact_pct > 0) | ((cl.s > caj_s) if caj_s is not None else zeros),
        "a branch vein's mouth": cl.branch_contact_pct > 0,
        "the edge of the field of view": ((cl.s - cl.s[0] < FOV_END_MM) & cl.reaches_caudal_border)
        | ((cl.s[-1] - cl.s < FOV_END_MM) & cl.reaches_cranial_border),
        "no IVC in the section": cl.total_area_mm2 <= 0,
    }
    bad = np.zeros(n, dtype=bool)
    for mask in rejected.values():
        bad |= mask
    return ~bad, rejected


def _level(cl: Centerline, normal: np.ndarray, rejected: Mapping[str, np.ndarray], window: np.ndarray,
           anchor: float, where: str) -> Level:
    if not window.any():
        return _missing(f"{where}: outside the field of view")
    candidates = np.flatnonzero(window & normal)
    if len(candidates) < MIN_SECTIONS:
        touched = [name for name, mask in rejected.items() if np.any(mask & window)]
        why = ", ".join(touched) if touched else "too few sections"
        return _missing(f"{where}: no normal IVC section (every section there touches {why})"
                        if not len(candidates) else
                        f"{where}: only {len(candidates)} normal section(s), at least {MIN_SECTIONS} needed "
                        f"(the others touch {why})")
    order = candidates[np.argsort(np.abs(cl.s[candidates] - anchor))][:SECTIONS_PER_LEVEL]
    return Level(float(np.median(cl.ap_mm[order])), float(np.median(cl.transverse_mm[order])),
                 float(np.median(cl.total_area_mm2[order])), float(np.median(cl.s[order])), len(order))


def diameters(cl: Centerline, *, renal_s: float | None, caj_s: float | None,
              tumor_range: tuple[float, float] | None) -> dict[str, Level]:
    """AP and transverse diameters of the normal IVC at the renal veins and beyond each tumor pole."""
    normal, rejected = normal_sections(cl, tumor_range, caj_s)
    out: dict[str, Level] = {}
    if renal_s is None:
        out["renal_veins"] = _missing("renal veins not located")
    else:
        window = np.abs(cl.s - renal_s) <= RENAL_WINDOW_MM
        out["renal_veins"] = _level(cl, normal, rejected, window, renal_s,
                                    f"within {RENAL_WINDOW_MM:g} mm of the renal veins")
    if tumor_range is None:
        out["above_tumor"] = _missing("no tumor")
        out["below_tumor"] = _missing("no tumor")
        return out
    lo, hi = tumor_range
    above = (cl.s > hi) & (cl.s <= hi + MARGIN_WINDOW_MM)
    below = (cl.s < lo) & (cl.s >= lo - MARGIN_WINDOW_MM)
    out["above_tumor"] = _level(cl, normal, rejected, above, hi, f"within {MARGIN_WINDOW_MM:g} mm above the tumor")
    out["below_tumor"] = _level(cl, normal, rejected, below, lo, f"within {MARGIN_WINDOW_MM:g} mm below the tumor")
    return out


@dataclass(frozen=True)
class Lumen:
    """What the tumor leaves of the IVC lumen (all None when no native area is known)."""

    residual_lumen_min_area_mm2: float | None
    max_stenosis_pct: float | None
    occluded_length_mm: float | None
    native_area_source: str | None
    reason: str | None = None


def native_area(cl: Centerline, levels: Mapping[str, Level], s: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """Native IVC area (mm2) at arc lengths ``s``: interpolated between the normal IVC above and below."""
    above, below = levels.get("above_tumor"), levels.get("below_tumor")
    ok_above = above is not None and above.area_mm2 is not None
    ok_below = below is not None and below.area_mm2 is not None
    if ok_above and ok_below and above.s_mm != below.s_mm:
        return np.interp(s, [below.s_mm, above.s_mm], [below.area_mm2, above.area_mm2]), "interpolated between the " \
            "normal IVC above and below the tumor"
    if ok_above:
        return np.full(len(s), above.area_mm2), "normal IVC above the tumor"
    if ok_below:
        return np.full(len(s), below.area_mm2), "normal IVC below the tumor"
    renal = levels.get("renal_veins")
    if renal is not None and renal.area_mm2 is not None:
        return np.full(len(s), renal.area_mm2), "normal IVC at the renal veins"
    return None, None


def lumen(cl: Centerline, levels: Mapping[str, Level], tumor_range: tuple[float, float]) -> Lumen:
    """Residual lumen, stenosis against the native area, and the longest stretch without lumen."""
    lo, hi = tumor_range
    sec = cl.in_range(lo, hi) & (cl.total_area_mm2 > 0)
    if not sec.any():
        return Lumen(None, None, None, None, "no IVC section along the tumor")
    residual = cl.lumen_area_mm2[sec]
    native, source = native_area(cl, levels, cl.s[sec])
    stenosis = None
    if native is not None:
        stenosis = float(np.clip(100.0 * (1.0 - residual / np.maximum(native, 1e-6)), 0.0, 100.0).max())
    # Longest run of consecutive sections (about 1 mm apart) with no resolvable lumen.
    absent = residual < LUMEN_ABSENT_MM2
    s = cl.s[sec]
    longest, start = 0.0, None
    for k in range(len(s)):
        if absent[k] and start is None:
            start = k
        if start is not None and (not absent[k] or k == len(s) - 1):
            end = k if absent[k] else k - 1
            step = float(np.median(np.diff(s))) if len(s) > 1 else 1.0
            longest = max(longest, float(s[end] - s[start]) + step)
            start = None
    reason = None if native is not None else "native IVC area unknown (no normal IVC section above, below or at " \
        "the renal veins)"
    return Lumen(float(residual.min()), stenosis, longest, source, reason)


def extraluminal_ml(cl: Centerline, levels: Mapping[str, Level], tumor_points: np.ndarray,
                    voxel_ml: float) -> float | None:
    """Tumor volume (ml) outside the native IVC outline: an elliptic tube of the native diameters.

    The native diameters along the tumor come from the normal IVC above and below it (the larger
    of each pair, generous to the vein); growth that expands the vein wall and growth through it
    both count, as CT cannot tell them apart.
    """
    ok = [lv for lv in (levels.get("above_tumor"), levels.get("below_tumor"), levels.get("renal_veins"))
          if lv is not None and lv.transverse_mm is not None]
    if not ok or len(tumor_points) == 0:
        return None
    half_t = 0.5 * max(lv.transverse_mm for lv in ok) + EXTRALUMINAL_MARGIN_MM
    half_ap = 0.5 * max(lv.ap_mm for lv in ok) + EXTRALUMINAL_MARGIN_MM
    from ivcplan.measure.centerline import section_basis

    s = cl.project(tumor_points)
    idx = np.clip(np.searchsorted(cl.s, s), 0, len(cl.s) - 1)
    outside = 0
    for i in np.unique(idx):
        sel = idx == i
        u, v = section_basis(cl.tangents[i])
        rel = tumor_points[sel] - cl.points[i]
        du, dv = rel @ u, rel @ v
        outside += int(np.count_nonzero((du / half_t) ** 2 + (dv / half_ap) ** 2 > 1.0))
    return outside * voxel_ml
