"""Vessel outlines settled on the scan grid (`anatomy.boundary`, issue 17): a blurred vein whose label
is a working voxel too wide comes back to its true radius; nothing is removed where the blood does
not stand out, and tumor is never removed. The truth is the painted cylinder."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ivcplan.anatomy.boundary import KEEP_MM, refine_outline
from ivcplan.labels import Label

SPACING = np.array([1.6, 0.75, 0.75])
SHAPE = (24, 90, 90)
RADIUS_MM = 10.0
LUMEN, TUMOR = int(Label.IVC_LUMEN), int(Label.IVC_TUMOR)
BLOOD, VESSEL = (LUMEN,), (LUMEN, TUMOR)


def _radius_map() -> np.ndarray:
    _, yy, xx = np.meshgrid(*(np.arange(n) * s for n, s in zip(SHAPE, SPACING, strict=True)), indexing="ij")
    c = SHAPE[1] * SPACING[1] / 2
    return np.hypot(yy - c, xx - c)


def _scan(blood_hu: float, around_hu: float, *, noise: float = 6.0, seed: int = 0) -> np.ndarray:
    """A vein of `RADIUS_MM`, blurred as by a CT kernel (sigma 1 mm), with noise."""
    hu = np.where(_radius_map() <= RADIUS_MM, blood_hu, around_hu).astype(np.float32)
    hu = ndimage.gaussian_filter(hu, 1.0 / SPACING)
    return hu + np.random.default_rng(seed).normal(0.0, noise, SHAPE).astype(np.float32)


def _equivalent_radius(mask: np.ndarray) -> float:
    """Radius (mm) of the disc of the mask's mean cross-section (the middle slices: no end effects)."""
    area = np.count_nonzero(mask[4:-4]) / (SHAPE[0] - 8) * SPACING[1] * SPACING[2]
    return float(np.sqrt(area / np.pi))


def test_a_label_one_working_voxel_too_wide_comes_back_to_the_half_contrast_edge():
    labels = np.where(_radius_map() <= RADIUS_MM + 1.5, LUMEN, 0).astype(np.uint8)
    for blood, around in ((180.0, 100.0), (150.0, -90.0)):  # against the liver, against fat
        drop = refine_outline(_scan(blood, around), labels, SPACING, BLOOD, VESSEL)
        kept = (labels == LUMEN) & ~drop
        assert abs(_equivalent_radius(labels == LUMEN) - RADIUS_MM) > 1.3
        assert abs(_equivalent_radius(kept) - RADIUS_MM) <= 0.4, (blood, around, _equivalent_radius(kept))
        assert not np.any(drop & (_radius_map() <= RADIUS_MM - 2.0)), "the core was cut"


def test_nothing_is_removed_where_the_blood_does_not_stand_out():
    # A vein isodense with the liver behind it (10 HU apart): no edge to find.
    labels = np.where(_radius_map() <= RADIUS_MM + 1.5, LUMEN, 0).astype(np.uint8)
    assert not refine_outline(_scan(110.0, 100.0), labels, SPACING, BLOOD, VESSEL).any()


def test_tumor_is_never_removed_and_lumen_against_it_stays():
    r = _radius_map()
    _, _, xx = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    labels = np.where(r <= RADIUS_MM + 1.5, LUMEN, 0).astype(np.uint8)
    half = (r <= RADIUS_MM + 1.5) & (xx < SHAPE[2] // 2)
    labels[half] = TUMOR
    hu = _scan(180.0, 100.0)
    hu[half] = 60.0  # darker than the surroundings: a blood edge rule would take it all
    drop = refine_outline(hu, labels, SPACING, BLOOD, VESSEL)
    assert not np.any(drop & (labels == TUMOR))
    # The lumen voxels touching the tumor lie inside the vessel, not on its outline (but those at the
    # vessel's own wall, where lumen, tumor and surroundings meet).
    against = (labels == LUMEN) & ndimage.binary_dilation(labels == TUMOR) & (r <= RADIUS_MM - 1.5)
    assert against.any() and not np.any(drop & against)
    assert np.any(drop & (labels == LUMEN))  # the lumen's own rim is still settled


def test_nothing_is_removed_at_a_branch_veins_mouth():
    # A renal vein leaving the IVC's side: where the two meet is its ostium (a landmark measured on
    # their contact), so the IVC's rim is kept within `KEEP_MM` of it, and settled elsewhere.
    r = _radius_map()
    zz, yy, xx = np.meshgrid(*(np.arange(n) * s for n, s in zip(SHAPE, SPACING, strict=True)), indexing="ij")
    c = SHAPE[1] * SPACING[1] / 2
    labels = np.where(r <= RADIUS_MM + 1.5, LUMEN, 0).astype(np.uint8)
    branch = (np.hypot(zz - 18.0, yy - c) <= 4.0) & (xx - c > RADIUS_MM + 1.5)
    labels[branch] = int(Label.RENAL_VEIN_RIGHT)
    hu = _scan(180.0, 100.0)
    vessel = (*VESSEL, int(Label.RENAL_VEIN_RIGHT))
    drop = refine_outline(hu, labels, SPACING, BLOOD, vessel, (int(Label.RENAL_VEIN_RIGHT),))
    mouth = branch & ndimage.binary_dilation(labels == LUMEN)
    near = ndimage.distance_transform_edt(~mouth, sampling=SPACING) <= KEEP_MM
    assert not np.any(drop & near)
    assert np.any(drop & ~near)
    assert np.any(refine_outline(hu, labels, SPACING, BLOOD, vessel) & near)  # unprotected, it would be cut


def test_the_thin_lumen_left_beside_a_tumor_is_kept():
    # A tumor fills the vein but for a 2 mm channel along its wall: all of that channel is rim, blurred
    # against the tumor, and whether it is open decides the plan (occlusion, collaterals).
    r = _radius_map()
    _, _, xx = np.meshgrid(*(np.arange(n) * s for n, s in zip(SHAPE, SPACING, strict=True)), indexing="ij")
    c = SHAPE[2] * SPACING[2] / 2
    vein = r <= RADIUS_MM
    channel = vein & (xx - c > RADIUS_MM - 2.0)
    labels = np.where(vein, TUMOR, 0).astype(np.uint8)
    labels[channel] = LUMEN
    hu = np.where(channel, 180.0, np.where(vein, 60.0, 100.0)).astype(np.float32)
    hu = ndimage.gaussian_filter(hu, 1.0 / SPACING) + np.random.default_rng(1).normal(0, 6.0, SHAPE).astype(np.float32)
    assert np.any(refine_outline(hu, labels, SPACING, BLOOD, VESSEL) & channel)  # unguarded, it is cut
    assert not np.any(refine_outline(hu, labels, SPACING, BLOOD, VESSEL, keep=(TUMOR,)) & channel)
