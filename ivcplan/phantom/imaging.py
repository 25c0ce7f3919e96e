"""Image formation: tissue classes -> HU with organ texture, scanner blur (PSF and slice profile), noise."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ivcplan.phantom.tissues import lut

#: Grain of the coarse organ texture (mm).
COARSE_GRAIN_MM = 5.0
#: Grain of the quantum noise (pixels): reconstruction kernels correlate neighbouring pixels.
NOISE_GRAIN_PX = 0.6
_FWHM_TO_SIGMA = 1.0 / 2.3548
HU_MIN, HU_MAX = -1024, 3071


def _unit_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float | tuple[float, ...]) -> np.ndarray:
    field = rng.standard_normal(shape, dtype=np.float32)
    field = ndimage.gaussian_filter(field, sigma, output=field)
    sample = field.reshape(-1)[:: max(1, field.size // 200_000)]
    field /= max(float(sample.std()), 1e-6)
    return field


def render(tissue: np.ndarray, spacing_zyx: tuple[float, float, float], step: int, *, thickness_mm: float,
           blur_mm: float, noise_hu: float, rng: np.random.Generator,
           tables: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
           noise_grain_px: float = NOISE_GRAIN_PX) -> np.ndarray:
    """HU image (int16) of the output slices ``tissue[::step]`` of a z-supersampled tissue map.

    ``tables``: (mean, coarse std, fine std) per tissue (default `tissues.lut()`); ``noise_grain_px``:
    the noise correlation (sharper kernels: finer grain)."""
    mean, coarse_std, fine_std = tables if tables is not None else lut()
    dz, dy, dx = spacing_zyx
    hu = mean[tissue]
    # Coarse texture: smooth noise made on a low-resolution grid, then interpolated up.
    low_shape = tuple(max(2, int(np.ceil(n * d / COARSE_GRAIN_MM))) for n, d in zip(tissue.shape, spacing_zyx,
                                                                                      strict=True))
    low = _unit_noise(rng, low_shape, 0.8)
    zoom = [n / m for n, m in zip(tissue.shape, low_shape, strict=True)]
    hu += coarse_std[tissue] * ndimage.zoom(low, zoom, order=1, mode="nearest", grid_mode=True)[
        : tissue.shape[0], : tissue.shape[1], : tissue.shape[2]]
    # Slice sensitivity profile (FWHM = slice thickness) on the fine z grid, then keep the output slices.
    sigma_z = thickness_mm * _FWHM_TO_SIGMA / dz
    if sigma_z > 0.3:
        hu = ndimage.gaussian_filter1d(hu, sigma_z, axis=0, output=hu, mode="nearest")
    hu = np.ascontiguousarray(hu[::step])
    out_tissue = tissue[::step]
    if blur_mm > 0:  # in-plane point spread function
        sigma = (blur_mm * _FWHM_TO_SIGMA / dy, blur_mm * _FWHM_TO_SIGMA / dx)
        for axis, s in zip((1, 2), sigma, strict=True):
            hu = ndimage.gaussian_filter1d(hu, s, axis=axis, output=hu, mode="nearest")
    # Quantum noise plus fine parenchymal mottle share one correlated field.
    scale = np.sqrt(np.float32(noise_hu) ** 2 + fine_std[out_tissue] ** 2)
    hu += scale * _unit_noise(rng, hu.shape, noise_grain_px)
    np.clip(np.rint(hu, out=hu), HU_MIN, HU_MAX, out=hu)
    return hu.astype(np.int16)
