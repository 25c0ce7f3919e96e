"""Slice geometry and colouring (pure numpy): screen orientation, index round trips, W/L, overlays."""

from __future__ import annotations

import numpy as np
import pytest

from ivcplan.viewer.slicing import PRESETS, compose_rgb, distance_mm, plane_for, window_to_gray
from ivcplan.volume import Grid

AXIAL_HFS = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # z=S, y=P, x=L


def _marker_grid(direction: np.ndarray) -> tuple[Grid, np.ndarray, dict[str, int]]:
    """A grid and an array with one bright voxel placed at the patient's right, anterior, superior corner."""
    shape = (6, 7, 8)
    grid = Grid(shape, (2.0, 1.0, 1.5), (0.0, 0.0, 0.0), direction)
    arr = np.zeros(shape, np.int16)
    # The voxel whose LPS position is smallest in x (right), smallest in y (anterior), largest in z (superior).
    idx = np.indices(shape).reshape(3, -1).T
    lps = grid.index_to_lps(idx)
    score = -lps[:, 0] - lps[:, 1] + lps[:, 2]
    target = idx[int(np.argmax(score))]
    arr[tuple(target)] = 1
    return grid, arr, dict(zip("zyx", (int(v) for v in target), strict=True))


@pytest.mark.parametrize("flip", [(1, 1, 1), (-1, 1, 1), (1, -1, 1), (1, 1, -1), (-1, -1, -1)])
def test_views_follow_radiological_orientation_for_any_axis_sign(flip):
    grid, arr, _ = _marker_grid(AXIAL_HFS * np.asarray(flip, dtype=float)[None, :])
    marker = np.argwhere(arr)[0]
    # axial: patient right -> screen left (col 0), anterior -> screen top (last row, row 0 is the bottom)
    axial = plane_for(grid, "axial")
    img = axial.extract(arr, marker[axial.normal_axis])
    rows, cols = np.nonzero(img)
    assert (cols[0], rows[0]) == (0, img.shape[0] - 1)
    # coronal: right -> left, superior -> top
    coronal = plane_for(grid, "coronal")
    img = coronal.extract(arr, marker[coronal.normal_axis])
    rows, cols = np.nonzero(img)
    assert (cols[0], rows[0]) == (0, img.shape[0] - 1)
    # sagittal: anterior -> left, superior -> top
    sagittal = plane_for(grid, "sagittal")
    img = sagittal.extract(arr, marker[sagittal.normal_axis])
    rows, cols = np.nonzero(img)
    assert (cols[0], rows[0]) == (0, img.shape[0] - 1)


def test_pixel_index_round_trip_and_spacing():
    grid = Grid((6, 7, 8), (2.0, 1.0, 1.5), (0.0, 0.0, 0.0), AXIAL_HFS * np.array([1.0, -1.0, 1.0]))
    arr = np.arange(np.prod(grid.shape)).reshape(grid.shape)
    for name in ("axial", "coronal", "sagittal"):
        plane = plane_for(grid, name)
        img = plane.extract(arr, 3)
        assert img.shape == (plane.size[1], plane.size[0])
        for col, row in [(0, 0), (plane.size[0] - 1, 1), (2, plane.size[1] - 1)]:
            index = plane.to_index(col, row, 3)
            assert arr[tuple(index.astype(int))] == img[row, col]
            assert np.allclose(plane.to_pixel(index), (col, row))
    coronal = plane_for(grid, "coronal")
    assert coronal.pixel_spacing == (1.5, 2.0)  # columns along x (1.5 mm), rows along z (2 mm)


def test_window_level_maps_the_window_linearly_and_clips():
    width, centre = PRESETS["abdomen"]
    hu = np.array([[centre - width / 2, centre, centre + width / 2, -1000, 3000]])
    gray = window_to_gray(hu, width, centre)
    assert gray.tolist() == [[0, 127, 255, 0, 255]]


def test_overlay_blends_only_visible_labels():
    gray = np.full((2, 2), 100, np.uint8)
    labels = np.array([[0, 1], [2, 2]])
    rgb = compose_rgb(gray, labels, {2: (240, 200, 20)}, 0.5)
    assert rgb[0, 0].tolist() == [100, 100, 100]
    assert rgb[0, 1].tolist() == [100, 100, 100]  # label 1 hidden
    assert rgb[1, 0].tolist() == [170, 150, 60]


def test_distance_uses_physical_spacing():
    grid = Grid((10, 10, 10), (3.0, 0.5, 0.8), (0.0, 0.0, 0.0), AXIAL_HFS)
    assert distance_mm(grid, (0, 0, 0), (2, 4, 5)) == pytest.approx(np.sqrt(6.0**2 + 2.0**2 + 4.0**2))
