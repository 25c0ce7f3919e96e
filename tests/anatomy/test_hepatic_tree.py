"""Hepatic veins followed through the liver and told from the portal vein they touch
(`anatomy.hepatic_tree`, issue 17): on a small synthetic working volume a hepatic vein runs from the IVC
down into the liver and a portal vein, as bright, enters from the hilum below and touches it on the
way. The truth is the painted tubes."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ivcplan.anatomy.hepatic_tree import CLEAR_MM, grow_hepatic_veins

SPACING = np.array([2.0, 1.5, 1.5])
SHAPE = (60, 100, 100)
IVC_YX_MM = (100.0, 90.0)
IVC_RADIUS_MM = 10.0
HEPATIC = (np.array([100.0, 95.0, 80.0]), np.array([30.0, 40.0, 25.0]), 4.0)  # from, to (z, y, x mm), radius
PORTAL_RADIUS_MM = 3.5
GAP_MM = 1.5
LIVER_BOTTOM_MM = 20.0


def _grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.meshgrid(*(np.arange(n) * s for n, s in zip(SHAPE, SPACING, strict=True)), indexing="ij")


def _tube(a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    zz, yy, xx = _grid()
    p = np.stack([zz, yy, xx], axis=-1) - a
    d = b - a
    t = np.clip(p @ d / float(d @ d), 0.0, 1.0)
    return np.linalg.norm(p - t[..., None] * d, axis=-1) <= radius


def _volume(*, hilum_outside: bool = True, seed: int = 0):
    """HU, IVC, liver, hepatic vein and portal vein masks. The portal vein's trunk comes up from below
    the liver (outside it when ``hilum_outside``) and its branch touches the hepatic vein half way."""
    zz, yy, xx = _grid()
    liver = (zz >= (LIVER_BOTTOM_MM if hilum_outside else 0.0)) & (yy >= 15) & (yy <= 135) & (xx >= 8) & (xx <= 140)
    ivc = np.hypot(yy - IVC_YX_MM[0], xx - IVC_YX_MM[1]) <= IVC_RADIUS_MM
    a, b, r = HEPATIC
    hepatic = _tube(a, b, r) & ~ivc
    # The branch crosses the hepatic vein's middle at right angles, its wall `GAP_MM` from the vein's:
    # blurred as by the scanner, they touch in the image. The trunk comes up to the branch's lower end
    # from below the liver.
    mid = 0.5 * (a + b)
    along = (b - a) / np.linalg.norm(b - a)
    offset = np.cross(along, [1.0, 0.0, 0.0])
    offset /= np.linalg.norm(offset)
    across = np.cross(along, offset)
    touch = mid + offset * (r + PORTAL_RADIUS_MM + GAP_MM)
    ends = sorted((touch - 35.0 * across, touch + 35.0 * across), key=lambda p: p[0])
    portal = _tube(np.array([0.0, 60.0, 70.0]), ends[0], 5.0) | _tube(ends[0], ends[1], PORTAL_RADIUS_MM)
    portal &= ~hepatic & ~ivc
    hu = np.full(SHAPE, -80.0, dtype=np.float32)
    hu[liver] = 100.0
    hu[portal | hepatic] = 150.0
    hu[ivc] = 160.0
    hu = ndimage.gaussian_filter(hu, 0.8 / SPACING)
    hu += np.random.default_rng(seed).normal(0.0, 10.0, SHAPE).astype(np.float32)
    return hu, ivc, liver, hepatic & liver, portal


def _ostium(hepatic: np.ndarray, ivc: np.ndarray, reach_mm: float = 15.0) -> np.ndarray:
    """The hepatic vein within ``reach_mm`` of the IVC: what is found at the ostia."""
    return hepatic & (ndimage.distance_transform_edt(~ivc, sampling=SPACING) <= reach_mm)


def test_the_hepatic_vein_is_followed_through_the_liver_and_not_into_the_portal_vein_it_touches():
    hu, ivc, liver, hepatic, portal = _volume()
    # The two trees touch: a threshold 12 HU above the liver (3 SDs of its smoothed noise) makes them one.
    bright = ndimage.gaussian_filter(hu, 1.0 / SPACING) > 112.0
    comp, _ = ndimage.label(bright & ~ivc)
    shared = np.intersect1d(np.unique(comp[hepatic & bright]), np.unique(comp[portal & bright]))
    assert np.any(shared > 0)
    grown = grow_hepatic_veins(hu, SPACING, ivc, liver, np.zeros_like(ivc), SHAPE[0] - 1,
                               {"right": _ostium(hepatic, ivc)}, {})
    assert set(grown) == {"right"}
    vein = grown["right"]
    assert np.count_nonzero(vein & hepatic) >= 0.7 * np.count_nonzero(hepatic)
    assert np.count_nonzero(vein & portal) <= 0.05 * np.count_nonzero(portal)
    # Beyond the vein: its blurred rim only (one working voxel around a 4 mm vein: 0.9 of its volume).
    assert np.count_nonzero(vein & ~hepatic) <= 1.0 * np.count_nonzero(vein & hepatic)


def test_a_vein_not_found_at_its_ostium_is_sought_from_its_sector_of_the_ivc_wall():
    hu, ivc, liver, hepatic, portal = _volume()
    shell = (ndimage.distance_transform_edt(~ivc, sampling=SPACING) <= 3.0) & ~ivc
    zz = np.arange(SHAPE[0])[:, None, None] * SPACING[0]
    shell &= zz >= 80.0
    grown = grow_hepatic_veins(hu, SPACING, ivc, liver, np.zeros_like(ivc), SHAPE[0] - 1, {}, {"middle": shell})
    assert set(grown) == {"middle"}
    assert np.count_nonzero(grown["middle"] & hepatic) >= 0.7 * np.count_nonzero(hepatic)
    assert np.count_nonzero(grown["middle"] & portal) <= 0.05 * np.count_nonzero(portal)


def test_nothing_is_grown_without_a_portal_vein_entering_from_outside():
    # The portal trunk inside the liver mask all the way: no hilum to seed it, and the hepatic vein
    # would take the portal tree with it.
    hu, ivc, liver, hepatic, _ = _volume(hilum_outside=False)
    assert grow_hepatic_veins(hu, SPACING, ivc, liver, np.zeros_like(ivc), SHAPE[0] - 1,
                              {"right": _ostium(hepatic, ivc)}, {}) == {}


def test_what_is_grown_keeps_off_the_ivc_wall():
    # The vein runs on beside the IVC below its ostium: there it is no ostium (the landmarks take a
    # vein's contact with the IVC for one), nor, beside a tumor, invasion.
    hu, ivc, liver, hepatic, _ = _volume()
    ostium = _ostium(hepatic, ivc, 3.0)
    near = ndimage.distance_transform_edt(~ivc, sampling=SPACING) <= CLEAR_MM
    assert np.any(hepatic & near & ~ostium)  # the painted vein does come that close
    vein = grow_hepatic_veins(hu, SPACING, ivc, liver, np.zeros_like(ivc), SHAPE[0] - 1, {"right": ostium}, {})["right"]
    assert not np.any(vein & near & ~ostium)
    assert np.count_nonzero(vein & hepatic) >= 0.7 * np.count_nonzero(hepatic)
    # Where the veins open (the ostia's slices), what is grown may meet the IVC.
    zz = np.arange(SHAPE[0])[:, None, None] * SPACING[0] + np.zeros(SHAPE)
    mouths = zz >= 97.0
    opened = grow_hepatic_veins(hu, SPACING, ivc, liver, np.zeros_like(ivc), SHAPE[0] - 1, {"right": ostium}, {},
                                mouths)["right"]
    assert np.any(opened & near & mouths & ~ostium)
    assert not np.any(opened & near & ~mouths & ~ostium)
