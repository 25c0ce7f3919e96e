"""Tumor and liver measurements from a labelmap, the IVC centerline, landmarks and segments.

Size conventions (voxel-based, stated so the tolerances are clear):

Every linear size is measured between voxel *centres* plus half a voxel (the voxel box's width
projected on the measured direction): the surface lies on average half a voxel beyond the
outermost centres. Measured on random spheres / ellipsoids at voxels up to 2.5 mm: within 1.4 mm.

* ``max_diameter_mm`` (Feret) and ``axial_longest_diameter_mm`` (per axial slice): largest
  distance between surface voxel centres (exact, through their convex hull).
* ``axes_mm``: extent of the voxel centres along each principal axis (PCA of their positions).
* Poles: centroid of the voxel centres within `POLE_CAP_MM` of the largest / smallest arc length,
  moved half a voxel outward along the centerline; ``craniocaudal_length_mm`` is the arc-length
  distance between the extreme voxel centres plus half a voxel at each end.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from ivcplan.labels import HEPATIC_VEIN_LABELS, RENAL_VEIN_LABELS, Label
from ivcplan.measure import ivc_size
from ivcplan.measure.centerline import Centerline
from ivcplan.measure.ivc_segments import SegmentMap
from ivcplan.measure.landmarks import OSTIUM_BEYOND_WALL_MM, Landmark, Landmarks
from ivcplan.volume import Grid, Labelmap, Volume

log = logging.getLogger(__name__)

#: A vein with at least this much contact surface (mm2) with the tumor is involved: invaded when that
#: contact lies more than `VEIN_INVASION_DEPTH_MM` beyond the normal IVC wall (the tumor grew into the
#: vein), otherwise its ostium is occluded by the tumor filling the IVC (reported as abutting for the
#: hepatic veins, involved for the renal veins).
VEIN_INVASION_MIN_CONTACT_MM2 = 10.0
VEIN_INVASION_DEPTH_MM = OSTIUM_BEYOND_WALL_MM
#: A vein within this distance (mm) of the tumor, not invaded, is abutting.
VEIN_ABUTTING_MM = 5.0
#: An organ within this distance (mm) of the tumor is adjacent.
ADJACENT_MM = 3.0
#: The IVC is completely occluded when no lumen remains over at least this length (mm) of the tumor
#: (docs/rules.md, R2): a short stretch without visible lumen may be partial volume.
COMPLETE_OCCLUSION_MIN_MM = 10.0
#: Tumor above the cavoatrial junction by more than this (mm) is intracardiac.
INTRACARDIAC_MIN_MM = 1.0
#: Growth pattern: tumor farther than this factor x the normal IVC radius (+ margin) from the
#: centerline is extraluminal; a pattern needs this share of the tumor volume.
EXTRALUMINAL_RADIUS_FACTOR = 1.5
EXTRALUMINAL_MARGIN_MM = 2.0
GROWTH_PATTERN_SHARE = 0.1
#: Depth (mm, along the centerline) of the end caps whose centroids are the poles.
POLE_CAP_MM = 2.0
#: RECIST 1.1: a lesion is measurable from this longest axial diameter (mm).
RECIST_MEASURABLE_MM = 10.0
#: Hull-vertex count above which pairwise distances are computed in chunks.
_PAIRWISE_CHUNK = 4000

ADJACENT_LABELS: tuple[Label, ...] = (Label.AORTA, Label.LIVER, Label.KIDNEY_RIGHT, Label.KIDNEY_LEFT,
                                      Label.RIGHT_ATRIUM, Label.PORTAL_VEIN, Label.SPINE)


# -- shape measurements on masks --------------------------------------------------------------------
def surface_voxels(mask: np.ndarray) -> np.ndarray:
    """Voxels of ``mask`` with a 6-neighbour outside it (the volume border counts as outside)."""
    return mask & ~ndimage.binary_erosion(mask, border_value=0)


def feret(points: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Largest distance between two of ``points`` (K, D) and the two points (exact, via the hull)."""
    from scipy.spatial import ConvexHull, QhullError

    pts = np.asarray(points, dtype=float)
    if len(pts) == 0:
        raise ValueError("feret: no points")
    if len(pts) == 1:
        return 0.0, pts[0], pts[0]
    cand = pts
    if len(pts) > pts.shape[1] + 1:
        try:
            cand = pts[ConvexHull(pts).vertices]
        except QhullError:  # flat or collinear: every point is a candidate
            cand = np.unique(pts, axis=0)
    best = (-1.0, 0, 0)
    for start in range(0, len(cand), _PAIRWISE_CHUNK):
        block = cand[start:start + _PAIRWISE_CHUNK]
        d2 = np.sum((block[:, None, :] - cand[None, :, :]) ** 2, axis=-1)
        i, j = np.unravel_index(int(np.argmax(d2)), d2.shape)
        if d2[i, j] > best[0]:
            best = (float(d2[i, j]), start + int(i), int(j))
    return float(np.sqrt(best[0])), cand[best[1]], cand[best[2]]


def _projected_voxel_extent(grid: Grid, unit: np.ndarray) -> float:
    """Width of one voxel box along the LPS unit vector ``unit``."""
    return float(np.sum(np.abs(unit @ grid.direction) * grid.spacing))


def _with_half_voxel(dist: float, a: np.ndarray, b: np.ndarray, spacing: np.ndarray) -> float:
    """``dist`` between centres ``a``, ``b`` (axis-aligned mm) plus half a voxel along a->b."""
    if dist <= 0:
        return 0.5 * float(np.min(spacing))
    unit = (b - a) / dist
    return dist + 0.5 * float(np.sum(np.abs(unit) * spacing))


def max_diameter_mm(mask: np.ndarray, grid: Grid) -> float:
    """Feret diameter (mm): surface voxel centres + half a voxel; 0 for an empty mask."""
    surf = np.argwhere(surface_voxels(mask))
    if len(surf) == 0:
        return 0.0
    # Measured in voxel-aligned mm (index * spacing): distances equal LPS distances.
    dist, a, b = feret(surf * grid.spacing)
    return _with_half_voxel(dist, a, b, grid.spacing)


def principal_axes_mm(mask: np.ndarray, grid: Grid) -> tuple[list[float], np.ndarray]:
    """Extents (mm, largest first) along the principal axes of the voxel centres, and the axes (3, 3).

    Columns of the returned matrix are the LPS unit axes in the same order.
    """
    pts = grid.index_to_lps(np.argwhere(mask))
    if len(pts) == 0:
        return [0.0, 0.0, 0.0], np.eye(3)
    centred = pts - pts.mean(axis=0)
    vecs = np.linalg.eigh(centred.T @ centred)[1] if len(pts) > 1 else np.eye(3)
    extents = []
    for k in range(3):
        proj = centred @ vecs[:, k]
        extents.append(float(np.ptp(proj)) + 0.5 * _projected_voxel_extent(grid, vecs[:, k]))
    order = np.argsort(extents)[::-1]
    return [extents[k] for k in order], vecs[:, order]


def axial_longest_diameter_mm(mask: np.ndarray, grid: Grid) -> float:
    """RECIST longest diameter: largest in-slice Feret (pixel centres + half a pixel) over axial slices."""
    axis = grid.axis_of(2)
    plane_axes = [a for a in range(3) if a != axis]
    best = 0.0
    for k in np.nonzero(mask.any(axis=tuple(plane_axes)))[0]:
        sl = np.take(mask, k, axis=axis)
        edge = sl & ~ndimage.binary_erosion(sl, border_value=0)
        pix = np.argwhere(edge)
        if len(pix):
            spacing = grid.spacing[plane_axes]
            dist, a, b = feret(pix * spacing)
            best = max(best, _with_half_voxel(dist, a, b, spacing))
    return best


# -- results -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TumorMeasurements:
    """The report's ``tumor`` section (contract fields + planner fields of docs/design.md)."""

    present: bool
    volume_ml: float | None = None
    max_diameter_mm: float | None = None
    axes_mm: list[float] | None = None
    axial_longest_diameter_mm: float | None = None
    craniocaudal_length_mm: float | None = None
    upper_pole_mm: list[float] | None = None
    lower_pole_mm: list[float] | None = None
    upper_pole_s_mm: float | None = None
    lower_pole_s_mm: float | None = None
    segments: list[str] = field(default_factory=list)
    distance_upper_pole_to_hepatic_veins_mm: float | None = None
    distance_upper_pole_to_cavoatrial_junction_mm: float | None = None
    distance_lower_pole_to_renal_veins_mm: float | None = None
    max_lumen_occlusion_pct: float | None = None  # = max_stenosis_pct (contract name)
    residual_lumen_min_area_mm2: float | None = None
    max_stenosis_pct: float | None = None
    occluded_length_mm: float | None = None
    native_area_source: str | None = None
    complete_occlusion: bool | None = None
    max_circumferential_involvement_deg: float | None = None
    #: None: unknown (no hepatic vein segmented, so none can be said to be free).
    hepatic_veins_invaded: list[str] | None = field(default_factory=list)
    hepatic_veins_abutting: list[str] | None = field(default_factory=list)
    renal_veins_involved: list[str] = field(default_factory=list)
    intracardiac: bool | None = None
    intracardiac_length_mm: float | None = None
    ivc_diameter_above_mm: float | None = None  # transverse, normal IVC above the tumor (ivc_size)
    ivc_diameter_below_mm: float | None = None
    growth_pattern: str | None = None
    extraluminal_volume_ml: float | None = None
    adjacent_organs: list[str] = field(default_factory=list)
    measurable_recist: bool | None = None
    collateral_return: bool | None = None  # set by ivcplan.measure.collaterals in the pipeline
    distance_upper_pole_to_hepatic_vein_mm: dict[str, float | None] | None = None
    distance_upper_pole_to_caval_hiatus_mm: float | None = None
    distance_upper_pole_to_liver_caudal_edge_mm: float | None = None
    retrohepatic_length_mm: float | None = None
    distance_lower_pole_to_iliac_confluence_mm: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float):
                out[key] = round(value, 2)
            elif isinstance(value, list) and value and isinstance(value[0], float):
                out[key] = [round(v, 2) for v in value]
            elif isinstance(value, dict):
                out[key] = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in value.items()}
        return out


def tumor_measurements(labelmap: Labelmap, centerline: Centerline, landmarks: Landmarks, segment_map: SegmentMap,
                       volume: Volume | None = None, extra_landmarks: Mapping[str, Landmark] | None = None
                       ) -> TumorMeasurements:
    """Measure the IVC tumor (label 2). ``extra_landmarks``: `ivcplan.measure.clamp_room.find` (caval
    hiatus, liver caudal edge) for the clamp-room distances; ``volume`` (the CT) is not used here."""
    grid = labelmap.grid
    mask = labelmap.array == Label.IVC_TUMOR
    if not mask.any():
        return TumorMeasurements(present=False, segments=[])
    idx = np.argwhere(mask)
    pts = grid.index_to_lps(idx)
    axes, _ = principal_axes_mm(mask, grid)
    axial = axial_longest_diameter_mm(mask, grid)

    s = centerline.project(pts)
    hi, lo = int(np.argmax(s)), int(np.argmin(s))
    t_hi = _tangent_at(centerline, s[hi])
    t_lo = _tangent_at(centerline, s[lo])
    half_hi = 0.5 * _projected_voxel_extent(grid, t_hi)
    half_lo = 0.5 * _projected_voxel_extent(grid, t_lo)
    s_hi, s_lo = float(s[hi]) + half_hi, float(s[lo]) - half_lo
    # A pole is the centroid of the tumor's end cap (robust to a centerline tangent that is not
    # exactly along the tumor's axis), moved half a voxel outward.
    upper = pts[s >= s[hi] - POLE_CAP_MM].mean(axis=0) + half_hi * t_hi
    lower = pts[s <= s[lo] + POLE_CAP_MM].mean(axis=0) - half_lo * t_lo

    def dist(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a - b

    caj = landmarks.s("cavoatrial_junction")
    sec = centerline.in_range(s_lo, s_hi)
    levels = ivc_size.diameters(centerline, renal_s=landmarks.s("renal_veins"), caj_s=caj, tumor_range=(s_lo, s_hi))
    lumen = ivc_size.lumen(centerline, levels, (s_lo, s_hi))
    room = _clamp_room(landmarks, extra_landmarks or {}, s_lo, s_hi)
    intracardiac_len = None if caj is None else max(0.0, s_hi - caj)
    veins = _vein_involvement(labelmap, mask, centerline)
    invaded, abutting = _hepatic_involvement(labelmap, veins)
    for side, lab in RENAL_VEIN_LABELS.items():
        # Tumor within `VEIN_ABUTTING_MM` of a renal vein's ostium (beside the residual lumen it opens
        # into) involves the inflow: a resection with margins takes it.
        ostium = landmarks[f"renal_vein_{side}"].position_mm
        if veins.get(int(lab)) == "abutting" and ostium is not None and \
                float(np.min(np.linalg.norm(pts - np.asarray(ostium), axis=1))) <= VEIN_ABUTTING_MM:
            veins[int(lab)] = "occluded_ostium"
    return TumorMeasurements(
        present=True,
        volume_ml=float(len(idx)) * grid.voxel_volume_mm3 / 1000.0,
        max_diameter_mm=max_diameter_mm(mask, grid),
        axes_mm=axes,
        axial_longest_diameter_mm=axial,
        craniocaudal_length_mm=s_hi - s_lo,
        upper_pole_mm=[float(v) for v in upper],
        lower_pole_mm=[float(v) for v in lower],
        upper_pole_s_mm=s_hi,
        lower_pole_s_mm=s_lo,
        segments=segment_map.overlapping(s_lo, s_hi),
        distance_upper_pole_to_hepatic_veins_mm=dist(landmarks.s("hepatic_veins"), s_hi),
        distance_upper_pole_to_cavoatrial_junction_mm=dist(caj, s_hi),
        distance_lower_pole_to_renal_veins_mm=dist(s_lo, landmarks.s("renal_veins")),
        max_lumen_occlusion_pct=lumen.max_stenosis_pct,
        residual_lumen_min_area_mm2=lumen.residual_lumen_min_area_mm2,
        max_stenosis_pct=lumen.max_stenosis_pct,
        occluded_length_mm=lumen.occluded_length_mm,
        native_area_source=lumen.native_area_source,
        complete_occlusion=None if lumen.occluded_length_mm is None
        else lumen.occluded_length_mm >= COMPLETE_OCCLUSION_MIN_MM,
        max_circumferential_involvement_deg=float(centerline.wall_involvement_deg[sec].max()) if sec.any() else None,
        hepatic_veins_invaded=invaded,
        hepatic_veins_abutting=abutting,
        renal_veins_involved=[k for k, lab in RENAL_VEIN_LABELS.items()
                              if veins.get(int(lab)) in ("invaded", "occluded_ostium")],
        intracardiac=None if intracardiac_len is None else intracardiac_len > INTRACARDIAC_MIN_MM,
        intracardiac_length_mm=intracardiac_len,
        ivc_diameter_above_mm=levels["above_tumor"].transverse_mm,
        ivc_diameter_below_mm=levels["below_tumor"].transverse_mm,
        growth_pattern=_growth_pattern(centerline, pts),
        extraluminal_volume_ml=ivc_size.extraluminal_ml(centerline, levels, pts, grid.voxel_volume_mm3 / 1000.0),
        adjacent_organs=[lab.key for lab in ADJACENT_LABELS if int(lab) in veins.get("adjacent", ())],
        measurable_recist=axial >= RECIST_MEASURABLE_MM,
        collateral_return=None,
        distance_lower_pole_to_iliac_confluence_mm=dist(s_lo, landmarks.s("iliac_confluence")),
        **room,
    )


def _hepatic_involvement(labelmap: Labelmap, veins: Mapping[Any, Any]) -> tuple[list[str] | None, list[str] | None]:
    """Hepatic vein sides invaded and abutting; both None (unknown) when no hepatic vein is segmented
    at all: a vein that was not found (unenhanced, occluded by the tumor, or missed) is not a free vein,
    and an empty list would let the planner take the ostia as free (R5) on no evidence."""
    if not any((labelmap.array == int(lab)).any() for lab in HEPATIC_VEIN_LABELS.values()):
        log.info("hepatic vein invasion unknown: no hepatic vein segmented")
        return None, None
    invaded = [k for k, lab in HEPATIC_VEIN_LABELS.items() if veins.get(int(lab)) == "invaded"]
    abutting = [k for k, lab in HEPATIC_VEIN_LABELS.items() if veins.get(int(lab)) in ("abutting", "occluded_ostium")]
    return invaded, abutting


def _clamp_room(landmarks: Landmarks, extra: Mapping[str, Landmark], s_lo: float, s_hi: float) -> dict[str, Any]:
    """Distances from the upper pole to each hepatic vein ostium, the caval hiatus and the liver's
    caudal edge (positive: the pole lies below), and the tumor length in the retrohepatic IVC (from the
    liver's caudal edge up to the hiatus, else the cavoatrial junction)."""
    def below(s: float | None) -> float | None:
        return None if s is None else s - s_hi

    per_vein = {side: below(landmarks.s(f"hepatic_vein_{side}")) for side in HEPATIC_VEIN_LABELS}
    hiatus = extra.get("caval_hiatus")
    edge = extra.get("liver_caudal_edge")
    s_hiatus = hiatus.s_mm if hiatus is not None and hiatus.found else None
    s_edge = edge.s_mm if edge is not None and edge.found else None
    top = s_hiatus if s_hiatus is not None else landmarks.s("cavoatrial_junction")
    retro = None
    if s_edge is not None:
        upper = s_hi if top is None else min(s_hi, top)
        retro = max(0.0, upper - max(s_lo, s_edge))
    return {"distance_upper_pole_to_hepatic_vein_mm": per_vein,
            "distance_upper_pole_to_caval_hiatus_mm": below(s_hiatus),
            "distance_upper_pole_to_liver_caudal_edge_mm": below(s_edge),
            "retrohepatic_length_mm": retro}


def _tangent_at(centerline: Centerline, s: float) -> np.ndarray:
    i = int(np.clip(np.searchsorted(centerline.s, s), 0, len(centerline.s) - 1))
    return centerline.tangents[i]


def _growth_pattern(centerline: Centerline, pts: np.ndarray) -> str | None:
    normal = (centerline.tumor_area_mm2 == 0) & (centerline.total_area_mm2 > 0)
    if not normal.any():
        return None
    radius = 0.5 * float(np.median(centerline.eq_diameter_mm[normal]))
    dist = centerline.distance_to(pts)
    outside = float(np.mean(dist > EXTRALUMINAL_RADIUS_FACTOR * radius + EXTRALUMINAL_MARGIN_MM))
    if outside < GROWTH_PATTERN_SHARE:
        return "intraluminal"
    if outside > 1.0 - GROWTH_PATTERN_SHARE:
        return "extraluminal"
    return "both"


def contact_area_mm2(a: np.ndarray, b: np.ndarray, spacing: np.ndarray) -> float:
    """Area (mm2) of the voxel faces shared by masks ``a`` and ``b``."""
    total = 0.0
    for axis in range(3):
        face = float(np.prod(np.delete(spacing, axis)))
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        lo_t, hi_t = tuple(lo), tuple(hi)
        n = np.count_nonzero(a[lo_t] & b[hi_t]) + np.count_nonzero(b[lo_t] & a[hi_t])
        total += n * face
    return total


def _depth_beyond_wall(grid: Grid, centerline: Centerline, contact: np.ndarray, offset: np.ndarray) -> float:
    """How far (mm) the centre of a vein's contact with the tumor lies beyond the normal IVC wall."""
    centre = grid.index_to_lps(np.argwhere(contact) + offset).mean(axis=0)
    radius = centerline.normal_radius(float(centerline.project(centre)))
    return float(centerline.distance_to(centre)[0]) - (radius if radius is not None else 0.0)


def _vein_involvement(labelmap: Labelmap, tumor_mask: np.ndarray, centerline: Centerline) -> dict[Any, Any]:
    """Per vein label: "invaded" (the tumor grew into the vein beyond the normal IVC wall),
    "occluded_ostium" (the tumor fills the IVC at the ostium), "abutting" (within `VEIN_ABUTTING_MM`) or
    absent; key "adjacent": organ labels near the tumor."""
    grid = labelmap.grid
    reach = max(VEIN_ABUTTING_MM, ADJACENT_MM) + float(grid.spacing.max())
    margin = np.ceil(reach / grid.spacing).astype(int) + 1
    nz = np.nonzero(tumor_mask)
    lo = np.maximum([int(v.min()) - m for v, m in zip(nz, margin, strict=True)], 0)
    hi = np.minimum([int(v.max()) + m + 1 for v, m in zip(nz, margin, strict=True)], grid.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    labels = labelmap.array[box]
    tumor_box = tumor_mask[box]
    dist = ndimage.distance_transform_edt(~tumor_box, sampling=grid.spacing)
    touch = 1.01 * float(grid.spacing.max())
    out: dict[Any, Any] = {}
    for lab in (*HEPATIC_VEIN_LABELS.values(), *RENAL_VEIN_LABELS.values()):
        vein = labels == lab
        if not vein.any():
            continue
        if contact_area_mm2(tumor_box, vein, grid.spacing) >= VEIN_INVASION_MIN_CONTACT_MM2:
            out[int(lab)] = "invaded" if _depth_beyond_wall(grid, centerline, vein & (dist <= touch), lo) \
                > VEIN_INVASION_DEPTH_MM else "occluded_ostium"
        elif dist[vein].min() <= VEIN_ABUTTING_MM:
            out[int(lab)] = "abutting"
    out["adjacent"] = tuple(int(lab) for lab in ADJACENT_LABELS
                            if np.any(dist[labels == lab] <= ADJACENT_MM + 0.5 * float(grid.spacing.min())))
    return out
