"""A reduced-resolution, anatomically oriented working copy of a CT volume for organ segmentation.

`WorkFrame.from_volume` permutes/flips the array so that its axes run (inferior->superior,
anterior->posterior, right->left) (LPS order S, P, L), block-averages it to about
``TARGET_SPACING_MM`` and keeps what is needed to map masks back onto the original grid
(`WorkFrame.to_full` nearest, `WorkFrame.to_full_smooth` linear + threshold on the mask's bounding
box only). Oblique grids are handled by the nearest axis; organ masks do not need better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ivcplan.volume import Volume

#: Working resolution of the organ segmentation (mm); voxels are block-averaged towards it.
TARGET_SPACING_MM = 3.0


@dataclass(frozen=True)
class WorkFrame:
    """Canonical (S, P, L)-ordered, block-averaged float32 copy of a volume and the way back."""

    array: np.ndarray            # float32 HU, axes (S, P, L) increasing
    spacing: np.ndarray          # mm along the canonical axes (after block averaging)
    perm: tuple[int, int, int]   # canonical axis k comes from original array axis perm[k]
    flips: tuple[bool, bool, bool]
    factors: tuple[int, int, int]  # block size along the canonical axes
    full_shape: tuple[int, int, int]  # original array shape permuted into canonical order
    orig_shape: tuple[int, int, int]

    @classmethod
    def from_volume(cls, volume: Volume, target_mm: float = TARGET_SPACING_MM) -> WorkFrame:
        grid = volume.grid
        reorient = grid.reorientation("SPL")
        perm, flips = reorient.axes, reorient.flips
        spacing_full = np.asarray(grid.spacing)[list(perm)]
        factors = tuple(max(1, round(target_mm / s)) for s in spacing_full)
        # Reduce in the original memory order (fast), then permute and flip the small array.
        orig_factors = [1, 1, 1]
        for k, axis in enumerate(perm):
            orig_factors[axis] = factors[k]
        if any(flips):
            # Edge padding must land on the far end in canonical order: flip first along those axes.
            arr = np.asarray(volume.array)
            for k, flip in enumerate(flips):
                if flip:
                    arr = np.flip(arr, axis=perm[k])
            low = _block_mean(arr, tuple(orig_factors))
        else:
            low = _block_mean(np.asarray(volume.array), tuple(orig_factors))
        low = np.ascontiguousarray(np.transpose(low, perm))
        full_shape = tuple(int(volume.shape[a]) for a in perm)
        return cls(low, spacing_full * np.asarray(factors), perm, flips, factors,  # type: ignore[arg-type]
                   full_shape, tuple(volume.shape))  # type: ignore[arg-type]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape)  # type: ignore[return-value]

    def _to_original(self, canonical_full: np.ndarray) -> np.ndarray:
        out = canonical_full
        for k, flip in enumerate(self.flips):
            if flip:
                out = np.flip(out, axis=k)
        return np.ascontiguousarray(np.transpose(out, np.argsort(self.perm)))

    def to_full(self, mask: np.ndarray) -> np.ndarray:
        """Nearest (block replication) upsampling of a low-resolution mask onto the original grid."""
        out = mask
        for axis, (factor, size) in enumerate(zip(self.factors, self.full_shape, strict=True)):
            if factor > 1:
                idx = np.minimum(np.arange(size) // factor, mask.shape[axis] - 1)
                out = np.take(out, idx, axis=axis)
        return self._to_original(out)

    def to_full_smooth(self, mask: np.ndarray) -> np.ndarray:
        """Linear upsampling of a low-resolution mask (threshold 0.5) onto the original grid.

        Only the mask's bounding box (plus one block) is interpolated, so small organs are cheap.
        """
        full = np.zeros(self.full_shape, dtype=bool)
        if not mask.any():
            return self._to_original(full)
        if self.factors == (1, 1, 1):
            return self._to_original(mask.astype(bool))
        lo = [max(0, int(i.min()) - 1) for i in np.nonzero(mask)]
        hi = [int(i.max()) + 2 for i in np.nonzero(mask)]
        box = mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].astype(np.float32)
        zoomed = ndimage.zoom(box, self.factors, order=1, grid_mode=True, mode="nearest") >= 0.5
        start = [a * f for a, f in zip(lo, self.factors, strict=True)]
        stop = [min(s + z, n) for s, z, n in zip(start, zoomed.shape, self.full_shape, strict=True)]
        full[start[0]:stop[0], start[1]:stop[1], start[2]:stop[2]] = zoomed[
            :stop[0] - start[0], :stop[1] - start[1], :stop[2] - start[2]]
        return self._to_original(full)

    def from_full(self, mask: np.ndarray) -> np.ndarray:
        """Original-grid mask -> low-resolution boolean mask (block majority)."""
        arr = np.transpose(np.asarray(mask, dtype=np.float32), self.perm)
        for k, flip in enumerate(self.flips):
            if flip:
                arr = np.flip(arr, axis=k)
        return _block_mean(arr, self.factors) >= 0.5


def _block_mean(arr: np.ndarray, factors: tuple[int, ...]) -> np.ndarray:
    """Mean over (fz, fy, fx) blocks; the array is edge-padded to a multiple of the block size."""
    if all(f == 1 for f in factors):
        return np.ascontiguousarray(arr, dtype=np.float32)
    pad = [(0, (-n) % f) for n, f in zip(arr.shape, factors, strict=True)]
    if any(p[1] for p in pad):
        arr = np.pad(arr, pad, mode="edge")
    arr = np.ascontiguousarray(arr)
    out = arr
    # Largest reduction first (slices), one axis at a time: the temporaries stay small and the
    # integer input is converted to float only after the first reduction.
    for axis in sorted(range(3), key=lambda a: -factors[a]):
        factor = factors[axis]
        if factor > 1:
            shape = (*out.shape[:axis], out.shape[axis] // factor, factor, *out.shape[axis + 1:])
            out = out.reshape(shape).sum(axis=axis + 1, dtype=np.float32)
    return np.ascontiguousarray(out, dtype=np.float32) / np.float32(np.prod(factors))


def refine_edges(volume: Volume, frame: WorkFrame, mask_low: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Full-resolution organ mask: the block-upsampled ``mask_low`` with its edge re-decided voxel by voxel.

    Within one working voxel of the upsampled boundary, a voxel belongs to the organ when its
    (lightly smoothed) attenuation lies in ``window`` (HU); deeper voxels keep the low-resolution
    answer. Only parts connected to the sure interior are kept. Works on the mask's bounding box.
    """
    full = frame.to_full(mask_low)  # blocky: its edge band is re-decided below
    if not full.any():
        return full
    # Block size along each original array axis (the frame stores them in canonical order).
    radius = [0, 0, 0]
    for k, axis in enumerate(frame.perm):
        radius[axis] = int(frame.factors[k])
    idx = np.nonzero(full)
    box = tuple(slice(max(0, int(i.min()) - r - 1), min(n, int(i.max()) + r + 2))
                for i, r, n in zip(idx, radius, full.shape, strict=True))
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
        decided = np.isin(labels, keep[keep > 0])
    out = np.zeros_like(full)
    out[box] = decided
    return out
