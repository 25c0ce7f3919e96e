"""Truth numbers come from the masks: analytic shapes give their analytic sizes."""

from __future__ import annotations

import numpy as np
import pytest

from ivcplan.labels import Label
from ivcplan.phantom.shapes import rotation
from ivcplan.phantom.truth import axial_longest_diameter, feret_diameter, principal_axes
from ivcplan.volume import Grid, Labelmap

SPACING = (2.0, 0.8, 0.7)   # anisotropic (z, y, x) like a CT
SEMI = np.array([30.0, 20.0, 12.0])  # mm


def _ellipsoid(rot: np.ndarray) -> Labelmap:
    grid = Grid((60, 120, 130), SPACING, (-45.0, -48.0, -59.0),
                np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij"), axis=-1)
    local = (grid.index_to_lps(idx) - np.array([1.0, 2.0, 3.0])) @ rot
    inside = np.sum((local / SEMI) ** 2, axis=-1) <= 1
    return Labelmap(np.where(inside, Label.IVC_TUMOR, 0).astype(np.uint8), grid)


@pytest.mark.parametrize("angles", [(0, 0, 0), (30, 20, 10)])
def test_ellipsoid_sizes_match_analytic_values(angles):
    rot = rotation(*angles)
    lab = _ellipsoid(rot)
    mask = lab.array == Label.IVC_TUMOR
    voxel_diag = float(np.linalg.norm(SPACING))
    assert lab.volume_ml(Label.IVC_TUMOR) == pytest.approx(4 / 3 * np.pi * np.prod(SEMI) / 1000, rel=0.02)
    assert feret_diameter(lab.grid, mask) == pytest.approx(2 * SEMI[0], abs=voxel_diag)
    axes = principal_axes(lab.grid, mask)
    assert axes == pytest.approx(list(2 * SEMI), abs=voxel_diag)
    # Longest axial chord: the largest ellipse of the axial sections (exact for the unrotated one).
    if angles == (0, 0, 0):
        assert axial_longest_diameter(lab.grid, mask) == pytest.approx(2 * SEMI[0], abs=voxel_diag)
    else:
        assert 2 * SEMI[1] < axial_longest_diameter(lab.grid, mask) <= 2 * SEMI[0] + voxel_diag


def test_feret_of_two_separate_blobs_spans_both():
    grid = Grid((20, 40, 80), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3)[:, ::-1])
    arr = np.zeros(grid.shape, np.uint8)
    arr[8:12, 18:22, 5:9] = 2
    arr[8:12, 18:22, 70:74] = 2
    lab = Labelmap(arr, grid)
    # Centres 5..73 apart along one axis: 68 mm between extreme voxel centres, + 1 voxel footprint.
    assert feret_diameter(grid, arr == 2) == pytest.approx(np.hypot(69.0, np.hypot(3, 3)), abs=1.0)
    assert lab.volume_ml(2) == pytest.approx(2 * 64 / 1000)
