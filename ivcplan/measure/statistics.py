"""Per-structure statistics, as TotalSegmentator's ``--statistics`` gives them, for every label present.

For each label: voxel count, volume (ml), mean and standard deviation of the CT's HU inside it, and
its extent: the axis-aligned LPS bounding box of its voxels (their faces, not their centres) and the
box's size along x (L), y (P), z (S). The SD is the population SD of the voxels' HU (ddof 0: a one-voxel
structure has SD 0, not an undefined value). HU are the CT's values on the labelmap's grid as loaded
(no resampling, no partial-volume correction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from ivcplan.errors import InputError
from ivcplan.volume import Labelmap, Volume

#: Slices per chunk of the sums over the volume: bounds the float64 temporaries (about 80 MB at 512x512).
CHUNK_SLICES = 32
#: A grid counts as axis-aligned when each direction column is within this of a signed unit axis;
#: then the box corners give the extent exactly, else the voxels are visited (oblique or tilted grids).
_AXIS_TOLERANCE = 1e-6


@dataclass(frozen=True)
class StructureStatistics:
    """One structure's statistics (positions LPS mm, sizes mm)."""

    label: int
    voxels: int
    volume_ml: float
    hu_mean: float | None
    hu_sd: float | None
    bbox_min_lps_mm: tuple[float, float, float]
    bbox_max_lps_mm: tuple[float, float, float]

    @property
    def size_mm(self) -> tuple[float, float, float]:
        return tuple(hi - lo for lo, hi in zip(self.bbox_min_lps_mm, self.bbox_max_lps_mm, strict=True))

    def to_dict(self) -> dict[str, Any]:
        def r(v: float | None, nd: int) -> float | None:
            return None if v is None else round(float(v), nd)

        return {"label": self.label, "voxels": self.voxels, "volume_ml": r(self.volume_ml, 3),
                "hu_mean": r(self.hu_mean, 1), "hu_sd": r(self.hu_sd, 1),
                "bbox_min_lps_mm": [round(v, 2) for v in self.bbox_min_lps_mm],
                "bbox_max_lps_mm": [round(v, 2) for v in self.bbox_max_lps_mm],
                "size_mm": [round(v, 2) for v in self.size_mm]}


def _sums(labels: np.ndarray, hu: np.ndarray | None, top: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-label voxel count, HU sum and HU sum of squares, chunk by chunk along axis 0."""
    count = np.zeros(top + 1)
    total = np.zeros(top + 1)
    squares = np.zeros(top + 1)
    for start in range(0, labels.shape[0], CHUNK_SLICES):
        lab = labels[start:start + CHUNK_SLICES].ravel()
        count += np.bincount(lab, minlength=top + 1)
        if hu is not None:
            values = hu[start:start + CHUNK_SLICES].ravel().astype(np.float64)
            total += np.bincount(lab, weights=values, minlength=top + 1)
            squares += np.bincount(lab, weights=values * values, minlength=top + 1)
    return count, total, squares


def _extent(labelmap: Labelmap, value: int, box: tuple[slice, ...]) -> tuple[np.ndarray, np.ndarray]:
    """LPS bounding box of the voxels of ``value`` (faces included), inside their index box ``box``."""
    grid = labelmap.grid
    half = 0.5 * np.abs(grid.direction) @ grid.spacing  # a voxel's half extent along L, P, S
    axis_aligned = np.allclose(np.sort(np.abs(grid.direction), axis=0)[-1], 1.0, atol=_AXIS_TOLERANCE)
    if axis_aligned:
        # The extreme voxel centres along each LPS axis are corners of the index box.
        lo = np.array([sl.start for sl in box], dtype=float)
        hi = np.array([sl.stop - 1 for sl in box], dtype=float)
        corners = np.array(np.meshgrid(*zip(lo, hi, strict=True), indexing="ij")).reshape(3, -1).T
        pts = grid.index_to_lps(corners)
        return pts.min(axis=0) - half, pts.max(axis=0) + half
    lo_lps = np.full(3, np.inf)
    hi_lps = np.full(3, -np.inf)
    crop = labelmap.array[box] == value
    offset = np.array([sl.start for sl in box])
    for k in range(crop.shape[0]):  # slice by slice: bounded memory for a large structure
        idx = np.argwhere(crop[k])
        if idx.size:
            pts = grid.index_to_lps(np.c_[np.full(len(idx), k), idx] + offset)
            lo_lps = np.minimum(lo_lps, pts.min(axis=0))
            hi_lps = np.maximum(hi_lps, pts.max(axis=0))
    return lo_lps - half, hi_lps + half


def structure_statistics(labelmap: Labelmap, volume: Volume | None = None) -> dict[str, StructureStatistics]:
    """Statistics of every label present, keyed by its name (`Labelmap.name`), in increasing label order.

    ``volume``: the CT on the labelmap's grid (HU mean and SD are None without it).
    """
    if volume is not None and not volume.grid.is_same(labelmap.grid):
        raise InputError("the CT and the labelmap must share one grid to compute per-structure HU", "volume")
    labels = labelmap.array
    if labels.size == 0 or int(labels.max(initial=0)) <= 0:
        return {}
    if int(labels.min()) < 0:
        raise InputError("labelmap has negative values", "labelmap")
    top = int(labels.max())
    count, total, squares = _sums(labels, None if volume is None else volume.array, top)
    boxes = ndimage.find_objects(labels, max_label=top)
    voxel_ml = labelmap.grid.voxel_volume_mm3 / 1000.0
    out: dict[str, StructureStatistics] = {}
    for value in range(1, top + 1):
        n = int(count[value])
        if n == 0:
            continue
        mean = sd = None
        if volume is not None:
            mean = total[value] / n
            sd = float(np.sqrt(max(squares[value] / n - mean * mean, 0.0)))
        lo, hi = _extent(labelmap, value, boxes[value - 1])
        out[labelmap.name(value)] = StructureStatistics(
            value, n, n * voxel_ml, None if mean is None else float(mean), sd,
            tuple(float(v) for v in lo), tuple(float(v) for v in hi))
    return out
