"""The working frame of the segmentation: the scan read in anatomical order and block-averaged.

Every scan (any orientation, any spacing) is read through `Grid.reorientation("SPL")`: array axis 0
runs to the head, axis 1 to the back, axis 2 to the patient's left, so anatomical priors ("anterior
left of the vertebral body", "cranial") are index arithmetic. Blocks of whole scan voxels are then
averaged to a working resolution. The vessels work on a fine frame (about 1.5 mm in plane, 2 mm
between slices), the organs on a coarse one (about 3 mm); both are block grids of the same
reoriented scan, so a mask moves between them and back to the scan by block replication or block
majority, never by resampling, and every label returns to the scan's grid once, at the end.
Oblique scans are read along their best-aligned axes (organs and vessels do not need better).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ivcplan.volume import Grid, Reorientation, Volume, label_mask

#: Target spacing (mm; S, P, L) of the vessels' frame: coarse enough for speed, fine enough for a
#: flattened 10 mm vein.
FINE_SPACING_MM = (2.0, 1.5, 1.5)
#: ... and of the organs' frame.
COARSE_SPACING_MM = (3.0, 3.0, 3.0)
#: The vessels' blocks are at most this factor of their target spacing: a finer frame is preferred
#: to a much coarser one (two 0.98 mm pixels would make a 1.95 mm block).
MAX_FINE_STRETCH = 1.35
#: Voxels outside the scan (padding) are air.
AIR_HU = -1024.0


@dataclass(frozen=True)
class WorkFrame:
    """A scan read in (S, P, L) order and averaged over blocks of ``factors`` scan voxels."""

    hu: np.ndarray  # float32 (z, y, x) = (S, P, L), block means
    grid: Grid  # exact geometry of ``hu`` (block centres)
    factors: tuple[int, int, int]  # scan voxels per block along S, P, L
    turn: Reorientation  # the scan's grid read in (S, P, L) order

    @classmethod
    def fine(cls, volume: Volume) -> WorkFrame:
        """The vessels' frame: blocks of at most `MAX_FINE_STRETCH` x `FINE_SPACING_MM`."""
        turn = volume.grid.reorientation("SPL")
        spacing = turn.grid.spacing
        factors = tuple(max(1, int(np.floor(MAX_FINE_STRETCH * t / s + 1e-6)))
                        for t, s in zip(FINE_SPACING_MM, spacing, strict=True))
        return cls.of(volume, factors, turn)  # type: ignore[arg-type]

    @classmethod
    def coarse(cls, volume: Volume) -> WorkFrame:
        """The organs' frame: blocks nearest to `COARSE_SPACING_MM`."""
        turn = volume.grid.reorientation("SPL")
        spacing = turn.grid.spacing
        factors = tuple(max(1, round(t / s)) for t, s in zip(COARSE_SPACING_MM, spacing, strict=True))
        return cls.of(volume, factors, turn)  # type: ignore[arg-type]

    @classmethod
    def of(cls, volume: Volume, factors: tuple[int, int, int], turn: Reorientation | None = None) -> WorkFrame:
        """``volume`` averaged over blocks of ``factors`` (S, P, L) scan voxels."""
        turn = turn or volume.grid.reorientation("SPL")
        # Reduce in the scan's memory order (fast), then permute the small array. The padding of a
        # partial last block must land at the far end in (S, P, L) order: flipped axes flip first.
        arr = np.asarray(volume.array)
        scan_factors = [1, 1, 1]
        for k, axis in enumerate(turn.axes):
            scan_factors[axis] = int(factors[k])
            if turn.flips[k]:
                arr = np.flip(arr, axis=axis)
        low = np.ascontiguousarray(np.transpose(block_mean(arr, tuple(scan_factors)), turn.axes))
        full = turn.grid
        f = np.asarray(factors, dtype=float)
        grid = Grid(low.shape, full.spacing * f, full.index_to_lps((f - 1.0) / 2.0), full.direction)
        return cls(low, grid, tuple(int(v) for v in factors), turn)  # type: ignore[arg-type]

    # -- geometry -----------------------------------------------------------------------------
    @property
    def spacing(self) -> np.ndarray:
        return self.grid.spacing

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.hu.shape)  # type: ignore[return-value]

    @property
    def source(self) -> Grid:
        """The scan's own grid."""
        return self.turn.source

    def mm_to_vox(self, mm: float, axis: int = 1) -> float:
        return float(mm / self.grid.spacing[axis])

    # -- masks between the frame and the scan ------------------------------------------------------
    def _replicate(self, arr: np.ndarray) -> np.ndarray:
        """Block replication onto the scan's voxels, in (S, P, L) order."""
        full_shape = self.turn.grid.shape
        out = arr
        for axis, (factor, size) in enumerate(zip(self.factors, full_shape, strict=True)):
            if factor > 1 or out.shape[axis] != size:
                idx = np.minimum(np.arange(size) // factor, arr.shape[axis] - 1)
                out = np.take(out, idx, axis=axis)
        return out

    def to_scan(self, labels: np.ndarray, smooth: tuple[int, ...] = ()) -> np.ndarray:
        """A frame array (mask or labels) on the scan's grid: block replication; the label values in
        ``smooth`` (or a boolean mask when ``smooth`` is ``(True,)``) are upsampled linearly and
        thresholded at one half, so that their outlines are not staircased by the blocks."""
        out = self._replicate(labels)
        if smooth and any(f > 1 for f in self.factors):
            out = out.copy()
            for value in smooth:
                mask = labels == value
                box = _box(mask, 1)
                if box is None:
                    continue
                frac = ndimage.zoom(mask[box].astype(np.float32), self.factors, order=1, grid_mode=True,
                                    mode="nearest") >= 0.5
                start = [s.start * f for s, f in zip(box, self.factors, strict=True)]
                stop = [min(a + n, m) for a, n, m in zip(start, frac.shape, out.shape, strict=True)]
                region = out[tuple(slice(a, b) for a, b in zip(start, stop, strict=True))]
                frac = frac[tuple(slice(0, b - a) for a, b in zip(start, stop, strict=True))]
                off = value if labels.dtype != bool else False
                region[(region == value) & ~frac] = off
                region[frac] = value
        return self.turn.restore(out)

    def from_scan(self, mask: np.ndarray) -> np.ndarray:
        """A scan-grid mask on the frame: block majority."""
        arr = self.turn.apply(np.asarray(mask, dtype=np.float32))
        return block_mean(np.ascontiguousarray(arr), self.factors) >= 0.5

    def labels_from_scan(self, labels: np.ndarray) -> np.ndarray:
        """A scan-grid label array on the frame: each block takes its central voxel's label."""
        arr = self.turn.apply(labels)
        idx = [np.minimum(np.arange(n) * f + f // 2, m - 1)
               for n, f, m in zip(self.shape, self.factors, arr.shape, strict=True)]
        return np.ascontiguousarray(arr[np.ix_(*idx)])

    def from_frame(self, other: WorkFrame, labels: np.ndarray) -> np.ndarray:
        """An array of another frame of the same scan on this one: each block takes the value of the
        other frame's block holding its central scan voxel (exact when the blocks nest)."""
        idx = [np.minimum((np.arange(n) * f + f // 2) // g, m - 1)
               for n, f, g, m in zip(self.shape, self.factors, other.factors, other.shape, strict=True)]
        return np.ascontiguousarray(np.asarray(labels)[np.ix_(*idx)])

    def scan_view(self, volume: Volume) -> np.ndarray:
        """The scan's array in (S, P, L) order at full resolution (a view)."""
        return self.turn.apply(volume.array)


def _box(mask: np.ndarray, margin: int) -> tuple[slice, ...] | None:
    nz = np.nonzero(mask)
    if nz[0].size == 0:
        return None
    return tuple(slice(max(int(v.min()) - margin, 0), min(int(v.max()) + margin + 1, n))
                 for v, n in zip(nz, mask.shape, strict=True))


def block_mean(arr: np.ndarray, factors: tuple[int, ...]) -> np.ndarray:
    """Mean over (fz, fy, fx) blocks; the array is edge-padded to a multiple of the block size."""
    if all(f == 1 for f in factors):
        return np.ascontiguousarray(arr, dtype=np.float32)
    pad = [(0, (-n) % f) for n, f in zip(arr.shape, factors, strict=True)]
    if any(p[1] for p in pad):
        arr = np.pad(arr, pad, mode="edge")
    arr = np.ascontiguousarray(arr)
    out = arr
    # Largest reduction first, one axis at a time: the temporaries stay small and the integer input
    # is converted to float only after the first reduction.
    for axis in sorted(range(3), key=lambda a: -factors[a]):
        factor = factors[axis]
        if factor > 1:
            shape = (*out.shape[:axis], out.shape[axis] // factor, factor, *out.shape[axis + 1:])
            out = out.reshape(shape).sum(axis=axis + 1, dtype=np.float32)
    return np.ascontiguousarray(out, dtype=np.float32) / np.float32(np.prod(factors))


def refine_edges(volume: Volume, frame: WorkFrame, mask_low: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Scan-resolution organ mask (scan order): the block-replicated ``mask_low`` with its edge
    re-decided voxel by voxel.

    Within one block of the replicated boundary, a voxel belongs to the organ when its (lightly
    smoothed) attenuation lies in ``window`` (HU); deeper voxels keep the frame's answer. Only parts
    connected to the sure interior are kept. Works on the mask's bounding box.
    """
    full = frame.to_scan(mask_low)  # blocky: its edge band is re-decided below
    if not full.any():
        return full
    # Block size along each scan array axis (the frame stores them in (S, P, L) order).
    radius = [0, 0, 0]
    for k, axis in enumerate(frame.turn.axes):
        radius[axis] = int(frame.factors[k])
    box = _box(full, 0)
    box = tuple(slice(max(0, s.start - r - 1), min(n, s.stop + r + 1))
                for s, r, n in zip(box, radius, full.shape, strict=True))
    sub = full[box]
    size = [2 * r + 1 for r in radius]
    inner = ndimage.minimum_filter(sub.view(np.uint8), size=size, mode="constant", cval=0).astype(bool)
    outer = ndimage.maximum_filter(sub.view(np.uint8), size=size, mode="constant", cval=0).astype(bool)
    image = ndimage.gaussian_filter(np.asarray(volume.array[box], dtype=np.float32),
                                    sigma=[0.7 if r > 1 else 0.0 for r in radius])
    decided = inner | (outer & (image >= window[0]) & (image <= window[1]))
    labels, n = ndimage.label(decided)
    if n > 1 and inner.any():
        keep = np.unique(labels[inner])
        decided = label_mask(labels, keep[keep > 0])
    out = np.zeros_like(full)
    out[box] = decided
    return out
