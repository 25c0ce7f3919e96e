"""Ground truth of a phantom case, computed from its masks (never copied from the parameters).

Landmarks follow docs/design.md: ostia are the centres of each vein's lumen where it meets the
normal IVC wall; level landmarks are points on the IVC centreline. Tumor numbers follow the
report contract (docs/report.md) so that ``facts`` can be fed to ``ivcplan.plan.suggest``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from ivcplan.labels import HEPATIC_VEIN_LABELS, IVC_LABELS, Label
from ivcplan.phantom.shapes import Tube
from ivcplan.volume import Grid, Labelmap

log = logging.getLogger(__name__)

#: Width of the centreline bins used for cross-sections (mm).
BIN_MM = 2.0
#: Angular sectors for circumferential wall involvement.
SECTORS = 36
#: A tumor voxel within this distance of another structure makes it an adjacent organ (mm).
ADJACENT_MM = 3.0
#: Tumor this close to a vein's ostium centre involves (renal) or abuts (hepatic) it (mm).
OSTIUM_CONTACT_MM = 5.0
#: Tumor volume inside a vein's own lumen (beyond the IVC wall) that counts as invasion (ml).
INVASION_MIN_ML = 0.05
#: IVC diameters above/below the tumor are measured this far from the poles (mm, from-to).
GRAFT_SIZING_MM = (10.0, 20.0)
RECIST_MIN_MM = 10.0
#: A pole is the centroid of the lesion voxels within this arc length (mm) of its extreme: the single
#: farthest voxel of a flat end is arbitrary (ivcplan.measure uses the same cap).
POLE_CAP_MM = 2.0
PHASE = "portal_venous"
#: Issue 19's definitions (docs/design.md): complete occlusion is no lumen over this length (mm); the
#: liver lies against the IVC when it fills this share of the ring within LIVER_RING_MM of it.
COMPLETE_OCCLUSION_MIN_MM = 10.0
LIVER_RING_MM = 10.0
LIVER_WRAP_MIN = 0.25
SCHEMA = "ivcplan.phantom-truth/1"

#: Ostium landmark -> the records of its veins: the first is the vein whose ostium is the landmark,
#: the others are accessory veins of that side (a duplicated right renal vein, the retroaortic limb of
#: a circumaortic left renal vein). Every renal record counts for the renal level and for invasion.
VEIN_RECORDS: dict[str, tuple[str, ...]] = {
    "renal_vein_right": ("rv_right",), "renal_vein_left": ("rv_left",), "hepatic_vein_right": ("hv_right",),
    "hepatic_vein_middle": ("hv_middle",), "hepatic_vein_left": ("hv_left",)}


def _bbox(mask: np.ndarray, pad: int = 1) -> tuple[slice, ...] | None:
    out = []
    for axis, n in enumerate(mask.shape):
        hit = np.flatnonzero(np.any(mask, axis=tuple(a for a in range(mask.ndim) if a != axis)))
        if hit.size == 0:
            return None
        out.append(slice(max(int(hit[0]) - pad, 0), min(int(hit[-1]) + pad + 1, n)))
    return tuple(out)


def _interface(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Voxels of ``a`` 6-adjacent to ``b`` (as a full-size mask)."""
    out = np.zeros(a.shape, dtype=bool)
    sl = _bbox(b, pad=2)
    if sl is None:
        return out
    out[sl] = a[sl] & ndimage.binary_dilation(b[sl])
    return out


def _points(grid: Grid, mask: np.ndarray) -> np.ndarray:
    return grid.index_to_lps(np.argwhere(mask))


def _footprint(grid: Grid, direction_lps: np.ndarray) -> float:
    """Extent of one voxel along an LPS direction (added to centre-to-centre distances)."""
    along_axes = grid.direction.T @ direction_lps
    return float(np.sum(np.abs(along_axes) * grid.spacing))


def _max_distance(points: np.ndarray) -> tuple[float, np.ndarray]:
    """Largest distance between two of ``points`` (via the convex hull) and its unit direction."""
    if len(points) < 2:
        return 0.0, np.array([1.0, 0.0, 0.0])
    try:
        hull = points[ConvexHull(points).vertices]
    except (QhullError, ValueError):
        hull = points
    best, pair = -1.0, (0, 0)
    for i in range(0, len(hull), 512):
        d = np.linalg.norm(hull[i:i + 512, None, :] - hull[None, :, :], axis=-1)
        k = int(np.argmax(d))
        if d.flat[k] > best:
            best = float(d.flat[k])
            pair = (i + k // len(hull), k % len(hull))
    vec = hull[pair[1]] - hull[pair[0]]
    return best, vec / max(np.linalg.norm(vec), 1e-9)


def feret_diameter(grid: Grid, mask: np.ndarray) -> float:
    """Maximum 3D diameter (mm): largest distance between surface voxel centres plus one voxel."""
    sl = _bbox(mask)
    if sl is None:
        return 0.0
    sub = mask[sl]
    surface = sub & ~ndimage.binary_erosion(sub)
    pts = grid.crop([s.start for s in sl], [s.stop for s in sl]).index_to_lps(np.argwhere(surface))
    dist, direction = _max_distance(pts)
    return dist + _footprint(grid, direction)


def principal_axes(grid: Grid, mask: np.ndarray) -> list[float]:
    """Extents (mm) along the three principal axes of the voxel positions, largest first."""
    pts = _points(grid, mask)
    if len(pts) < 4:
        return [0.0, 0.0, 0.0]
    centred = pts - pts.mean(axis=0)
    _, vecs = np.linalg.eigh(np.cov(centred.T))
    extents = [float(np.ptp(centred @ v)) + _footprint(grid, v) for v in vecs.T]
    return sorted(extents, reverse=True)


def axial_longest_diameter(grid: Grid, mask: np.ndarray) -> float:
    """Largest in-plane diameter over the axial slices (RECIST long axis), mm."""
    axis = grid.axis_of(2)
    best = 0.0
    for k in np.nonzero(np.any(mask, axis=tuple(a for a in range(3) if a != axis)))[0]:
        plane = np.take(mask, k, axis=axis)
        edge = plane & ~ndimage.binary_erosion(plane)
        idx2 = np.argwhere(edge)
        idx = np.insert(idx2, axis, k, axis=1)
        pts = grid.index_to_lps(idx)[:, :2]
        if len(pts) < 2:
            continue
        with contextlib.suppress(QhullError, ValueError):
            pts = pts[ConvexHull(pts).vertices]
        d = np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=-1)
        i, j = np.unravel_index(int(np.argmax(d)), d.shape)
        direction = np.r_[pts[j] - pts[i], 0.0]
        direction /= max(np.linalg.norm(direction), 1e-9)
        best = max(best, float(d[i, j]) + _footprint(grid, direction))
    return best


def _poles(grid: Grid, pts: np.ndarray, s: np.ndarray, centerline: Tube) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower) poles: centroids of the end caps of the lesion voxel centres along the centreline,
    moved half a voxel outward along it (the surface, as the diameters add the voxel footprint)."""
    out = []
    for cap, s_end, sign in ((s >= s.max() - POLE_CAP_MM, s.max(), 1.0), (s <= s.min() + POLE_CAP_MM, s.min(), -1.0)):
        tangent = centerline.point_at(float(s_end) + 0.5) - centerline.point_at(float(s_end) - 0.5)
        tangent /= max(float(np.linalg.norm(tangent)), 1e-9)
        out.append(pts[cap].mean(axis=0) + sign * 0.5 * _footprint(grid, tangent) * tangent)
    return out[0], out[1]


def _landmark(position: np.ndarray | None, s: float | None, detail: str) -> dict[str, Any]:
    return {"position_mm": None if position is None else [round(float(v), 2) for v in position],
            "s_mm": None if s is None else round(float(s), 2), "confidence": 1.0 if position is not None else 0.0,
            "detail": detail}


def ostium(grid: Grid, records: Mapping[str, np.ndarray], record: str, centerline: Tube
           ) -> tuple[np.ndarray, np.ndarray] | None:
    """(centre, ring points) of a recorded vein's lumen where it meets the IVC wall, or None."""
    ivc_rec = records["ivc"]
    if record not in records:
        return None
    ring = _interface(records[record] & ~ivc_rec, ivc_rec)
    if not ring.any():
        return None
    pts = _points(grid, ring)
    return pts.mean(axis=0), pts


def compute_landmarks(labelmap: Labelmap, records: Mapping[str, np.ndarray], centerline: Tube,
                      veins: Mapping[str, tuple[str, ...]] = VEIN_RECORDS) -> dict[str, dict[str, Any]]:
    """The nine landmarks of docs/design.md from the masks (LPS mm, ``s`` along ``centerline``)."""
    grid, arr = labelmap.grid, labelmap.array
    ivc_rec = records["ivc"]
    out: dict[str, dict[str, Any]] = {}

    def on_line(s: float | None, detail: str) -> dict[str, Any]:
        return _landmark(None if s is None else centerline.point_at(s), s, detail)

    iface = _interface(np.isin(arr, [int(v) for v in IVC_LABELS]),
                       np.isin(arr, [int(Label.ILIAC_VEIN_RIGHT), int(Label.ILIAC_VEIN_LEFT)]))
    s_conf = float(centerline.project(_points(grid, iface).mean(axis=0))) if iface.any() else None
    out["iliac_confluence"] = on_line(s_conf, "IVC voxels touching the common iliac veins, projected")

    ostium_s: dict[str, float] = {}
    renal_edges: list[float] = []
    for name, recs in veins.items():
        for k, rec in enumerate(recs):
            found = ostium(grid, records, rec, centerline)
            if k == 0:
                if found is None:
                    out[name] = _landmark(None, None, "vein not in the field of view")
                else:
                    ostium_s[name] = float(centerline.project(found[0]))
                    out[name] = _landmark(found[0], ostium_s[name], "centre of the vein lumen at the IVC wall")
            if found is not None and name.startswith("renal"):
                renal_edges.append(float(np.max(centerline.project(found[1]))))
    out["renal_veins"] = on_line(max(renal_edges) if renal_edges else None,
                                 "centreline level of the cranial edge of the highest renal vein inflow")
    hep = [ostium_s[k] for k in ("hepatic_vein_right", "hepatic_vein_middle", "hepatic_vein_left") if k in ostium_s]
    out["hepatic_veins"] = on_line(min(hep) if hep else None, "centreline level of the lowest hepatic vein ostium")
    ring = _interface(ivc_rec & ~records["ra"], records["ra"])
    s_caj = float(centerline.project(_points(grid, ring).mean(axis=0))) if ring.any() else None
    out["cavoatrial_junction"] = on_line(s_caj, "where the IVC enters the right atrium")
    return out


def _s(lm: Mapping[str, dict[str, Any]], name: str) -> float | None:
    return lm[name]["s_mm"]


def _sections(grid: Grid, arr: np.ndarray, centerline: Tube, s_min: float, s_max: float
              ) -> dict[str, np.ndarray]:
    """Per BIN_MM bin of centreline arc length: lumen/tumor/thrombus areas (mm2) and wall involvement."""
    ivc = np.isin(arr, [int(v) for v in IVC_LABELS])
    idx = np.argwhere(ivc)
    pts = grid.index_to_lps(idx)
    s = centerline.project(pts)
    keep = (s >= s_min) & (s < s_max)
    idx, pts, s = idx[keep], pts[keep], s[keep]
    labels = arr[tuple(idx.T)]
    edges = np.arange(s_min, s_max + BIN_MM, BIN_MM)
    nb = len(edges) - 1
    b = np.clip(np.digitize(s, edges) - 1, 0, max(nb - 1, 0))
    per = grid.voxel_volume_mm3 / BIN_MM
    areas = {key: np.bincount(b[labels == int(lab)], minlength=nb)[:nb] * per
             for key, lab in (("lumen", Label.IVC_LUMEN), ("tumor", Label.IVC_TUMOR),
                              ("thrombus", Label.IVC_THROMBUS))}
    fields = centerline.fields(pts)
    sector = (fields.theta // (360.0 / SECTORS)).astype(int) % SECTORS
    involvement = np.zeros(nb)
    order = np.lexsort((fields.radial_mm, sector, b))  # outermost voxel last within each (bin, sector)
    key = b[order] * SECTORS + sector[order]
    last = np.r_[key[1:] != key[:-1], True]
    outer_bins = b[order][last]
    outer_tumor = labels[order][last] == int(Label.IVC_TUMOR)
    np.add.at(involvement, outer_bins[outer_tumor], 360.0 / SECTORS)
    return {"s": 0.5 * (edges[:-1] + edges[1:]), **areas, "involvement_deg": involvement}


def _section_axes(tangent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of a cross-section: u towards the patient's left, v towards the back."""
    t = tangent / np.linalg.norm(tangent)
    u = np.array([1.0, 0.0, 0.0]) - t[0] * t
    u /= np.linalg.norm(u)
    return u, np.cross(t, u)


def ivc_diameters(labelmap: Labelmap, records: Mapping[str, np.ndarray], centerline: Tube,
                  landmarks: Mapping[str, dict[str, Any]], tumor_range: tuple[float, float] | None
                  ) -> dict[str, dict[str, Any]]:
    """Transverse / AP widths of the painted IVC tube where it is normal: 10 mm above the renal veins,
    15 mm above / below the tumor (a 2 mm slab of the tube; null with the reason otherwise)."""
    grid = labelmap.grid
    s_conf, s_renal = _s(landmarks, "iliac_confluence"), _s(landmarks, "renal_veins")
    s_caj = _s(landmarks, "cavoatrial_junction")
    pts = _points(grid, records["ivc"])
    s_pts = centerline.project(pts)
    tumor_s = centerline.project(_points(grid, labelmap.array == int(Label.IVC_TUMOR))) \
        if tumor_range is not None else np.zeros(0)
    levels = {"renal_veins": None if s_renal is None else s_renal + 10.0,
              "above_tumor": None if tumor_range is None else tumor_range[1] + 15.0,
              "below_tumor": None if tumor_range is None else tumor_range[0] - 15.0}
    out: dict[str, dict[str, Any]] = {}
    for name, s0 in levels.items():
        def none(reason: str) -> dict[str, Any]:
            return {"ap": None, "transverse": None, "reason": reason}

        if s0 is None:
            out[name] = none("level not defined")
        elif (s_conf is not None and s0 < s_conf) or (s_caj is not None and s0 > s_caj - 5.0):
            out[name] = none("beyond the normal IVC (iliac confluence or right atrium)")
        elif len(tumor_s) and np.any(np.abs(tumor_s - s0) <= 5.0):
            out[name] = none("tumor at that level")
        else:
            slab = pts[np.abs(s_pts - s0) <= 1.0]
            if len(slab) < 3:
                out[name] = none("no IVC at that level")
                continue
            tangent = centerline.point_at(s0 + 0.5) - centerline.point_at(s0 - 0.5)
            u, v = _section_axes(tangent)
            rel = slab - centerline.point_at(s0)
            out[name] = {"ap": round(float(np.ptp(rel @ v)) + _footprint(grid, v), 1),
                         "transverse": round(float(np.ptp(rel @ u)) + _footprint(grid, u), 1), "reason": None}
    return out


def clamp_landmarks(labelmap: Labelmap, centerline: Tube, landmarks: Mapping[str, dict[str, Any]],
                    diaphragm: Callable[[np.ndarray, np.ndarray], np.ndarray] | None) -> dict[str, dict[str, Any]]:
    """``caval_hiatus``: where the IVC tube crosses the diaphragm's under-surface (the dome the phantom
    painted, less its thickness); ``liver_caudal_edge``: the lowest axial slice, going down from the
    hepatic veins, with liver over `LIVER_WRAP_MIN` of the ring within `LIVER_RING_MM` of the IVC."""
    out: dict[str, dict[str, Any]] = {}
    s_grid = np.arange(0.0, centerline.length + 30.0, 0.25)
    line = np.array([centerline.point_at(v) for v in s_grid])
    if diaphragm is None:
        out["caval_hiatus"] = _landmark(None, None, "diaphragm not known")
    else:
        under = diaphragm(line[:, 0], line[:, 1])
        cross = np.flatnonzero(line[:, 2] >= under)
        s_h = float(s_grid[cross[0]]) if len(cross) else None
        out["caval_hiatus"] = _landmark(None if s_h is None else centerline.point_at(s_h), s_h,
                                        "IVC centreline crossing the diaphragm's under-surface")
    grid, arr = labelmap.grid, labelmap.array
    ivc = np.isin(arr, [int(v) for v in IVC_LABELS])
    liver = np.isin(arr, [int(Label.LIVER), *(int(v) for v in HEPATIC_VEIN_LABELS.values())])
    axis = grid.axis_of(2)
    heights = grid.index_to_lps(np.stack([np.arange(grid.shape[axis]) if a == axis else np.zeros(grid.shape[axis])
                                          for a in range(3)], axis=1))[:, 2]
    pixel = np.array([grid.spacing[a] for a in range(3) if a != axis])
    wrapped = np.zeros(len(heights), dtype=bool)
    for k in range(len(heights)):
        ring_ivc = np.take(ivc, k, axis=axis)
        if not ring_ivc.any():
            continue
        dist = ndimage.distance_transform_edt(~ring_ivc, sampling=pixel)
        ring = (dist > 0) & (dist <= LIVER_RING_MM)
        wrapped[k] = np.count_nonzero(ring & np.take(liver, k, axis=axis)) >= LIVER_WRAP_MIN * np.count_nonzero(ring)
    hv = landmarks["hepatic_veins"]["position_mm"]
    order = np.argsort(heights)
    wrapped, heights = wrapped[order], heights[order]
    s_edge = None
    if wrapped.any():
        start = int(np.argmin(np.abs(heights - hv[2]))) if hv is not None else int(np.flatnonzero(wrapped)[-1])
        cand = np.flatnonzero(wrapped)
        k = int(cand[np.argmin(np.abs(cand - start))])
        while k > 0 and wrapped[k - 1]:
            k -= 1
        z_edge = heights[k] - 0.5 * float(grid.spacing[axis])
        s_edge = float(s_grid[np.argmin(np.abs(line[:, 2] - z_edge))])
    out["liver_caudal_edge"] = _landmark(None if s_edge is None else centerline.point_at(s_edge), s_edge,
                                         "lowest level of the retrohepatic IVC (liver against the IVC)")
    return out


def tumor_facts(labelmap: Labelmap, records: Mapping[str, np.ndarray], centerline: Tube,
                landmarks: Mapping[str, dict[str, Any]], veins: Mapping[str, tuple[str, ...]] = VEIN_RECORDS
                ) -> dict[str, Any]:
    """The report contract's ``tumor`` section (plus the planner's extra fields) from the masks."""
    grid, arr = labelmap.grid, labelmap.array
    tumor = arr == int(Label.IVC_TUMOR)
    if not tumor.any():
        return {"present": False, "hepatic_veins_invaded": [], "renal_veins_involved": [], "segments": [],
                "intracardiac": False}
    pts = _points(grid, tumor)
    s = centerline.project(pts)
    lo_i, hi_i = int(np.argmin(s)), int(np.argmax(s))
    s_lo, s_hi = float(s[lo_i]), float(s[hi_i])
    s_conf, s_renal = _s(landmarks, "iliac_confluence"), _s(landmarks, "renal_veins")
    s_hep, s_caj = _s(landmarks, "hepatic_veins"), _s(landmarks, "cavoatrial_junction")

    segments = []
    if s_renal is not None and s_lo < s_renal:
        segments.append("I")
    if s_renal is not None and s_hi >= s_renal and (s_hep is None or s_lo < s_hep):
        segments.append("II")
    if s_hep is not None and s_hi >= s_hep:
        segments.append("III")

    s_top = s_caj if s_caj is not None else centerline.length
    sec = _sections(grid, arr, centerline, min(s_lo, s_conf or 0.0) - 25, s_top)
    within = (sec["s"] >= s_lo) & (sec["s"] <= s_hi)
    total = sec["lumen"] + sec["tumor"] + sec["thrombus"]
    inner = within & (sec["s"] > s_lo + BIN_MM) & (sec["s"] < s_hi - BIN_MM) & (total > 0)
    # Occlusion against the native area: the normal IVC's lumen area just beyond each pole.
    normal_area = [float(np.mean(sec["lumen"][m])) for m in (
        (sec["s"] > s_hi + 5) & (sec["s"] < s_hi + 25) & (sec["tumor"] == 0) & (sec["lumen"] > 0),
        (sec["s"] < s_lo - 5) & (sec["s"] > s_lo - 25) & (sec["tumor"] == 0) & (sec["lumen"] > 0)) if m.any()]
    native = max(normal_area) if normal_area else None
    occl = np.where(total > 0, 100 * (1 - sec["lumen"] / native), 0.0) if native else \
        np.where(total > 0, 100 * (sec["tumor"] + sec["thrombus"]) / np.maximum(total, 1e-9), 0.0)
    occl = np.clip(occl, 0.0, 100.0)
    run, longest = 0, 0
    for empty in (sec["lumen"][inner] == 0):
        run = run + 1 if empty else 0
        longest = max(longest, run)

    def lumen_diameter(a: float, b: float) -> float | None:
        sel = (sec["s"] >= a) & (sec["s"] <= b) & (sec["lumen"] > 0)
        if (s_conf is not None and a < s_conf) or b > s_top or not sel.any():
            return None
        return round(float(2 * np.sqrt(np.mean(sec["lumen"][sel]) / np.pi)), 1)

    ivc_rec = records["ivc"]
    voxel_ml = grid.voxel_volume_mm3 / 1000.0
    invaded: dict[str, bool] = {}
    near: dict[str, bool] = {}
    for name, recs in veins.items():
        invaded[name] = any(np.count_nonzero(tumor & records[rec] & ~ivc_rec) * voxel_ml >= INVASION_MIN_ML
                            for rec in recs if rec in records)
        centre = landmarks[name]["position_mm"]
        near[name] = centre is not None and float(np.min(np.linalg.norm(pts - np.asarray(centre), axis=1))) \
            <= OSTIUM_CONTACT_MM
    hv_invaded = [side for side in HEPATIC_VEIN_LABELS if invaded[f"hepatic_vein_{side}"]]
    hv_abut = [side for side in HEPATIC_VEIN_LABELS if near[f"hepatic_vein_{side}"] and side not in hv_invaded]
    renal = [side for side in ("right", "left") if invaded[f"renal_vein_{side}"] or near[f"renal_vein_{side}"]]

    outside = np.count_nonzero(tumor & ~ivc_rec) / np.count_nonzero(tumor)
    pattern = "intraluminal" if outside < 0.1 else "extraluminal" if outside > 0.9 else "both"
    sl = _bbox(tumor, pad=int(np.ceil(ADJACENT_MM / float(np.min(grid.spacing)))) + 1)
    iterations = max(1, round(ADJACENT_MM / float(np.min(grid.spacing))))
    ring = ndimage.binary_dilation(tumor[sl], iterations=iterations) & ~tumor[sl]
    skip = {0, int(Label.BODY), *(int(v) for v in IVC_LABELS)}
    adjacent = sorted(Label(int(v)).key for v in np.unique(arr[sl][ring]) if int(v) not in skip)

    axial = axial_longest_diameter(grid, tumor)
    above = lumen_diameter(s_hi + GRAFT_SIZING_MM[0], s_hi + GRAFT_SIZING_MM[1])
    below = lumen_diameter(s_lo - GRAFT_SIZING_MM[1], s_lo - GRAFT_SIZING_MM[0])

    def dist(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round(a - b, 1)

    intracardiac = s_caj is not None and s_hi > s_caj
    upper, lower = _poles(grid, pts, s, centerline)
    return {
        "present": True,
        "volume_ml": round(float(np.count_nonzero(tumor) * voxel_ml), 2),
        "max_diameter_mm": round(feret_diameter(grid, tumor), 1),
        "axes_mm": [round(v, 1) for v in principal_axes(grid, tumor)],
        "axial_longest_diameter_mm": round(axial, 1),
        "craniocaudal_length_mm": round(s_hi - s_lo, 1),
        "upper_pole_mm": [round(float(v), 2) for v in upper],
        "lower_pole_mm": [round(float(v), 2) for v in lower],
        "upper_pole_s_mm": round(s_hi, 1),
        "lower_pole_s_mm": round(s_lo, 1),
        "segments": segments,
        "distance_upper_pole_to_hepatic_veins_mm": dist(s_hep, s_hi),
        "distance_upper_pole_to_cavoatrial_junction_mm": dist(s_caj, s_hi),
        "distance_lower_pole_to_renal_veins_mm": dist(s_lo, s_renal),
        "distance_lower_pole_to_iliac_confluence_mm": dist(s_lo, s_conf),
        "max_lumen_occlusion_pct": round(float(occl[within].max()) if within.any() else 0.0, 1),
        "complete_occlusion": bool(longest * BIN_MM >= COMPLETE_OCCLUSION_MIN_MM),
        "occluded_length_mm": float(longest * BIN_MM),
        "residual_lumen_min_area_mm2": round(float(sec["lumen"][inner].min()), 1) if inner.any() else None,
        "max_stenosis_pct": round(float(occl[within].max()) if within.any() else 0.0, 1),
        "extraluminal_volume_ml": round(float(np.count_nonzero(tumor & ~ivc_rec)) * voxel_ml, 2),
        "distance_upper_pole_to_hepatic_vein_mm": {side: dist(_s(landmarks, f"hepatic_vein_{side}"), s_hi)
                                                   for side in HEPATIC_VEIN_LABELS},
        "distance_upper_pole_to_caval_hiatus_mm": dist(_s(landmarks, "caval_hiatus"), s_hi)
        if "caval_hiatus" in landmarks else None,
        "distance_upper_pole_to_liver_caudal_edge_mm": dist(_s(landmarks, "liver_caudal_edge"), s_hi)
        if "liver_caudal_edge" in landmarks else None,
        "max_circumferential_involvement_deg": round(float(sec["involvement_deg"][within].max())
                                                     if within.any() else 0.0, 1),
        "hepatic_veins_invaded": hv_invaded,
        "hepatic_veins_abutting": hv_abut,
        "renal_veins_involved": renal,
        "intracardiac": bool(intracardiac),
        "intracardiac_length_mm": round(max(0.0, s_hi - s_caj), 1) if s_caj is not None else None,
        "ivc_diameter_above_mm": above,
        "ivc_diameter_below_mm": below,
        "growth_pattern": pattern,
        "adjacent_organs": adjacent,
        "measurable_recist": bool(axial >= RECIST_MIN_MM),
        "collateral_return": None,
    }


def thrombus_facts(labelmap: Labelmap, centerline: Tube) -> dict[str, Any] | None:
    mask = labelmap.array == int(Label.IVC_THROMBUS)
    if not mask.any():
        return None
    pts = _points(labelmap.grid, mask)
    s = centerline.project(pts)
    upper, lower = _poles(labelmap.grid, pts, s, centerline)
    return {"present": True, "volume_ml": round(labelmap.volume_ml(Label.IVC_THROMBUS), 2),
            "upper_pole_mm": [round(float(v), 2) for v in upper],
            "lower_pole_mm": [round(float(v), 2) for v in lower],
            "craniocaudal_length_mm": round(float(s.max() - s.min()), 1)}


def expected_plan(facts: Mapping[str, Any]) -> dict[str, Any] | None:
    """The planner's suggestion for these facts (None while ivcplan.plan is not available)."""
    try:
        from ivcplan.plan import suggest
    except ImportError:
        log.warning("ivcplan.plan is not importable: expected_plan left empty")
        return None
    plan = suggest(facts)
    for attr in ("to_dict", "as_dict"):
        if hasattr(plan, attr):
            return getattr(plan, attr)()
    if hasattr(plan, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(plan)
    return dict(plan)


def compute_truth(labelmap: Labelmap, records: Mapping[str, np.ndarray], centerline: Tube, *,
                  meta: Mapping[str, Any],
                  diaphragm: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                  veins: Mapping[str, tuple[str, ...]] = VEIN_RECORDS) -> dict[str, Any]:
    """truth.json content: structures, landmarks, centreline, report-shaped ``facts``, expected plan.

    ``diaphragm(x, y)``: LPS height of the diaphragm's under-surface (the caval hiatus lies on it);
    ``veins``: the vein records of each ostium landmark (`VEIN_RECORDS`)."""
    grid = labelmap.grid
    counts = np.bincount(labelmap.array.reshape(-1), minlength=max(int(v) for v in Label) + 1)
    structures = {lab.key: {"label": int(lab), "voxels": int(counts[int(lab)]),
                            "volume_ml": round(float(counts[int(lab)]) * grid.voxel_volume_mm3 / 1000.0, 2)}
                  for lab in Label if lab is not Label.BACKGROUND}
    landmarks = compute_landmarks(labelmap, records, centerline, veins)
    landmarks.update(clamp_landmarks(labelmap, centerline, landmarks, diaphragm))
    s_conf, s_caj = _s(landmarks, "iliac_confluence"), _s(landmarks, "cavoatrial_junction")
    s_renal, s_hep = _s(landmarks, "renal_veins"), _s(landmarks, "hepatic_veins")
    in_view = [seg for seg, (a, b) in (("I", (s_conf, s_renal)), ("II", (s_renal, s_hep)), ("III", (s_hep, s_caj)))
               if a is not None and b is not None]
    liver_ml = structures["liver"]["volume_ml"]
    facts = {
        "input": {"series_instance_uid": meta.get("series_instance_uid"), "size": list(grid.shape),
                  "spacing_mm": [float(v) for v in grid.spacing], "warnings": [], "contrast_phase": PHASE},
        "ivc": {"detected": True,
                "centerline_length_mm": round(s_caj - s_conf, 1) if s_caj is not None and s_conf is not None
                else None},
        "segments_in_view": in_view,
        "landmarks": landmarks,
        "tumor": (tumor := tumor_facts(labelmap, records, centerline, landmarks, veins)),
        "thrombus": thrombus_facts(labelmap, centerline),
        "liver": {"volume_ml": liver_ml, "flr_ml": None, "flr_ratio": None, "flr_method": None},
    }
    tumor_range = (tumor["lower_pole_s_mm"], tumor["upper_pole_s_mm"]) if tumor["present"] else None
    facts["ivc"]["diameters_mm"] = ivc_diameters(labelmap, records, centerline, landmarks, tumor_range)
    s_end = s_caj if s_caj is not None else centerline.length
    s_line = np.arange(s_conf or 0.0, s_end + 1e-6, 5.0)
    return {
        "schema": SCHEMA,
        "structures": structures,
        "centerline": {"s_mm": [round(float(v), 1) for v in s_line],
                       "points_mm": [[round(float(c), 2) for c in centerline.point_at(v)] for v in s_line]},
        "facts": facts,
        "expected_plan": expected_plan(facts),
    }
