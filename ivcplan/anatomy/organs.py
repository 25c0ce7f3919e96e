"""Classical segmentation of body, spine, liver and kidneys (no deep learning, CPU only).

Public API (all masks are boolean arrays on ``volume.grid``; inputs are never modified)::

    body_mask(volume) -> ndarray[bool]                 # patient outline without table/air
    spine_mask(volume, body) -> ndarray[bool]           # vertebral column (bone, posterior midline)
    spine_centres(spine, grid) -> ndarray (nz, 3)       # per array slice: LPS centre of the
                                                        # vertebral body, NaN where no spine
    liver_mask(volume, body, spine, *, phase=None) -> OrganResult(mask, confidence, note)
    kidney_masks(volume, body, spine, *, phase=None) -> {"left": OrganResult, "right": OrganResult}
    segment_organs(volume, *, phase=None, progress=None) -> OrganSegmentation
        # all of the above in one pass (the working copy is built once: use this from segment())

``phase`` ("non_contrast" | "arterial" | "portal_venous" | "delayed" | "unknown" | None) is a hint
only: the organ intensities are estimated from the image itself, so every function works without
it. An organ outside the field of view gives an empty mask, confidence 0 and a note saying so.
Confidence combines size, position and intensity plausibility (0..1; < 0.3 means "not found").

Method (at ~3 mm, `frame.WorkFrame.coarse`, axes ordered S, P, L): body = air threshold, 2D
opening (detaches the table), largest components, slice-wise hole filling. Spine = the bone column
found as the hot spot of the bone z-projection near the midline, then tracked slice by slice.
Liver = the largest homogeneous soft-tissue region in the right upper abdomen: an intensity
window around histogram peaks of the right-sided soft tissue (one hypothesis per peak, so it works
on contrast and non-contrast CT), erosion to cut thin contacts, the best-scoring component as the
core, then growth with a *local* intensity model (Gaussian-weighted mean/sd of the core around each
voxel: enhancement drifts across the liver), closing and hole filling. Kidneys: see
`organs_kidney` (attenuation ladder judged by paravertebral position, size, envelope, no contact
with spine or ribs, left/right pairing; growth in the core's own window). Liver and kidney edges
are re-decided at full resolution within one working voxel of the boundary
(`frame.refine_edges`). Kidney candidates below the found confidence are reported in the
note only (empty mask). Vessels adjacent to the liver with the same attenuation (e.g. the IVC)
may be included: the orchestrator lets vessel labels override organ labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ivcplan.anatomy.frame import WorkFrame, refine_edges
from ivcplan.anatomy.morphology import ball, slice_hulls
from ivcplan.anatomy.organs_kidney import _muscle_hu, kidneys_low
from ivcplan.anatomy.trunk import Column, body_outline, fill_slices, find_column, vertebral_column
from ivcplan.errors import InputError
from ivcplan.parallel import side_by_side
from ivcplan.progress import ProgressCallback
from ivcplan.volume import Grid, Volume, label_mask

log = logging.getLogger(__name__)

#: Soft-tissue range (HU) in which organ intensity peaks are searched.
SOFT_TISSUE_HU = (-10.0, 260.0)
#: Half-width (HU) of the intensity window around an organ's estimated attenuation.
LIVER_WINDOW_HU = 35.0
#: Local liver intensity model: Gaussian neighbourhood (mm) over the core, window half-width
#: LIVER_LOCAL_K local sd (at least LIVER_LOCAL_MIN_HU), and extra growth steps beyond the erosion.
LIVER_LOCAL_SIGMA_MM = 25.0
LIVER_LOCAL_K = 2.5
LIVER_LOCAL_MIN_HU = 25.0
LIVER_EXTRA_STEPS = 3
#: Erosion radius (mm) that breaks thin contacts between the liver and its neighbours.
LIVER_EROSION_MM = 7.0
#: Liver lesions: tissue from this far (HU) below the paraspinal muscle up to the parenchyma, taken
#: where most of a Gaussian neighbourhood (sigma LESION_SIGMA_MM) is liver, in at most
#: LESION_MAX_LAYERS layers, within LESION_REACH_MM of the parenchyma.
LESION_BELOW_MUSCLE_HU = -25.0
LESION_SIGMA_MM = 8.0
LESION_MAX_LAYERS = 20
LESION_REACH_MM = 40.0
#: ... and hypodense blobs (opened by LESION_OPENING_MM) whose surface is at least LESION_CONTACT liver.
LESION_OPENING_MM = 7.0
LESION_CONTACT = 0.5
#: ... lying at least this fraction inside the liver's per-slice convex hull.
LESION_INSIDE_HULL = 0.6
#: Plausible liver volume range (ml) for confidence (partial coverage lowers it, not to zero).
LIVER_TYPICAL_ML = (800.0, 2500.0)
#: A structure is reported as found at or above this confidence.
FOUND_CONFIDENCE = 0.3


@dataclass(frozen=True)
class OrganResult:
    """One organ: boolean mask on the volume grid, confidence 0..1 and a human-readable note."""

    mask: np.ndarray
    confidence: float
    note: str = ""

    @property
    def found(self) -> bool:
        return self.confidence >= FOUND_CONFIDENCE and bool(self.mask.any())


@dataclass(frozen=True)
class OrganSegmentation:
    body: np.ndarray
    spine: np.ndarray
    spine_centres: np.ndarray  # (nz, 3) LPS mm per array slice, NaN where no spine
    liver: OrganResult
    kidneys: dict[str, OrganResult] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    liver_low: np.ndarray | None = None  # the liver's parenchyma on the coarse frame (no lesions)
    lesion_candidates: LesionCandidates | None = None
    liver_window: tuple[float, float] = (0.0, 0.0)  # HU window of the liver's edge (`refine_edges`)


@dataclass(frozen=True)
class LesionCandidates:
    """Where liver lesions may be (coarse frame): tissue from a little below muscle up to the
    parenchyma's window (``upto``), and the part darker than the parenchyma (``hypo``)."""

    upto: np.ndarray
    hypo: np.ndarray


# ---------------------------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------------------------
def body_mask(volume: Volume) -> np.ndarray:
    """Patient outline (air, table and blankets excluded, internal air such as lungs included)."""
    frame = WorkFrame.coarse(volume)
    return frame.to_scan(body_outline(frame))


def spine_mask(volume: Volume, body: np.ndarray) -> np.ndarray:
    """Vertebral column (bone near the posterior midline); empty when no spine is in view."""
    frame = WorkFrame.coarse(volume)
    _check_mask(body, volume, "body")
    spine_low, _ = vertebral_column(frame, frame.from_scan(body))
    return frame.to_scan(spine_low, (True,))


def spine_centres(spine: np.ndarray, grid: Grid) -> np.ndarray:
    """Per array slice (axis 0), the LPS centre (mm) of the vertebral body; NaN rows without spine.

    The vertebral body is the thickest part of the vertebra: its centre is taken as the point of
    the (hole-filled) slice mask farthest from the mask's edge (posterior elements are thin).
    """
    spine = np.asarray(spine, dtype=bool)
    if spine.shape != grid.shape:
        raise InputError(f"spine mask shape {spine.shape} does not match the grid {grid.shape}", "spine")
    out = np.full((grid.shape[0], 3), np.nan)
    for z in np.nonzero(spine.reshape(grid.shape[0], -1).any(axis=1))[0]:
        rows, cols = np.nonzero(spine[z])
        r0, c0 = rows.min(), cols.min()
        crop = np.pad(spine[z, r0:rows.max() + 1, c0:cols.max() + 1], 1)
        depth = ndimage.distance_transform_edt(ndimage.binary_fill_holes(crop), sampling=grid.spacing[1:])
        r, c = np.unravel_index(int(np.argmax(depth)), depth.shape)
        out[z] = grid.index_to_lps([z, r0 + r - 1, c0 + c - 1])
    return out


def liver_mask(volume: Volume, body: np.ndarray, spine: np.ndarray, *, phase: str | None = None) -> OrganResult:
    """Liver where it is in the field of view (see the module docstring for the method)."""
    frame = WorkFrame.coarse(volume)
    _check_mask(body, volume, "body")
    _check_mask(spine, volume, "spine")
    body_low, spine_low = frame.from_scan(body), frame.from_scan(spine)
    centres = _centres_low(spine_low, frame)
    mask, conf, note, window, lesions = _liver_low(frame, body_low, spine_low, centres)
    mask = fill_lesions(mask, lesions, frame.spacing)
    return OrganResult(refine_edges(volume, frame, mask, window), conf, note)


def kidney_masks(volume: Volume, body: np.ndarray, spine: np.ndarray, *,
                 phase: str | None = None, liver: np.ndarray | None = None) -> dict[str, OrganResult]:
    """Left and right kidney (keys "left", "right"); pass ``liver`` to keep them out of it."""
    frame = WorkFrame.coarse(volume)
    _check_mask(body, volume, "body")
    _check_mask(spine, volume, "spine")
    body_low, spine_low = frame.from_scan(body), frame.from_scan(spine)
    centres = _centres_low(spine_low, frame)
    if liver is None:
        liver_low = _liver_low(frame, body_low, spine_low, centres)[0]
    else:
        _check_mask(liver, volume, "liver")
        liver_low = frame.from_scan(liver)
    found = _kidneys_low(frame, body_low, spine_low, centres, liver_low)
    return {side: OrganResult(refine_edges(volume, frame, m, w), c, n) for side, (m, c, n, w) in found.items()}


def segment_organs(volume: Volume, *, phase: str | None = None, progress: ProgressCallback | None = None,
                   frame: WorkFrame | None = None, column: Column | None = None,
                   lesions_later: bool = False) -> OrganSegmentation:
    """Body, spine, liver and kidneys in one pass over a shared ~3 mm working copy. ``frame`` (the
    volume's coarse `WorkFrame`) and ``column`` (its `trunk.find_column`) are taken when given.
    With ``lesions_later`` the liver's lesions are not filled: the caller does it with `fill_lesions`
    once it knows what they must not take (an IVC tumor against the liver is no liver lesion), from
    ``liver_low`` and ``lesion_candidates`` of the result."""
    report = progress or (lambda stage, fraction: None)
    report("organs: preparing", 0.0)
    frame = frame or WorkFrame.coarse(volume)
    report("organs: spine", 0.2)
    column = column or find_column(frame)
    body_low, spine_low, centres = column.body, column.spine, column.centres
    report("organs: liver", 0.4)
    liver_low, liver_conf, liver_note, liver_window, lesions = _liver_low(frame, body_low, spine_low, centres)
    report("organs: kidneys", 0.7)
    kidneys_low = _kidneys_low(frame, body_low, spine_low, centres, liver_low)
    parenchyma = liver_low
    if not lesions_later:
        liver_low = fill_lesions(liver_low, lesions, frame.spacing)
    # The full-resolution edges of each organ are independent of the others': refined side by side.
    sides = list(kidneys_low)
    spine, liver_mask, *kidney_masks = side_by_side(
        (frame.to_scan, (spine_low, (True,))), (refine_edges, (volume, frame, liver_low, liver_window)),
        *((refine_edges, (volume, frame, kidneys_low[s][0], kidneys_low[s][3])) for s in sides))
    liver = OrganResult(liver_mask, liver_conf, liver_note)
    kidneys = {s: OrganResult(m, kidneys_low[s][1], kidneys_low[s][2])
               for s, m in zip(sides, kidney_masks, strict=True)}
    notes = tuple(f"{name}: {res.note}" for name, res in [("liver", liver)] +
                  [(f"kidney_{s}", r) for s, r in kidneys.items()] if res.note)
    report("organs: done", 1.0)
    return OrganSegmentation(frame.to_scan(body_low), spine, spine_centres(spine, volume.grid), liver,
                             kidneys, notes, parenchyma, lesions, liver_window)


def _check_mask(mask: np.ndarray, volume: Volume, name: str) -> None:
    if np.shape(mask) != volume.shape:
        raise InputError(f"mask shape {np.shape(mask)} does not match the volume {volume.shape}", name)


# ---------------------------------------------------------------------------------------------
# helpers on the working copy (axes S, P, L)
# ---------------------------------------------------------------------------------------------
def _components(mask: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    labels, n = ndimage.label(mask)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    return labels, n, sizes


def _smoothed(frame: WorkFrame) -> np.ndarray:
    return ndimage.gaussian_filter(frame.hu, sigma=0.6)


def _centres_low(spine_low: np.ndarray, frame: WorkFrame) -> np.ndarray:
    """Per-slice (P, L) centres from a given spine mask (front half = vertebral body)."""
    centres = np.full((frame.shape[0], 2), np.nan)
    for z in np.nonzero(spine_low.any(axis=(1, 2)))[0]:
        yy, xx = np.nonzero(spine_low[z])
        front = yy <= np.median(yy)
        centres[z] = (yy[front].mean(), xx[front].mean())
    return centres


def _fill_centres(centres: np.ndarray, body: np.ndarray) -> np.ndarray:
    """Interpolate missing slice centres; without any spine fall back to the body centroid."""
    out = centres.copy()
    ok = ~np.isnan(out[:, 0])
    z = np.arange(len(out))
    if ok.any():
        for k in range(2):
            out[:, k] = np.interp(z, z[ok], out[ok, k])
        return out
    if body.any():
        _, yy, xx = np.nonzero(body)
        out[:] = (np.percentile(yy, 75), xx.mean())
    return out


def _peaks(values: np.ndarray, lo: float, hi: float, max_peaks: int = 3) -> list[float]:
    """Main histogram peaks (HU) of ``values`` within [lo, hi], strongest first."""
    if values.size < 50:
        return []
    bins = np.arange(lo, hi + 4.0, 4.0)
    hist, edges = np.histogram(values, bins=bins)
    hist = ndimage.gaussian_filter1d(hist.astype(float), 1.5)
    centres = 0.5 * (edges[:-1] + edges[1:])
    idx = [i for i in range(1, len(hist) - 1) if hist[i] >= hist[i - 1] and hist[i] > hist[i + 1]]
    idx = [i for i in idx if hist[i] >= 0.15 * hist.max()]
    idx.sort(key=lambda i: -hist[i])
    return [float(centres[i]) for i in idx[:max_peaks]]


def _coordinates(frame: WorkFrame, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-voxel signed offsets (mm) from the slice's spine centre: (posterior, left) as broadcastable."""
    _nz, ny, nx = frame.shape
    dy = (np.arange(ny)[None, :, None] - centres[:, 0][:, None, None]) * frame.spacing[1]
    dx = (np.arange(nx)[None, None, :] - centres[:, 1][:, None, None]) * frame.spacing[2]
    return dy, dx


def _reconstruct(seed: np.ndarray, allowed: np.ndarray, steps: int) -> np.ndarray:
    grown = seed
    for _ in range(steps):
        grown = ndimage.binary_dilation(grown) & allowed
    return grown | seed


def _liver_low(frame: WorkFrame, body: np.ndarray, spine: np.ndarray,
               centres: np.ndarray) -> tuple[np.ndarray, float, str, tuple[float, float], LesionCandidates]:
    """Liver on the coarse frame without its lesions: (mask, confidence, note, edge window, where
    lesions may be: see `fill_lesions`)."""
    empty = np.zeros(frame.shape, bool)
    none = LesionCandidates(empty, empty)
    if not body.any():
        return empty, 0.0, "no body in the field of view", (0.0, 0.0), none
    cen = _fill_centres(centres, body)
    dy, dx = _coordinates(frame, cen)
    sm = _smoothed(frame)
    voxel_ml = float(np.prod(frame.spacing)) / 1000.0
    inner = ndimage.binary_erosion(body, structure=ball(12.0, frame.spacing, planar=True))
    region = body & (dy <= 35.0) & ~ndimage.binary_dilation(spine, iterations=2)
    right = region & (dx <= -15.0)
    peaks = _peaks(sm[right & inner], *SOFT_TISSUE_HU)
    if not peaks:
        return empty, 0.0, "no soft tissue on the right side: liver not in the field of view", (0.0, 0.0), none
    erode = ball(LIVER_EROSION_MM, frame.spacing)
    best: tuple[float, np.ndarray, float] | None = None
    for level in peaks:
        window = region & (sm >= level - LIVER_WINDOW_HU) & (sm <= level + LIVER_WINDOW_HU)
        core = ndimage.binary_erosion(window, structure=erode)
        labels, n, _sizes = _components(core)
        if n == 0:
            continue
        # Score: voxels on the right of the spine, minus those on the left beyond the left lobe.
        lab_flat = labels.ravel()
        on_right = np.bincount(lab_flat, weights=np.broadcast_to(dx <= 0.0, labels.shape).ravel(), minlength=n + 1)
        far_left = np.bincount(lab_flat, weights=np.broadcast_to(dx >= 80.0, labels.shape).ravel(), minlength=n + 1)
        score = on_right - 2.0 * far_left
        score[0] = 0
        k = int(np.argmax(score))
        if score[k] <= 0:
            continue
        if best is None or score[k] > best[0]:
            best = (float(score[k]), labels == k, level)
    if best is None:
        return empty, 0.0, "no liver-like region found", (0.0, 0.0), none
    _, core, level = best
    # Local intensity model: the liver's attenuation drifts across the organ (enhancement and beam
    # hardening make the posterior/dome parts darker on some scans), so the window follows the
    # core's local mean and spread instead of one global level.
    local_mean, local_sd = _local_stats(sm, core, frame.spacing, LIVER_LOCAL_SIGMA_MM)
    half = np.clip(LIVER_LOCAL_K * local_sd, LIVER_LOCAL_MIN_HU, LIVER_WINDOW_HU + 10.0)
    window = region & (np.abs(sm - local_mean) <= half)
    steps = int(np.ceil(LIVER_EROSION_MM / float(frame.spacing.min()))) + LIVER_EXTRA_STEPS
    liver = _reconstruct(core, window, steps)
    liver = ndimage.binary_closing(liver, structure=ball(6.0, frame.spacing), border_value=0)
    liver = fill_slices(liver) & body
    liver = _largest(liver)
    spine_zone = ndimage.binary_dilation(spine, iterations=2)
    floor = _muscle_hu(sm, body, spine_zone, dx, dy) + LESION_BELOW_MUSCLE_HU
    tissue = (sm >= floor) & body & ~spine_zone
    lesions = LesionCandidates(tissue & (sm <= local_mean + half), tissue & (sm < local_mean - half))
    ml = float(liver.sum()) * voxel_ml
    conf, note = _liver_confidence(liver, ml, dx, frame, level)
    values = sm[core]
    edge = (float(np.percentile(values, 1)) - 10.0, float(np.percentile(values, 99)) + 10.0)
    return liver, conf, note, edge, lesions


def fill_lesions(liver: np.ndarray, lesions: LesionCandidates, spacing: np.ndarray,
                 exclude: np.ndarray | None = None) -> np.ndarray:
    """The liver (coarse frame) with its lesions: metastases and other tissue darker than the
    parenchyma are part of the organ (reference masks include them). ``exclude``: never taken (an IVC
    tumor lying in the liver's groove is darker than the parenchyma too)."""
    upto, hypo = lesions.upto, lesions.hypo
    if exclude is not None:
        upto, hypo = upto & ~exclude, hypo & ~exclude
    if not liver.any():
        return liver
    return _lesion_components(_fill_concavities(liver, upto, spacing), hypo, upto, spacing)


def _fill_concavities(liver: np.ndarray, candidates: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Add the liver's lesions: tissue darker than the parenchyma (metastases, cysts with solid
    walls) lies inside the organ's envelope. Candidate voxels (soft tissue up to the parenchyma's
    window, see the caller) are taken where most of their neighbourhood (Gaussian, `LESION_SIGMA_MM`)
    is liver, layer by layer: a lesion inside the liver, or biting into its surface, is filled up
    to the organ's outline; tissue against its convex outside (bowel, muscle) is not (less than half
    of its neighbourhood is liver), at most `LESION_REACH_MM` from the liver found by attenuation."""
    sigma = [LESION_SIGMA_MM / float(s) for s in spacing]
    near = ndimage.distance_transform_edt(~liver, sampling=spacing) <= LESION_REACH_MM
    cand = candidates & near & ~liver
    out = liver.copy()
    for _ in range(LESION_MAX_LAYERS):
        frac = ndimage.gaussian_filter(out.astype(np.float32), sigma=sigma)
        add = cand & (frac >= 0.5)
        if not add.any():
            break
        out |= add
        cand &= ~add
    return out


def _lesion_components(liver: np.ndarray, hypo: np.ndarray, tissue: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Hypodense blobs (opened by `LESION_OPENING_MM`: thin contacts with the abdominal wall or the
    diaphragm cut) whose surface is mostly liver (`LESION_CONTACT`) are lesions of the liver."""
    opened = ndimage.binary_opening(hypo & ~liver, structure=ball(LESION_OPENING_MM, spacing))
    labels, n = ndimage.label(opened)
    if n == 0:
        return liver
    shell = ndimage.binary_dilation(opened) & ~opened
    # Each shell voxel to its nearest blob (blobs never touch: they are separate components).
    near = ndimage.grey_dilation(labels, size=(3, 3, 3))
    total = np.bincount(near[shell], minlength=n + 1)
    # Liver, or the partial-volume rim between a lesion and the parenchyma (soft tissue within two
    # voxels of the liver: it belongs to neither window); not the fat outside a muscle layer on it.
    rim = ndimage.binary_dilation(liver, iterations=2) & (tissue | liver)
    on_liver = np.bincount(near[shell & rim], minlength=n + 1)
    frac = on_liver / np.maximum(total, 1)
    # ... and within the liver's outline: each slice's convex hull of the liver bridges a lesion
    # biting into its surface, not the abdominal wall lying on its convex outside.
    hull = slice_hulls(liver)
    inside = np.bincount(labels.ravel(), weights=hull.ravel(), minlength=n + 1) / np.maximum(
        np.bincount(labels.ravel(), minlength=n + 1), 1)
    keep = np.nonzero((frac >= LESION_CONTACT) & (inside >= LESION_INSIDE_HULL))[0]
    keep = keep[keep > 0]
    if keep.size == 0:
        return liver
    lesions = label_mask(labels, keep)
    # Back out to the blobs' own outline (the opening shaved it).
    lesions = ndimage.binary_dilation(lesions, structure=ball(LESION_OPENING_MM, spacing)) & hypo
    return liver | lesions


def _local_stats(image: np.ndarray, mask: np.ndarray, spacing: np.ndarray,
                 sigma_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-weighted mean and sd of ``image`` over ``mask`` around every voxel (normalised
    convolution); far from the mask the global mean/sd are used."""
    sigma = [sigma_mm / s for s in spacing]
    weight = ndimage.gaussian_filter(mask.astype(np.float32), sigma)
    masked = np.where(mask, image, 0.0).astype(np.float32)
    mean = ndimage.gaussian_filter(masked, sigma)
    square = ndimage.gaussian_filter(masked * masked, sigma)
    values = image[mask]
    g_mean, g_sd = float(values.mean()), float(values.std())
    ok = weight > 0.02
    safe = np.where(ok, weight, 1.0)
    local_mean = np.where(ok, mean / safe, g_mean)
    local_var = np.where(ok, square / safe - local_mean ** 2, g_sd ** 2)
    return local_mean, np.sqrt(np.maximum(local_var, 0.0))


def _largest(mask: np.ndarray) -> np.ndarray:
    labels, n, sizes = _components(mask)
    return labels == int(np.argmax(sizes)) if n else mask


def _liver_confidence(liver: np.ndarray, ml: float, dx: np.ndarray, frame: WorkFrame,
                      level: float) -> tuple[float, str]:
    if ml <= 0:
        return 0.0, "no liver-like region found"
    right_frac = float(np.count_nonzero(liver & (dx <= 0.0))) / np.count_nonzero(liver)
    size = min(1.0, ml / LIVER_TYPICAL_ML[0])
    if ml > LIVER_TYPICAL_ML[1] * 1.6:
        size *= 0.5
    conf = float(np.clip(size * min(1.0, right_frac / 0.6), 0.0, 1.0))
    top_cut = liver[-1].any()
    bottom_cut = liver[0].any()
    note = f"{ml:.0f} ml at about {level:.0f} HU"
    if top_cut or bottom_cut:
        note += "; cut by the field of view (" + ", ".join(
            s for s, c in (("cranially", top_cut), ("caudally", bottom_cut)) if c) + ")"
    if conf < FOUND_CONFIDENCE:
        note = "liver not found (" + note + ")"
    return conf, note


def _kidneys_low(frame: WorkFrame, body: np.ndarray, spine: np.ndarray, centres: np.ndarray,
                 liver: np.ndarray) -> dict[str, tuple[np.ndarray, float, str, tuple]]:
    if not body.any() or np.isnan(centres[:, 0]).all():
        empty = np.zeros(frame.shape, bool)
        return {s: (empty, 0.0, "no spine found: kidneys not searched", (0.0, 0.0)) for s in ("right", "left")}
    return kidneys_low(_smoothed(frame), frame.spacing, body, spine, _fill_centres(centres, body), liver)
