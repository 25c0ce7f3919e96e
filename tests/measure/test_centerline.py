"""IVC centerline and cross-sections on synthetic tubes with known axes."""

from __future__ import annotations

import numpy as np
import pytest
from measure_synth import AXIAL, lps_points

from ivcplan.errors import AnalysisError
from ivcplan.labels import Label
from ivcplan.measure import centerline as vessel
from ivcplan.volume import Grid, Labelmap

AXIS_TOL_MM = 1.0
#: The last radius at each end is a straight prolongation of the path: on a curve it drifts a bit.
END_AXIS_TOL_MM = 2.0
#: Oblique planes through voxel masks of radius 4-12 voxels alias by a few percent.
AREA_TOL = 0.06


def _grid(shape, spacing) -> Grid:
    return Grid(shape, spacing, (0.0, 0.0, 0.0), AXIAL)


def _tube_labels(grid: Grid, dist_to_axis: np.ndarray, inside_range: np.ndarray, r: float) -> np.ndarray:
    lab = np.zeros(grid.shape, np.uint8)
    lab[(dist_to_axis <= r) & inside_range] = Label.IVC_LUMEN
    return lab


def test_straight_tube_with_half_tumor():
    grid = _grid((60, 40, 40), (2.0, 0.8, 0.8))
    p = lps_points(grid)
    r = 10.0
    dist = np.hypot(p[..., 0] - 16.0, p[..., 1] - 16.0)
    lab = _tube_labels(grid, dist, np.ones(grid.shape, bool), r)
    lab[(lab == Label.IVC_LUMEN) & (p[..., 2] > 40) & (p[..., 2] < 80) & (p[..., 0] > 16.0)] = Label.IVC_TUMOR
    cl = vessel.trace_centerline(Labelmap(lab, grid))
    assert cl.reaches_caudal_border and cl.reaches_cranial_border
    assert np.all(np.hypot(cl.points[:, 0] - 16.0, cl.points[:, 1] - 16.0) < AXIS_TOL_MM)
    assert cl.points[0, 2] < cl.points[-1, 2]  # caudal -> cranial
    assert cl.length_mm == pytest.approx(118.0, abs=2.0)
    assert np.allclose(np.diff(cl.s), vessel.STEP_MM, atol=0.05)
    free = (cl.points[:, 2] > 5) & (cl.points[:, 2] < 30)  # the tip section lies on the end face
    assert np.allclose(cl.total_area_mm2[free], np.pi * r * r, rtol=AREA_TOL)
    assert np.allclose(cl.eq_diameter_mm[free], 2 * r, atol=0.5)
    assert np.allclose(cl.max_diameter_mm[free], 2 * r, atol=1.0)
    assert np.allclose(cl.min_diameter_mm[free], 2 * r, atol=1.0)
    # Transverse (towards patient left) and AP widths of a round vein: its diameter.
    assert np.allclose(cl.transverse_mm[free], 2 * r, atol=1.0) and np.allclose(cl.ap_mm[free], 2 * r, atol=1.0)
    assert np.all(cl.tumor_area_mm2[free] == 0) and np.all(cl.wall_involvement_deg[free] == 0)
    assert np.all(cl.branch_contact_pct == 0) and np.all(cl.atrium_contact_pct == 0)
    half = (cl.points[:, 2] > 50) & (cl.points[:, 2] < 70)
    assert np.allclose(cl.lumen_area_mm2[half] / cl.total_area_mm2[half], 0.5, atol=0.04)
    assert np.allclose(cl.wall_involvement_deg[half], 180.0, atol=10.0)
    # Projection: on the axis, and extended beyond both ends along the tangent.
    s = cl.project([[16.0, 16.0, 60.0], [16.0, 16.0, -10.0], [16.0, 16.0, 130.0], [25.0, 16.0, 60.0]])
    z0 = cl.points[0, 2]
    assert s == pytest.approx([60.0 - z0, -10.0 - z0, 130.0 - z0, 60.0 - z0], abs=0.2)
    assert cl.point_at(s[1]) == pytest.approx([16.0, 16.0, -10.0], abs=0.2)


def test_tilted_tube_sections_are_perpendicular():
    grid = _grid((50, 40, 70), (2.0, 1.0, 1.0))
    p = lps_points(grid)
    tilt = np.deg2rad(30)
    axis = np.array([np.sin(tilt), 0.0, np.cos(tilt)])
    base = np.array([10.0, 20.0, 0.0])
    rel = p - base
    t = rel @ axis
    dist = np.linalg.norm(rel - t[..., None] * axis, axis=-1)
    r = 8.0
    cl = vessel.trace_centerline(Labelmap(_tube_labels(grid, dist, (t > 5) & (t < 100), r), grid))
    rel_c = cl.points - base
    off = np.linalg.norm(rel_c - (rel_c @ axis)[:, None] * axis, axis=1)
    assert np.all(off < AXIS_TOL_MM)
    assert abs(cl.tangents[len(cl) // 2] @ axis) > 0.999
    mid = (cl.s > 10) & (cl.s < cl.length_mm - 10)
    # Perpendicular cut: pi r^2 (an axial cut would be 15 % larger).
    assert np.allclose(cl.total_area_mm2[mid], np.pi * r * r, rtol=AREA_TOL)
    # Feret of a jagged voxel outline: up to a voxel diagonal wider, the median within 1.5 mm.
    assert np.median(cl.max_diameter_mm[mid]) == pytest.approx(2 * r, abs=1.5)
    assert np.allclose(cl.max_diameter_mm[mid], 2 * r, atol=2.0)
    assert cl.length_mm == pytest.approx(95.0, abs=4.0)


def test_curved_tube_follows_the_arc():
    # A quarter circle of radius 60 mm in the y-z plane (the IVC bending forward).
    grid = _grid((40, 45, 20), (2.0, 2.0, 2.0))
    p = lps_points(grid)
    centre = np.array([20.0, 80.0, 0.0])  # x, y, z
    rho = np.hypot(p[..., 1] - centre[1], p[..., 2] - centre[2])
    ring = np.hypot(rho - 60.0, p[..., 0] - centre[0])
    angle = np.arctan2(p[..., 2] - centre[2], centre[1] - p[..., 1])
    inside = (angle > 0.05) & (angle < np.pi / 2 - 0.05)
    lab = np.zeros(grid.shape, np.uint8)
    lab[(ring <= 7.0) & inside] = Label.IVC_LUMEN
    cl = vessel.trace_centerline(Labelmap(lab, grid))
    rho_c = np.hypot(cl.points[:, 1] - centre[1], cl.points[:, 2] - centre[2])
    inner = (cl.s > 7.0) & (cl.s < cl.length_mm - 7.0)
    assert np.all(np.abs(rho_c[inner] - 60.0) < AXIS_TOL_MM)
    assert np.all(np.abs(rho_c - 60.0) < END_AXIS_TOL_MM)
    assert np.all(np.abs(cl.points[:, 0] - 20.0) < AXIS_TOL_MM)
    assert cl.length_mm == pytest.approx(60.0 * (np.pi / 2 - 0.1), rel=0.05)
    assert cl.points[0, 2] < cl.points[-1, 2]
    mid = (cl.s > 10) & (cl.s < cl.length_mm - 10)
    # r = 3.5 voxels: single sections alias by up to ~12 %, their median is unbiased.
    assert np.median(cl.total_area_mm2[mid]) == pytest.approx(np.pi * 49.0, rel=0.03)
    assert np.allclose(cl.total_area_mm2[mid], np.pi * 49.0, rtol=0.15)


def test_small_gap_and_tumor_filling_the_lumen_keep_one_centerline():
    grid = _grid((60, 30, 30), (2.0, 1.0, 1.0))
    p = lps_points(grid)
    dist = np.hypot(p[..., 0] - 15.0, p[..., 1] - 15.0)
    lab = _tube_labels(grid, dist, np.ones(grid.shape, bool), 8.0)
    lab[(p[..., 2] >= 50) & (p[..., 2] <= 54)] = 0  # a 6 mm gap (3 slices)
    lab[(lab > 0) & (p[..., 2] > 70) & (p[..., 2] < 90)] = Label.IVC_TUMOR  # fills the lumen
    cl = vessel.trace_centerline(Labelmap(lab, grid))
    assert cl.length_mm == pytest.approx(118.0, abs=2.0)
    assert np.all(np.hypot(cl.points[:, 0] - 15.0, cl.points[:, 1] - 15.0) < AXIS_TOL_MM)
    filled = (cl.points[:, 2] > 74) & (cl.points[:, 2] < 86)
    assert np.all(cl.lumen_area_mm2[filled] == 0.0)
    assert np.all(cl.wall_involvement_deg[filled] == 360.0)
    gap = (cl.points[:, 2] > 51) & (cl.points[:, 2] < 53)
    assert np.all(cl.total_area_mm2[gap] == 0.0)


def test_no_ivc_raises_and_single_voxel_works():
    grid = _grid((10, 10, 10), (1.0, 1.0, 1.0))
    with pytest.raises(AnalysisError, match="no IVC voxels"):
        vessel.trace_centerline(Labelmap.empty(grid))
    lab = np.zeros(grid.shape, np.uint8)
    lab[5, 5, 5] = Label.IVC_THROMBUS
    cl = vessel.trace_centerline(Labelmap(lab, grid))
    assert len(cl) == 1 and cl.length_mm == 0.0
    assert cl.thrombus_area_mm2[0] > 0 and cl.lumen_area_mm2[0] == 0
    assert cl.project([[5.0, 5.0, 8.0]]) == pytest.approx([3.0])


def test_input_labelmap_is_not_modified():
    grid = _grid((20, 20, 20), (1.0, 1.0, 1.0))
    lab = np.zeros(grid.shape, np.uint8)
    lab[:, 8:12, 8:12] = Label.IVC_LUMEN
    before = lab.copy()
    vessel.trace_centerline(Labelmap(lab, grid))
    assert np.array_equal(lab, before)


def test_pieces_too_far_apart_to_bridge_give_the_largest_ones_centerline(caplog):
    # A 150 mm IVC and, 80 mm to its side and lower, a stray piece of IVC labels (12 % of its voxels):
    # no gap may be bridged there. The path follows the IVC instead of failing ("no minimum-cost
    # path", issue 18 seeds 100001 and 100008).
    grid = _grid((90, 40, 130), (2.0, 1.2, 1.2))
    p = lps_points(grid)
    lab = _tube_labels(grid, np.hypot(p[..., 0] - 20.0, p[..., 1] - 24.0), p[..., 2] >= 30.0, 9.0)
    stray = (np.hypot(p[..., 0] - 130.0, p[..., 1] - 24.0) <= 8.0) & (p[..., 2] <= 40.0)
    lab[stray] = Label.IVC_LUMEN
    with caplog.at_level("WARNING", logger="ivcplan.measure.centerline"):
        cl = vessel.trace_centerline(Labelmap(lab, grid))
    assert "2 IVC pieces lie more than 60 mm apart" in caplog.text
    assert np.all(np.hypot(cl.points[:, 0] - 20.0, cl.points[:, 1] - 24.0) < AXIS_TOL_MM)
    assert cl.length_mm == pytest.approx(148.0, abs=3.0)
