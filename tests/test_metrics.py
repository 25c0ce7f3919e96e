"""Dice and 95 % Hausdorff distance on analytic shapes."""

from __future__ import annotations

import numpy as np
import pytest

from ivcplan.metrics import dice, hausdorff95

HD_TOL_MM = 1.01  # one voxel of discretisation


def _ball(shape, centre, radius, spacing=(1.0, 1.0, 1.0)):
    grids = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing, strict=True)], indexing="ij")
    return sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True)) <= radius ** 2


def test_dice_of_half_overlapping_boxes() -> None:
    a = np.zeros((10, 10, 10), bool)
    b = np.zeros_like(a)
    a[:, :, :6] = True
    b[:, :, 3:9] = True  # overlap 3 of 6 columns each
    assert dice(a, b) == pytest.approx(0.5)
    assert dice(a, a) == 1.0 and dice(np.zeros_like(a), np.zeros_like(a)) == 1.0


def test_hd95_of_concentric_spheres_is_radius_difference() -> None:
    shape, c = (60, 60, 60), (30.0, 30.0, 30.0)
    a, b = _ball(shape, c, 20.0), _ball(shape, c, 14.0)
    assert hausdorff95(a, b, (1.0, 1.0, 1.0)) == pytest.approx(6.0, abs=HD_TOL_MM)
    assert dice(a, b) == pytest.approx(2 * 14 ** 3 / (20 ** 3 + 14 ** 3), abs=0.02)


def test_hd95_uses_anisotropic_spacing_for_a_shift() -> None:
    spacing = (2.5, 0.8, 0.8)
    shape = (40, 100, 100)
    a = _ball(shape, (50.0, 40.0, 40.0), 15.0, spacing)
    b = _ball(shape, (60.0, 40.0, 40.0), 15.0, spacing)  # shifted 10 mm = 4 slices along z
    assert hausdorff95(a, b, spacing) == pytest.approx(10.0, abs=2.5)


def test_empty_and_mismatched_masks() -> None:
    a = np.zeros((5, 5, 5), bool)
    b = a.copy()
    b[2, 2, 2] = True
    assert np.isnan(hausdorff95(a, a, (1, 1, 1)))
    assert hausdorff95(a, b, (1, 1, 1)) == float("inf")
    with pytest.raises(ValueError, match="same shape"):
        dice(a, b[:-1])
