"""Measurement functions on tiny synthetic masks with analytic answers."""

from __future__ import annotations

import numpy as np
import pytest
from measure_synth import AXIAL
from scipy.spatial.transform import Rotation

from ivcplan.measure import tumor as measure
from ivcplan.volume import Grid

#: Linear sizes (centres + half a voxel) on spheres / ellipsoids at these voxels: stated tolerance.
SIZE_TOL_MM = 1.5
VOLUME_TOL = 0.03


def _grid(shape, spacing, direction=AXIAL) -> Grid:
    return Grid(shape, spacing, (0.0, 0.0, 0.0), direction)


def _ellipsoid(grid: Grid, centre, semi, rotation=None) -> np.ndarray:
    rotation = np.eye(3) if rotation is None else rotation
    p = grid.index_to_lps(np.stack(np.indices(grid.shape), axis=-1))
    q = ((p - np.asarray(centre)) @ rotation) / np.asarray(semi)
    return np.sum(q * q, axis=-1) <= 1.0


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.5, 0.8, 0.8), (2.0, 1.2, 0.7)])
def test_sphere_sizes(spacing):
    grid = _grid((40, 60, 60), spacing)
    centre = grid.index_to_lps(np.array(grid.shape) / 2 + 0.3)
    mask = _ellipsoid(grid, centre, (12.0, 12.0, 12.0))
    vol_ml = mask.sum() * grid.voxel_volume_mm3 / 1000
    assert vol_ml == pytest.approx(4 / 3 * np.pi * 12**3 / 1000, rel=VOLUME_TOL)
    assert measure.max_diameter_mm(mask, grid) == pytest.approx(24.0, abs=SIZE_TOL_MM)
    axes, _ = measure.principal_axes_mm(mask, grid)
    assert np.allclose(axes, 24.0, atol=SIZE_TOL_MM)
    assert measure.axial_longest_diameter_mm(mask, grid) == pytest.approx(24.0, abs=SIZE_TOL_MM)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rotated_ellipsoid_sizes(seed):
    grid = _grid((30, 70, 70), (2.0, 0.9, 0.9))
    rot = Rotation.random(random_state=seed).as_matrix()
    semi = np.array([22.0, 11.0, 6.0])
    mask = _ellipsoid(grid, grid.index_to_lps(np.array(grid.shape) / 2), semi, rot)
    assert measure.max_diameter_mm(mask, grid) == pytest.approx(44.0, abs=SIZE_TOL_MM)
    axes, vecs = measure.principal_axes_mm(mask, grid)
    assert np.allclose(axes, 2 * semi, atol=SIZE_TOL_MM)
    # The first principal axis is the ellipsoid's long axis (rotation's first column).
    assert abs(vecs[:, 0] @ rot[:, 0]) > 0.99


def test_axial_diameter_of_lying_cylinder():
    # Cylinder along patient left-right (x), radius 5, length 40: the axial slice through its axis
    # is a 40 x 10 rectangle whose longest diameter is the diagonal sqrt(40^2 + 10^2).
    grid = _grid((20, 40, 80), (1.0, 0.5, 0.5))
    p = grid.index_to_lps(np.stack(np.indices(grid.shape), axis=-1))
    mask = (np.hypot(p[..., 1] - 10.0, p[..., 2] - 10.0) <= 5.0) & (np.abs(p[..., 0] - 20.0) <= 20.0)
    assert measure.axial_longest_diameter_mm(mask, grid) == pytest.approx(np.hypot(40.0, 10.0), abs=1.0)
    # Standing up (along z), the axial section is a 10 mm disc: RECIST 10, Feret the diagonal.
    grid2 = _grid((45, 30, 30), (1.0, 0.5, 0.5))
    p2 = grid2.index_to_lps(np.stack(np.indices(grid2.shape), axis=-1))
    standing = (np.hypot(p2[..., 0] - 7.0, p2[..., 1] - 7.0) <= 5.0) & (np.abs(p2[..., 2] - 22.0) <= 20.0)
    assert measure.axial_longest_diameter_mm(standing, grid2) == pytest.approx(10.0, abs=1.0)
    assert measure.max_diameter_mm(standing, grid2) == pytest.approx(np.hypot(40.0, 10.0), abs=1.0)


def test_feret_is_exact_against_brute_force():
    rng = np.random.default_rng(3)
    pts = rng.normal(size=(400, 3)) * [10, 4, 2]
    d, a, b = measure.feret(pts)
    brute = np.max(np.linalg.norm(pts[:, None] - pts[None], axis=-1))
    assert d == pytest.approx(brute, rel=1e-12)
    assert np.linalg.norm(a - b) == pytest.approx(d)
    # Flat (coplanar) input still works.
    flat = pts.copy()
    flat[:, 2] = 0.0
    assert measure.feret(flat)[0] == pytest.approx(np.max(np.linalg.norm(flat[:, None] - flat[None], axis=-1)))


def test_degenerate_masks():
    grid = _grid((10, 10, 10), (2.0, 1.0, 0.5))
    empty = np.zeros(grid.shape, bool)
    assert measure.max_diameter_mm(empty, grid) == 0.0
    assert measure.axial_longest_diameter_mm(empty, grid) == 0.0
    assert measure.principal_axes_mm(empty, grid)[0] == [0.0, 0.0, 0.0]
    one = empty.copy()
    one[4, 5, 6] = True
    # One voxel: half a voxel, at most the voxel's own size.
    for value in (measure.max_diameter_mm(one, grid), measure.axial_longest_diameter_mm(one, grid),
                  *measure.principal_axes_mm(one, grid)[0]):
        assert 0.0 < value <= 2.0
    with pytest.raises(ValueError, match="no points"):
        measure.feret(np.zeros((0, 3)))


def test_mask_touching_the_border_counts_the_cut_face():
    # A sphere cut in half by the volume border: its Feret is the cut disc's diameter (2r), and the
    # border voxels are surface voxels.
    grid = _grid((20, 50, 50), (1.0, 1.0, 1.0))
    p = grid.index_to_lps(np.stack(np.indices(grid.shape), axis=-1))
    mask = np.linalg.norm(p - [25.0, 25.0, 0.0], axis=-1) <= 15.0
    assert mask[0].any()
    assert measure.surface_voxels(mask)[0].sum() == mask[0].sum()
    assert measure.max_diameter_mm(mask, grid) == pytest.approx(30.0, abs=SIZE_TOL_MM)
    vol = mask.sum() * grid.voxel_volume_mm3
    assert vol == pytest.approx(2 / 3 * np.pi * 15**3, rel=0.06)  # half sphere + the half slice at z=0


def test_contact_area_of_two_boxes():
    spacing = np.array([2.0, 1.0, 0.5])
    a = np.zeros((10, 10, 10), bool)
    b = np.zeros_like(a)
    a[2:6, 2:8, 3:7] = True
    b[6:8, 3:5, 3:7] = True  # touches a's top face over 2 x 4 voxels of 1.0 x 0.5 mm
    assert measure.contact_area_mm2(a, b, spacing) == pytest.approx(2 * 4 * 0.5)
    b2 = np.zeros_like(a)
    b2[7:9, 3:5, 3:7] = True  # one voxel gap: no contact
    assert measure.contact_area_mm2(a, b2, spacing) == 0.0
