"""Anatomical anchor of the vessel search: body outline and the vertebral column, per slice.

Works on the canonical working frame (axes S, P, L). The organs module owns the full body and
spine segmentations; this module only needs a robust per-slice position of the vertebral body.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Soft tissue and denser: the inside of the body.
BODY_HU = -350.0
#: Cortical and cancellous bone of the vertebrae.
BONE_HU = 180.0
#: The vertebral column lies within this distance (mm) of the body's left-right centre.
SPINE_MIDLINE_MM = 35.0
#: A vertebral cross-section covers at least this area (mm^2).
MIN_VERTEBRA_AREA_MM2 = 250.0
#: Body cross-sections narrower than this (mm) are not an adult trunk (head, neck, limbs).
MIN_TRUNK_WIDTH_MM = 200.0


@dataclass(frozen=True)
class SpineAnchor:
    """Per-slice vertebral body position in working-grid voxels (NaN where not found)."""

    present: np.ndarray  # (nz,) bool
    cx: np.ndarray  # left-right centre of the vertebral body (x index)
    y_anterior: np.ndarray  # anterior edge of the vertebral body (y index)
    y_centre: np.ndarray
    trunk: np.ndarray  # (nz,) bool: the slice shows a trunk (abdomen / chest / pelvis)

    @property
    def usable(self) -> np.ndarray:
        """Trunk slices with a vertebral position (measured, or interpolated across discs)."""
        return self.trunk & np.isfinite(self.cx) & np.isfinite(self.y_anterior)


def body_mask(hu: np.ndarray) -> np.ndarray:
    """Largest connected soft-tissue region, holes filled slice by slice (no table, no air)."""
    mask = hu > BODY_HU
    mask = ndimage.binary_opening(mask, structure=np.ones((1, 3, 3), bool))
    lab, n = ndimage.label(mask)
    if n == 0:
        return mask
    sizes = ndimage.sum_labels(mask, lab, index=np.arange(1, n + 1))
    mask = lab == (int(np.argmax(sizes)) + 1)
    out = np.empty_like(mask)
    for z in range(mask.shape[0]):
        out[z] = ndimage.binary_fill_holes(mask[z])
    return out


def find_spine(hu: np.ndarray, body: np.ndarray, spacing: np.ndarray) -> SpineAnchor:
    nz = hu.shape[0]
    present = np.zeros(nz, bool)
    trunk = np.zeros(nz, bool)
    cx = np.full(nz, np.nan)
    y_ant = np.full(nz, np.nan)
    y_c = np.full(nz, np.nan)
    px_area = float(spacing[1] * spacing[2])
    for z in range(nz):
        sl = body[z]
        if not sl.any():
            continue
        ys, xs = np.nonzero(sl)
        width = (xs.max() - xs.min() + 1) * spacing[2]
        if width < MIN_TRUNK_WIDTH_MM:
            continue
        trunk[z] = True
        body_cx = 0.5 * (xs.min() + xs.max())
        y_top, y_bot = ys.min(), ys.max()
        half = SPINE_MIDLINE_MM / spacing[2]
        x0, x1 = int(max(body_cx - half, 0)), int(min(body_cx + half + 1, sl.shape[1]))
        y0 = int(y_top + 0.4 * (y_bot - y_top))  # the spine is in the posterior part of the trunk
        bone = (hu[z, y0:y_bot + 1, x0:x1] > BONE_HU) & sl[y0:y_bot + 1, x0:x1]
        bone = ndimage.binary_closing(bone, structure=np.ones((3, 3), bool), iterations=2)
        lab, n = ndimage.label(bone)
        if n == 0:
            continue
        sizes = ndimage.sum_labels(bone, lab, index=np.arange(1, n + 1))
        best = int(np.argmax(sizes)) + 1
        if sizes[best - 1] * px_area < MIN_VERTEBRA_AREA_MM2:
            continue
        by, bx = np.nonzero(lab == best)
        # The vertebral body is the anterior part of the vertebra: take the bone within the central
        # third of its width to avoid the transverse processes and ribs.
        mid = np.median(bx)
        central = np.abs(bx - mid) < max(3.0, 0.2 * (bx.max() - bx.min() + 1))
        present[z] = True
        cx[z] = mid + x0
        y_ant[z] = float(np.percentile(by[central], 2)) + y0
        y_c[z] = float(np.percentile(by[central], 30)) + y0
    # Smooth along z: a vertebral column is a gently curved tube.
    for arr in (cx, y_ant, y_c):
        _fill_and_smooth(arr, present)
    return SpineAnchor(present, cx, y_ant, y_c, trunk)


def _fill_and_smooth(arr: np.ndarray, valid: np.ndarray, size: int = 5) -> None:
    if valid.sum() < 2:
        return
    idx = np.nonzero(valid)[0]
    filled = np.interp(np.arange(arr.size), idx, arr[idx])
    smooth = ndimage.median_filter(filled, size=size, mode="nearest")
    arr[:] = np.where(np.arange(arr.size) < idx[0], np.nan, np.where(np.arange(arr.size) > idx[-1], np.nan, smooth))
