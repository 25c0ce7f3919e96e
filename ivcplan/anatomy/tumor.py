"""Tumor and bland thrombus inside the IVC: split the delineated IVC by enhancement and calibre.

On a contrast scan the lumen is the enhanced part of the IVC; the rest is a filling defect. A
defect that expands the vein beyond its normal calibre is tumor (leiomyosarcoma enhances less
than the lumen, 40-90 HU, with necrotic 10-30 HU parts); one that does not is bland thrombus. On a
non-contrast scan nothing can be told apart by attenuation: the whole IVC stays lumen unless the
user gave tumor seeds (then the seeded, expanded stretch is tumor) and a warning says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: A filling defect is at least this much darker (HU) than the enhanced lumen.
DEFECT_MARGIN_HU = 45.0
#: Enhanced lumen must exceed this (HU) for a defect to be measurable at all.
MIN_LUMEN_HU = 100.0
#: Expansion: a defect whose vein cross-section exceeds this factor of the normal calibre is tumor.
EXPANSION_FACTOR = 1.4
#: Defects smaller than this (ml) are noise or partial volume at the wall.
MIN_DEFECT_ML = 0.3
#: Soft tissue never denser than this is a defect candidate; fat below the lower bound is excluded.
DEFECT_HU_RANGE = (-15.0, 110.0)


@dataclass(frozen=True)
class IvcParts:
    lumen: np.ndarray
    tumor: np.ndarray
    thrombus: np.ndarray
    lumen_hu: float
    note: str = ""


def split_ivc(hu: np.ndarray, ivc: np.ndarray, spacing: np.ndarray, *, contrast: bool,
              tumor_seeds: np.ndarray | None = None) -> IvcParts:
    """Split the IVC mask (working grid) into lumen, tumor and thrombus."""
    empty = np.zeros_like(ivc)
    vox_ml = float(np.prod(spacing)) / 1000.0
    area = ivc.reshape(ivc.shape[0], -1).sum(axis=1).astype(float)
    if not ivc.any():
        return IvcParts(ivc, empty, empty, float("nan"), "no IVC")
    smooth = ndimage.gaussian_filter(hu, sigma=(0.0, 1.0, 1.0))
    lumen_hu = float(np.percentile(hu[ivc], 75))
    present = area[area > 0]
    normal_area = float(np.percentile(present, 35))  # most of a vein is of normal calibre
    if not contrast or lumen_hu < MIN_LUMEN_HU:
        if tumor_seeds is None or len(tumor_seeds) == 0:
            return IvcParts(ivc, empty, empty, lumen_hu, "lumen not enhanced: tumor not separable")
        # Seeded, non-enhanced: the expanded stretch around the seeds is tumor.
        tumor = np.zeros_like(ivc)
        seed_z = {int(np.rint(s[0])) for s in tumor_seeds}
        expanded = area > EXPANSION_FACTOR * normal_area
        for z0 in seed_z:
            z_lo = z_hi = z0
            while z_lo - 1 >= 0 and expanded[z_lo - 1]:
                z_lo -= 1
            while z_hi + 1 < ivc.shape[0] and expanded[z_hi + 1]:
                z_hi += 1
            tumor[z_lo:z_hi + 1] |= ivc[z_lo:z_hi + 1]
        return IvcParts(ivc & ~tumor, tumor, empty, lumen_hu, "tumor from seeds only (no enhancement)")
    defect = ivc & (smooth < lumen_hu - DEFECT_MARGIN_HU) & (smooth > DEFECT_HU_RANGE[0])
    defect = ndimage.binary_opening(defect, structure=np.ones((1, 3, 3), bool))
    lab, n = ndimage.label(defect)
    tumor = np.zeros_like(ivc)
    thrombus = np.zeros_like(ivc)
    seeded = set()
    if tumor_seeds is not None:
        for s in np.asarray(tumor_seeds).reshape(-1, 3):
            idx = tuple(np.clip(np.round(s).astype(int), 0, np.asarray(ivc.shape) - 1))
            if lab[idx] > 0:
                seeded.add(int(lab[idx]))
    for i in range(1, n + 1):
        comp = lab == i
        if comp.sum() * vox_ml < MIN_DEFECT_ML and i not in seeded:
            continue
        zs = np.nonzero(comp.reshape(comp.shape[0], -1).any(axis=1))[0]
        expanded = float(np.max(area[zs])) > EXPANSION_FACTOR * normal_area
        if expanded or i in seeded:
            # The tumor is the whole expanded stretch: residual lumen islands inside stay lumen.
            tumor |= comp
        else:
            thrombus |= comp
    tumor = ndimage.binary_closing(tumor, structure=np.ones((1, 3, 3), bool)) & ivc
    thrombus &= ~tumor
    lumen = ivc & ~tumor & ~thrombus
    return IvcParts(lumen, tumor, thrombus, lumen_hu)
