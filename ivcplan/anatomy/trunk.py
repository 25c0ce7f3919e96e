"""The trunk every other step is placed in: body outline, vertebral column, and tissue references.

One implementation for organs and vessels alike (on the organs' coarse `WorkFrame`, axes S, P, L):

- body: air threshold, in-plane opening (detaches the table and blankets), the large components,
  holes filled slice by slice;
- vertebral column: per slice, the solid bone blob near the midline in the posterior part of the
  trunk that holds the most cortical bone (the heart or an enhanced aorta beside it is dense but
  holds no bone), followed along the column: detections far from the running median of their
  neighbours are dropped, the rest smoothed and interpolated across discs (never extrapolated);
- the anchor of the vessel search on the fine frame (`SpineAnchor`): the vertebral body's centre
  line, and the front of the vertebral body measured on each fine slice as the most anterior bone
  still joined to the body's centre by tissue denser than soft tissue (an enhanced aorta touching
  the vertebra is separated from it by the ligament and crus), smoothed along the column;
- tissue references measured on the scan itself: subcutaneous fat and paraspinal muscle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ivcplan.anatomy.frame import WorkFrame
from ivcplan.anatomy.morphology import ball
from ivcplan.volume import label_mask

#: Anything denser than this (HU) is patient or table, not air.
BODY_THRESHOLD_HU = -400.0
#: In-plane opening radius (mm) that separates the table and blankets from the patient.
TABLE_OPENING_MM = 6.0
#: Extra body components (arms) kept when at least this fraction of the largest component.
BODY_MIN_COMPONENT_FRACTION = 0.05
#: Body cross-sections narrower than this (mm) are not an adult trunk (head, neck, limbs).
MIN_TRUNK_WIDTH_MM = 200.0
#: Cortical bone on the coarse frame (HU).
BONE_THRESHOLD_HU = 220.0
#: Cortical and dense cancellous bone on the fine frame (HU; the vessels' threshold too).
BONE_HU = 180.0
#: Holes smaller than this (mm^2) inside a vertebra are marrow and get filled; the canal is larger.
MARROW_HOLE_MM2 = 120.0
#: Radius (mm) of the vertebral body around its centre, and the least marrow attenuation (HU).
VERTEBRAL_BODY_RADIUS_MM = 22.0
MARROW_HU = 100.0
#: Largest distance (mm) of the vertebral body's centre from the body's left-right midline.
SPINE_MIDLINE_MM = 30.0
#: The vertebral column lies behind this fraction of the trunk's depth (front = 0): the pubic bone
#: and the sternum, in the midline too, lie in front of it.
SPINE_DEPTH_FRACTION = 0.35
#: Largest cross-section (mm^2) of a vertebral body: bigger bone rings (pelvis) are not filled.
VERTEBRA_AREA_MM2 = 2000.0
#: Half-width (mm) of the box around the vertebral-body centre kept as spine (transverse processes).
SPINE_HALF_WIDTH_MM = 45.0
#: Column continuity: a detection farther than COLUMN_OUTLIER_MM from the running median over
#: COLUMN_MEDIAN_MM of its neighbours is not the column; the centre line is then averaged over
#: COLUMN_SMOOTH_MM (the column curves gently).
COLUMN_MEDIAN_MM = 40.0
COLUMN_OUTLIER_MM = 12.0
COLUMN_SMOOTH_MM = 12.0
#: ... and held at most this far (mm) beyond its first and last detection.
COLUMN_EXTEND_MM = 30.0
#: ... and one chain: each detection within this (mm) along the column of the chain's last ones, and
#: within CHAIN_STEP_MM + CHAIN_SLOPE x that across from their median (per-slice detections scatter
#: by about 10 mm: the bone's front half moves with the posterior elements).
CHAIN_GAP_MM = 80.0
CHAIN_STEP_MM = 20.0
CHAIN_SLOPE = 1.0
CHAIN_MEMORY = 5
#: Front of the vertebral body (fine frame): searched in a strip this wide (mm, each side of the
#: centre line), from this far (mm) in front of the centre to this far behind it ...
FRONT_STRIP_MM = 5.0
FRONT_SEARCH_MM = (45.0, 8.0)
#: ... from bone within this distance (mm) in front of the centre, or joined to it by marrow (the
#: vertebral body or its back wall; an aorta in front of a disc, or beyond the column's end, is not).
FRONT_START_MM = 15.0
#: ... through marrow at least this dense (HU; osteopenic marrow is about 70-140 HU, the ligament,
#: crus and fat between the vertebra and the aorta less).
MARROW_MIN_HU = 70.0
#: A piece of "bone" whose density spreads less than this (HU, interquartile range) is a blood pool
#: (image noise only: 10-35 HU SD); cortex and marrow spread by 100 HU and more.
BLOOD_POOL_IQR_HU = 60.0
#: ... a solid section: at least this area (mm2; an aorta of 15 mm or more) filling this share of its
#: bounding box (a disc fills 0.79).
BLOOD_POOL_MIN_MM2 = 150.0
BLOOD_POOL_FILL = 0.6
#: ... and on the midline profile a pool is at least this long (mm): an aorta, not a cortex.
BLOOD_POOL_MIN_MM = 8.0
#: ... and the bone behind a pool is looked for up to this far (mm) behind the centre estimate (which
#: the pool may have pulled into itself).
BLOOD_POOL_BEHIND_MM = 30.0
#: ... and is at most this share as wide (left-right) as the bone behind it; widths are measured at
#: most WAIST_HALF_MM each side of the midline.
POOL_WIDTH_SHARE = 0.8
WAIST_HALF_MM = 40.0
#: ... a gap between pool and bone is tissue under MARROW_MIN_HU, or this far (HU) below the pool (the
#: enhanced crus or caudate lobe, 100-130 HU, between an aorta and the vertebral body).
POOL_GAP_BELOW_HU = 100.0
#: ... where the cortex is denser than this (HU; thin osteopenic cortex on 3 mm slices is about
#: 150-250 HU).
CORTEX_HU = 140.0
#: The front moves by at most this (mm) from the running median over FRONT_MEDIAN_MM of its neighbours.
FRONT_MEDIAN_MM = 40.0
FRONT_OUTLIER_MM = 6.0
#: Fat and muscle windows (HU) for the tissue references.
FAT_HU = (-200.0, -30.0)
MUSCLE_HU = (-10.0, 120.0)
#: Typical references (HU) when a scan shows too little fat or muscle to measure.
TYPICAL_FAT_HU = -100.0
TYPICAL_MUSCLE_HU = 45.0


@dataclass(frozen=True)
class Column:
    """Body outline and vertebral column on the coarse frame."""

    body: np.ndarray  # bool
    spine: np.ndarray  # bool: the vertebrae (body, posterior elements)
    centres: np.ndarray  # (nz, 2) vertebral-body centre (P, L) in frame voxels, NaN where not found
    trunk: np.ndarray  # (nz,) bool: the slice shows an adult trunk


@dataclass(frozen=True)
class SpineAnchor:
    """Per-slice vertebral body position on the fine frame, in voxels (NaN where not found)."""

    present: np.ndarray  # (nz,) bool
    cx: np.ndarray  # left-right centre of the vertebral body (x index)
    y_anterior: np.ndarray  # anterior edge of the vertebral body (y index)
    y_centre: np.ndarray  # its centre (y index)
    trunk: np.ndarray  # (nz,) bool: the slice shows a trunk (abdomen / chest / pelvis)

    @property
    def usable(self) -> np.ndarray:
        """Trunk slices with a vertebral position (measured, or interpolated across discs)."""
        return self.trunk & np.isfinite(self.cx) & np.isfinite(self.y_anterior)


@dataclass(frozen=True)
class TissueReference:
    """Attenuations (HU) measured on the scan: subcutaneous fat and paraspinal muscle."""

    fat_hu: float
    muscle_hu: float


def find_column(frame: WorkFrame) -> Column:
    """Body and vertebral column of a coarse frame."""
    body = body_outline(frame)
    spine, centres = vertebral_column(frame, body)
    widths = _widths_mm(body, frame.spacing)
    return Column(body, spine, centres, widths >= MIN_TRUNK_WIDTH_MM)


def body_outline(frame: WorkFrame) -> np.ndarray:
    """Patient outline (air, table and blankets excluded, internal air such as lungs included)."""
    air = frame.hu > BODY_THRESHOLD_HU
    disc = ball(TABLE_OPENING_MM, frame.spacing, planar=True)
    opened = ndimage.binary_opening(air, structure=disc)
    labels, n = ndimage.label(opened)
    if n == 0:
        return np.zeros(frame.shape, bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    body = label_mask(labels, np.nonzero(sizes >= BODY_MIN_COMPONENT_FRACTION * sizes.max())[0])
    # The opening shaves corners: take back the air-threshold voxels touching the opened body.
    body = ndimage.binary_dilation(body, structure=disc) & air
    return fill_slices(body)


def fill_slices(mask: np.ndarray) -> np.ndarray:
    """Fill holes slice by slice (axis 0)."""
    padded = np.pad(mask, ((1, 1), (0, 0), (0, 0)))
    return ndimage.binary_fill_holes(padded, structure=np.ones((1, 3, 3), bool))[1:-1]


def _widths_mm(body: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    cols = body.any(axis=1)
    out = np.zeros(body.shape[0])
    for z in np.nonzero(cols.any(axis=1))[0]:
        xs = np.nonzero(cols[z])[0]
        out[z] = (xs.max() - xs.min() + 1) * spacing[2]
    return out


def vertebral_column(frame: WorkFrame, body: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spine mask and per-slice vertebral-body centres (nz, 2) as (P, L) frame indices."""
    nz, ny, nx = frame.shape
    sp = frame.spacing
    centres = np.full((nz, 2), np.nan)
    bone = (frame.hu > BONE_THRESHOLD_HU) & ndimage.binary_dilation(body, iterations=2)
    spine = np.zeros(frame.shape, bool)
    if not bone.any() or not body.any():
        return spine, centres
    # Vertebral body per slice: dense bone closed across cortical gaps, filled, and opened so that
    # thin posterior elements and ribs drop out; near the midline, in the posterior part of the trunk.
    body_cols = np.nonzero(body.any(axis=(0, 1)))[0]
    mid = 0.5 * (body_cols.min() + body_cols.max())
    disc_open = ball(VERTEBRAL_BODY_RADIUS_MM * 0.4, sp, planar=True)[0]
    # Cortex and marrow averaged over a few mm: the vertebral body is a solid blob above soft tissue.
    dense = ndimage.gaussian_filter(frame.hu, sigma=(0.0, *(4.0 / sp[1:]))) > MARROW_HU - 5.0
    found = np.full((nz, 2), np.nan)
    yy, xx = np.mgrid[0:ny, 0:nx]
    rows = body.any(axis=2)
    for z in range(nz):
        if not dense[z].any() or not rows[z].any():
            continue
        body_rows = np.nonzero(rows[z])[0]
        depth = body_rows.min() + SPINE_DEPTH_FRACTION * (body_rows.max() - body_rows.min())
        sl = _fill_small_holes(dense[z], VERTEBRA_AREA_MM2 / (sp[1] * sp[2]))
        sl = ndimage.binary_opening(sl, structure=disc_open)
        labels, n = ndimage.label(sl & body[z])
        if n == 0:
            continue
        idx = np.arange(1, n + 1)
        area = np.asarray(ndimage.sum(sl, labels, idx))
        # The most bone, not the largest blob: above the dome the heart (blood ~160 HU) is a bigger
        # "dense" blob near the midline than a thoracic vertebra, but holds no cortical bone. The
        # blob's bone lies near the midline in the posterior part of the trunk (the blob itself may
        # have merged with the liver or the aorta beside it).
        # Only the bone near the midline: ribs joined to the vertebra would pull it sideways.
        mid_bone = bone[z] & (np.abs(xx - mid) * sp[2] <= SPINE_MIDLINE_MM + VERTEBRAL_BODY_RADIUS_MM)
        in_bone = labels * mid_bone
        bone_px = np.asarray(ndimage.sum(mid_bone, labels, idx))
        with np.errstate(invalid="ignore", divide="ignore"):
            bone_x = np.asarray(ndimage.sum(xx, in_bone, idx)) / bone_px
            bone_y = np.asarray(ndimage.sum(yy, in_bone, idx)) / bone_px
        off = (np.abs(bone_x - mid) * sp[2] > SPINE_MIDLINE_MM) | (bone_y < depth) | ~np.isfinite(bone_x)
        bone_px[off | (area * sp[1] * sp[2] < 200.0)] = 0
        k = int(np.argmax(bone_px))
        if bone_px[k] > 0:
            # Its bone only (the smoothed blob may have merged with the liver or the aorta beside it),
            # the front half: the vertebral body, not the posterior elements.
            ys, xs = _without_blood_pool(frame.hu[z], (labels == k + 1) & mid_bone, sp)
            front = ys <= np.median(ys)
            found[z] = (ys[front].mean(), xs[front].mean())
    line = _smooth_line(_longest_chain(found, sp), sp, COLUMN_MEDIAN_MM, COLUMN_OUTLIER_MM, COLUMN_SMOOTH_MM,
                        COLUMN_EXTEND_MM)
    if line is None:
        return spine, centres
    centres[:] = line
    hole_px = MARROW_HOLE_MM2 / (sp[1] * sp[2])
    for z in np.nonzero(np.isfinite(centres[:, 0]))[0]:
        py, px = centres[z]
        dy, dx = (yy - py) * sp[1], (xx - px) * sp[2]
        box = (np.abs(dx) <= SPINE_HALF_WIDTH_MM) & (dy >= -VERTEBRAL_BODY_RADIUS_MM - 8.0) & (dy <= 75.0)
        disc = (dy ** 2 + dx ** 2 <= VERTEBRAL_BODY_RADIUS_MM ** 2) & (dy <= 10.0)
        cand = box & (bone[z] | (disc & (frame.hu[z] > MARROW_HU)))
        labels, n = ndimage.label(cand)
        if n == 0:
            continue
        near = np.unique(labels[(dy ** 2 + dx ** 2 <= (VERTEBRAL_BODY_RADIUS_MM + 10.0) ** 2) & (labels > 0)])
        spine[z] = _fill_small_holes(label_mask(labels, near), hole_px)
    return spine, centres


def _behind_blood_pool(profile: np.ndarray, k: int, cortex_hu: float,
                       dy_mm: float) -> tuple[int, int, int, float] | None:
    """The front row of bone behind a blood pool at the front of the dense run that starts at ``k`` on
    the midline profile (an aorta lying on the vertebral body, or in front of a centre estimate it
    pulled forwards): a stretch at least `BLOOD_POOL_MIN_MM` long as dense as cortex and homogeneous
    (within `BLOOD_POOL_IQR_HU` of its median either way; bone has a cortex far denser than its
    marrow), followed by bone denser than it, or by a gap below `MARROW_MIN_HU` (or well below the
    pool: an enhanced crus or caudate lobe between aorta and vertebra) and then bone. Returns the
    pool's first and last rows, the bone's front row and the pool's level (HU)."""
    j = k + int(np.argmax(profile[k:] > cortex_hu)) if (profile[k:] > cortex_hu).any() else None
    if j is None:
        return None
    m = j
    while m + 1 < profile.size and profile[m + 1] > cortex_hu:
        pool = profile[j + 1:m + 2]  # the first row is the pool's blurred edge
        mid = float(np.median(pool))
        if pool.max() - mid >= BLOOD_POOL_IQR_HU or mid - pool.min() >= BLOOD_POOL_IQR_HU:
            break
        m += 1
    if (m - j + 1) * dy_mm < BLOOD_POOL_MIN_MM or m + 1 >= profile.size:
        return None
    level = float(np.median(profile[j + 1:m + 1]))
    rest = profile[m + 1:]
    denser = np.nonzero(rest > level + BLOOD_POOL_IQR_HU)[0]
    bone = np.nonzero(rest > cortex_hu)[0]
    floor = max(MARROW_MIN_HU, level - POOL_GAP_BELOW_HU)
    gap = bone.size > 0 and (rest[:bone[0]] <= floor).any()
    if gap:
        return j, m, m + 1 + int(bone[0]), level
    if denser.size and denser[0] * dy_mm <= BLOOD_POOL_MIN_MM:
        return j, m, m + 1 + int(denser[0]), level
    return None


def _narrower_than_behind(hu2d: np.ndarray, pool_rows: tuple[int, int], y_bone: int, level: float, x0: int,
                          spacing: np.ndarray) -> bool:
    """Whether a blood pool (rows ``pool_rows``, attenuation ``level``) is at most `POOL_WIDTH_SHARE`
    as wide as the bone rows behind it (from ``y_bone`` over `BLOOD_POOL_BEHIND_MM`): an aorta is
    narrower than the vertebral body it lies on, while marrow in front of a basivertebral vein is as
    wide as the rest. The pool is measured as blood (within `BLOOD_POOL_IQR_HU` of its level: the
    enhanced liver or crus beside an aorta is not it), the bone as anything denser than marrow."""
    half = int(np.rint(WAIST_HALF_MM / spacing[2]))
    x_lo, x_hi = max(x0 - half, 0), min(x0 + half + 1, hu2d.shape[1])
    depth = int(np.rint(BLOOD_POOL_BEHIND_MM / spacing[1]))
    c = x0 - x_lo

    def width(row: np.ndarray) -> float:
        if not row[c]:
            return 0.0
        left = c - int(np.argmin(row[c::-1])) if not row[:c + 1].all() else 0
        right = c + int(np.argmin(row[c:])) if not row[c:].all() else row.size
        return float(right - left) * spacing[2]

    y0, y1 = pool_rows
    pool = np.abs(ndimage.median_filter(hu2d[y0:y1 + 1, x_lo:x_hi], size=3) - level) <= BLOOD_POOL_IQR_HU
    bone = ndimage.median_filter(hu2d[y_bone:min(y_bone + depth, hu2d.shape[0]), x_lo:x_hi], size=3) > MARROW_MIN_HU
    if not pool.size or not bone.size:
        return False
    pool_w = np.array([width(r) for r in pool])
    bone_w = np.array([width(r) for r in bone])
    return float(np.median(pool_w)) <= POOL_WIDTH_SHARE * float(bone_w.max())


def _without_blood_pool(hu2d: np.ndarray, bone2d: np.ndarray, spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (y, x) pixels of ``bone2d`` less its blood pools: an enhanced aorta (up to ~300 HU in the
    portal-venous phase, more in the arterial) is as dense as bone, and where it lies on the vertebral
    body the smoothed blob takes it in and pulls the body's centre forwards. A pool is a separate piece,
    in front of the rest, of homogeneous density (interquartile range under `BLOOD_POOL_IQR_HU`;
    bone mixes cortex and marrow), solid (a vessel's section: at least `BLOOD_POOL_MIN_MM2`, filling
    `BLOOD_POOL_FILL` of its bounding box; a cortical fragment is a thin arc). The most posterior
    piece is always kept."""
    pieces, n = ndimage.label(bone2d, structure=np.ones((3, 3), bool))
    if n < 2:
        return np.nonzero(bone2d)
    idx = np.arange(1, n + 1)
    yy = np.nonzero(bone2d)[0]
    mean_y = np.asarray(ndimage.mean(np.indices(bone2d.shape)[0], pieces, idx))
    back = int(np.argmax(mean_y))
    keep = np.ones(n, bool)
    for i in range(n):
        if i == back:
            continue
        piece = pieces == i + 1
        py, px = np.nonzero(piece)
        box = (np.ptp(py) + 1) * (np.ptp(px) + 1)
        if py.size * spacing[1] * spacing[2] < BLOOD_POOL_MIN_MM2 or py.size < BLOOD_POOL_FILL * box:
            continue
        vals = hu2d[piece]
        q1, q3 = np.percentile(vals, [25, 75])
        rest_y = yy[(pieces[bone2d] != i + 1)]
        if q3 - q1 < BLOOD_POOL_IQR_HU and py.max() < np.median(rest_y):
            keep[i] = False
    return np.nonzero(np.isin(pieces, idx[keep]))


def _longest_chain(found: np.ndarray, sp: np.ndarray) -> np.ndarray:
    """The detections (rows of (y, x), NaN: none) of the longest chain in which each follows the
    median of the chain's last `CHAIN_MEMORY` within `CHAIN_GAP_MM` along the column and
    `CHAIN_STEP_MM` (+ `CHAIN_SLOPE` per mm) across it: the column is one continuous tube; the pubic
    bone or a sternum below or above it is another."""
    out = np.full_like(found, np.nan)
    zs = np.nonzero(np.isfinite(found[:, 0]))[0]
    if zs.size == 0:
        return out
    chains: list[list[int]] = []
    for z in zs:
        for chain in chains:
            ref = np.median(found[chain[-CHAIN_MEMORY:]], axis=0)
            dz = (z - chain[-1]) * sp[0]
            step = np.hypot((found[z, 0] - ref[0]) * sp[1], (found[z, 1] - ref[1]) * sp[2])
            if dz <= CHAIN_GAP_MM and step <= CHAIN_STEP_MM + CHAIN_SLOPE * dz:
                chain.append(int(z))
                break
        else:
            chains.append([int(z)])
    best = max(chains, key=len)
    out[best] = found[best]
    return out


def _smooth_line(found: np.ndarray, sp: np.ndarray, median_mm: float, outlier_mm: float,
                 smooth_mm: float, extend_mm: float) -> np.ndarray | None:
    """A per-slice (y, x) line (NaN rows: no detection) made continuous: detections farther than
    ``outlier_mm`` from the running median over ``median_mm`` of the detections are dropped, the rest
    interpolated across gaps, held for at most ``extend_mm`` beyond the first and last (the ends of
    a scan often hold a vertebra too irregular to detect; the column does not stop there), and
    averaged over ``smooth_mm``. None without any detection."""
    nz = found.shape[0]
    ok = np.isfinite(found[:, 0])
    if not ok.any():
        return None
    zs = np.arange(nz)
    half = max(1, int(np.rint(0.5 * median_mm / sp[0])))
    det = np.nonzero(ok)[0]
    med = np.full((nz, 2), np.nan)
    for z in det:  # the median of the detections themselves, not of values interpolated between them
        near = det[np.abs(det - z) <= half]
        med[z] = np.median(found[near], axis=0)
    ok[det] = np.hypot((found[det, 0] - med[det, 0]) * sp[1], (found[det, 1] - med[det, 1]) * sp[2]) <= outlier_mm
    if not ok.any():
        return None
    good = np.nonzero(ok)[0]
    reach = int(np.floor(extend_mm / sp[0] + 1e-6))
    span = (zs >= good.min() - reach) & (zs <= good.max() + reach)
    out = np.full((nz, 2), np.nan)
    width = max(1, int(np.rint(smooth_mm / sp[0])))
    for k in range(2):
        line = np.interp(zs[span], good, found[good, k])
        out[span, k] = ndimage.uniform_filter1d(line, size=width, mode="nearest")
    return out


def _fill_small_holes(mask2d: np.ndarray, max_px: float) -> np.ndarray:
    filled = ndimage.binary_fill_holes(mask2d)
    holes, n = ndimage.label(filled & ~mask2d)
    if n == 0:
        return mask2d
    sizes = np.bincount(holes.ravel())
    small = np.nonzero(sizes <= max_px)[0]
    small = small[small > 0]
    return mask2d | label_mask(holes, small)


# ---------------------------------------------------------------------------------------------
# the vessels' anchor on the fine frame
# ---------------------------------------------------------------------------------------------
def _to_fine(values: np.ndarray, coarse: WorkFrame, fine: WorkFrame, axis: int) -> np.ndarray:
    """Coarse frame indices along ``axis`` -> fine frame indices (both block grids of one scan)."""
    fc, ff = coarse.factors[axis], fine.factors[axis]
    return (values * fc + (fc - 1) / 2.0 - (ff - 1) / 2.0) / ff


def spine_anchor(column: Column, coarse: WorkFrame, fine: WorkFrame) -> SpineAnchor:
    """The vertebral column's position on each fine slice (see the module docstring)."""
    nz = fine.shape[0]
    nan = np.full(nz, np.nan)
    ok = np.isfinite(column.centres[:, 0])
    if not ok.any():
        return SpineAnchor(np.zeros(nz, bool), nan.copy(), nan.copy(), nan.copy(), np.zeros(nz, bool))
    # Coarse slice positions in fine slice indices; the centre line interpolated onto the fine slices
    # (not beyond its ends).
    zc = _to_fine(np.arange(coarse.shape[0], dtype=float), coarse, fine, 0)
    zs = np.arange(nz, dtype=float)
    good = np.nonzero(ok)[0]
    inside = (zs >= zc[good[0]] - 0.5 * coarse.factors[0] / fine.factors[0]) & \
             (zs <= zc[good[-1]] + 0.5 * coarse.factors[0] / fine.factors[0])
    cy = np.where(inside, np.interp(zs, zc[good], _to_fine(column.centres[good, 0], coarse, fine, 1)), np.nan)
    cx = np.where(inside, np.interp(zs, zc[good], _to_fine(column.centres[good, 1], coarse, fine, 2)), np.nan)
    nearest = np.clip(np.round((zs * fine.factors[0] + (fine.factors[0] - 1) / 2 - (coarse.factors[0] - 1) / 2)
                               / coarse.factors[0]).astype(int), 0, coarse.shape[0] - 1)
    trunk = column.trunk[nearest]
    # Fronts of clear cortical bone first; where there is none (a disc, osteopenic bone), a front of
    # fainter cortex only where it continues that line (an enhanced aorta or a disc in front of the
    # body is as dense as osteopenic cortex, and lies well in front of the line).
    strict = _front(fine, cy, cx, BONE_HU)
    front = _front(fine, cy, cx, CORTEX_HU)
    line = _smooth_line(np.stack([strict, cx], axis=1), fine.spacing, FRONT_MEDIAN_MM, FRONT_OUTLIER_MM, 0.0,
                        COLUMN_EXTEND_MM)
    if line is not None:
        near = np.abs(front - line[:, 0]) * fine.spacing[1] <= FRONT_OUTLIER_MM
        front = np.where(np.isfinite(strict), strict, np.where(near, front, np.nan))
    line = _smooth_line(np.stack([front, cx], axis=1), fine.spacing, FRONT_MEDIAN_MM, FRONT_OUTLIER_MM, 0.0,
                        COLUMN_EXTEND_MM)
    y_ant = nan.copy() if line is None else line[:, 0]
    present = np.isfinite(cx) & np.isfinite(y_ant)
    return SpineAnchor(present, np.where(present, cx, np.nan), np.where(present, y_ant, np.nan),
                       np.where(present, cy, np.nan), trunk)


def _front(fine: WorkFrame, cy: np.ndarray, cx: np.ndarray, cortex_hu: float) -> np.ndarray:
    """Per fine slice, the front of the vertebral body along the midline of the column (NaN at a
    disc): on the profile through a strip along the midline, the first bone row in front of the
    centre estimate (which may lie in the back of the body or in the canal), then forwards while the
    tissue is denser than soft tissue (the marrow of an osteopenic vertebra is, the ligament and
    crus between it and an enhanced aorta are not); the front is that run's most anterior bone row
    (the cortex)."""
    sp = fine.spacing
    out = np.full(fine.shape[0], np.nan)
    half = max(1, int(np.rint(FRONT_STRIP_MM / sp[2])))
    ahead, behind = (int(np.rint(v / sp[1])) for v in FRONT_SEARCH_MM)
    pool_behind = int(np.rint(BLOOD_POOL_BEHIND_MM / sp[1]))
    for z in np.nonzero(np.isfinite(cy))[0]:
        y0, x0 = int(np.rint(cy[z])), int(np.rint(cx[z]))
        # The profile runs on behind the search range: bone behind a blood pool may lie there.
        lo, hi = max(y0 - ahead, 0), min(y0 + max(behind, pool_behind) + 1, fine.shape[1])
        x_lo, x_hi = max(x0 - half, 0), min(x0 + half + 1, fine.shape[2])
        if hi <= lo or x_hi <= x_lo:
            continue
        profile = np.median(fine.hu[z, lo:hi, x_lo:x_hi], axis=1)
        centre = min(y0 - lo, profile.size - 1)
        bone_rows = np.nonzero(profile[:centre + 1] > cortex_hu)[0]
        if bone_rows.size == 0:
            continue
        # The bone must be the vertebra's: near the centre estimate (which may lie in the canal), or
        # joined to it through marrow; an aorta in front of a disc, or beyond the column's end, is not.
        between = profile[bone_rows[-1]:centre + 1]
        if (centre - bone_rows[-1]) * sp[1] > FRONT_START_MM and between.min() <= MARROW_MIN_HU:
            continue
        k = start = int(bone_rows[-1])
        while k > 0 and profile[k - 1] > MARROW_MIN_HU:
            k -= 1
        pool = _behind_blood_pool(profile, k, cortex_hu, sp[1])
        if pool is not None and _narrower_than_behind(fine.hu[z], (lo + pool[0], lo + pool[1]), lo + pool[2],
                                                      pool[3], x0, sp):
            out[z] = lo + pool[2]
            continue
        out[z] = lo + k + int(np.argmax(profile[k:start + 1] > cortex_hu))
    return out


# ---------------------------------------------------------------------------------------------
# tissue references
# ---------------------------------------------------------------------------------------------
def tissue_reference(frame: WorkFrame, column: Column) -> TissueReference:
    """Subcutaneous fat (the body's outer shell, 5-25 mm under the skin) and paraspinal muscle
    (behind the vertebral bodies), as the medians of their windows."""
    sp = frame.spacing
    fat = TYPICAL_FAT_HU
    muscle = TYPICAL_MUSCLE_HU
    body = column.body
    if body.any():
        depth = np.zeros(body.shape, np.float32)
        for z in np.nonzero(body.any(axis=(1, 2)))[0]:
            depth[z] = ndimage.distance_transform_edt(np.pad(body[z], 1), sampling=sp[1:])[1:-1, 1:-1]
        shell = body & (depth >= 5.0) & (depth <= 25.0)
        values = frame.hu[shell & (frame.hu >= FAT_HU[0]) & (frame.hu <= FAT_HU[1])]
        if values.size > 100:
            fat = float(np.median(values))
    ok = np.isfinite(column.centres[:, 0])
    if ok.any():
        cen = column.centres.copy()
        zs = np.arange(cen.shape[0])
        for k in range(2):
            cen[:, k] = np.interp(zs, zs[ok], cen[ok, k])
        dy = (np.arange(frame.shape[1])[None, :, None] - cen[:, 0][:, None, None]) * sp[1]
        dx = (np.arange(frame.shape[2])[None, None, :] - cen[:, 1][:, None, None]) * sp[2]
        zone = body & ~ndimage.binary_dilation(column.spine, iterations=2) & (dy > 25.0) & (dy < 80.0) & \
            (np.abs(dx) < 50.0) & ok[:, None, None]
        values = frame.hu[zone & (frame.hu > MUSCLE_HU[0]) & (frame.hu < MUSCLE_HU[1])]
        if values.size > 50:
            muscle = float(np.median(values))
    return TissueReference(fat, muscle)
