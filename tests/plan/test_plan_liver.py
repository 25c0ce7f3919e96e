"""Future liver remnant on synthetic labelmaps with analytic answers.

Liver = a sphere; IVC = a vertical cylinder touching it from behind; middle hepatic vein = a tube
leaving the IVC forwards at an angle. The remnant is the part of the sphere on the patient-left
side of the vertical plane through the IVC axis and the vein: a spherical cap, known exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ivcplan.labels import Label
from ivcplan.measure.liver import FLR_METHOD, liver_volumes
from ivcplan.volume import Grid, Labelmap

RADIUS = 40.0  # mm
IVC_RADIUS = 9.0
VEIN_RADIUS = 3.0
# Voxelising a 40 mm sphere at 1-1.5 mm changes volumes by about 0.1 % (measured): 1 % leaves room.
VOLUME_RTOL = 0.01
RATIO_ATOL = 0.005


def cap_ml(height: float) -> float:
    return math.pi * height**2 * (3 * RADIUS - height) / 3 / 1000


def phantom(angle_deg: float, shift_mm: float, *, spacing=(1.5, 1.0, 1.0), flip_z: bool = False,
            labels=("liver", "ivc", "mhv", "rhv"), rhv_towards_left: bool = False,
            veins_outside_liver: bool = False) -> tuple[Labelmap, float]:
    """Labelmap and the analytic left-liver volume (ml).

    The IVC axis is the vertical line x = ``shift_mm``, y = RADIUS + IVC_RADIUS (behind the liver
    centred at the origin); the vein leaves it forwards, turned ``angle_deg`` towards patient left.
    """
    shape = (int(110 / spacing[0]), int(130 / spacing[1]), int(110 / spacing[2]))
    direction = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    if flip_z:  # feet-first slice order: array axis 0 runs towards the feet
        direction[:, 0] *= -1
    extent = (np.array(shape) - 1) * np.array(spacing)
    origin = -(direction * np.array(spacing)[None, :]) @ ((np.array(shape) - 1) / 2) + np.array([0.0, 10.0, 0.0])
    grid = Grid(shape, spacing, origin, direction)
    assert np.all(extent > 2 * RADIUS)
    idx = np.indices(shape).reshape(3, -1).T
    lps = grid.index_to_lps(idx)
    x, y, z = lps[:, 0], lps[:, 1], lps[:, 2]
    array = np.zeros(len(lps), dtype=np.uint8)
    axis_xy = np.array([shift_mm, RADIUS + IVC_RADIUS])
    if "liver" in labels:
        array[x**2 + y**2 + z**2 <= RADIUS**2] = Label.LIVER
    if "ivc" in labels:
        array[(x - axis_xy[0]) ** 2 + (y - axis_xy[1]) ** 2 <= IVC_RADIUS**2] = Label.IVC_LUMEN
    theta = math.radians(angle_deg)
    forward = np.array([math.sin(theta), -math.cos(theta)])  # -y is anterior in LPS, +x left

    def tube(direction_xy: np.ndarray, label: Label) -> None:
        rel = np.stack([x - axis_xy[0], y - axis_xy[1]], axis=1)
        along = rel @ direction_xy
        across = np.abs(rel @ np.array([-direction_xy[1], direction_xy[0]]))
        # The vein descends 0.3 mm per mm from its ostium at z = 20 mm (it runs down into the liver).
        inside = (along > IVC_RADIUS) & (along < IVC_RADIUS + 45) & (across <= VEIN_RADIUS)
        inside &= np.abs(z - (20 - 0.3 * along)) <= VEIN_RADIUS
        array[inside & ((array == Label.LIVER) | veins_outside_liver)] = label

    if "mhv" in labels:
        tube(forward, Label.HEPATIC_VEIN_MIDDLE)
    if "rhv" in labels:
        right = np.array([-math.cos(theta + 0.3), -math.sin(theta + 0.3)])  # towards patient right
        if rhv_towards_left:  # mirrored in the plane: the vein labelled right lies left of it
            normal_xy = np.array([math.cos(theta), math.sin(theta)])
            right = right - 2 * (right @ normal_xy) * normal_xy
        tube(right / np.linalg.norm(right), Label.HEPATIC_VEIN_RIGHT)
    labelmap = Labelmap(array.reshape(shape), grid)
    # Plane: contains the vertical axis through axis_xy and `forward`; left normal n = (cos, sin).
    normal = np.array([math.cos(theta), math.sin(theta)])
    h = float(normal @ (np.zeros(2) - axis_xy))  # signed distance of the sphere centre (left positive)
    total = 4 / 3 * math.pi * RADIUS**3 / 1000
    left = total - cap_ml(RADIUS - h) if h >= 0 else cap_ml(RADIUS + h)
    return labelmap, left


@pytest.mark.parametrize(("angle", "shift"), [(0.0, 0.0), (0.0, 12.0), (20.0, 0.0), (-15.0, -6.0)])
def test_remnant_matches_the_spherical_cap(angle: float, shift: float) -> None:
    labelmap, left_ml = phantom(angle, shift)
    out = liver_volumes(labelmap)
    total = 4 / 3 * math.pi * RADIUS**3 / 1000
    assert out["flr_method"] == FLR_METHOD and out["flr_reason"] is None
    assert out["volume_ml"] == pytest.approx(total, rel=VOLUME_RTOL)
    assert out["flr_ml"] == pytest.approx(left_ml, rel=VOLUME_RTOL)
    assert out["flr_ratio"] == pytest.approx(left_ml / total, abs=RATIO_ATOL)
    normal = np.array(out["flr_plane"]["normal"])
    theta = math.radians(angle)
    assert normal @ np.array([math.cos(theta), math.sin(theta), 0.0]) > math.cos(math.radians(2.0))


def test_geometry_is_physical_not_index_based() -> None:
    """Feet-first slice order and another spacing give the same answer in millimetres."""
    a = liver_volumes(phantom(20.0, 5.0)[0])
    b = liver_volumes(phantom(20.0, 5.0, spacing=(1.0, 1.25, 1.25), flip_z=True)[0])
    assert b["flr_ratio"] == pytest.approx(a["flr_ratio"], abs=RATIO_ATOL)
    assert b["volume_ml"] == pytest.approx(a["volume_ml"], rel=VOLUME_RTOL)


def test_orientation_without_right_hepatic_vein_uses_patient_left() -> None:
    labelmap, left_ml = phantom(10.0, 10.0, labels=("liver", "ivc", "mhv"))
    out = liver_volumes(labelmap)
    assert out["flr_ml"] == pytest.approx(left_ml, rel=VOLUME_RTOL)
    assert out["flr_ratio"] < 0.5  # the IVC axis lies 10 mm left of the liver's centre


def test_right_hepatic_vein_decides_the_side_over_patient_left() -> None:
    # A vein labelled "right" on the patient-left side (mirrored anatomy) makes the other side the remnant.
    labelmap, left_ml = phantom(0.0, 0.0, rhv_towards_left=True)
    out = liver_volumes(labelmap)
    assert out["flr_ml"] == pytest.approx(out["volume_ml"] - left_ml, rel=VOLUME_RTOL)


def test_near_coronal_plane_without_side_veins_is_undefined() -> None:
    # The middle vein runs 80 degrees towards patient left: "left of the plane" is mostly "behind it".
    labelmap, _ = phantom(80.0, 0.0, labels=("liver", "ivc", "mhv"), veins_outside_liver=True)
    out = liver_volumes(labelmap)
    assert out["flr_ratio"] is None and "not sagittal enough" in out["flr_reason"]


@pytest.mark.parametrize(("labels", "volume_known", "reason"), [
    (("ivc", "mhv"), False, "liver not segmented"),
    (("liver", "ivc"), True, "middle hepatic vein not segmented"),
    (("liver", "mhv"), True, "IVC not segmented at the levels of the liver"),
])
def test_missing_structures_give_null_with_reason(labels: tuple, volume_known: bool, reason: str) -> None:
    out = liver_volumes(phantom(0.0, 0.0, labels=labels)[0])
    assert out["flr_ml"] is None and out["flr_ratio"] is None and out["flr_method"] is None
    assert out["flr_reason"] == reason
    assert (out["volume_ml"] is not None) == volume_known


def test_input_labelmap_is_not_modified() -> None:
    labelmap, _ = phantom(0.0, 0.0)
    before = labelmap.array.copy()
    liver_volumes(labelmap)
    assert np.array_equal(labelmap.array, before)


# -- issue 19: the remnant's uncertainty and the caudate lobe (ivcplan.measure.remnant) ----------------------
def test_remnant_range_is_the_plane_shift_and_the_boundary() -> None:
    from ivcplan.measure import remnant

    labelmap, left_ml = phantom(0.0, 12.0)
    out = liver_volumes(labelmap)
    spread = remnant.uncertainty(labelmap, out)
    total = out["volume_ml"]
    # Plane 5 mm either way: the analytic caps of a sphere cut at h -/+ 5 mm (h = distance of its centre).
    h = 12.0  # the IVC axis 12 mm left of the centre: the left remnant is the smaller cap
    small, large = cap_ml(RADIUS - h - remnant.PLANE_SHIFT_MM), cap_ml(RADIUS - h + remnant.PLANE_SHIFT_MM)
    assert cap_ml(RADIUS - h) == pytest.approx(left_ml, rel=VOLUME_RTOL)
    lo, hi = spread["flr_ml_range"]
    boundary = spread["volume_ml_range"][1] - total
    assert 0 < boundary < 0.1 * total  # half a voxel over a 40 mm sphere's surface: about 5 %
    assert lo == pytest.approx(small - out["flr_ratio"] * boundary, rel=0.05)
    assert hi == pytest.approx(large + out["flr_ratio"] * boundary, rel=0.05)
    assert spread["flr_ratio_range"][0] < out["flr_ratio"] < spread["flr_ratio_range"][1]
    none = remnant.uncertainty(labelmap, {"volume_ml": None})
    assert none == {"volume_ml_range": None, "flr_ml_range": None, "flr_ratio_range": None}


def test_caudate_is_the_remnant_liver_against_the_ivc_between_its_bounds() -> None:
    from ivcplan.measure import remnant

    labelmap, _ = phantom(0.0, 0.0)
    out = liver_volumes(labelmap)
    lobe = remnant.caudate(labelmap, out, low_z=-20.0, high_z=20.0)
    # Liver on the left of the plane within 20 mm of the IVC (radius 9, 49 mm behind the centre), 40 mm high.
    grid = labelmap.grid
    pts = grid.index_to_lps(np.argwhere(labelmap.array == Label.LIVER))
    near = np.hypot(pts[:, 0], pts[:, 1] - (RADIUS + IVC_RADIUS)) <= IVC_RADIUS + remnant.CAUDATE_REACH_MM
    expected = np.count_nonzero(near & (pts[:, 0] > 0) & (np.abs(pts[:, 2]) <= 20.0)) * grid.voxel_volume_mm3 / 1000
    assert lobe["caudate_ml"] == pytest.approx(expected, rel=0.1)
    assert lobe["caudate_ml"] < out["flr_ml"]
    assert lobe["caudate_ml_range"] == pytest.approx([0.5 * lobe["caudate_ml"], 1.5 * lobe["caudate_ml"]])
    higher = remnant.caudate(labelmap, out, low_z=-20.0, high_z=30.0)["caudate_ml"]
    assert higher > lobe["caudate_ml"]
    missing = remnant.caudate(labelmap, out, low_z=None, high_z=20.0)
    assert missing["caudate_ml"] is None and "caudal edge" in missing["caudate_reason"]
