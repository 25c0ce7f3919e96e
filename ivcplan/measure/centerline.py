"""IVC centerline and its perpendicular cross-sections.

The centerline runs through the union of the IVC labels (lumen, tumor, bland thrombus), so a tumor
filling the lumen does not break it. It is the minimal-cost path between the caudal and cranial
ends of that union, with a cost that keeps the path central (inverse distance to the wall) and
lets it bridge small gaps at a high price; the path is resampled at ~1 mm and smoothed.
Each centerline point has a cross-section on the plane perpendicular to the tangent, sampled from
the labelmap by nearest neighbour.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from ivcplan.errors import AnalysisError
from ivcplan.labels import HEPATIC_VEIN_LABELS, IVC_LABELS, RENAL_VEIN_LABELS, Label
from ivcplan.progress import ProgressCallback
from ivcplan.volume import Labelmap, label_mask

log = logging.getLogger(__name__)

#: Centerline sample spacing (mm).
STEP_MM = 1.0
#: Gaussian smoothing of the raw voxel path (sigma, mm): removes the voxel staircase.
SMOOTH_SIGMA_MM = 3.0
#: Cost per mm of the path outside the IVC mask, relative to ~1 at the centre: gaps are bridged
#: only where the mask is interrupted, never as a shortcut.
GAP_COST = 1000.0
#: ... within this distance (mm) of the IVC voxels.
GAP_REACH_MM = 30.0
#: The path search works on blocks of voxels about this size (mm) per axis.
PATH_VOXEL_MM = 1.5
#: The path's ends are prolonged up to this far (mm) along the last `END_DIRECTION_MM` samples' direction.
EXTEND_MAX_MM = 40.0
END_DIRECTION_MM = 5
#: The IVC's ends are looked for among the voxels within this height (mm) of its top / bottom.
END_BAND_MM = 20.0
#: IVC pieces smaller than this fraction of the largest are stray blobs, ignored by the path.
MIN_COMPONENT_FRACTION = 0.05
#: Tumor bulges: a path point whose inscribed radius exceeds this ratio x the normal IVC radius is
#: in a bulge; the bulge is widened by this many normal radii; end tangents are taken over this span (mm).
BULGE_RATIO = 1.5
BULGE_MARGIN_RADII = 1.5
TANGENT_SPAN_MM = 8.0
#: Cross-section sampling: pixel size bounds (mm) and half-width bounds (mm).
SECTION_PIXEL_MM = (0.3, 1.0)
SECTION_RADIUS_MM = (20.0, 60.0)
#: Angular resolution of Feret diameters (degrees) and of the wall-involvement bins (degrees).
FERET_ANGLE_STEP_DEG = 2.0
WALL_BIN_DEG = 5.0
#: Tumor-free sections within this arc length (mm) give the local normal IVC radius.
NORMAL_WINDOW_MM = 40.0
#: Width (mm) of the ring around the IVC section in which the right atrium is looked for.
ATRIUM_RING_MM = 2.0
#: IVC pieces of a section within this gap (mm) of the central region belong to it (a lumen channel
#: parted from the tumor by a one-voxel seam of another label).
REGION_GAP_MM = 2.0

_IVC = tuple(int(v) for v in IVC_LABELS)
#: Veins opening into the IVC: a section whose ring touches one is at a branch mouth.
_BRANCH_VEINS = (*RENAL_VEIN_LABELS.values(), *HEPATIC_VEIN_LABELS.values(), Label.ILIAC_VEIN_RIGHT,
                 Label.ILIAC_VEIN_LEFT)


@dataclass(frozen=True)
class Centerline:
    """IVC centerline, caudal -> cranial, with one perpendicular cross-section per point.

    Areas in mm2, diameters in mm; ``transverse_mm`` / ``ap_mm`` are the section's widths along its
    left-right / front-back axis (`section_basis`), as surgeons measure the IVC;
    ``wall_involvement_deg`` is the angle of IVC wall in contact with tumor in each section;
    ``atrium_contact_pct`` / ``branch_contact_pct`` are the shares of a thin ring around the section
    that are right atrium / a branch vein (renal, hepatic, iliac: the section is at a vein's mouth).
    Occlusion is not a per-section field: it needs the native IVC area (`ivcplan.measure.ivc_size`).
    ``reaches_caudal_border`` / ``reaches_cranial_border`` say whether the IVC is cut by the
    field of view at that end.
    """

    points: np.ndarray
    s: np.ndarray
    tangents: np.ndarray
    lumen_area_mm2: np.ndarray
    tumor_area_mm2: np.ndarray
    thrombus_area_mm2: np.ndarray
    total_area_mm2: np.ndarray
    eq_diameter_mm: np.ndarray
    max_diameter_mm: np.ndarray
    min_diameter_mm: np.ndarray
    wall_involvement_deg: np.ndarray
    transverse_mm: np.ndarray | None = None
    ap_mm: np.ndarray | None = None
    atrium_contact_pct: np.ndarray | None = None
    branch_contact_pct: np.ndarray | None = None
    reaches_caudal_border: bool = False
    reaches_cranial_border: bool = False
    _tree: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        from scipy.spatial import cKDTree

        for name in ("points", "s", "tangents", "lumen_area_mm2", "tumor_area_mm2", "thrombus_area_mm2",
                     "total_area_mm2", "eq_diameter_mm", "max_diameter_mm", "min_diameter_mm",
                     "wall_involvement_deg", "transverse_mm", "ap_mm", "atrium_contact_pct", "branch_contact_pct"):
            value = getattr(self, name)
            arr = np.zeros(len(self.s)) if value is None else np.array(value, dtype=float)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.points.ndim != 2 or self.points.shape[1] != 3 or len(self.points) < 1:
            raise AnalysisError(f"centerline points must be (N>=1, 3), got {self.points.shape}")
        object.__setattr__(self, "_tree", cKDTree(self.points))

    @property
    def length_mm(self) -> float:
        return float(self.s[-1] - self.s[0])

    def __len__(self) -> int:
        return len(self.s)

    # -- arc length <-> position -----------------------------------------------------------------
    def project(self, points_lps: Any) -> np.ndarray:
        """Arc length ``s`` of the nearest centerline point for (..., 3) LPS points.

        Beyond either end ``s`` continues along the end tangent (negative below the caudal end,
        above ``length_mm`` beyond the cranial end).
        """
        pts = np.asarray(points_lps, dtype=float)
        flat = pts.reshape(-1, 3)
        n = len(self.s)
        if flat.shape[0] == 0:
            return np.zeros(pts.shape[:-1])
        if n == 1:
            return ((flat - self.points[0]) @ self.tangents[0]).reshape(pts.shape[:-1]) + self.s[0]
        _, idx = self._tree.query(flat)
        best_d = np.full(len(flat), np.inf)
        best_s = np.zeros(len(flat))
        for offset in (-1, 0):
            j = np.clip(idx + offset, 0, n - 2)
            a, b = self.points[j], self.points[j + 1]
            ab = b - a
            seg_len2 = np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12)
            t = np.clip(np.einsum("ij,ij->i", flat - a, ab) / seg_len2, 0.0, 1.0)
            d = np.linalg.norm(a + t[:, None] * ab - flat, axis=1)
            better = d < best_d
            best_d[better] = d[better]
            best_s[better] = self.s[j[better]] + t[better] * np.sqrt(seg_len2[better])
        below = (idx == 0) & ((flat - self.points[0]) @ self.tangents[0] < 0)
        best_s[below] = self.s[0] + (flat[below] - self.points[0]) @ self.tangents[0]
        above = (idx == n - 1) & ((flat - self.points[-1]) @ self.tangents[-1] > 0)
        best_s[above] = self.s[-1] + (flat[above] - self.points[-1]) @ self.tangents[-1]
        return best_s.reshape(pts.shape[:-1])

    def distance_to(self, points_lps: Any) -> np.ndarray:
        """Distance (mm) from (K, 3) LPS points to the nearest centerline sample."""
        return self._tree.query(np.asarray(points_lps, dtype=float).reshape(-1, 3))[0]

    def point_at(self, s: float) -> np.ndarray:
        """LPS position at arc length ``s`` (extended along the end tangents beyond the ends)."""
        s = float(s)
        if s <= self.s[0]:
            return self.points[0] + (s - self.s[0]) * self.tangents[0]
        if s >= self.s[-1]:
            return self.points[-1] + (s - self.s[-1]) * self.tangents[-1]
        return np.array([np.interp(s, self.s, self.points[:, k]) for k in range(3)])

    def s_at_height(self, z_mm: float) -> float | None:
        """Lowest arc length where the centerline reaches LPS height ``z_mm`` (None if never)."""
        z = self.points[:, 2]
        for i in range(len(z) - 1):
            if (z[i] - z_mm) * (z[i + 1] - z_mm) <= 0 and z[i] != z[i + 1]:
                frac = (z_mm - z[i]) / (z[i + 1] - z[i])
                return float(self.s[i] + frac * (self.s[i + 1] - self.s[i]))
        return None

    def normal_radius(self, s: float | None = None, window_mm: float = NORMAL_WINDOW_MM) -> float | None:
        """Equivalent radius (mm, median) of the tumor-free sections, within ``window_mm`` of ``s`` if any.

        The reference for "the normal IVC wall" where a tumor has expanded the vein; None when every
        section holds tumor.
        """
        free = (self.tumor_area_mm2 == 0) & (self.total_area_mm2 > 0)
        if not free.any():
            return None
        if s is not None:
            near = free & (np.abs(self.s - float(s)) <= window_mm)
            if near.any():
                free = near
        return 0.5 * float(np.median(self.eq_diameter_mm[free]))

    def in_range(self, s_lo: float, s_hi: float) -> np.ndarray:
        """Boolean mask of the sections with ``s_lo <= s <= s_hi``."""
        return (self.s >= s_lo) & (self.s <= s_hi)


# -- centerline extraction ---------------------------------------------------------------------------
def trace_centerline(labelmap: Labelmap, *, progress: ProgressCallback | None = None) -> Centerline:
    """IVC centerline of ``labelmap`` (union of labels 1, 2, 17), caudal -> cranial, ~1 mm steps.

    Raises `AnalysisError` when the labelmap holds no IVC voxels.
    """
    grid = labelmap.grid
    mask_full = label_mask(labelmap.array, _IVC)
    if not mask_full.any():
        raise AnalysisError("labelmap has no IVC voxels (labels ivc_lumen=1, ivc_tumor=2, ivc_thrombus=17)")
    s_axis = grid.axis_of(2)
    caudal_first = grid.direction[2, s_axis] > 0
    lo_plane = np.take(mask_full, 0, axis=s_axis).any()
    hi_plane = np.take(mask_full, grid.shape[s_axis] - 1, axis=s_axis).any()
    reaches_caudal, reaches_cranial = (lo_plane, hi_plane) if caudal_first else (hi_plane, lo_plane)

    # Work inside the bounding box (+ margin) of the IVC.
    nz = np.nonzero(mask_full)
    start = np.maximum([int(v.min()) - 2 for v in nz], 0)
    stop = np.minimum([int(v.max()) + 3 for v in nz], grid.shape)
    box = tuple(slice(a, b) for a, b in zip(start, stop, strict=True))
    mask = mask_full[box]
    spacing = grid.spacing
    dt = ndimage.distance_transform_edt(mask, sampling=spacing)
    # The path is searched on blocks of about PATH_VOXEL_MM (any IVC voxel in a block marks it): the
    # path is smoothed over 3 mm afterwards, and the graph search costs grow with the voxel count.
    f = np.maximum(np.floor(PATH_VOXEL_MM / spacing), 1).astype(int)
    if np.any(f > 1):
        from skimage.measure import block_reduce

        coarse = block_reduce(mask, tuple(int(v) for v in f), np.any)
        coarse_dt = ndimage.distance_transform_edt(coarse, sampling=spacing * f)
        raw = _path_voxels(coarse, spacing * f, grid.direction, coarse_dt) * f + (f - 1) / 2.0
    else:
        raw = _path_voxels(mask, spacing, grid.direction, dt)
    raw_lps = grid.index_to_lps(raw + start)
    points = _resample(_smooth(_resample(raw_lps, STEP_MM), SMOOTH_SIGMA_MM / STEP_MM), STEP_MM)
    radius, bulge = _local_radius(points, dt, labelmap.array[box], grid, start)
    if bulge.any() and not bulge.all():
        points = _resample(_bridge(points, bulge), STEP_MM)
    # The path's last radius bends towards its end voxels, which need not be central: cut it and
    # prolong the well-centred part straight to the end walls.
    trim = round(radius / STEP_MM)
    if len(points) > 4 * trim + 2 * END_DIRECTION_MM:
        points = points[trim:len(points) - trim]
    points = _resample(_extend_to_wall(points, mask_full, grid), STEP_MM)
    if progress:
        progress("centerline", 0.3)
    tangents = _tangents(points, grid.direction[:, s_axis] * (1 if caudal_first else -1))
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    dt_max = float(ndimage.distance_transform_edt(np.pad(mask, 1), sampling=spacing).max())
    sections = cross_sections(labelmap, points, tangents, radius_mm=2.5 * dt_max + 10.0, progress=progress)
    log.debug("centerline: %d points, %.1f mm", len(points), s[-1])
    return Centerline(points=points, s=s, tangents=tangents, reaches_caudal_border=bool(reaches_caudal),
                      reaches_cranial_border=bool(reaches_cranial), **sections)


def _local_radius(points: np.ndarray, dt: np.ndarray, labels: np.ndarray, grid: Any,
                  start: np.ndarray) -> tuple[float, np.ndarray]:
    """Normal IVC radius (mm) and which path points lie in a tumor or a widened stretch.

    The normal radius is the median inscribed radius at path points outside tumor; a point is in a
    bulge when it lies in tumor or its inscribed radius exceeds `BULGE_RATIO` x normal. The flags
    are widened by `BULGE_MARGIN_RADII` normal radii (the path starts to swerve before the bulge).
    """
    idx = np.rint(grid.lps_to_index(points) - start).astype(int)
    idx = np.clip(idx, 0, np.asarray(dt.shape) - 1)
    r = dt[tuple(idx.T)]
    in_tumor = labels[tuple(idx.T)] == Label.IVC_TUMOR
    normal = ~in_tumor & (r > 0)
    if not normal.any():
        return float(np.median(r)), np.zeros(len(points), dtype=bool)
    r0 = float(np.median(r[normal]))
    bulge = in_tumor | (r > BULGE_RATIO * r0)
    width = int(np.ceil(BULGE_MARGIN_RADII * r0 / STEP_MM))
    if width > 0 and bulge.any():
        bulge = ndimage.binary_dilation(bulge, iterations=width)
    return r0, bulge


def _bridge(points: np.ndarray, bulge: np.ndarray) -> np.ndarray:
    """Replace the path across each bulge by a smooth curve joining the normal IVC on either side.

    Inside an eccentric tumor the cheapest central path swerves towards the mass centre, which would
    lengthen the arc length and move the poles; the vessel's own axis continues smoothly instead
    (cubic Hermite between the normal ends; a bulge reaching an end joins the path's end point).
    """
    out = points.copy()
    n = len(points)
    k = max(1, round(TANGENT_SPAN_MM / STEP_MM))
    runs = np.flatnonzero(np.diff(np.concatenate([[0], bulge.astype(int), [0]])))
    for i0, i1 in zip(runs[::2], runs[1::2], strict=True):  # bulge = points[i0:i1]
        # A bulge reaching an end joins the end point itself (the centre of the end face).
        a, b = max(i0 - 1, 0), min(i1, n - 1)
        if b - a < 2:
            continue
        chord = points[b] - points[a]
        length = float(np.linalg.norm(chord))
        ta = points[a] - points[max(0, a - k)] if a > 0 else chord
        tb = points[min(n - 1, b + k)] - points[b] if b < n - 1 else chord
        ta = ta / max(np.linalg.norm(ta), 1e-9) * length
        tb = tb / max(np.linalg.norm(tb), 1e-9) * length
        u = np.linspace(0.0, 1.0, b - a + 1)[1:-1, None]
        h00, h10, h01, h11 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u, -2 * u**3 + 3 * u**2, u**3 - u**2
        out[a + 1:b] = h00 * points[a] + h10 * ta + h01 * points[b] + h11 * tb
    return out


def _path_voxels(mask: np.ndarray, spacing: np.ndarray, direction: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Minimal-cost voxel path (array indices) from the caudal to the cranial end of ``mask``.

    The ends are found by a double geodesic sweep (the region farthest from the lowest voxel among
    the voxels within `END_BAND_MM` of the top, then the farthest from that near the bottom), so an
    obliquely cut IVC still gets its true ends while side branches filled with tumor do not; they
    lie about one radius inside the end faces (`_extend_to_wall` adds the rest).
    """
    from skimage.graph import MCP_Geometric

    keep = _main_components(mask)
    if not np.array_equal(keep, mask):
        dt = np.where(keep, dt, 0.0)
    mask = keep
    # Gaps between the kept pieces are crossed at a high cost, but only near the IVC: the far corners of
    # its box are impassable, which spares the path searches most of the box.
    near = ndimage.distance_transform_edt(~mask, sampling=spacing) <= GAP_REACH_MM
    # Pieces farther apart than the gaps may bridge cannot share one path: keep the group that holds
    # most of the IVC (the others are mislabelled tissue or a vein cut off by the field of view).
    groups, n_groups = ndimage.label(mask | near, structure=np.ones((3, 3, 3)))
    if n_groups > 1:
        held = np.bincount(groups[mask], minlength=n_groups + 1)
        main = groups == int(np.argmax(held))
        log.warning("centerline: %d IVC pieces lie more than %.0f mm apart; the path follows the largest "
                    "(%d of %d voxels)", n_groups, 2 * GAP_REACH_MM, int(held.max()), int(mask.sum()))
        mask, dt, near = mask & main, np.where(main, dt, 0.0), near & main
    rel = dt / max(float(dt.max()), 1e-6)
    sampling = tuple(float(v) for v in spacing)
    idx = np.argwhere(mask)
    height = (idx * spacing) @ direction[2, :]  # LPS z up to a constant
    gap = np.where(near, GAP_COST, np.inf)
    walk = np.where(mask, 1.0, gap)

    reach = max(float(dt.max()), 2.0)

    top = height >= height.max() - END_BAND_MM
    bottom = height <= height.min() + END_BAND_MM

    def farthest_end(seed: tuple[int, ...], candidates: np.ndarray) -> tuple[int, ...]:
        # The central voxel of the candidate region farthest from the seed (centre of the end, ~1
        # radius in). Candidates lie near the top / bottom: a tumor plug in a side vein is not an end.
        mcp = MCP_Geometric(walk, fully_connected=True, sampling=sampling)
        costs = mcp.find_costs([seed])[0][tuple(idx.T)]
        far = costs[candidates].max()
        region = idx[candidates & (costs >= far - reach)]
        off = np.sum(((region - region.mean(axis=0)) * spacing) ** 2, axis=1)
        return tuple(int(v) for v in region[np.argmin(off)])

    lowest = tuple(int(v) for v in idx[np.argmin(height)])
    end = farthest_end(lowest, top)
    start = farthest_end(end, bottom)
    h = {k: float(np.asarray(k) * spacing @ direction[2, :]) for k in (start, end)}
    if h[start] > h[end]:
        start, end = end, start
    if start == end:
        return np.array([start], dtype=float)
    mcp = MCP_Geometric(np.where(mask, 1.0 / (0.1 + rel) ** 2, gap), fully_connected=True, sampling=sampling)
    costs = mcp.find_costs([start], [end])[0]
    if not np.isfinite(costs[end]):  # cannot happen within one group; a clear error if it ever does
        raise AnalysisError("IVC centerline: no path joins the caudal and the cranial end of the IVC labels")
    return np.asarray(mcp.traceback(end), dtype=float)


def _extend_to_wall(points: np.ndarray, mask: np.ndarray, grid: Any) -> np.ndarray:
    """Prolong both ends along their end direction until they leave the IVC mask (or the grid)."""
    if len(points) < 2:
        return points
    step = 0.25 * float(grid.spacing.min())
    limit = EXTEND_MAX_MM
    out = [points]
    for end, inner, at_start in ((points[0], points[min(len(points) - 1, END_DIRECTION_MM)], True),
                                 (points[-1], points[max(0, len(points) - 1 - END_DIRECTION_MM)], False)):
        direction = end - inner
        direction /= max(np.linalg.norm(direction), 1e-9)
        travelled = 0.0
        while travelled + step <= limit:
            idx = np.rint(grid.lps_to_index(end + (travelled + step) * direction)).astype(int)
            if np.any(idx < 0) or np.any(idx >= grid.shape) or not mask[tuple(idx)]:
                break
            travelled += step
        if travelled > 0:
            tip = end + travelled * direction
            out = [tip[None, :], *out] if at_start else [*out, tip[None, :]]
    return np.concatenate(out)


def _main_components(mask: np.ndarray) -> np.ndarray:
    """Drop stray blobs: keep components of at least `MIN_COMPONENT_FRACTION` of the largest."""
    comps, n = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    if n <= 1:
        return mask
    sizes = np.bincount(comps.ravel())[1:]
    keep = np.flatnonzero(sizes >= MIN_COMPONENT_FRACTION * sizes.max()) + 1
    return label_mask(comps, keep)


def _resample(points: np.ndarray, step: float) -> np.ndarray:
    if len(points) < 2:
        return points.copy()
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    keep = np.concatenate([[True], seg > 1e-9])
    points = points[keep]
    if len(points) < 2:
        return points.copy()
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    n = max(round(float(s[-1]) / step), 1)
    s_new = np.linspace(0.0, s[-1], n + 1)
    return np.stack([np.interp(s_new, s, points[:, k]) for k in range(3)], axis=1)


def _smooth(points: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along the path that keeps both end points fixed (odd reflection)."""
    if len(points) < 3 or sigma <= 0:
        return points.copy()
    pad = min(len(points) - 1, int(np.ceil(3 * sigma)))
    padded = np.pad(points, ((pad, pad), (0, 0)), mode="reflect", reflect_type="odd")
    out = ndimage.gaussian_filter1d(padded, sigma, axis=0, mode="nearest")[pad:-pad]
    out[0], out[-1] = points[0], points[-1]
    return out


def _tangents(points: np.ndarray, default: np.ndarray) -> np.ndarray:
    if len(points) < 2:
        return np.asarray(default, dtype=float)[None, :] / np.linalg.norm(default)
    t = np.gradient(points, axis=0)
    norm = np.linalg.norm(t, axis=1, keepdims=True)
    return t / np.maximum(norm, 1e-12)


# -- cross-sections --------------------------------------------------------------------------------
def section_basis(tangent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors spanning the plane perpendicular to ``tangent`` (u close to patient left)."""
    t = tangent / np.linalg.norm(tangent)
    ref = np.array([1.0, 0.0, 0.0]) if abs(t[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = ref - (ref @ t) * t
    u /= np.linalg.norm(u)
    return u, np.cross(t, u)


def cross_sections(labelmap: Labelmap, points: np.ndarray, tangents: np.ndarray, *, radius_mm: float = 40.0,
                   progress: ProgressCallback | None = None) -> dict[str, np.ndarray]:
    """Measure the IVC on the plane perpendicular to each tangent (labels resampled on that plane).

    Only the connected IVC region containing (or nearest to) the centerline point is measured.
    """
    grid = labelmap.grid
    pix = float(np.clip(grid.spacing.min() / 2.0, *SECTION_PIXEL_MM))
    radius = float(np.clip(radius_mm, *SECTION_RADIUS_MM))
    offsets = np.arange(-radius, radius + pix / 2, pix)
    gu, gv = np.meshgrid(offsets, offsets, indexing="ij")
    inv = np.linalg.inv(grid.direction * grid.spacing[None, :])
    arr = labelmap.array
    # Label -> is IVC, by table lookup (np.isin sorts on every call: seconds over hundreds of sections).
    is_ivc = np.zeros(max(int(arr.max()), max(int(v) for v in _IVC)) + 1, dtype=bool)
    is_ivc[[int(v) for v in _IVC]] = True
    is_branch = np.zeros_like(is_ivc)
    is_branch[[int(v) for v in _BRANCH_VEINS if int(v) < len(is_branch)]] = True
    out = {k: np.zeros(len(points)) for k in ("lumen_area_mm2", "tumor_area_mm2", "thrombus_area_mm2",
                                                 "total_area_mm2", "eq_diameter_mm", "max_diameter_mm",
                                                 "min_diameter_mm", "wall_involvement_deg", "transverse_mm",
                                                 "ap_mm", "atrium_contact_pct", "branch_contact_pct")}
    angles = np.deg2rad(np.arange(0.0, 180.0, FERET_ANGLE_STEP_DEG))
    dirs = np.stack([np.cos(angles), np.sin(angles)])
    centre = len(offsets) // 2
    ring_px = max(1, round(ATRIUM_RING_MM / pix))
    gap_px = max(1, round(REGION_GAP_MM / pix))
    for i, (p, t) in enumerate(zip(points, tangents, strict=True)):
        u, v = section_basis(t)
        plane = p + gu[..., None] * u + gv[..., None] * v
        idx = (plane - grid.origin) @ inv.T
        labels2d = ndimage.map_coordinates(arr, np.moveaxis(idx, -1, 0), order=0, mode="constant", cval=0)
        region = _central_region(is_ivc[labels2d], centre, gap_px)
        if region is None:
            continue
        lab = labels2d[region]
        px_area = pix * pix
        lumen = np.count_nonzero(lab == Label.IVC_LUMEN) * px_area
        tumor = np.count_nonzero(lab == Label.IVC_TUMOR) * px_area
        total = lab.size * px_area
        out["lumen_area_mm2"][i] = lumen
        out["tumor_area_mm2"][i] = tumor
        out["thrombus_area_mm2"][i] = np.count_nonzero(lab == Label.IVC_THROMBUS) * px_area
        out["total_area_mm2"][i] = total
        out["eq_diameter_mm"][i] = 2.0 * np.sqrt(total / np.pi)
        coords = np.stack([gu[region], gv[region]], axis=1)
        widths = np.ptp(coords @ dirs, axis=0) + pix
        out["max_diameter_mm"][i] = widths.max()
        out["min_diameter_mm"][i] = widths.min()
        # u runs to the patient's left, v to the back (section_basis): transverse and AP widths.
        out["transverse_mm"][i] = float(np.ptp(coords[:, 0])) + pix
        out["ap_mm"][i] = float(np.ptp(coords[:, 1])) + pix
        out["wall_involvement_deg"][i] = _wall_involvement(coords, lab == Label.IVC_TUMOR)
        ring = ndimage.binary_dilation(region, iterations=ring_px) & ~region
        ring_labels = labels2d[ring]
        ring_n = max(len(ring_labels), 1)
        out["atrium_contact_pct"][i] = 100.0 * np.count_nonzero(ring_labels == Label.RIGHT_ATRIUM) / ring_n
        out["branch_contact_pct"][i] = 100.0 * np.count_nonzero(is_branch[ring_labels]) / ring_n
        if progress and i % 50 == 0:
            progress("cross-sections", 0.3 + 0.7 * i / len(points))
    return out


def _central_region(ivc2d: np.ndarray, centre: int, gap_px: int = 0) -> np.ndarray | None:
    """The connected IVC region at (or nearest to) the plane centre, with the IVC pieces within
    ``gap_px`` of it (a residual lumen channel that the segmentation parted from the tumor by a
    thin seam is still the same vein)."""
    if not ivc2d.any():
        return None
    comps, n = ndimage.label(ivc2d)
    lab = comps[centre, centre]
    if lab == 0:
        pts = np.argwhere(ivc2d)
        nearest = pts[np.argmin(np.sum((pts - centre) ** 2, axis=1))]
        lab = comps[tuple(nearest)]
    region = comps == lab
    if n > 1 and gap_px > 0:
        near = np.unique(comps[ndimage.binary_dilation(region, iterations=gap_px) & (comps > 0)])
        region = label_mask(comps, near)
    return region


def _wall_involvement(coords: np.ndarray, is_tumor: np.ndarray) -> float:
    """Degrees of the region's outline (seen from its centroid) whose outermost pixel is tumor."""
    if not is_tumor.any():
        return 0.0
    rel = coords - coords.mean(axis=0)
    radius = np.hypot(rel[:, 0], rel[:, 1])
    bins = (np.degrees(np.arctan2(rel[:, 1], rel[:, 0])) % 360.0 // WALL_BIN_DEG).astype(int)
    order = np.lexsort((radius, bins))
    last = np.ones(len(order), dtype=bool)
    last[:-1] = bins[order][1:] != bins[order][:-1]
    outer = order[last]
    return float(np.count_nonzero(is_tumor[outer]) * 360.0 / max(len(outer), 1))
