"""Kidneys on the organ working frame (axes S, P, L; see `frame.WorkFrame`).

Anatomy used (it holds on contrast and non-contrast CT alike):

* position: each kidney lies in the paravertebral gutter, its centroid about 50-95 mm lateral of
  the vertebral-body centre (lateral to the psoas, which hugs the vertebra) and roughly at the
  depth of the vertebral body (from 20 mm anterior to 30 mm posterior of its centre);
* envelope: perirenal fat (or tissue of another attenuation) surrounds most of the kidney, while
  muscles and bowel loops touch neighbours of their own attenuation; the kidney touches neither the
  spine nor, but for its upper pole, the ribs (the spleen, which shares its position on the left, lies
  against the ribs, and above the left kidney);
* size and shape: about 90-300 ml, 40-150 mm craniocaudally (less when cut by the field of view);
* pairing: left and right kidneys lie at overlapping levels with similar attenuation: a candidate
  whose partner shares its levels may have its upper pole on the ribs, a pair at levels apart (the
  spleen or a bowel loop with the other kidney) counts little more than its better member;
* contacts: a kidney pressed against the spleen or a bowel loop separates from it one or two erosion
  steps deeper than usual (each depth gives its own candidates);
* attenuation is not assumed: non-contrast parenchyma is ~10-40 HU, enhanced cortex 150-250 HU.
  Candidates come from a ladder of attenuation windows and are judged by the anatomy above; the
  chosen core's own mean and spread then set the window it is grown in (medulla included when the
  cortex enhances). Only one preference: a candidate at the paraspinal muscle's level may be muscle
  (the psoas pair), so it ranks below an equally plausible one that is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from ivcplan.anatomy.morphology import bbox
from ivcplan.volume import label_mask

#: Lateral (mm) range of a kidney centroid from the vertebral-body centre, and the soft margin.
KIDNEY_LATERAL_MM = (58.0, 100.0)
#: Antero-posterior range (mm, + = posterior) of a kidney centroid relative to the vertebral body.
KIDNEY_AP_MM = (-20.0, 30.0)
POSITION_SOFT_MM = 15.0
#: Search box around the spine (mm): beyond it nothing can be kidney.
SEARCH_LATERAL_MM = (20.0, 140.0)
SEARCH_AP_MM = (-70.0, 70.0)
#: Typical kidney volume (ml) and craniocaudal length (mm).
KIDNEY_TYPICAL_ML = (90.0, 300.0)
KIDNEY_MAX_LENGTH_MM = 150.0
#: Smallest core (ml) considered: smaller pieces are noise or vessels.
MIN_CORE_ML = 6.0
#: A kidney's eroded core is at least this fraction of a typical kidney for full size credit.
CORE_FRACTION = 0.15
#: Extra in-plane erosion steps of the window before components are taken (cuts contacts). In the
#: filled cortex windows each depth gives its own candidates: a kidney pressed against the spleen or
#: a bowel loop (an upper pole under the spleen, a small kidney in a lean body) only separates from
#: it one or two steps deeper, while a thin kidney would vanish there. The homogeneous windows keep
#: the first depth (deeper, they only add pieces of muscle: the psoas pair).
CORE_EXTRA_PLANAR = (1, 2, 3)
#: Attenuation ladder (HU): window centres from LADDER_HU[0] to LADDER_HU[1], +- LADDER_HALF_WIDTH_HU.
LADDER_HU = (0.0, 260.0)
LADDER_STEP_HU = 10.0
LADDER_HALF_WIDTH_HU = 20.0
#: Enhanced parenchyma is less uniform (cortex vs medulla): the half-width grows to this fraction of the level.
LADDER_RELATIVE_WIDTH = 0.2
#: Enhancing cortex: windows from this far (HU) above the paraspinal muscle up to LADDER_HU[1], in
#: steps of CORTEX_STEP_HU, each CORTEX_SPAN_HU wide, filled in each slice.
CORTEX_ABOVE_MUSCLE_HU = 50.0
CORTEX_STEP_HU = 20.0
CORTEX_SPAN_HU = 200.0
#: Fat (HU, smoothed): never grown into (perirenal and sinus fat).
FAT_HU = -30.0
#: The envelope: shell voxels differing from the candidate's mean by more than this (HU) bound it
#: (perirenal fat on real CT, any tissue of other attenuation); this fraction of the shell gives full credit.
RIM_CONTRAST_HU = 30.0
RIM_FULL = 0.5
#: The spleen and liver lie against the ribs; a kidney is mostly kept off them by fat and muscle: a
#: candidate whose shell is more than RIB_CONTACT_MAX bone (denser than RIB_HU and its own mean +
#: RIB_MARGIN_HU) is rejected. But a kidney's upper pole lies on the lowest ribs, closely in a lean
#: body: a candidate with a partner kidney at shared levels (which the spleen has not: it lies above
#: the left kidney) is only rejected from RIB_CONTACT_MAX + RIB_PAIRED_SOFT (measured: spleens 0.07-0.08
#: of their shell, kidneys up to 0.05), its score falling linearly to that limit from RIB_PAIRED_WEIGHT
#: (at full weight the psoas pair, touching the transverse processes, outranked the kidneys on tune
#: seed 15); the strict ramp still applies where it is the higher.
RIB_HU = 200.0
RIB_MARGIN_HU = 80.0
RIB_CONTACT_MAX = 0.04
RIB_PAIRED_SOFT = 0.04
RIB_PAIRED_WEIGHT = 0.9
#: Kidneys lie inside the abdominal wall: candidate voxels at least this deep (mm) under the skin.
WALL_DEPTH_MM = 15.0
#: Growth of the chosen core: window half-width is max(GROW_SD * sd, GROW_MIN_HU); at most
#: GROW_MM of growth from the core.
GROW_SD = 2.5
GROW_MIN_HU = 25.0
GROW_MM = 12.0
#: A core this much brighter than the paraspinal muscle is enhancing cortex: medulla (down to
#: muscle + ENHANCED_FLOOR_HU) is grown into as well.
ENHANCED_MARGIN_HU = 60.0
ENHANCED_FLOOR_HU = 30.0
#: ... and, the cortex enhancing more than the medulla, a core at the medulla's level is grown into
#: tissue up to this fraction of its enhancement (over muscle) above it.
ENHANCED_CEILING = 0.5
#: Bonus for a left/right pair at overlapping levels with similar attenuation.
PAIR_BONUS = 0.5
PAIR_HU_TOLERANCE = 40.0
#: Kidneys lie at overlapping levels (the left often a vertebra higher, so half of the shorter one
#: may lie beyond the other): the lesser member of a pair loses its rank as the shared share falls
#: from PAIR_APART_SHARE to 0. The spleen over the left kidney, or a bowel loop below it, is no
#: partner of the right kidney.
PAIR_APART_SHARE = 0.5
#: Below this confidence the best candidate is not labelled (organs.FOUND_CONFIDENCE).
NOT_FOUND_CONFIDENCE = 0.3
#: Candidates kept per side for the pairing.
TOP_PER_SIDE = 8
#: Ranking preferences (score units) for a core up to WHOLE_CORE_ML (an eroded whole kidney), and
#: for a homogeneous window over a filled one.
CORE_SIZE_PREFERENCE = 0.1
WHOLE_CORE_ML = 100.0
HOMOGENEOUS_PREFERENCE = 0.3
#: A candidate within this much (HU) of the paraspinal muscle's level may be muscle (the psoas pair lies
#: beside the spine, paired, in fat): its rank is scaled by MUSCLE_LIKE_RANK. Without contrast the kidneys and the
#: psoas both sit there and keep their order; on an enhanced scan the kidneys' cortex lies far above
#: it, and the psoas pair at muscle level took both kidneys' places (8 of the random phantom's tune
#: seeds 0-119: both kidneys Dice 0, at 54-57 HU against 158-240 HU). A factor, not a deduction: the rank
#: stays positive, so a muscle-like kidney alone (no contrast) is still taken.
MUSCLE_LIKE_HU = 25.0
MUSCLE_LIKE_RANK = 0.6


@dataclass(frozen=True)
class _Candidate:
    side: str
    score: float
    level: float
    label: int
    labels_id: int  # which ladder step's label array
    mean_hu: float
    z_range: tuple[int, int]
    core_ml: float = 0.0
    filled: bool = False  # from a filled cortex window, not a homogeneous one
    paired_score: float = 0.0  # the score when a partner kidney lies at shared levels (rib contact tolerated)
    depth: int = 1  # the extra planar erosion steps of its core (one of CORE_EXTRA_PLANAR)
    muscle_like: bool = False  # within MUSCLE_LIKE_HU of the paraspinal muscle

    @property
    def rank(self) -> float:
        """The score, with small preferences for the larger of equally plausible cores (a window that
        holds the whole organ rather than one pole of it) and for a homogeneous window (its edge is
        the organ's own; a filled cortex window also holds what the cortex touches), lowered for a
        muscle-like one (`MUSCLE_LIKE_RANK`)."""
        return (self.score + CORE_SIZE_PREFERENCE * min(1.0, self.core_ml / WHOLE_CORE_ML)
                + (0.0 if self.filled else HOMOGENEOUS_PREFERENCE)) * (MUSCLE_LIKE_RANK if self.muscle_like else 1.0)


def kidneys_low(array: np.ndarray, spacing: np.ndarray, body: np.ndarray, spine: np.ndarray,
                centres: np.ndarray, liver: np.ndarray) -> dict[str, tuple[np.ndarray, float, str, tuple]]:
    """Per side ("right", "left"): (mask, confidence, note, (lo, hi) HU window) on the working frame.

    ``array`` is the smoothed working copy (HU, axes S, P, L), ``centres`` the per-slice
    vertebral-body centres (P, L indices, no NaN), ``liver`` is excluded from the kidneys.
    """
    sp = np.asarray(spacing, dtype=float)
    shape = array.shape
    empty = np.zeros(shape, bool)
    out = {side: (empty, 0.0, "kidney not in the field of view", (0.0, 0.0)) for side in ("right", "left")}
    dy = (np.arange(shape[1])[None, :, None] - centres[:, 0][:, None, None]) * sp[1]
    dx = (np.arange(shape[2])[None, None, :] - centres[:, 1][:, None, None]) * sp[2]
    depth = _depth_in_body(body, sp)
    spine_zone = ndimage.binary_dilation(spine, iterations=2)
    region = (body & ~spine_zone & ~liver & (depth >= WALL_DEPTH_MM)
              & (dy >= SEARCH_AP_MM[0]) & (dy <= SEARCH_AP_MM[1])
              & (np.abs(dx) >= SEARCH_LATERAL_MM[0]) & (np.abs(dx) <= SEARCH_LATERAL_MM[1]))
    if not region.any():
        return out
    box = bbox(region, 3)
    sub = array[box]
    reg, sdx, sdy = region[box], np.broadcast_to(dx, shape)[box], np.broadcast_to(dy, shape)[box]
    fat = sub < FAT_HU
    spine_sub = spine_zone[box]
    muscle = _muscle_hu(array, body, spine_zone, dx, dy)
    voxel_ml = float(np.prod(sp)) / 1000.0
    erode = np.zeros((3, 3, 3), bool)
    erode[1, 1, :] = erode[1, :, 1] = erode[:, 1, 1] = True
    cands: list[_Candidate] = []
    label_arrays: list[np.ndarray] = []
    for level, filled, window in _windows(sub, reg, fat, muscle):
        for extra, core in _cores(window, filled, erode):
            labels, n = ndimage.label(core)
            if n == 0:
                continue
            idx = np.arange(1, n + 1)
            counts = np.bincount(labels.ravel(), minlength=n + 1)[1:]
            keep = counts * voxel_ml >= MIN_CORE_ML
            if not keep.any():
                continue
            lat = np.asarray(ndimage.mean(sdx, labels, idx))
            ap = np.asarray(ndimage.mean(sdy, labels, idx))
            hu = np.asarray(ndimage.mean(sub, labels, idx))
            objs = ndimage.find_objects(labels)
            labels_id = len(label_arrays)
            label_arrays.append(labels)
            for k in np.nonzero(keep)[0]:
                pos = _ramp(abs(lat[k]), *KIDNEY_LATERAL_MM, POSITION_SOFT_MM) * _ramp(ap[k], *KIDNEY_AP_MM,
                                                                                      POSITION_SOFT_MM)
                if pos <= 0.0:
                    continue
                sl = objs[k]
                length = (sl[0].stop - sl[0].start) * sp[0]
                shape_score = _size_score(counts[k] * voxel_ml) * _ramp(length, 0.0, KIDNEY_MAX_LENGTH_MM, 60.0)
                if shape_score <= 0.0:
                    continue
                bone = sub > max(RIB_HU, hu[k] + RIB_MARGIN_HU)
                rim_frac, spine_frac, rib_frac = _envelope(labels, k + 1, sl, np.abs(sub - hu[k]) > RIM_CONTRAST_HU,
                                                           spine_sub, bone & ~spine_sub, 1 + extra)
                free = pos * shape_score * min(1.0, rim_frac / RIM_FULL) * max(0.0, 1.0 - 4.0 * spine_frac)
                score = free * max(0.0, 1.0 - rib_frac / RIB_CONTACT_MAX)
                paired = free * max(1.0 - rib_frac / RIB_CONTACT_MAX,
                                    RIB_PAIRED_WEIGHT * (1.0 - rib_frac / (RIB_CONTACT_MAX + RIB_PAIRED_SOFT)))
                if paired <= 0.05:
                    continue
                cands.append(_Candidate("left" if lat[k] > 0 else "right", float(score), float(level), k + 1,
                                        labels_id, float(hu[k]), (sl[0].start, sl[0].stop), float(counts[k] * voxel_ml),
                                        filled, float(paired), extra, abs(float(hu[k]) - muscle) <= MUSCLE_LIKE_HU))
    chosen = _pair(cands)
    taken = np.zeros(sub.shape, bool)
    for cand in sorted(chosen, key=lambda c: -c.rank):
        labels = label_arrays[cand.labels_id]
        # Voxels nearer another (real-sized) core of the same window belong to that neighbour.
        sizes = np.bincount(labels.ravel())
        big = np.nonzero(sizes * voxel_ml >= MIN_CORE_ML)[0]
        markers = np.where(label_mask(labels, big[big > 0]), labels, 0)
        nearest = ndimage.distance_transform_edt(markers == 0, sampling=sp, return_distances=False,
                                                 return_indices=True)
        own = markers[tuple(nearest)] == cand.label
        # A deeper core grows back the further (each erosion step took a voxel off every side).
        reach = GROW_MM + (cand.depth - CORE_EXTRA_PLANAR[0]) * float(sp[1:].min())
        kid, window = _grow(labels == cand.label, sub, reg & ~taken & own, fat, muscle, sp, reach)
        taken |= ndimage.binary_dilation(kid)
        full = empty.copy()
        full[box] = kid
        ml = float(kid.sum()) * voxel_ml
        conf = float(np.clip(cand.score, 0.0, 1.0))
        note = f"{ml:.0f} ml at about {cand.mean_hu:.0f} HU"
        if full[0].any() or full[-1].any():
            note += "; cut by the field of view"
        if conf < NOT_FOUND_CONFIDENCE:
            # An implausible candidate is reported in the note, never labelled.
            note = "kidney not found (best candidate: " + note + ")"
            full = empty
        out[cand.side] = (full, conf, note, window)
    return out


def _windows(sub: np.ndarray, reg: np.ndarray, fat: np.ndarray, muscle: float):
    """The attenuation windows candidates are taken from: (level, filled, mask).

    A ladder of narrow windows (homogeneous parenchyma: unenhanced, or nephrographic), then, for an
    enhancing cortex around a darker medulla and sinus (corticomedullary or excretory phase, or a
    heterogeneous nephrogram), everything from a level upwards with the holes it encloses in each
    slice filled (the ring of cortex becomes the organ it bounds)."""
    for level in np.arange(LADDER_HU[0], LADDER_HU[1] + 1e-6, LADDER_STEP_HU):
        half = max(LADDER_HALF_WIDTH_HU, LADDER_RELATIVE_WIDTH * level)
        yield float(level), False, reg & (sub >= level - half) & (sub <= level + half)
    disc = np.ones((1, 3, 3), bool)
    for level in np.arange(muscle + CORTEX_ABOVE_MUSCLE_HU, LADDER_HU[1] + 1e-6, CORTEX_STEP_HU):
        ring = reg & (sub >= level) & (sub <= level + CORTEX_SPAN_HU)
        ring = ndimage.binary_closing(ring, structure=disc)
        filled = np.zeros_like(ring)
        for z in np.nonzero(ring.any(axis=(1, 2)))[0]:
            filled[z] = ndimage.binary_fill_holes(ring[z])
        yield float(level), True, filled & reg & ~fat


def _ramp(v: float, lo: float, hi: float, soft: float) -> float:
    if v < lo:
        return max(0.0, 1.0 - (lo - v) / soft)
    if v > hi:
        return max(0.0, 1.0 - (v - hi) / soft)
    return 1.0


def _size_score(ml: float) -> float:
    # A core is the eroded kidney (a fifth to a half of its volume); partial coverage keeps some credit.
    lo, hi = KIDNEY_TYPICAL_ML
    if ml > hi:
        return max(0.0, 1.0 - (ml - hi) / 150.0)
    return float(np.clip(ml / (CORE_FRACTION * lo), 0.25, 1.0))


def _depth_in_body(body: np.ndarray, sp: np.ndarray) -> np.ndarray:
    """In-plane distance (mm) of each body voxel from the skin."""
    out = np.zeros(body.shape, np.float32)
    for z in np.nonzero(body.any(axis=(1, 2)))[0]:
        out[z] = ndimage.distance_transform_edt(np.pad(body[z], 1), sampling=sp[1:])[1:-1, 1:-1]
    return out


def _muscle_hu(array: np.ndarray, body: np.ndarray, spine_zone: np.ndarray, dx: np.ndarray,
               dy: np.ndarray) -> float:
    """Median attenuation of the paraspinal muscles (behind the vertebral body, not fat or bone)."""
    zone = body & ~spine_zone & (dy > 25.0) & (dy < 80.0) & (np.abs(dx) < 50.0)
    values = array[zone & (array > -10.0) & (array < 120.0)]
    return float(np.median(values)) if values.size > 50 else 45.0


def _cores(window: np.ndarray, filled: bool, erode: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(extra steps, core) of ``window``: eroded once in 3D, then in plane by each depth of
    `CORE_EXTRA_PLANAR` in turn (a homogeneous window only by the first), each from the one before."""
    core = ndimage.binary_erosion(window, structure=erode)
    done = 0
    for extra in CORE_EXTRA_PLANAR if filled else CORE_EXTRA_PLANAR[:1]:
        if extra > done:  # iterations=0 would erode until nothing changes
            core = ndimage.binary_erosion(core, structure=erode[1:2], iterations=extra - done)
        done = extra
        yield extra, core


def _envelope(labels: np.ndarray, k: int, sl: tuple[slice, ...], other: np.ndarray, spine: np.ndarray,
              bone: np.ndarray, depth: int) -> tuple[float, float, float]:
    """Fractions of the in-plane shell around component ``k`` (2 voxels thick, beyond its erosion of
    ``depth`` voxels): other / spine / bone."""
    reach = 2 + depth
    grown = tuple(slice(max(0, s.start - 1), s.stop + 1) if a == 0 else slice(max(0, s.start - reach), s.stop + reach)
                  for a, s in enumerate(sl))
    comp = labels[grown] == k
    cross = np.zeros((1, 3, 3), bool)
    cross[0, 1, :] = cross[0, :, 1] = True
    inner = ndimage.binary_dilation(comp, structure=cross, iterations=depth) if depth else comp
    shell = ndimage.binary_dilation(comp, structure=cross, iterations=reach) & ~inner
    n = max(1, int(np.count_nonzero(shell)))
    return tuple(float(np.count_nonzero(shell & m[grown])) / n for m in (other, spine, bone))  # type: ignore[return-value]


def _pair(cands: list[_Candidate]) -> list[_Candidate]:
    """Best kidney per side, favouring a left/right pair at overlapping levels and attenuation."""
    per_side = {s: sorted((c for c in cands if c.side == s), key=lambda c: -replace(c, score=c.paired_score).rank)
                [:TOP_PER_SIDE] for s in ("right", "left")}
    best: tuple[float, list[_Candidate]] = (0.0, [])
    for right_c in [None, *per_side["right"]]:
        for left_c in [None, *per_side["left"]]:
            r, left = right_c, left_c
            if r is not None and left is not None and _overlap(r, left) >= PAIR_APART_SHARE:
                # Partners at shared levels: the rib contact of an upper pole is tolerated.
                r, left = replace(r, score=r.paired_score), replace(left, score=left.paired_score)
            picked = [c for c in (r, left) if c is not None]
            total = sum(c.rank for c in picked)
            if r is not None and left is not None:
                overlap = _overlap(r, left)
                similar = abs(r.mean_hu - left.mean_hu) <= PAIR_HU_TOLERANCE
                total += PAIR_BONUS * min(r.score, left.score) * overlap * similar
                total -= min(r.rank, left.rank) * max(0.0, 1.0 - overlap / PAIR_APART_SHARE)
            if total > best[0]:
                best = (total, picked)
    return best[1]


def _overlap(a: _Candidate, b: _Candidate) -> float:
    """Share of the shorter candidate's slices that the other spans too."""
    z0, z1 = max(a.z_range[0], b.z_range[0]), min(a.z_range[1], b.z_range[1])
    shortest = min(a.z_range[1] - a.z_range[0], b.z_range[1] - b.z_range[0])
    return max(0, z1 - z0) / max(1, shortest)


def _grow(core: np.ndarray, sub: np.ndarray, allowed: np.ndarray, fat: np.ndarray, muscle: float,
          sp: np.ndarray, reach_mm: float = GROW_MM) -> tuple[np.ndarray, tuple[float, float]]:
    """Grow ``core`` into voxels of its own attenuation (and medulla when enhanced) up to ``reach_mm``
    from it, then tidy up."""
    values = sub[core]
    mean, sd = float(values.mean()), float(values.std())
    half = max(GROW_SD * sd, GROW_MIN_HU)
    lo, hi = mean - half, mean + half
    if mean > muscle + ENHANCED_MARGIN_HU:
        lo = min(lo, muscle + ENHANCED_FLOOR_HU)
        hi = max(hi, mean + ENHANCED_CEILING * (mean - muscle))
    window = allowed & ~fat & (sub >= lo) & (sub <= hi)
    grown = core
    for _ in range(max(1, round(reach_mm / float(sp[1:].min())))):
        grown = ndimage.binary_dilation(grown, structure=_cross2d()) & window
        grown |= core
    grown = ndimage.binary_closing(grown, structure=np.ones((1, 3, 3), bool), border_value=0) & ~fat | grown
    grown = ndimage.binary_opening(grown, structure=_cross2d()) | core
    labels, n = ndimage.label(grown)
    if n > 1:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        grown = labels == int(np.argmax(sizes))
    return grown, (max(lo, FAT_HU), hi)


def _cross2d() -> np.ndarray:
    out = np.zeros((3, 3, 3), bool)
    out[1, 1, :] = out[1, :, 1] = out[0, 1, 1] = out[2, 1, 1] = True
    return out
