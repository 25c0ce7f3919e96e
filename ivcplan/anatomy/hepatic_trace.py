"""Hepatic veins traced from the IVC wall into the liver, for scans where they are only faintly
brighter than the parenchyma.

In the portal-venous phase the hepatic veins are often only 10-30 HU above the liver (the contrast
reaches them last), well below the IVC lumen the blood band of ``veins`` is measured on, and
voxel by voxel they overlap the parenchyma's noise and texture. Along their course, though, they are
consistently brighter: a ray from the IVC wall that runs inside a vein averages many samples, and
stands out against the rays through parenchyma around it. So:

1. the parenchyma's level and spread are measured on this scan (the liver beside the IVC);
2. from the IVC wall, on every slice of the ostia window, rays are cast over azimuth and elevation;
   each is scored by its mean (smoothed) attenuation over its first `RAY_MM` inside the liver;
3. a vein is a cluster of rays (in slice and azimuth) whose score stands out from all the rays' own
   distribution (`RAY_OUTLIER_SD` robust SDs, at least `MIN_RAY_CONTRAST_HU` above the parenchyma):
   its ostium is the wall point of its best ray;
4. from there the vein is followed step by step into the liver while the next stretch stays
   brighter than the parenchyma, and delineated around that path.

Portal veins are not traced: they do not open into the IVC, so no ray from its wall runs inside one
from the start (rays must be bright from the wall outwards).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

log = logging.getLogger(__name__)

#: Smoothing (mm, Gaussian sigma) before sampling: noise down, a 7-15 mm vein keeps its contrast.
SMOOTH_MM = 1.5
#: Rays are scored over this length (mm) from the IVC wall: long enough to average the noise, short
#: enough for the veins' first, nearly straight stretch.
RAY_MM = 24.0
#: Rays and the delineation skip this much (mm) next to the IVC: its blurred wall is bright.
WALL_SKIP_MM = 4.5
#: Beyond `MOUTH_MM` from its ostium a vein's label keeps this far (mm) from the IVC.
MOUTH_MM = 6.0
CLEAR_MM = 8.0
#: Sample step along rays and paths (mm).
STEP_MM = 1.5
#: Azimuth step (degrees) of the rays.
AZIMUTH_STEP_DEG = 6.0
#: Elevations (degrees; negative = going down away from the IVC): hepatic veins reach the IVC from
#: below and from the side (docs/clinical.md: they run up and back to the IVC).
ELEVATIONS_DEG = (-60.0, -45.0, -30.0, -15.0, 0.0, 15.0)
#: A ray counts only when at least this share of its samples lie in the (widened) liver.
IN_LIVER_SHARE = 0.8
#: A vein's rays stand out from the rays' distribution by this many robust SDs ...
RAY_OUTLIER_SD = 2.5
#: The rays' spread is measured on those within this much (HU) of the parenchyma level.
RAY_SPREAD_WINDOW_HU = 40.0
#: ... and lie at least this much (HU) above the parenchyma (below this, nothing is told apart).
MIN_RAY_CONTRAST_HU = 8.0
#: One ostium per this neighbourhood: along the IVC (mm, either way) and around it (degrees, either way).
NMS_MM = 3.0
NMS_DEG = 18.0
#: A major hepatic vein is followed at least this far (mm) into the liver (short caudate veins and
#: bright specks are not).
MIN_TRACE_MM = 30.0
#: ... and its end lies at least this much (mm) further from the IVC axis than its ostium (what runs
#: along the IVC is its own lumen outside the mask, or the atrium).
MIN_REACH_MM = 15.0
#: Tracking: each step looks this far ahead (mm), within this cone (degrees) of the current direction.
LOOKAHEAD_MM = 9.0
CONE_DEG = 30.0
#: Tracking step (mm) and the vein's traced length at most (mm).
TRACK_STEP_MM = 3.0
MAX_TRACE_MM = 90.0
#: Tracking stops where the stretch ahead is less than this share of the vein's contrast at its ostium.
TRACK_CONTRAST_SHARE = 0.6
#: The vein is delineated within this distance (mm) of its path ...
TUBE_MM = 5.0
#: ... as the voxels more than this share of the way from the parenchyma to the vein's own level.
TUBE_CONTRAST_SHARE = 0.7


@dataclass(frozen=True)
class TracedVein:
    """One traced vein: ostium (working voxel), azimuth (degrees: 0 left, 90 anterior, 180 right),
    contrast above the parenchyma (HU), traced length (mm) and its mask on the box."""

    ostium: tuple[float, float, float]
    azimuth_deg: float
    contrast_hu: float
    length_mm: float
    mask: np.ndarray


def trace_hepatic_veins(hu: np.ndarray, spacing: np.ndarray, ivc: np.ndarray, centres: np.ndarray,
                        liver: np.ndarray, region: np.ndarray, blocked: np.ndarray,
                        z_range: tuple[int, int]) -> list[TracedVein]:
    """Veins opening into ``ivc`` on slices ``z_range`` (inclusive), running inside ``region`` (the
    widened ``liver``) and never through ``blocked``. All arrays are one box of the working grid;
    ``centres``: (n_slices, 2) IVC axis (y, x) per slice of the box, NaN where none."""
    spacing = np.asarray(spacing, dtype=float)
    sm = ndimage.gaussian_filter(hu.astype(np.float32), sigma=SMOOTH_MM / spacing)
    z0, z1 = z_range
    parenchyma = liver & ~blocked & ~ivc
    parenchyma[: max(z0, 0)] = False
    parenchyma[z1 + 1:] = False
    if np.count_nonzero(parenchyma) < 100:
        return []
    level = float(np.median(sm[parenchyma]))
    allowed = region & ~blocked
    dist_ivc = ndimage.distance_transform_edt(~ivc, sampling=spacing)
    wall = dist_ivc <= WALL_SKIP_MM
    beside = dist_ivc <= CLEAR_MM
    rays = _ray_scores(sm, spacing, ivc, centres, allowed, liver, z0, z1)
    if rays is None:
        return []
    score, start, direction = rays
    valid = np.isfinite(score)
    if np.count_nonzero(valid) < 20:
        return []
    best = np.where(valid, score, -np.inf).max(axis=2)  # (slices, azimuths): best elevation
    # The spread of the ray means through parenchyma: a robust SD of all rays within
    # `RAY_SPREAD_WINDOW_HU` of the parenchyma level (the veins are a small share of them; lesions,
    # fissures and the liver's edge lie further off).
    every = score[valid]
    near = every[np.abs(every - level) <= RAY_SPREAD_WINDOW_HU]
    if near.size < 20:
        return []
    centre = float(np.median(near))
    sd = 1.4826 * float(np.median(np.abs(near - centre)))
    threshold = max(centre + RAY_OUTLIER_SD * sd, level + MIN_RAY_CONTRAST_HU)
    log.debug("hepatic rays: parenchyma %.0f HU, rays %.0f +- %.1f HU, threshold %.0f HU", level, centre, sd, threshold)
    # Candidate ostia: the best ray of each neighbourhood (`NMS_MM` along the IVC, `NMS_DEG` around it).
    size = (max(1, round(2 * NMS_MM / spacing[0])) + 1, 2 * round(NMS_DEG / AZIMUTH_STEP_DEG) + 1)
    filled = np.where(np.isfinite(best), best, -1e4)
    peak = (filled == ndimage.maximum_filter(filled, size=size, mode=("nearest", "wrap"))) & (best >= threshold)
    out: list[TracedVein] = []
    for i, j in sorted(np.argwhere(peak).tolist(), key=lambda ij: -best[ij[0], ij[1]]):
        e = int(np.argmax(np.where(valid[i, j], score[i, j], -np.inf)))
        contrast = float(best[i, j]) - level
        path = _track(sm, spacing, allowed, start[i, j, e], direction[i, j, e], level, contrast)
        length = float(np.sum(np.linalg.norm(np.diff(path, axis=0) * spacing, axis=1))) if len(path) > 1 else 0.0
        if length < MIN_TRACE_MM or _reach(path, centres, spacing) < MIN_REACH_MM:
            continue
        # Only the vein's mouth lies against the IVC: elsewhere its label keeps `CLEAR_MM` off the wall
        # (where it touches the IVC is where the ostium is measured, measure/landmarks).
        mask = _tube(sm, spacing, allowed & ~wall, beside, path, level + TUBE_CONTRAST_SHARE * contrast)
        if not mask.any():
            continue
        az = float(j * AZIMUTH_STEP_DEG)
        az = az - 360.0 if az > 180.0 else az
        out.append(TracedVein(tuple(float(v) for v in start[i, j, e]), az, contrast, length, mask))
    return out


def _reach(path: np.ndarray, centres: np.ndarray, spacing: np.ndarray) -> float:
    """How far (mm, in plane) the path's end lies from the IVC axis on its slice, beyond its start's
    distance: a hepatic vein runs out into the liver, not along the IVC."""
    valid = np.flatnonzero(np.isfinite(centres[:, 0]))
    if valid.size == 0:
        return 0.0

    def off(p: np.ndarray) -> float:
        z = int(valid[np.argmin(np.abs(valid - p[0]))])
        return float(np.hypot((p[1] - centres[z, 0]) * spacing[1], (p[2] - centres[z, 1]) * spacing[2]))

    return off(path[-1]) - off(path[0])


def _ray_scores(sm: np.ndarray, spacing: np.ndarray, ivc: np.ndarray, centres: np.ndarray, allowed: np.ndarray,
                liver: np.ndarray, z0: int, z1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Mean smoothed HU along rays from the IVC wall: arrays (slices, azimuths, elevations) of scores,
    and of wall points and unit directions (working voxel units: z, y, x). A ray is scored when it stays
    in ``allowed`` and runs mostly (`IN_LIVER_SHARE`) in the ``liver`` proper."""
    zs = [z for z in range(max(z0, 0), min(z1, sm.shape[0] - 1) + 1) if np.isfinite(centres[z, 0]) and ivc[z].any()]
    if not zs:
        return None
    az = np.radians(np.arange(0.0, 360.0, AZIMUTH_STEP_DEG))
    el = np.radians(np.asarray(ELEVATIONS_DEG))
    t = np.arange(WALL_SKIP_MM, WALL_SKIP_MM + RAY_MM + 1e-6, STEP_MM)
    # In plane: 0 = patient left (+x), 90 = anterior (-y); directions (azimuth, elevation, zyx) in voxels.
    uy, ux = -np.sin(az), np.cos(az)
    d_mm = np.stack(np.broadcast_arrays(np.sin(el)[None, :], np.cos(el)[None, :] * uy[:, None],
                                        np.cos(el)[None, :] * ux[:, None]), axis=-1)
    d_vox = d_mm / spacing
    score = np.full((sm.shape[0], az.size, el.size), np.nan, dtype=np.float32)
    start = np.zeros((sm.shape[0], az.size, el.size, 3))
    direction = np.broadcast_to(d_vox, (sm.shape[0], *d_vox.shape)).copy()
    allowed_f = allowed.astype(np.float32)
    liver_f = liver.astype(np.float32)
    for z in zs:
        cy, cx = centres[z]
        walls = np.array([_wall(ivc[z], cy, cx, a_y, a_x, spacing) for a_y, a_x in zip(uy, ux, strict=True)])
        origin = np.concatenate([np.full((az.size, 1), float(z)), walls], axis=1)  # (az, 3)
        start[z] = origin[:, None, :]
        pts = origin[:, None, None, :] + d_vox[:, :, None, :] * t[None, None, :, None]  # (az, el, t, 3)
        flat = pts.reshape(-1, 3).T
        ok = ndimage.map_coordinates(allowed_f, flat, order=0, mode="constant").reshape(pts.shape[:3])
        inl = ndimage.map_coordinates(liver_f, flat, order=0, mode="constant").reshape(pts.shape[:3])
        vals = ndimage.map_coordinates(sm, flat, order=1, mode="nearest").reshape(pts.shape[:3])
        good = (ok.min(axis=2) > 0) & (inl.mean(axis=2) >= IN_LIVER_SHARE)
        score[z][good] = vals.mean(axis=2)[good]
    return score, start, direction


def _wall(section: np.ndarray, cy: float, cx: float, uy: float, ux: float, spacing: np.ndarray) -> tuple[float, float]:
    """The last point of ``section`` (IVC on a slice) along the in-plane direction (uy, ux) from the axis."""
    r = np.arange(0.0, 40.0, 0.5)
    yy = cy + r * uy / spacing[1]
    xx = cx + r * ux / spacing[2]
    ok = (yy >= 0) & (yy < section.shape[0] - 0.5) & (xx >= 0) & (xx < section.shape[1] - 0.5)
    inside = np.zeros(r.size, dtype=bool)
    inside[ok] = section[np.round(yy[ok]).astype(int), np.round(xx[ok]).astype(int)]
    last = int(np.flatnonzero(inside)[-1]) if inside.any() else 0
    return float(yy[last]), float(xx[last])


def _track(sm: np.ndarray, spacing: np.ndarray, allowed: np.ndarray, start: np.ndarray, direction: np.ndarray,
           level: float, contrast: float) -> np.ndarray:
    """The vein's path (working voxel points) from its ostium: steps of `TRACK_STEP_MM` in the direction,
    within `CONE_DEG` of the last, whose next `LOOKAHEAD_MM` are brightest; until that stretch falls
    below `TRACK_CONTRAST_SHARE` of the ostium contrast or leaves the liver."""
    d = direction * spacing
    d /= np.linalg.norm(d)
    p = np.asarray(start, dtype=float) * spacing  # mm
    path = [p.copy()]
    t = np.arange(STEP_MM, LOOKAHEAD_MM + 1e-6, STEP_MM)
    limit = level + TRACK_CONTRAST_SHARE * contrast
    shape = np.array(sm.shape)
    for _ in range(int(MAX_TRACE_MM / TRACK_STEP_MM)):
        best_v, best_d = -np.inf, None
        for cand in _cone(d, np.radians(CONE_DEG)):
            pts = (p[:, None] + cand[:, None] * t[None, :]) / spacing[:, None]
            if np.any(pts < 0) or np.any(pts >= shape[:, None] - 1):
                continue
            if ndimage.map_coordinates(allowed.astype(np.float32), pts, order=0).min() < 1:
                continue
            v = float(ndimage.map_coordinates(sm, pts, order=1).mean())
            if v > best_v:
                best_v, best_d = v, cand
        if best_d is None or best_v < limit:
            break
        d = best_d
        p = p + TRACK_STEP_MM * d
        path.append(p.copy())
    return np.array(path) / spacing


def _cone(d: np.ndarray, half: float) -> list[np.ndarray]:
    """``d`` and eight unit directions at ``half`` and ``half / 2`` around it."""
    a = np.array([1.0, 0.0, 0.0]) if abs(d[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(d, a)
    u /= np.linalg.norm(u)
    v = np.cross(d, u)
    out = [d]
    for ang in (half / 2, half):
        for phi in np.radians(np.arange(0.0, 360.0, 90.0)):
            c = np.cos(ang) * d + np.sin(ang) * (np.cos(phi) * u + np.sin(phi) * v)
            out.append(c / np.linalg.norm(c))
    return out


def _tube(sm: np.ndarray, spacing: np.ndarray, allowed: np.ndarray, beside: np.ndarray, path: np.ndarray,
          floor: float) -> np.ndarray:
    """Voxels within `TUBE_MM` of the path, above ``floor``, connected to the path; ``beside`` the IVC
    only within `MOUTH_MM` of the path's start (the ostium)."""
    near = np.ones(sm.shape, dtype=bool)
    idx = np.clip(np.round(path).astype(int), 0, np.array(sm.shape) - 1)
    near[tuple(idx.T)] = False
    lo = np.maximum(idx.min(axis=0) - np.ceil(TUBE_MM / spacing).astype(int) - 1, 0)
    hi = np.minimum(idx.max(axis=0) + np.ceil(TUBE_MM / spacing).astype(int) + 2, sm.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    dist = ndimage.distance_transform_edt(near[box], sampling=spacing)
    axes = [(np.arange(sl.start, sl.stop) - path[0][k]) * spacing[k] for k, sl in enumerate(box)]
    mouth = (axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2][None, None, :] ** 2) <= MOUTH_MM**2
    cand = (dist <= TUBE_MM) & (sm[box] >= floor) & allowed[box] & (mouth | ~beside[box])
    seeds = ~near[box] & cand
    grown = ndimage.binary_propagation(seeds, mask=cand) if seeds.any() else cand & False
    out = np.zeros(sm.shape, dtype=bool)
    out[box] = grown
    return out
