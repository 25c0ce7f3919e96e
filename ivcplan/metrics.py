"""Segmentation accuracy metrics: Dice overlap and 95 % Hausdorff distance (mm).

``hausdorff95`` follows the usual (MedPy) definition: the larger of the two directed 95th
percentiles of the distances from each surface voxel of one mask to the other mask's surface,
in millimetres using the voxel spacing. Both functions take boolean arrays of one shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

#: Percentile of the surface distances reported as "95 % Hausdorff distance".
HD_PERCENTILE = 95.0


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"masks must have the same shape, got {a.shape} and {b.shape}")
    return a, b


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient 2|A&B|/(|A|+|B|); 1.0 when both masks are empty."""
    a, b = _pair(a, b)
    total = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    if total == 0:
        return 1.0
    return 2.0 * int(np.count_nonzero(a & b)) / total


def _surface(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask, border_value=0)


def surface_distances(a: np.ndarray, b: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    """Distances (mm) from every surface voxel of ``a`` to the surface of ``b``."""
    a, b = _pair(a, b)
    sb = _surface(b)
    dist = ndimage.distance_transform_edt(~sb, sampling=np.asarray(spacing, dtype=float))
    return dist[_surface(a)]


def hausdorff95(a: np.ndarray, b: np.ndarray, spacing: Sequence[float]) -> float:
    """95 % Hausdorff distance (mm): NaN if both masks are empty, inf if only one is."""
    a, b = _pair(a, b)
    has_a, has_b = bool(a.any()), bool(b.any())
    if not has_a and not has_b:
        return float("nan")
    if has_a != has_b:
        return float("inf")
    # Crop to the union's bounding box (plus a margin) so large volumes stay cheap.
    idx = np.nonzero(a | b)
    box = tuple(slice(max(0, int(i.min()) - 2), int(i.max()) + 3) for i in idx)
    a, b = a[box], b[box]
    d_ab = surface_distances(a, b, spacing)
    d_ba = surface_distances(b, a, spacing)
    return float(max(np.percentile(d_ab, HD_PERCENTILE), np.percentile(d_ba, HD_PERCENTILE)))
