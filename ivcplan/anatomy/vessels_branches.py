"""Where the IVC begins and ends: the common iliac veins below the confluence and the right atrium
above the cavoatrial junction. Both are found from the tracked IVC on an enhanced scan, as the
blood-like tissue connected to it (a Y below, a large chamber above).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ivcplan.anatomy.vessels_track import Track
from ivcplan.volume import label_mask

#: Voxels within this of the venous blood level (HU; or 2.5 noise SDs if larger) are blood.
BLOOD_TOL_HU = 25.0
#: A cross-section blob smaller than this (mm^2) is partial volume or a small side branch.
MIN_BLOB_MM2 = 40.0
#: The iliac veins are looked for this far (mm) to each side of the lowest IVC centre.
ILIAC_SEARCH_MM = (70.0, 100.0)  # (to the right, to the left)
#: Slices at the bottom of the track examined for the confluence (mm above the lowest slice), and
#: below it (mm: the track may begin at the confluence).
ILIAC_SEARCH_HEIGHT_MM = 90.0
ILIAC_BELOW_TRACK_MM = 30.0
#: The iliac veins' blood lies within BLOOD_TOL_HU of the track's levels over the search height and over
#: its lowest this many mm (or between them).
ILIAC_LEVEL_MM = 30.0
#: The two iliac vessels: sizes within this ratio, centres at most this far apart left-right (mm).
PAIR_SIZE_RATIO = 3.0
PAIR_MAX_GAP_MM = 80.0
#: A chamber: the blood cross-section exceeds this multiple of the normal IVC cross-section.
ATRIUM_AREA_FACTOR = 2.5
#: A chamber cross-section fills at least this fraction of its bounding ellipse (compact, not branched).
CHAMBER_FILL = 0.7
#: ... or, a blob this many times the normal section, whatever its shape (the atrium merged with
#: neighbouring chambers through their walls); at most (1 + MERGED_CHAMBERS) x the atrium disc.
MERGED_AREA_FACTOR = 5.0
MERGED_CHAMBERS = 2.0
#: The blob under the track is the one overlapping most a disc of this radius (mm) at its centre.
TRACK_DISC_MM = 4.0
#: The IVC track runs on at most this far (mm) above a genuine cavoatrial junction.
MAX_TRACK_ABOVE_JUNCTION_MM = 90.0
#: The junction is looked for from this far (mm) below the top of the track.
ATRIUM_SEARCH_BELOW_MM = 130.0
#: The chamber's centre lies within this distance (mm) of the IVC track.
CHAMBER_REACH_MM = 35.0
#: The right atrium is taken within this distance (mm) of the cavoatrial junction centre.
ATRIUM_RADIUS_MM = 45.0
#: Slices examined above the junction for the atrium (mm).
ATRIUM_HEIGHT_MM = 70.0


@dataclass(frozen=True)
class Ends:
    iliac_right: np.ndarray
    iliac_left: np.ndarray
    atrium: np.ndarray
    confluence_z: int | None  # first working slice of the single IVC lumen
    junction_z: int | None  # first working slice of the atrium
    notes: tuple[str, ...] = ()


def _blood(hu: np.ndarray, *levels: float) -> np.ndarray:
    """Voxels within `BLOOD_TOL_HU` of the levels (or between them)."""
    return (hu >= min(levels) - BLOOD_TOL_HU) & (hu <= max(levels) + BLOOD_TOL_HU)


def find_iliac_veins(smooth: np.ndarray, track: Track, ivc: np.ndarray, forbidden: np.ndarray,
                     spacing: np.ndarray, top: int | None = None) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Right and left common iliac veins below the confluence, and the confluence slice (at or below
    ``top``)."""
    right = np.zeros_like(ivc)
    left = np.zeros_like(ivc)
    z_start = int(track.z.min())
    z_hi = min(int(track.z.max()), z_start + int(ILIAC_SEARCH_HEIGHT_MM / spacing[0]))
    if top is not None:
        z_hi = min(z_hi, int(top) + 1)
    # The track may begin at the confluence itself: the two veins are followed below it too.
    z_lo = max(0, z_start - int(ILIAC_BELOW_TRACK_MM / spacing[0]))
    if z_hi - z_start < 1:
        return right, left, None
    k_lo = [k for k, z in enumerate(track.z) if z <= z_hi]
    # The iliac veins carry the blood of the track's lower end: infrarenal blood is often less enhanced than
    # the renal inflow above it, so the level over the whole search height may miss them by 50 HU or more.
    # Both levels are kept (blood between them too): over a few thick slices the lower end's level is noisy.
    k_end = [k for k, z in enumerate(track.z) if z <= min(z_hi, z_start + int(ILIAC_LEVEL_MM / spacing[0]))]
    levels = (float(np.median(track.inside_hu[k_lo])), float(np.median(track.inside_hu[k_end or k_lo])))
    cy, cx = float(np.median(track.y[k_lo])), float(np.median(track.x[k_lo]))
    y0 = max(int(cy - 45 / spacing[1]), 0)
    y1 = min(int(cy + 45 / spacing[1]) + 1, ivc.shape[1])
    x0 = max(int(cx - ILIAC_SEARCH_MM[0] / spacing[2]), 0)
    x1 = min(int(cx + ILIAC_SEARCH_MM[1] / spacing[2]) + 1, ivc.shape[2])
    sub = _blood(smooth[z_lo:z_hi + 1, y0:y1, x0:x1], *levels) & ~forbidden[z_lo:z_hi + 1, y0:y1, x0:x1]
    sub |= ivc[z_lo:z_hi + 1, y0:y1, x0:x1]
    lab, _ = ndimage.label(sub)
    hit = np.unique(lab[ivc[z_lo:z_hi + 1, y0:y1, x0:x1]])
    hit = hit[hit > 0]
    if hit.size == 0:
        return right, left, None
    comp = label_mask(lab, hit)
    min_px = MIN_BLOB_MM2 / (spacing[1] * spacing[2])
    counts = []
    blobs_per_slice = []
    for i in range(comp.shape[0]):
        bl, n = ndimage.label(comp[i])
        sizes = ndimage.sum_labels(comp[i], bl, index=np.arange(1, n + 1)) if n else np.array([])
        big = [j + 1 for j in range(n) if sizes[j] >= min_px]
        counts.append(2 if _side_by_side(bl, big, sizes, spacing) else min(len(big), 1))
        blobs_per_slice.append((bl, big))
    # The confluence: just above the highest slice where the vein is still two lumens (searching
    # down from the top is robust to the two iliac veins touching again lower down).
    split = [i for i, c in enumerate(counts) if c >= 2]
    # Two veins on at least two slices right below, and a single one on the slice above.
    if len(split) < 2 or split[-1] + 1 >= len(counts) or counts[split[-1] - 1] < 2:
        return right, left, None
    conf = split[-1] + 1
    for i in range(conf):
        bl, big = blobs_per_slice[i]
        if len(big) < 2:
            continue
        # Patient's right is smaller x (the working frame's x runs to the patient's left).
        order = sorted(big, key=lambda j: float(np.mean(np.nonzero(bl == j)[1])))
        right[z_lo + i, y0:y1, x0:x1] = bl == order[0]
        left[z_lo + i, y0:y1, x0:x1] = bl == order[-1]
    return right, left, z_lo + conf


def _side_by_side(bl: np.ndarray, big: list[int], sizes: np.ndarray, spacing: np.ndarray) -> bool:
    """Two blobs of comparable size next to each other left-right (a pair of iliac vessels)."""
    if len(big) < 2:
        return False
    two = sorted(big, key=lambda j: -sizes[j - 1])[:2]
    a, b = sizes[two[0] - 1], sizes[two[1] - 1]
    if a > PAIR_SIZE_RATIO * b:
        return False
    ca = np.array(ndimage.center_of_mass(bl == two[0]))
    cb = np.array(ndimage.center_of_mass(bl == two[1]))
    dy, dx = abs(ca[0] - cb[0]) * spacing[1], abs(ca[1] - cb[1]) * spacing[2]
    return dx >= dy and dx <= PAIR_MAX_GAP_MM


def find_atrium(smooth: np.ndarray, track: Track, ivc: np.ndarray, forbidden: np.ndarray,
                spacing: np.ndarray) -> tuple[np.ndarray, int | None]:
    """The right atrium: the large blood chamber the IVC opens into at the top of its track."""
    atrium = np.zeros_like(ivc)
    area = ivc.reshape(ivc.shape[0], -1).sum(axis=1)
    normal = float(np.median(area[track.z])) if track.z.size else 0.0
    if normal <= 0:
        return atrium, None
    level = float(np.percentile(track.inside_hu, 90))  # blood, even when a tumor fills much of the vein
    z_top = int(track.z.max())
    # Look from well below the top of the track (which may run on into the superior vena cava).
    z0 = max(int(track.z.min()), z_top - int(ATRIUM_SEARCH_BELOW_MM / spacing[0]))
    z1 = min(ivc.shape[0], z_top + int(ATRIUM_HEIGHT_MM / spacing[0]) + 1)
    blood = _blood(smooth[z0:z1], level) & ~forbidden[z0:z1]
    seed = ivc[z0:z1] & blood  # the blood in the vein (a tumor-filled stretch is no chamber)
    lab, _ = ndimage.label(blood | seed)
    hit = np.unique(lab[seed])
    hit = hit[hit > 0]
    if hit.size == 0:
        return atrium, None
    comp = label_mask(lab, hit)
    # The junction: from this slice up, the blood blob at the vein is a chamber: large, and compact
    # (hepatic veins joining the IVC make it larger but branched) unless very large (an atrium
    # touching the other chambers through their walls' partial volume).
    chamber = np.zeros(comp.shape[0], dtype=bool)
    centre = np.full((comp.shape[0], 2), np.nan)
    max_px = np.pi * ATRIUM_RADIUS_MM**2 / (spacing[1] * spacing[2])
    yy, xx = np.ogrid[0:ivc.shape[1], 0:ivc.shape[2]]
    for i in range(comp.shape[0]):
        z = z0 + i
        k = int(np.argmin(np.abs(track.z - z)))
        bl, n = ndimage.label(comp[i])
        if n == 0:
            continue
        # The blob under the track: the one overlapping most a small disc at its centre (the
        # centre voxel alone may sit on the wall or on noise).
        disc = np.hypot((yy - track.y[k]) * spacing[1], (xx - track.x[k]) * spacing[2]) <= TRACK_DISC_MM
        under = np.bincount(bl[disc & (bl > 0)], minlength=n + 1)
        if under.max() == 0:
            continue
        blob = bl == int(np.argmax(under))
        npx = int(blob.sum())
        if npx <= ATRIUM_AREA_FACTOR * normal or npx > max_px * (1.0 + MERGED_CHAMBERS):
            continue
        ys, xs = np.nonzero(blob)
        fill = npx / (np.pi / 4 * (np.ptp(ys) + 1) * (np.ptp(xs) + 1))
        if fill >= CHAMBER_FILL or npx >= MERGED_AREA_FACTOR * normal:
            chamber[i] = True
            centre[i] = (ys.mean(), xs.mean()) if fill >= CHAMBER_FILL else (track.y[k], track.x[k])
    junction = None
    for i in range(comp.shape[0] - 2):
        # The atrium is where the vein ends: the track may run on only a little above it. Two of
        # three slices suffice (one may be lost to a wall or to noise).
        if chamber[i] and chamber[i:i + 3].sum() >= 2 and \
                (z_top - (z0 + i)) * spacing[0] <= MAX_TRACK_ABOVE_JUNCTION_MM:
            junction = i
            break
    if junction is None:
        return atrium, None
    z_j = z0 + junction
    cy, cx = centre[junction]
    yy, xx = np.ogrid[0:ivc.shape[1], 0:ivc.shape[2]]
    near = np.hypot((yy - cy) * spacing[1], (xx - cx) * spacing[2])
    for i in range(junction, comp.shape[0]):
        z = z0 + i
        dz = (z - z_j) * spacing[0]
        atrium[z] = comp[i] & (np.sqrt(near**2 + dz**2) <= ATRIUM_RADIUS_MM + dz)
    # Keep what connects to the junction.
    lab2, _ = ndimage.label(atrium)
    first = np.unique(lab2[z_j][atrium[z_j]])
    atrium = label_mask(lab2, first[first > 0])
    return atrium, z_j


def find_ends(hu: np.ndarray, track: Track, ivc: np.ndarray, forbidden: np.ndarray, spacing: np.ndarray,
              *, enhanced: bool, iliac_top: int | None = None, blood_forbidden: np.ndarray | None = None) -> Ends:
    """Iliac veins and the right atrium; the confluence is looked for at or below ``iliac_top``
    (working slice), and not at all when it is None (the aorta does not divide within the scan).
    ``blood_forbidden``: voxels that are never an iliac vein nor the atrium (default ``forbidden``):
    their blood is taken in a narrow band around the vein's own level, which may lie above the bone
    threshold (bright inflow; the atrium's mixed blood at 200+ HU), so there only what is known not to
    be blood (the vertebrae, the aorta) is excluded."""
    empty = np.zeros_like(ivc)
    if not enhanced or track.z.size < 3:
        return Ends(empty, empty, empty, None, None,
                    ("iliac veins and right atrium need an enhanced scan: not segmented",) if not enhanced else ())
    smooth = ndimage.gaussian_filter(hu, sigma=(0.0, 1.0, 1.0))
    bright_forbidden = forbidden if blood_forbidden is None else blood_forbidden
    right, left, conf = (empty, empty, None) if iliac_top is None else \
        find_iliac_veins(smooth, track, ivc, bright_forbidden, spacing, top=iliac_top)
    atrium, junction = find_atrium(smooth, track, ivc, bright_forbidden, spacing)
    return Ends(right, left, atrium, conf, junction)
