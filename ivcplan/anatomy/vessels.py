"""Aorta and IVC: tracked slice to slice from the vertebral column, then delineated per slice.

Positions are priors relative to the vertebral body (aorta: anterior-left; IVC: anterior-right,
right of the aorta). All distances in mm; the working frame has axes (S, P, L).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ivcplan.anatomy.frame import WorkFrame
from ivcplan.anatomy.trunk import SpineAnchor
from ivcplan.anatomy.vessels_track import (
    Candidate,
    Track,
    dynamic_track,
    slice_candidates,
    template_scores,
    template_scores_by_polarity,
)
from ivcplan.volume import label_mask

#: Aorta cross-section templates (semi-axes ry, rx in mm).
AORTA_TEMPLATES: tuple[tuple[float, float], ...] = ((6.0, 6.0), (8.0, 8.0), (10.0, 10.0), (12.5, 12.5), (15.0, 15.0))
#: IVC templates: flatter than the aorta (transverse > AP) and up to a tumor-distended size.
IVC_TEMPLATES: tuple[tuple[float, float], ...] = (
    (6.0, 8.0), (7.0, 13.0), (8.0, 11.0), (9.0, 9.0), (9.0, 17.0), (10.0, 14.0), (12.0, 12.0),
    (13.0, 17.0), (16.0, 16.0), (18.0, 22.0), (22.0, 26.0),
)
#: Where a vessel centre may lie relative to the vertebral body's anterior edge (dx > 0: left;
#: dy < 0: anterior), mm.
AORTA_BOX_MM = ((-15.0, 50.0), (-60.0, 35.0))
AORTA_TYPICAL_MM = (12.0, -15.0)
IVC_BOX_MM = ((-85.0, 0.0), (-80.0, 25.0))
#: Vessel centres are never over the vertebral body (nor within VERTEBRA_MARGIN_MM of its front): a
#: body VERTEBRA_HALF_WIDTH_MM wide each side whose front recedes by VERTEBRA_RECESS_MM at its sides
#: (mm; the aorta lies in that curve, left of the midline, its centre 8-19 mm in front of the
#: midline's front on three real CTs; the IVC's 4-9 mm in front of it, 20 mm to the right).
VERTEBRA_HALF_WIDTH_MM = 22.0
VERTEBRA_RECESS_MM = 10.0
VERTEBRA_MARGIN_MM = 6.0
#: IVC centre relative to the aorta centre (dx < 0: right of it), mm. Front-back: at the diaphragm
#: the IVC crosses the central tendon in front while the aorta stays retrocrural behind the median
#: arcuate ligament, so the two may lie several centimetres apart there (about 5 cm seen on real
#: portal-venous CT of adults); the range leaves room for larger bodies.
IVC_FROM_AORTA_MM = ((-80.0, -12.0), (-70.0, 30.0))
IVC_FROM_AORTA_TYPICAL_MM = (-32.0, -10.0)
#: Spread (mm) of the IVC's position relative to the aorta: tight left-right (the IVC lies 20-50 mm
#: right of the aorta at every level), loose front-back (near the diaphragm the IVC runs anterior
#: to the retrocrural aorta). Keeps the portal vein, which lies in front of the aorta, unlikely.
IVC_PRIOR_SIGMA_MM = (12.0, 25.0)
#: ... below the liver, where the IVC lies retroperitoneal on the vertebral column and right psoas
#: beside the aorta, front-back tighter for its lumen: the superior mesenteric vein, 20-50 mm in front
#: of the aorta in the mesentery, is not it (it may be brighter than unenhanced infrarenal blood). A
#: filling mass keeps the loose spread (a tumor bulges the vein forwards). 18 mm, not 12: at 12 the
#: first track left bulky tumors bulging forwards on tune seeds 26 and 27.
IVC_PRIOR_SIGMA_RETRO_MM = 18.0
#: ... unless the first track so made is shorter than this share of the one made without it: then
#: neither pass uses it.
TIGHT_MIN_LENGTH_SHARE = 0.8
#: Blood above this (HU) is enhanced; the venous lumen is then expected near the aortic value
#: minus an offset, within a spread; matching candidates get a bonus (score units).
ENHANCED_BLOOD_HU = 100.0
VENOUS_OFFSET_HU = 15.0
BLOOD_SIGMA_HU = 25.0
BLOOD_BONUS = 1.5
#: Second (lumen-only) pass on an enhanced scan: the venous level is this percentile of the first
#: track's inside HU; a candidate more than DEFECT_START_HU below it is penalised, fully (by
#: DEFECT_PENALTY score units) DEFECT_RAMP_HU further down; the chain bridges up to MAX_BRIDGE_MM
#: of such slices (a tumor or thrombus filling the lumen).
LUMEN_PERCENTILE = 75.0
DEFECT_START_HU = 30.0
DEFECT_RAMP_HU = 40.0
DEFECT_PENALTY = 3.0
#: The venous level of the second pass is taken locally over +/- this (mm) of the first track, and
#: never below this (HU: unenhanced blood); see `_venous_reference`.
LOCAL_LEVEL_MM = 20.0
UNENHANCED_BLOOD_HU = 40.0
#: ... and a candidate more than this (HU) brighter than that level is penalised like a defect (fully
#: DEFECT_RAMP_HU further up): an artery. Renal inflow jets are at most ~60 HU brighter.
ARTERIAL_EXCESS_HU = 80.0
MAX_BRIDGE_MM = 160.0
#: A first track covering less than this share of the trunk's slices may have ended in a tumor.
SHORT_TRACK_SHARE = 0.5
#: Filling-defect candidates of the second pass: discs of this radius (mm) whose share of soft
#: tissue (DEFECT_MIN_HU to DEFECT_BELOW_VENOUS_HU under the venous level, and darker than the
#: liver) exceeds DEFECT_MIN_SHARE; score DEFECT_SCORE at a full share; template size DEFECT_SIZE_MM.
DEFECT_DISC_MM = 8.0
DEFECT_MIN_HU = -15.0
DEFECT_BELOW_VENOUS_HU = 45.0
DEFECT_MIN_SHARE = 0.6
DEFECT_SCORE = 2.2
DEFECT_SIZE_MM = (9.0, 11.0)
DEFECT_CANDIDATES = 8
#: In-plane Gaussian smoothing (mm) before the template filters.
DENOISE_SIGMA_MM = 1.5
#: Spread (mm) of the Gaussian position priors.
PRIOR_SIGMA_MM = 22.0
#: Inside a vessel, voxels within this many noise SDs of the lumen value belong to it.
REGION_TOL_SD = 2.5
MIN_REGION_TOL_HU = 25.0
#: Below this inside-vs-ring contrast (HU) the vessel boundary is taken from its template.
LOW_CONTRAST_HU = 30.0
#: An artery's calcified wall lies within this distance (mm) of its lumen.
WALL_MM = 2.5
#: Rings at these multiples of the template are tried in turn until one differs from the lumen.
RING_SCALES = (1.0, 1.4, 1.8)
#: The delineated cross-section may extend this much beyond its template (factor, mm).
REGION_GROWTH = 1.0
REGION_MARGIN_MM = 4.0
#: Edge voxels nearer the tissue outside them (mean over a (2 x this + 1) voxel window) than the
#: lumen, where that tissue differs from it by PEEL_CONTRAST_HU, are peeled, PEEL_PASSES layers.
PEEL_WINDOW_PX = 2
PEEL_CONTRAST_HU = 30.0
PEEL_PASSES = 1
#: The lumen edge lies at most this far (HU) below the lumen value.
EDGE_MAX_HU = 60.0
#: Search region margins around the spine (mm) for the template filters.
ROI_LATERAL_MM = 100.0
ROI_ANTERIOR_MM = 120.0
ROI_POSTERIOR_MM = 45.0


#: An unenhanced aorta is isodense with the diaphragmatic crura that wrap it towards the hiatus, so
#: its track stops there. It runs straight at that level: it is continued cranially along the line
#: fitted to its last CONTINUE_FIT_MM, as a disc of its typical section, for at most
#: CONTINUE_MAX_MM, while the disc holds soft tissue (not fat or lung) within the trunk.
CONTINUE_FIT_MM = 45.0
CONTINUE_MAX_MM = 45.0
CONTINUE_SOFT_HU = (-20.0, 110.0)


#: A blood-likeness term of a candidate's inside attenuation (HU) on a working slice.
BloodTerm = Callable[[np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class VesselResult:
    track: Track
    mask: np.ndarray  # bool on the working grid
    inside_hu: float  # median attenuation of the delineated vessel
    confidence: float


def _roi(frame: WorkFrame, spine: SpineAnchor) -> tuple[slice, slice]:
    ok = spine.usable
    sp = frame.spacing
    ny, nx = frame.hu.shape[1:]
    x0 = int(max(np.nanmin(spine.cx[ok]) - ROI_LATERAL_MM / sp[2], 0))
    x1 = int(min(np.nanmax(spine.cx[ok]) + ROI_LATERAL_MM / sp[2] + 1, nx))
    y0 = int(max(np.nanmin(spine.y_anterior[ok]) - ROI_ANTERIOR_MM / sp[1], 0))
    y1 = int(min(np.nanmax(spine.y_anterior[ok]) + ROI_POSTERIOR_MM / sp[1] + 1, ny))
    return slice(y0, y1), slice(x0, x1)


def _box_mask(shape: tuple[int, int], centre_yx: tuple[float, float], box_mm: Sequence[Sequence[float]],
              spacing: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    dy = (yy + offset[0] - centre_yx[0]) * spacing[1]
    dx = (xx + offset[1] - centre_yx[1]) * spacing[2]
    (x_lo, x_hi), (y_lo, y_hi) = box_mm
    return (dx >= x_lo) & (dx <= x_hi) & (dy >= y_lo) & (dy <= y_hi)


def _over_vertebra(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Offsets (mm) from the front of the vertebral body on the midline that lie over the body (or
    within `VERTEBRA_MARGIN_MM` in front of it): its front recedes by `VERTEBRA_RECESS_MM` towards
    its sides, `VERTEBRA_HALF_WIDTH_MM` from the midline."""
    front = -VERTEBRA_MARGIN_MM + VERTEBRA_RECESS_MM * (dx / VERTEBRA_HALF_WIDTH_MM) ** 2
    return (np.abs(dx) < VERTEBRA_HALF_WIDTH_MM) & (dy > front)


def _denoise(stack: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """In-plane smoothing so that the inside spread measures structure, not image noise."""
    return ndimage.gaussian_filter(stack, sigma=(0.0, DENOISE_SIGMA_MM / spacing[1], DENOISE_SIGMA_MM / spacing[2]))


def find_aorta(frame: WorkFrame, body: np.ndarray, spine: SpineAnchor) -> VesselResult | None:
    zs = np.nonzero(spine.usable)[0]
    if zs.size == 0:
        return None
    ys, xs = _roi(frame, spine)
    sp = frame.spacing
    sub = frame.hu[zs[0]:zs[-1] + 1, ys, xs]
    score, which, inside, ring = template_scores(_denoise(sub, sp), sp, AORTA_TEMPLATES, (-20.0, 650.0), polarity="any")
    cands: dict[int, list[Candidate]] = {}
    for i, z in enumerate(range(zs[0], zs[-1] + 1)):
        if not spine.usable[z]:
            continue
        anchor = (spine.y_anterior[z], spine.cx[z])
        allowed = _box_mask(sub.shape[1:], anchor, AORTA_BOX_MM, sp, (ys.start, xs.start))
        # Not the vertebral body itself: centred on the midline and posterior to its front edge.
        yy, xx = np.mgrid[0:sub.shape[1], 0:sub.shape[2]]
        dy = (yy + ys.start - anchor[0]) * sp[1]
        dx = (xx + xs.start - anchor[1]) * sp[2]
        allowed &= ~_over_vertebra(dx, dy)
        allowed &= body[z, ys, xs]
        cands[z] = slice_candidates(score[i], which[i], inside[i], ring[i], AORTA_TEMPLATES, allowed,
                                    (ys.start, xs.start))

    def prior(z: int, c: Candidate) -> float:
        dy = (c.y - spine.y_anterior[z]) * sp[1] - AORTA_TYPICAL_MM[1]
        dx = (c.x - spine.cx[z]) * sp[2] - AORTA_TYPICAL_MM[0]
        return -0.5 * (dx * dx + dy * dy) / PRIOR_SIGMA_MM**2

    track = dynamic_track(cands, sp, prior, range(zs[0], zs[-1] + 1), size_weight=0.08, hu_weight=1.0)
    if track.z.size == 0:
        return None
    mask = delineate(frame.hu, track, sp, body, wall=True)
    conf = _confidence(track)
    return VesselResult(track, mask, float(np.median(frame.hu[mask])) if mask.any() else np.nan, conf)


def continue_aorta(aorta: VesselResult, frame: WorkFrame, body: np.ndarray,
                   spine: SpineAnchor) -> tuple[VesselResult, int]:
    """Continue an unenhanced aorta's track cranially where it stopped inside the trunk.

    Returns the result and the number of slices added (0 on an enhanced scan, or when the track
    reaches the last trunk slice). Added slices carry a zero template score.
    """
    track = aorta.track
    if track.z.size < 3 or not np.isfinite(aorta.inside_hu) or aorta.inside_hu >= ENHANCED_BLOOD_HU:
        return aorta, 0
    sp = frame.spacing
    top = int(track.z.max())
    fit = track.z >= top - CONTINUE_FIT_MM / sp[0]
    if fit.sum() < 3:
        return aorta, 0
    zf = track.z[fit].astype(float)
    line_y, line_x = np.polyfit(zf, track.y[fit], 1), np.polyfit(zf, track.x[fit], 1)
    area_px = aorta.mask.reshape(aorta.mask.shape[0], -1).sum(axis=1)[track.z[fit]]
    radius_mm = float(np.sqrt(np.median(area_px) * sp[1] * sp[2] / np.pi))
    if radius_mm <= 0:
        return aorta, 0
    mask = aorta.mask.copy()
    added: list[tuple[int, float, float, float]] = []
    for z in range(top + 1, min(top + 1 + int(CONTINUE_MAX_MM / sp[0]), frame.hu.shape[0])):
        if not spine.usable[z]:
            break
        cy, cx = float(np.polyval(line_y, z)), float(np.polyval(line_x, z))
        disc = ellipse_mask(frame.hu.shape[1:], cy, cx, radius_mm / sp[1], radius_mm / sp[2]) & body[z]
        if not disc.any():
            break
        inside = float(np.median(frame.hu[z][disc]))
        if not CONTINUE_SOFT_HU[0] <= inside <= CONTINUE_SOFT_HU[1]:
            break  # fat or lung above the vessel's end (an arch, not a hiatus)
        mask[z] |= disc
        added.append((z, cy, cx, inside))
    if not added:
        return aorta, 0
    z_new, y_new, x_new, hu_new = (np.array(v) for v in zip(*added, strict=True))
    r = np.full(z_new.size, radius_mm)
    track = Track(np.concatenate([track.z, z_new.astype(int)]), np.concatenate([track.y, y_new]),
                  np.concatenate([track.x, x_new]), np.concatenate([track.ry, r]), np.concatenate([track.rx, r]),
                  np.concatenate([track.score, np.zeros(z_new.size)]), np.concatenate([track.inside_hu, hu_new]),
                  np.concatenate([track.defect, np.zeros(z_new.size, bool)]))
    # Continued slices are a shape prior, not an observation: the confidence shrinks with their share.
    confidence = round(aorta.confidence * (1.0 - 0.5 * z_new.size / track.z.size), 3)
    return VesselResult(track, mask, aorta.inside_hu, confidence), int(z_new.size)


def find_ivc(frame: WorkFrame, body: np.ndarray, spine: SpineAnchor, aorta: VesselResult | None,
             exclude: np.ndarray | None = None, seeds_vox: np.ndarray | None = None,
             defect_max_hu: float | None = None, retroperitoneal: np.ndarray | None = None) -> VesselResult | None:
    """Track the IVC; ``seeds_vox`` (N, 3) working-grid indices force the track through them;
    ``retroperitoneal`` (per working slice): below the liver, the tighter front-back prior.

    On an enhanced scan a second pass tracks the vein as either lumen (candidates as bright as the
    venous blood the first pass found) or filling defect (soft tissue darker than
    ``defect_max_hu``, e.g. a tumor), so that the track runs through a tumor filling the vein.
    """
    zs = np.nonzero(spine.usable)[0]
    if zs.size == 0:
        return None
    ys, xs = _roi(frame, spine)
    sp = frame.spacing
    sub = _denoise(frame.hu[zs[0]:zs[-1] + 1, ys, xs], sp)
    allowed = _ivc_allowed(frame, body, spine, aorta, exclude, zs, ys, xs)
    seeds_by_z: dict[int, list[np.ndarray]] = {}
    if seeds_vox is not None:
        for s in np.asarray(seeds_vox, dtype=float).reshape(-1, 3):
            seeds_by_z.setdefault(int(np.rint(s[0])), []).append(s)
    grid_y, grid_x = np.mgrid[ys, xs].astype(float)

    below = retroperitoneal  # the slices where the tight front-back prior applies (read at each call)

    def position_prior(z: int, y: np.ndarray | float, x: np.ndarray | float,
                       mass: bool = False) -> np.ndarray | float:
        a_idx = aorta.track.at(z) if aorta is not None else None
        if a_idx is None:
            dy = (y - spine.y_anterior[z]) * sp[1] + 10.0
            dx = (x - spine.cx[z]) * sp[2] + 25.0
            return -0.5 * (dx * dx + dy * dy) / PRIOR_SIGMA_MM**2
        dy = (y - aorta.track.y[a_idx]) * sp[1] - IVC_FROM_AORTA_TYPICAL_MM[1]
        dx = (x - aorta.track.x[a_idx]) * sp[2] - IVC_FROM_AORTA_TYPICAL_MM[0]
        # A filling mass (``mass``) may bulge the vein forwards at any level: the loose spread.
        sigma_y = IVC_PRIOR_SIGMA_RETRO_MM if below is not None and below[z] and not mass else IVC_PRIOR_SIGMA_MM[1]
        return -0.5 * ((dx / IVC_PRIOR_SIGMA_MM[0]) ** 2 + (dy / sigma_y) ** 2)

    # On an enhanced scan the IVC lumen carries contrast too: candidates near the blood-pool
    # attenuation are favoured (tumor stretches are bridged by the path's continuity).
    blood_hu = float(np.percentile(aorta.track.inside_hu, 75)) if aorta is not None else np.nan
    enhanced = bool(blood_hu >= ENHANCED_BLOOD_HU)
    # Both passes' template scores at once (the second, lumen-only pass runs on enhanced scans).
    scores = template_scores_by_polarity(sub, sp, IVC_TEMPLATES, (-30.0, 450.0),
                                         ("any", "bright") if enhanced else ("any",))

    def candidates(polarity: str, blood: BloodTerm) -> dict[int, list[Candidate]]:
        """Per slice, the local maxima of the whole gain (template score + blood + position)."""
        score, which, inside, ring = scores[polarity]
        cands: dict[int, list[Candidate]] = {}
        for i, z in enumerate(range(zs[0], zs[-1] + 1)):
            if z not in allowed:
                continue
            rank = score[i] + blood(inside[i], z) + position_prior(z, grid_y, grid_x)
            found = slice_candidates(score[i], which[i], inside[i], ring[i], IVC_TEMPLATES, allowed[z],
                                     (ys.start, xs.start), rank=rank)
            for s in seeds_by_z.get(z, []):
                # A user seed is a certain candidate: put it in with a dominant score.
                iy, ix = int(np.rint(s[1])) - ys.start, int(np.rint(s[2])) - xs.start
                if 0 <= iy < sub.shape[1] and 0 <= ix < sub.shape[2]:
                    ry, rx = IVC_TEMPLATES[int(which[i, iy, ix])]
                    found = [Candidate(float(s[1]), float(s[2]), ry, rx, 50.0, float(inside[i, iy, ix]),
                                       float(ring[i, iy, ix]))]
            cands[z] = found
        return cands

    def bonus(venous_hu: Callable[[int], float]) -> BloodTerm:
        def term(inside: np.ndarray, z: int) -> np.ndarray:
            # One-sided: a lumen as bright as the reference or brighter is fully blood-like.
            short = np.maximum(0.0, venous_hu(z) - inside)
            return BLOOD_BONUS * np.exp(-0.5 * (short / BLOOD_SIGMA_HU) ** 2)
        return term

    def lumen_only(venous_hu: Callable[[int], float]) -> BloodTerm:
        plus = bonus(venous_hu)

        def term(inside: np.ndarray, z: int) -> np.ndarray:
            ref = venous_hu(z)
            short = np.maximum(0.0, ref - inside)
            # Far brighter than the vein's blood at this level: an artery (an iliac artery beside
            # unenhanced infrarenal blood), not the vein.
            excess = np.maximum(0.0, inside - ref - ARTERIAL_EXCESS_HU)
            return plus(inside, z) - DEFECT_PENALTY * (np.clip((short - DEFECT_START_HU) / DEFECT_RAMP_HU, 0.0, 1.0)
                                                       + np.clip(excess / DEFECT_RAMP_HU, 0.0, 1.0))
        return term

    def prior_of(blood: BloodTerm) -> Callable[[int, Candidate], float]:
        return lambda z, c: float(blood(np.asarray(c.inside_hu), z)) + float(position_prior(z, c.y, c.x))

    z_range = range(zs[0], zs[-1] + 1)
    first_blood = bonus(lambda z: blood_hu - VENOUS_OFFSET_HU) if enhanced \
        else (lambda inside, z: np.zeros_like(inside))
    track = dynamic_track(candidates("any", first_blood), sp, prior_of(first_blood), z_range,
                          size_weight=0.05, hu_weight=0.3)
    if retroperitoneal is not None and retroperitoneal.any():
        # The tight prior chooses between vessels that run side by side; it must not cut the vein
        # short (a first track ending in a tumor it no longer bridges measures no venous level).
        below = None
        loose = dynamic_track(candidates("any", first_blood), sp, prior_of(first_blood), z_range,
                              size_weight=0.05, hu_weight=0.3)
        if _tight_kept(track, loose):
            below = retroperitoneal
        else:
            track = loose
    if enhanced and track.z.size:
        # Second pass: the venous blood level is what the first track found where it is most
        # blood-like (the aorta's level is only a first guess: venous blood enhances less).
        venous_hu = _venous_level(track, len(z_range))
        if venous_hu is not None:
            reference = _venous_reference(track, venous_hu, sp)
            blood = lumen_only(reference)
            cands = candidates("bright", blood)
            upper = venous_hu - DEFECT_BELOW_VENOUS_HU
            if defect_max_hu is not None:
                upper = min(upper, defect_max_hu)
            defects = _defect_candidates(sub, sp, allowed, zs, ys, xs, upper,
                                         lambda z, y, x: position_prior(z, y, x, mass=True))
            for z, extra in defects.items():
                cands.setdefault(z, []).extend(extra)

            def prior2(z: int, c: Candidate) -> float:
                lumen_term = 0.0 if c.defect else float(blood(np.asarray(c.inside_hu), z))
                return lumen_term + float(position_prior(z, c.y, c.x, mass=bool(c.defect)))

            second = dynamic_track(cands, sp, prior2, z_range, size_weight=0.05, hu_weight=0.3,
                                   max_gap=int(MAX_BRIDGE_MM / sp[0]))
            if second.z.size:
                track = second
    if track.z.size == 0:
        return None
    # The lumen is delineated where the track is on it; filled stretches are the tumor step's.
    mask = delineate(frame.hu, _subset(track, ~track.defect), sp, body, exclude=exclude, peel=True)
    return VesselResult(track, mask, float(np.median(frame.hu[mask])) if mask.any() else np.nan,
                        _confidence(track))


def _tight_kept(tight: Track, loose: Track) -> bool:
    """Whether the first track made with the tight prior below the liver is kept: unless it is shorter
    than `TIGHT_MIN_LENGTH_SHARE` of the one made without it (the tight prior chooses between vessels
    that run side by side; it must not cut the vein short, e.g. in a tumor it no longer bridges)."""
    return bool(tight.z.size >= TIGHT_MIN_LENGTH_SHARE * loose.z.size)


def _venous_level(first: Track, n_slices: int) -> float | None:
    """The venous blood level (HU) the second pass is run at, from the first track over a trunk of
    ``n_slices``: the first track's `LUMEN_PERCENTILE` where that is enhanced blood; None (no second
    pass) where it is not, unless the track is shorter than `SHORT_TRACK_SHARE` of the trunk: a short
    track on dark tissue ended in a tumor, not at the vein's end, and its level is no venous level;
    the second pass then runs from the lowest enhanced blood."""
    level = float(np.percentile(first.inside_hu, LUMEN_PERCENTILE))
    if level >= ENHANCED_BLOOD_HU:
        return level
    return ENHANCED_BLOOD_HU if first.z.size < SHORT_TRACK_SHARE * n_slices else None


def _venous_reference(track: Track, venous_hu: float, spacing: np.ndarray) -> Callable[[int], float]:
    """Per working slice, the attenuation the IVC's blood is expected to reach there: ``venous_hu``,
    except on a stretch at the lower end of the track whose blood is less enhanced. Blood from the
    legs returns later than the renal veins' (portal-venous phase) and mixes with them at their
    inflow, so the infrarenal IVC may be 50-150 HU darker than above it; going up the vein its
    enhancement only rises at each inflow. The reference is therefore the running maximum, from
    the lowest slice up, of the first track's local level (its median over +/- `LOCAL_LEVEL_MM`, a
    whole window even at the lower end, capped at ``venous_hu``: a few slices of the first track on
    an iliac artery or on bowel at the lower end do not set it; at least `UNENHANCED_BLOOD_HU`),
    where that lies more than `DEFECT_START_HU` under ``venous_hu`` (closer, the plain level serves,
    as it tolerates that much): a filling defect with brighter blood below it stays a defect; a
    darker stretch at the lower end does not."""
    h = np.minimum(np.asarray(track.inside_hu, dtype=float), venous_hu)
    half = max(1, int(np.rint(LOCAL_LEVEL_MM / spacing[0])))
    order = np.argsort(track.z)
    z_sorted, h_sorted = track.z[order], h[order]
    z_lo, z_hi = int(z_sorted[0]), int(z_sorted[-1])
    centre = np.clip(z_sorted, min(z_lo + half, z_hi), None)
    local = np.array([np.median(h_sorted[(z_sorted >= c - half) & (z_sorted <= c + half)]) for c in centre])
    level = np.maximum(np.maximum.accumulate(local), UNENHANCED_BLOOD_HU)
    level = np.where(level > venous_hu - DEFECT_START_HU, venous_hu, level)

    def at(z: int) -> float:
        if z > z_hi:
            return venous_hu
        k = int(np.searchsorted(z_sorted, min(max(z, z_lo), z_hi), side="right")) - 1
        return float(level[max(k, 0)])
    return at


def _subset(track: Track, keep: np.ndarray) -> Track:
    return Track(track.z[keep], track.y[keep], track.x[keep], track.ry[keep], track.rx[keep], track.score[keep],
                 track.inside_hu[keep], track.defect[keep])


PositionPrior = Callable[[int, np.ndarray, np.ndarray], np.ndarray]


def _defect_candidates(sub: np.ndarray, spacing: np.ndarray, allowed: dict[int, np.ndarray], zs: np.ndarray,
                       ys: slice, xs: slice, upper_hu: float,
                       position_prior: PositionPrior) -> dict[int, list[Candidate]]:
    """Per slice, where a filling defect could fill the vein: discs mostly of soft tissue (between
    `DEFECT_MIN_HU` and ``upper_hu``), ranked by that share and the position prior. Their score
    is `DEFECT_SCORE` x the share: below a clear lumen's, above the chain's per-slice bias."""
    from scipy.signal import fftconvolve  # here, not at the top: scipy.signal takes ~1 s to import

    soft = ((sub > DEFECT_MIN_HU) & (sub < upper_hu)).astype(np.float32)
    r = DEFECT_DISC_MM / spacing[1]
    k = _disc(r)
    share = np.stack([fftconvolve(plane, k / k.sum(), mode="same") for plane in soft])
    grid_y, grid_x = np.mgrid[ys, xs].astype(float)
    ry, rx = DEFECT_SIZE_MM
    out: dict[int, list[Candidate]] = {}
    for i, z in enumerate(range(zs[0], zs[-1] + 1)):
        if z not in allowed:
            continue
        frac = np.where(soft[i] > 0, share[i], 0.0)  # the centre itself is soft tissue
        score = DEFECT_SCORE * np.clip((frac - DEFECT_MIN_SHARE) / (1 - DEFECT_MIN_SHARE), 0, 1)
        rank = np.where(score > 0, score + position_prior(z, grid_y, grid_x), -np.inf)
        r_ = np.where(allowed[z], rank, -np.inf)
        peaks = (r_ == ndimage.maximum_filter(r_, size=5)) & np.isfinite(r_)
        py, px = np.nonzero(peaks)
        order = np.argsort(r_[py, px])[::-1][:DEFECT_CANDIDATES]
        inside = sub[i]
        out[z] = [Candidate(float(py[j] + ys.start), float(px[j] + xs.start), ry, rx, float(score[py[j], px[j]]),
                            float(inside[py[j], px[j]]), float("nan"), defect=True) for j in order]
    return out


def _disc(radius_px: float) -> np.ndarray:
    h = int(np.ceil(radius_px))
    yy, xx = np.mgrid[-h:h + 1, -h:h + 1]
    return (yy * yy + xx * xx <= radius_px * radius_px).astype(np.float32)


def _ivc_allowed(frame: WorkFrame, body: np.ndarray, spine: SpineAnchor, aorta: VesselResult | None,
                 exclude: np.ndarray | None, zs: np.ndarray, ys: slice, xs: slice) -> dict[int, np.ndarray]:
    """Per trunk slice, where (in the ROI) an IVC centre may lie: right of and near the aorta,
    anterior-right of the vertebral body, never over the vertebral body itself."""
    sp = frame.spacing
    shape = (ys.stop - ys.start, xs.stop - xs.start)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    out: dict[int, np.ndarray] = {}
    for z in range(zs[0], zs[-1] + 1):
        if not spine.usable[z]:
            continue
        allowed = _box_mask(shape, (spine.y_anterior[z], spine.cx[z]), IVC_BOX_MM, sp, (ys.start, xs.start))
        allowed &= body[z, ys, xs]
        dy = (yy + ys.start - spine.y_anterior[z]) * sp[1]
        dx = (xx + xs.start - spine.cx[z]) * sp[2]
        allowed &= ~_over_vertebra(dx, dy)
        a_idx = aorta.track.at(z) if aorta is not None else None
        if a_idx is not None:
            ay, ax = aorta.track.y[a_idx], aorta.track.x[a_idx]
            allowed &= _box_mask(shape, (ay, ax), IVC_FROM_AORTA_MM, sp, (ys.start, xs.start))
            dist = np.hypot((yy + ys.start - ay) * sp[1], (xx + xs.start - ax) * sp[2])
            allowed &= dist > aorta.track.rx[a_idx] + 6.0
        if exclude is not None:
            allowed &= ~exclude[z, ys, xs]
        out[z] = allowed
    return out


def _confidence(track: Track) -> float:
    if track.z.size == 0:
        return 0.0
    # Mean template score ~3 or more is a clearly delineated tube; short tracks are less certain.
    strength = float(np.clip(np.median(track.score) / 3.0, 0.0, 1.0))
    length = float(np.clip(track.z.size / 10.0, 0.0, 1.0))
    return round(strength * length, 3)


def ellipse_mask(shape: tuple[int, int], cy: float, cx: float, ry_px: float, rx_px: float) -> np.ndarray:
    yy, xx = np.ogrid[0:shape[0], 0:shape[1]]
    return ((yy - cy) / max(ry_px, 0.5)) ** 2 + ((xx - cx) / max(rx_px, 0.5)) ** 2 <= 1.0


def delineate(hu: np.ndarray, track: Track, spacing: np.ndarray, body: np.ndarray,
              exclude: np.ndarray | None = None, peel: bool = False, wall: bool = False) -> np.ndarray:
    """Per-slice vessel region: voxels like the lumen, connected to the centre, near the template.
    ``peel``: peel the partial volume of soft tissue the vessel touches (`_peel_partial_volume`);
    the aorta is not peeled (reference masks, e.g. TotalSegmentator's, include its wall), and with
    ``wall`` its calcified wall is kept (`_calcified_wall`)."""
    mask = np.zeros(hu.shape, dtype=bool)
    ny, nx = hu.shape[1:]
    # A single slice's template may underestimate the vessel: never go below the track's median.
    ry_typ, rx_typ = float(np.median(track.ry)), float(np.median(track.rx))
    for k, z in enumerate(track.z):
        ry, rx = max(track.ry[k], ry_typ) / spacing[1], max(track.rx[k], rx_typ) / spacing[2]
        # Work in a window around the vessel (speed): the limit ellipse plus the ring.
        hy = int(np.ceil(RING_SCALES[-1] * REGION_GROWTH * ry + (REGION_MARGIN_MM + 8.0) / spacing[1]))
        hx = int(np.ceil(RING_SCALES[-1] * REGION_GROWTH * rx + (REGION_MARGIN_MM + 8.0) / spacing[2]))
        y0, y1 = max(int(track.y[k]) - hy, 0), min(int(track.y[k]) + hy + 1, ny)
        x0, x1 = max(int(track.x[k]) - hx, 0), min(int(track.x[k]) + hx + 1, nx)
        if y1 <= y0 or x1 <= x0:
            continue
        win = hu[z, y0:y1, x0:x1]
        region = _delineate_slice(win, track.y[k] - y0, track.x[k] - x0, ry, rx, spacing, peel, wall)
        if region is None:
            continue
        region &= body[z, y0:y1, x0:x1]
        if exclude is not None:
            region &= ~exclude[z, y0:y1, x0:x1]
        mask[z, y0:y1, x0:x1] = region
    return mask


def _delineate_slice(win: np.ndarray, cy: float, cx: float, ry: float, rx: float,
                     spacing: np.ndarray, peel: bool = False, wall: bool = False) -> np.ndarray | None:
    shape2 = win.shape
    template = ellipse_mask(shape2, cy, cx, ry, rx)
    core = ellipse_mask(shape2, cy, cx, 0.6 * ry, 0.6 * rx)
    vals = win[core]
    if vals.size == 0:
        return None
    m = float(np.median(vals))
    sd = float(1.4826 * np.median(np.abs(vals - m)))
    # The ring around the template may still lie inside the same lumen (a small template chosen
    # inside a large vessel with a bright wall): then the ring is looked for further out.
    for scale in RING_SCALES:
        sy, sx = scale * ry, scale * rx
        ring = ellipse_mask(shape2, cy, cx, sy + 6 / spacing[1], sx + 6 / spacing[2]) & \
            ~ellipse_mask(shape2, cy, cx, sy + 2 / spacing[1], sx + 2 / spacing[2])
        ring_m = float(np.median(win[ring])) if ring.any() else m
        contrast = abs(m - ring_m)
        if contrast >= LOW_CONTRAST_HU:
            ry, rx = sy, sx
            break
    else:
        return template
    # Half-way between lumen and surroundings is where a blurred wall edge lies.
    tol = max(REGION_TOL_SD * sd, MIN_REGION_TOL_HU, 0.5 * contrast)
    limit = ellipse_mask(shape2, cy, cx, REGION_GROWTH * ry + REGION_MARGIN_MM / spacing[1],
                         REGION_GROWTH * rx + REGION_MARGIN_MM / spacing[2])
    sl = ndimage.median_filter(win, size=3)
    # Half-way, but never further than EDGE_MAX_HU from the lumen value (next to lung or fat the
    # half-way value would take in the vessel wall and the blur around it).
    step = min(0.5 * contrast, EDGE_MAX_HU)
    sign = 1.0 if m > ring_m else -1.0  # bright lumen (enhanced) or dark (e.g. unenhanced in fat-free tissue)
    d = (sl - m) * sign
    cand = (d >= -step) & (d <= tol) & limit
    lab, _ = ndimage.label(cand)
    hits = np.unique(lab[core & cand])
    hits = hits[hits > 0]
    region = label_mask(lab, hits) if hits.size else template
    region = ndimage.binary_fill_holes(ndimage.binary_opening(region, iterations=1))
    if not region.any():
        return template
    if wall:
        region = _calcified_wall(region, sl, m + tol, limit, spacing)
    return _peel_partial_volume(region, sl, m) if peel else region


def _calcified_wall(region: np.ndarray, sl: np.ndarray, above: float, limit: np.ndarray,
                    spacing: np.ndarray) -> np.ndarray:
    """An artery's wall, where calcified, is brighter than its lumen and left out by the lumen's
    window: voxels brighter than ``above`` within `WALL_MM` of the lumen (and inside the limit
    ellipse) are its wall, with the holes they close."""
    reach = max(1, int(np.ceil(WALL_MM / float(min(spacing[1:])))))
    near = ndimage.binary_dilation(region, iterations=reach) & limit
    out = region | (near & (sl > above))
    return ndimage.binary_fill_holes(out)


def _peel_partial_volume(region: np.ndarray, sl: np.ndarray, lumen: float) -> np.ndarray:
    """The ring's median mixes fat with the soft tissue a vessel touches (bowel, a crus): the half-way
    edge taken from it lies in that tissue. An edge voxel nearer the tissue just outside it than the
    lumen's value is that tissue's partial volume, and is peeled (at most `PEEL_PASSES` layers)."""
    size = 2 * PEEL_WINDOW_PX + 1
    cross = ndimage.generate_binary_structure(2, 1)
    out = region.copy()
    for _ in range(PEEL_PASSES):
        outside = (~out).astype(np.float32)
        count = ndimage.uniform_filter(outside, size=size)
        level = ndimage.uniform_filter(sl * outside, size=size) / np.maximum(count, 1e-6)
        edge = out & ~ndimage.binary_erosion(out, structure=cross) & (count > 0)
        peel = edge & (np.abs(level - lumen) >= PEEL_CONTRAST_HU) & (np.abs(sl - level) < np.abs(sl - lumen))
        if not peel.any() or peel.sum() >= out.sum():
            break
        out &= ~peel
    return out
