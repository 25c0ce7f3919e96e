"""Hepatic veins on a small synthetic working volume (issues 17/18): veins only faintly brighter than
the liver (as in the portal-venous phase), veins as bright as bone, an IVC lumen no brighter than the
liver, and a liver mask that leaks above the diaphragm. The truth is the painted tubes."""

from __future__ import annotations

import numpy as np
import pytest

from ivcplan.anatomy import veins
from ivcplan.anatomy.veins import find_branch_veins

SPACING = np.array([2.0, 1.5, 1.5])
SHAPE = (50, 100, 100)
IVC_YX = (60.0, 50.0)  # y grows posteriorly, x to the patient's left (working frame)
IVC_RADIUS_MM = 10.0
OSTIUM_Z = 38  # slice of the ostia (76 mm); the liver's top at slice 44
#: Direction each vein leaves the IVC in (degrees: 0 left, 90 anterior, 180 right).
AZIMUTH = {"right": 170.0, "middle": 100.0, "left": 35.0}
DESCENT_DEG = 25.0
VEIN_RADIUS_MM = 5.0
VEIN_LENGTH_MM = 60.0
PORTAL = (12, 30.0)  # slice and y of a portal vein branch running left-right, far from the IVC


def _coords() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    zz, yy, xx = np.meshgrid(*(np.arange(n) * s for n, s in zip(SHAPE, SPACING, strict=True)), indexing="ij")
    return zz, yy, xx


def _segment_distance(zz, yy, xx, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    p = np.stack([zz, yy, xx], axis=-1) - a
    d = b - a
    t = np.clip(p @ d / float(d @ d), 0.0, 1.0)
    return np.linalg.norm(p - t[..., None] * d, axis=-1)


def phantom(*, liver_hu=100.0, vein_hu=128.0, lumen_hu=200.0, portal_hu=175.0, noise=8.0, seed=0,
            leak: bool = False):
    """HU volume, IVC mask, liver mask, vein masks (side -> mask), portal mask, IVC centres."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = _coords()
    hu = np.full(SHAPE, -100.0)
    liver = (zz >= 6) & (zz <= 88) & (yy >= 18) & (yy <= 125) & (xx >= 8) & (xx <= 110)
    if leak:  # a narrow strip of "liver" running on up into the heart beside the IVC
        liver |= (zz > 88) & (np.abs(yy - 75.0) < 6) & (np.abs(xx - 60.0) < 6)
    hu[liver] = liver_hu
    cy, cx = IVC_YX[0] * SPACING[1], IVC_YX[1] * SPACING[2]
    ivc = np.hypot(yy - cy, xx - cx) <= IVC_RADIUS_MM
    tubes = {}
    for side, az in AZIMUTH.items():
        a_rad, e_rad = np.radians(az), np.radians(DESCENT_DEG)
        u = np.array([-np.sin(e_rad), -np.cos(e_rad) * np.sin(a_rad), np.cos(e_rad) * np.cos(a_rad)])
        wall = IVC_RADIUS_MM * 0.8 * np.array([0.0, u[1], u[2]]) / np.hypot(u[1], u[2])
        start = np.array([OSTIUM_Z * SPACING[0], cy, cx]) + wall
        tube = _segment_distance(zz, yy, xx, start, start + VEIN_LENGTH_MM * u) <= VEIN_RADIUS_MM
        tubes[side] = tube & liver & ~ivc
        hu[tubes[side]] = vein_hu
    portal = (np.abs(zz - PORTAL[0] * SPACING[0]) <= 5) & (np.abs(yy - PORTAL[1]) <= 5) & (xx >= 20) & (xx <= 90)
    hu[portal] = portal_hu
    hu[ivc] = lumen_hu
    hu += rng.normal(0.0, noise, SHAPE)
    centres = {z: IVC_YX for z in range(SHAPE[0])}
    return hu.astype(np.float32), ivc, liver, tubes, portal, centres


def _run(hu, ivc, liver, centres, *, lumen_hu=200.0, liver_hu=100.0, bone=None):
    return find_branch_veins(hu, SPACING, ivc=ivc, centres=centres, excluded=np.zeros_like(ivc), liver=liver,
                             kidneys={}, lumen_hu=lumen_hu, liver_hu=liver_hu, junction_z=None, bone=bone)


def _check_sides(found, tubes, portal):
    assert set(found.hepatic) == {"right", "middle", "left"}, found.notes
    for side, mask in found.hepatic.items():
        # Most of each label lies in its own vein (a margin for the partial-volume rim), none in the
        # portal vein, and it reaches its ostium at the IVC.
        inside = np.count_nonzero(mask & tubes[side]) / np.count_nonzero(mask)
        assert inside >= 0.6, (side, inside)
        assert np.count_nonzero(mask & tubes[side]) >= 0.3 * np.count_nonzero(tubes[side]), side
        assert not np.any(mask & portal)
        z_mouth = np.nonzero(mask)[0].max()
        assert abs(z_mouth - OSTIUM_Z) * SPACING[0] <= 10.0, (side, z_mouth)


def test_faint_hepatic_veins_below_the_blood_band_are_traced():
    # Veins 28 HU above the liver: under the band measured on the IVC lumen (from 140 HU here).
    hu, ivc, liver, tubes, portal, centres = phantom()
    assert veins.blood_band(200.0, 100.0)[0] > 128.0 + 8.0
    _check_sides(_run(hu, ivc, liver, centres), tubes, portal)


def test_hepatic_veins_as_bright_as_bone_are_veins_inside_the_liver():
    hu, ivc, liver, tubes, portal, centres = phantom(liver_hu=135.0, vein_hu=215.0, lumen_hu=250.0)
    bone = hu > 180.0
    found = _run(hu, ivc, liver, centres, lumen_hu=250.0, liver_hu=135.0, bone=bone)
    _check_sides(found, tubes, portal)


def test_hepatic_veins_traced_when_the_ivc_lumen_is_no_brighter_than_the_liver():
    # Unenhanced infrarenal blood measured as "the lumen": renal veins are not looked for, the hepatic
    # veins still are (against the liver).
    hu, ivc, liver, tubes, portal, centres = phantom(vein_hu=135.0, lumen_hu=110.0)
    found = _run(hu, ivc, liver, centres, lumen_hu=110.0)
    assert any("renal veins not segmented" in n for n in found.notes)
    _check_sides(found, tubes, portal)


def test_no_hepatic_vein_is_invented_in_plain_parenchyma():
    hu, ivc, liver, _, _, centres = phantom(vein_hu=100.0)
    found = _run(hu, ivc, liver, centres)
    assert found.hepatic == {}
    assert any("hepatic veins not found" in n for n in found.notes)


@pytest.mark.parametrize("leak", [False, True])
def test_liver_top_beside_the_ivc_ignores_a_leak_into_the_heart(leak):
    _, _, liver, _, _, centres = phantom(leak=leak)
    axis = np.array([centres[z] for z in range(SHAPE[0])], dtype=float)
    assert veins._liver_top_beside_ivc(liver, axis, SPACING) == 44
