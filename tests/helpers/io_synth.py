"""Helpers for the loader tests: small phantoms and a check that a loaded volume puts each written
pixel at the LPS position the DICOM header gave it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


def structured_hu(shape=(6, 24, 20), seed: int = 0) -> np.ndarray:
    """Integer HU with no symmetry (a flipped or transposed axis changes the values)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    return (-900 + 37 * z + 11 * y + 3 * x + rng.integers(0, 5, shape)).astype(np.int16)


def smooth_field(points: np.ndarray, centre=(3.0, -2.0, 7.0), sigma: float = 6.0) -> np.ndarray:
    """A smooth blob (HU-like, -1000..1000) defined in LPS mm, for tests that resample."""
    d2 = np.sum((np.asarray(points) - np.asarray(centre)) ** 2, axis=-1)
    return -1000.0 + 2000.0 * np.exp(-d2 / (2 * sigma**2))


def plane_points(ipp, iop, rows: int, cols: int, spacing) -> np.ndarray:
    """(rows, cols, 3) LPS centres of a DICOM image's pixels."""
    row_dir, col_dir = np.asarray(iop[:3], float), np.asarray(iop[3:], float)
    r, c = np.indices((rows, cols))
    return (np.asarray(ipp, float) + r[..., None] * spacing[0] * col_dir + c[..., None] * spacing[1] * row_dir)


def assert_pixels_at_positions(volume, hu, positions, iop, spacing, atol: float = 0.0) -> None:
    """Every written pixel (slice k at positions[k]) sits in `volume` at its LPS position."""
    for k, ipp in enumerate(positions):
        pts = plane_points(ipp, iop, hu.shape[1], hu.shape[2], spacing)
        idx = volume.lps_to_index(pts)
        rounded = np.round(idx)
        assert np.allclose(idx, rounded, atol=1e-4), f"slice {k} does not fall on voxel centres"
        z, y, x = rounded.astype(int).reshape(-1, 3).T
        got = volume.array[z, y, x].reshape(hu.shape[1:])
        np.testing.assert_allclose(got, hu[k], atol=atol, err_msg=f"slice {k}")


def digest(paths) -> dict[str, str]:
    return {str(p): hashlib.sha1(Path(p).read_bytes()).hexdigest() for p in paths}
