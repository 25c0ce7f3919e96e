"""Small geometric helpers shared by the anatomy modules: structuring elements in mm, bounding boxes."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def ball(radius_mm: float, spacing: np.ndarray, planar: bool = False) -> np.ndarray:
    """Boolean ellipsoid of ``radius_mm`` on voxels of ``spacing`` (any number of axes); ``planar``
    keeps axis 0 to one voxel (an in-plane disc with a leading axis of length 1)."""
    spacing = np.asarray(spacing, dtype=float)
    r = np.maximum(np.floor(radius_mm / spacing + 1e-6), 0).astype(int)
    if planar:
        r[0] = 0
    grids = np.ogrid[tuple(slice(-k, k + 1) for k in r)]
    dist = sum((g * s / max(radius_mm, 1e-6)) ** 2 for g, s in zip(grids, spacing, strict=True))
    return dist <= 1.0 + 1e-9


def bbox(mask: np.ndarray, margin: int | np.ndarray = 0) -> tuple[slice, ...] | None:
    """Slices of the box around ``mask``'s voxels, widened by ``margin`` voxels per axis and clipped to
    the array; None when the mask is empty."""
    nz = np.nonzero(mask)
    if nz[0].size == 0:
        return None
    pad = np.broadcast_to(np.asarray(margin, dtype=int), (mask.ndim,))
    return tuple(slice(max(int(v.min()) - int(m), 0), min(int(v.max()) + int(m) + 1, n))
                 for v, m, n in zip(nz, pad, mask.shape, strict=True))


def local_mean(values: np.ndarray, where: np.ndarray, sigma: np.ndarray, min_weight: float = 1e-3) -> np.ndarray:
    """Gaussian-weighted mean (``sigma`` in voxels per axis) of ``values`` over the ``where`` voxels around
    each voxel; NaN where their weight there is below ``min_weight`` (none of them near)."""
    weight = ndimage.gaussian_filter(where.astype(np.float32), sigma)
    total = ndimage.gaussian_filter(np.where(where, values, 0.0).astype(np.float32), sigma)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight >= min_weight, total / weight, np.nan).astype(np.float32)


def slice_hulls(mask: np.ndarray) -> np.ndarray:
    """Per slice (axis 0), the convex hull of ``mask`` (computed on each slice's box)."""
    from skimage.morphology import convex_hull_image  # here: skimage takes a while to import

    out = np.zeros_like(mask)
    for z in np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1)):
        box = bbox(mask[z], 1)
        out[z][box] = convex_hull_image(mask[z][box])
    return out
