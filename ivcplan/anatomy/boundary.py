"""Vessel outlines settled on the scan's own grid, at half the contrast between the blood and what
surrounds it.

The vessels are segmented on the working grid (in plane about twice the scan's pixel), so on the scan
grid their outline can be up to a working voxel off; and the blood band they were grown in reaches
down into the partial-volume rim. On a 20-30 mm vein a rim of one scan pixel is 10-20 % of its volume.
The edge of a blurred step lies where the attenuation is half way between its two sides: so, near the
outline, a voxel of a blood label is kept only where its (lightly smoothed) attenuation is at least half
way from the tissue just outside the vessel to the blood just inside it, both measured locally. (The
organs' edges are re-decided on the scan grid too, `frame.refine_edges`, by one HU window per organ:
a vessel's surroundings change along it, from fat to liver to kidney, so its edge needs local levels.)

Only voxels are removed, never added (growing outwards would follow any bright neighbour), and only
where the blood stands out from its surroundings by `MIN_CONTRAST_HU` (a vein isodense with the liver
behind it has no edge to find). Tumor and thrombus are not blood: they are never removed, and a lumen
voxel against them lies inside the vessel, not on its outline.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ivcplan.anatomy.frame import block_mean
from ivcplan.anatomy.morphology import local_mean

#: Only voxels within this distance (mm) of the outline are reconsidered (the working grid's half voxel
#: and the blood band's rim; what lies deeper is the vessel's core).
BAND_MM = 2.5
#: The blood's and the surroundings' levels are measured over this shell (mm) inside and outside the
#: outline, beyond the band ...
SHELL_MM = 3.0
#: ... averaged locally with this Gaussian (sigma, mm): the surroundings change along a vessel (fat,
#: liver, kidney, psoas).
LOCAL_SIGMA_MM = 4.0
#: Smoothing (sigma, mm) of the attenuation each voxel is judged by (noise).
VOXEL_SIGMA_MM = 0.7
#: The levels are measured on blocks of about this size (mm): they vary slowly.
LEVEL_GRID_MM = 1.5
#: Where blood and surroundings differ by less than this (HU) nothing is removed.
MIN_CONTRAST_HU = 25.0
#: Nothing is removed within this distance (mm) of a branch vein's mouth or of a tumor.
KEEP_MM = 10.0
#: The edge: this share of the way from the surroundings' level to the blood's.
EDGE_SHARE = 0.5


def refine_outline(hu: np.ndarray, labels: np.ndarray, spacing: np.ndarray, blood: tuple[int, ...],
                   vessel: tuple[int, ...], branches: tuple[int, ...] = (), keep: tuple[int, ...] = ()) -> np.ndarray:
    """The voxels of the ``blood`` labels (a subset of ``vessel``) to remove from ``labels``: those in
    the `BAND_MM` inside the outline of the ``vessel`` labels' union whose attenuation lies less than
    `EDGE_SHARE` of the way from the local surroundings' level to the local blood level, but none within
    `KEEP_MM` of where a ``branches`` label meets the rest of the vessel (a branch vein's ostium is
    measured on its contact with the IVC: a rim removed there would part them) or of a ``keep`` label
    (a tumor: the lumen left beside it is a thin, blurred channel, all rim, and whether it is open
    decides the plan). ``hu`` and ``labels`` share one grid of ``spacing`` (mm per axis)."""
    spacing = np.asarray(spacing, dtype=float)
    out = np.zeros(labels.shape, dtype=bool)
    reach = np.ceil((BAND_MM + SHELL_MM + 3 * LOCAL_SIGMA_MM) / spacing).astype(int)
    objects = ndimage.find_objects(labels)
    # Each blood label on its own box (a long IVC and the renal veins leaving it sideways would make one
    # box of mostly empty space); the vessel they outline is the union of every vessel label there.
    for value in blood:
        if value > len(objects) or objects[value - 1] is None:
            continue
        box = tuple(slice(max(sl.start - r, 0), min(sl.stop + r, n))
                    for sl, r, n in zip(objects[value - 1], reach, labels.shape, strict=True))
        out[box] |= _settle(hu[box], labels[box], spacing, value, vessel, branches, keep)
    return out


def _settle(hu: np.ndarray, lab: np.ndarray, spacing: np.ndarray, value: int, vessel: tuple[int, ...],
            branches: tuple[int, ...], keep: tuple[int, ...]) -> np.ndarray:
    """`refine_outline` for the voxels of one blood label ``value`` on one box."""
    lut = np.zeros(256, dtype=bool)
    lut[list(vessel)] = True
    inside = lut[lab]
    is_blood = lab == value
    # Within `BAND_MM` of the outside (a box, not a ball: separable, and the band only bounds the search).
    size = 2 * np.floor(BAND_MM / spacing + 1e-6).astype(int) + 1
    band = is_blood & ~ndimage.minimum_filter(inside, size=tuple(size), mode="nearest")
    drop = np.zeros(lab.shape, dtype=bool)
    if not band.any():
        return drop
    values = hu.astype(np.float32)
    # The levels vary slowly: measured on blocks of about `LEVEL_GRID_MM`, read at the band's voxels.
    factors = np.maximum(1, np.round(LEVEL_GRID_MM / spacing)).astype(int)
    blood_level, around = _levels(block_mean(values, tuple(factors)), block_mean(inside, tuple(factors)) >= 0.5,
                                  block_mean(is_blood, tuple(factors)) >= 0.5, spacing * factors)
    idx = np.nonzero(band)
    at = [(i + 0.5) / f - 0.5 for i, f in zip(idx, factors, strict=True)]
    level_in = ndimage.map_coordinates(blood_level, at, order=1, mode="nearest")
    level_out = ndimage.map_coordinates(around, at, order=1, mode="nearest")
    smooth = ndimage.gaussian_filter(values, VOXEL_SIGMA_MM / spacing, truncate=2.0)[idx]
    contrast = level_in - level_out
    with np.errstate(invalid="ignore"):
        gone = (contrast >= MIN_CONTRAST_HU) & (smooth < level_out + EDGE_SHARE * contrast)
    if branches or keep:
        lut[:] = False
        lut[list(branches)] = True
        branch = lut[lab]
        guarded = branch & ndimage.binary_dilation(inside & ~branch)  # the mouths
        lut[:] = False
        lut[list(keep)] = True
        guarded |= lut[lab]
        if guarded.any():
            gone &= ndimage.distance_transform_edt(~guarded, sampling=spacing)[idx] > KEEP_MM
    drop[tuple(i[gone] for i in idx)] = True
    return drop


def _levels(values: np.ndarray, inside: np.ndarray, blood: np.ndarray,
            spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local blood level (the shell beyond the band inside the outline, or a thin vessel's brighter
    half) and surroundings' level (the shell outside the partial-volume rim), on one coarse grid."""
    depth_in = ndimage.distance_transform_edt(inside, sampling=spacing)
    depth_out = ndimage.distance_transform_edt(~inside, sampling=spacing)
    core = blood & (depth_in > BAND_MM) & (depth_in <= BAND_MM + SHELL_MM)
    ring = (depth_out > 1.0) & (depth_out <= 1.0 + SHELL_MM)
    # A thin vessel has no core beyond the band: its level is then its own brightest half.
    thin = blood & ~ndimage.binary_dilation(core, iterations=2)
    if thin.any():
        core |= thin & (values >= np.median(values[thin]))
    sigma = LOCAL_SIGMA_MM / spacing
    return local_mean(values, core, sigma), local_mean(values, ring, sigma)
