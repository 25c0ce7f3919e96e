"""The working frame of the vessel segmentation: a reduced-resolution, axis-aligned LPS grid.

Every scan (any orientation, any spacing) is resampled once onto a grid whose array axes point
Superior, Posterior and Left, so anatomical priors ("anterior-left of the spine", "cranial") are
plain index arithmetic. Results are mapped back onto the scan's own grid at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ivcplan.volume import Grid, Labelmap, Volume, orientation_direction, resample_array

#: In-plane working spacing (mm): coarse enough for speed, fine enough for a 15 mm vein.
WORK_SPACING_XY_MM = 1.5
#: Slice working spacing (mm); thicker native slices are kept as they are.
WORK_SPACING_Z_MM = 2.0
#: Axes S, P, L: array axis 0 increases cranially, axis 1 posteriorly, axis 2 to the patient's left.
CANONICAL_DIRECTION = orientation_direction("SPL")
AIR_HU = -1024.0


@dataclass(frozen=True)
class WorkFrame:
    """A scan resampled onto the canonical working grid."""

    hu: np.ndarray  # float32 (z, y, x) on `grid`
    grid: Grid
    source: Grid

    @property
    def spacing(self) -> np.ndarray:
        return self.grid.spacing

    def mm_to_vox(self, mm: float, axis: int = 1) -> float:
        return float(mm / self.grid.spacing[axis])


def working_grid(source: Grid) -> Grid:
    """Canonical (S, P, L) grid covering ``source``'s field of view at the working spacing."""
    corners = np.array([[i, j, k] for i in (0, source.shape[0] - 1) for j in (0, source.shape[1] - 1)
                        for k in (0, source.shape[2] - 1)], dtype=float)
    lps = source.index_to_lps(corners)
    lo, hi = lps.min(axis=0), lps.max(axis=0)
    # Native spacing along each LPS axis (through the array axis most aligned with it).
    native = [float(source.spacing[source.axis_of(a)]) for a in range(3)]
    spacing_lps = np.array([max(native[0], WORK_SPACING_XY_MM), max(native[1], WORK_SPACING_XY_MM),
                            max(native[2], WORK_SPACING_Z_MM)])
    size_lps = np.maximum(np.floor((hi - lo) / spacing_lps + 1e-6).astype(int) + 1, 1)
    # Array order (z, y, x) = (S, P, L).
    shape = (int(size_lps[2]), int(size_lps[1]), int(size_lps[0]))
    spacing = np.array([spacing_lps[2], spacing_lps[1], spacing_lps[0]])
    return Grid(shape, spacing, lo, CANONICAL_DIRECTION)


def to_work_frame(volume: Volume) -> WorkFrame:
    grid = working_grid(volume.grid)
    hu = resample_array(volume.array.astype(np.float32, copy=False), volume.grid, grid,
                        interpolation="linear", fill=AIR_HU)
    return WorkFrame(hu.astype(np.float32, copy=False), grid, volume.grid)


def labels_to_source(labels: np.ndarray, frame: WorkFrame, smooth_labels: tuple[int, ...] = ()) -> Labelmap:
    """Map a working-grid label array onto the scan grid.

    Labels in ``smooth_labels`` are carried as fractional masks (linear interpolation, > 0.5) so
    that their boundaries are not staircased by the coarse working voxels; the rest are nearest.
    """
    out = resample_array(labels.astype(np.uint8), frame.grid, frame.source, interpolation="nearest", fill=0)
    for value in smooth_labels:
        mask = labels == value
        if not mask.any():
            continue
        zz, yy, xx = np.nonzero(mask)
        lo = np.maximum(np.array([zz.min(), yy.min(), xx.min()]) - 2, 0)
        hi = np.minimum(np.array([zz.max(), yy.max(), xx.max()]) + 3, np.asarray(labels.shape))
        sub_grid = frame.grid.crop(lo, hi)
        sub = mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].astype(np.float32)
        src_box = _source_box(sub_grid, frame.source)
        if src_box is None:
            continue
        s_lo, s_hi = src_box
        target = frame.source.crop(s_lo, s_hi)
        frac = resample_array(sub, sub_grid, target, interpolation="linear", fill=0.0)
        region = out[s_lo[0]:s_hi[0], s_lo[1]:s_hi[1], s_lo[2]:s_hi[2]]
        region[(region == value) & (frac <= 0.5)] = 0
        region[frac > 0.5] = value
    return Labelmap(out, frame.source)


def _source_box(sub_grid: Grid, source: Grid) -> tuple[np.ndarray, np.ndarray] | None:
    corners = np.array([[i, j, k] for i in (0, sub_grid.shape[0] - 1) for j in (0, sub_grid.shape[1] - 1)
                        for k in (0, sub_grid.shape[2] - 1)], dtype=float)
    idx = source.lps_to_index(sub_grid.index_to_lps(corners))
    lo = np.maximum(np.floor(idx.min(axis=0)).astype(int) - 1, 0)
    hi = np.minimum(np.ceil(idx.max(axis=0)).astype(int) + 2, np.asarray(source.shape))
    if np.any(hi <= lo):
        return None
    return lo, hi
