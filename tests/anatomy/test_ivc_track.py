"""The IVC track where its blood is less enhanced than its neighbours': below the liver it stays on the
vertebral column beside the aorta (not on a brighter superior mesenteric vein in front), and unopacified
blood at its lower end is lumen, not a filling defect."""

from __future__ import annotations

import numpy as np
import pytest

from ivcplan.anatomy.frame import WorkFrame
from ivcplan.anatomy.trunk import find_column, spine_anchor
from ivcplan.anatomy.tumor import split_ivc
from ivcplan.anatomy.vessels import (
    ENHANCED_BLOOD_HU,
    _tight_kept,
    _venous_level,
    _venous_reference,
    find_aorta,
    find_ivc,
)
from ivcplan.anatomy.vessels_track import Track
from ivcplan.volume import Volume
from tests.helpers.torso import ORIGIN, SPACING, VERTEBRA_YX, trunk

#: Section centres (y, x mm; x to the patient's left, y backwards) and radii (mm).
AORTA = (15.0, 15.0, 11.0)
IVC = (14.0, -22.0, 9.0)
SMV = (-22.0, -10.0, 8.0)
#: The track is on a vessel when its centre lies this close (mm) to the vessel's.
ON_VESSEL_MM = 5.0


def _abdomen(ivc_hu: float, smv_hu: float) -> tuple[Volume, np.ndarray]:
    """40 slices of 3 mm below the liver: the trunk, an enhanced aorta on the vertebra, an IVC of
    unenhanced blood right of it and a brighter superior mesenteric vein in the mesentery in front.
    Returns the volume and the IVC's mask."""
    t = trunk(40)
    masks = [(t.y - cy) ** 2 + (t.x - cx) ** 2 <= r * r for cy, cx, r in (AORTA, IVC, SMV)]
    for mask, hu in zip(masks, (250.0, ivc_hu, smv_hu), strict=True):
        t.img[mask] = hu
    assert VERTEBRA_YX[0] - 18.0 > AORTA[0]  # the aorta lies in front of the vertebra
    img = t.img + np.random.default_rng(0).normal(0.0, 10.0, t.img.shape)
    return Volume.from_array(img.astype(np.int16), spacing=SPACING, origin=ORIGIN), masks[1]


def _share_on(track, centres: np.ndarray, spacing: np.ndarray) -> float:
    on = [np.hypot((track.y[k] - centres[z, 0]) * spacing[1], (track.x[k] - centres[z, 1]) * spacing[2])
          <= ON_VESSEL_MM for k, z in enumerate(track.z) if np.isfinite(centres[z, 0])]
    return float(np.mean(on)) if on else 0.0


@pytest.mark.parametrize(("retroperitoneal", "on_ivc"), [(True, True), (False, False)])
def test_below_the_liver_the_track_stays_beside_the_aorta(retroperitoneal: bool, on_ivc: bool) -> None:
    # Unenhanced infrarenal blood (55 HU) is darker than the superior mesenteric vein (200 HU) 37 mm in
    # front of the aorta. Below the liver the IVC's front-back prior is tight: the track stays on the
    # IVC. With the loose prior (the retrohepatic IVC's), the brighter vein in front wins: the case the
    # tight prior is for.
    vol, ivc_mask = _abdomen(ivc_hu=55.0, smv_hu=200.0)
    fine, coarse = WorkFrame.fine(vol), WorkFrame.coarse(vol)
    column = find_column(coarse)
    spine = spine_anchor(column, coarse, fine)
    body = fine.from_frame(coarse, column.body)
    aorta = find_aorta(fine, body, spine)
    assert aorta is not None
    below = np.ones(fine.shape[0], bool) if retroperitoneal else None
    ivc = find_ivc(fine, body, spine, aorta, exclude=aorta.mask, retroperitoneal=below)
    assert ivc is not None
    work = fine.from_scan(ivc_mask)
    centres = np.full((work.shape[0], 2), np.nan)
    for z in range(work.shape[0]):
        if work[z].any():
            centres[z] = np.argwhere(work[z]).mean(axis=0)
    share = _share_on(ivc.track, centres, fine.spacing)
    assert (share >= 0.9) if on_ivc else (share <= 0.5)


def _vein(lower_hu: float, lower_fill: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A straight vein of 40 slices (2 mm) with 190 HU blood; its lowest 15 slices hold ``lower_hu``
    over the share ``lower_fill`` of the section (from the right) and blood beside it."""
    nz, n = 40, 80
    zz, yy, xx = np.mgrid[0:nz, 0:n, 0:n]
    vein = np.hypot(yy - 40, xx - 40) <= 8.0
    hu = np.where(vein, 190.0, -90.0)
    lower = vein & (zz < 15) & (xx < 40 - 8 + 16 * lower_fill)
    hu[lower] = lower_hu
    return hu + np.random.default_rng(1).normal(0.0, 8.0, hu.shape), vein, lower


def test_unopacified_lower_end_is_lumen_but_a_tumor_or_a_thrombus_beside_blood_is_not() -> None:
    sp = np.array([2.0, 1.5, 1.5])
    # Less enhanced blood filling the vein's lowest 30 mm, not widening it: lumen, reported.
    hu, vein, _lower = _vein(lower_hu=110.0, lower_fill=1.0)
    parts = split_ivc(hu, vein, sp, contrast=True)
    assert not parts.thrombus.any() and not parts.tumor.any()
    assert parts.unopacified_mm == pytest.approx(30.0, abs=4.0)
    # ... also where, on its two lowest slices, tissue of the blood's attenuation joins it (the flare
    # into the iliac veins, a psoas beside it): before, those two slices ended the search and the
    # blood became a thrombus.
    zz, yy, xx = np.mgrid[0:vein.shape[0], 0:vein.shape[1], 0:vein.shape[2]]
    flare = (np.hypot(yy - 40, xx - 56) <= 10.0) & (zz < 2) & ~vein
    hu[flare] = 100.0
    parts = split_ivc(hu, vein, sp, contrast=True)
    assert not parts.thrombus.any() and not parts.tumor.any()
    assert parts.unopacified_mm == pytest.approx(30.0, abs=4.0)
    # A tumor there (65 HU) bulging out of the vein on 6 of those slices: a tumor, not blood.
    hu, vein, lower = _vein(lower_hu=65.0, lower_fill=1.0)
    zz, yy, xx = np.mgrid[0:vein.shape[0], 0:vein.shape[1], 0:vein.shape[2]]
    bulge = (np.hypot(yy - 40, xx - 40) <= 14.0) & (zz >= 4) & (zz < 10) & ~vein
    hu[bulge] = 65.0 + np.random.default_rng(2).normal(0.0, 8.0, int(bulge.sum()))
    parts = split_ivc(hu, vein, sp, contrast=True)
    assert np.count_nonzero(parts.tumor & lower) >= 0.8 * lower.sum() and parts.unopacified_mm == 0.0
    # A bland thrombus filling 60 % of the section there, enhanced blood beside it: a thrombus.
    hu, vein, lower = _vein(lower_hu=45.0, lower_fill=0.6)
    parts = split_ivc(hu, vein, sp, contrast=True)
    overlap = 2 * np.count_nonzero(parts.thrombus & lower) / (parts.thrombus.sum() + lower.sum())
    assert overlap >= 0.6 and parts.unopacified_mm == 0.0


def test_venous_level_is_lower_only_at_the_lower_end() -> None:
    # The first track's blood: 110 HU on its lowest 20 slices (its first 3 on a 280 HU iliac artery),
    # 200 HU above, and a 60 HU tumor on slices 35-44 with blood below it.
    n = 70
    inside = np.full(n, 200.0)
    inside[:20] = 110.0
    inside[:3] = 280.0
    inside[35:45] = 60.0
    track = _track(n, inside)
    level = _venous_reference(track, 200.0, np.array([2.0, 1.5, 1.5]))
    assert level(0) == pytest.approx(110.0, abs=5.0) and level(10) == pytest.approx(110.0, abs=5.0)
    assert level(40) == 200.0 and level(60) == 200.0 and level(n + 5) == 200.0


def _track(n: int, hu: float | np.ndarray) -> Track:
    """A straight track of ``n`` slices whose inside attenuation is ``hu`` (one value, or one per slice)."""
    z = np.arange(n)
    inside = np.broadcast_to(np.asarray(hu, dtype=float), (n,)).copy()
    return Track(z, np.zeros(n), np.zeros(n), np.full(n, 8.0), np.full(n, 8.0), np.ones(n), inside)


def test_second_pass_level_from_a_short_dark_first_track() -> None:
    # Enhanced blood: its level. A first track on dark tissue over most of the trunk (arterial phase:
    # the veins are not yet enhanced): no second pass. A short one on dark tissue ended in a tumor: the
    # second pass runs from the lowest enhanced blood (the vein was lost on tune seed 26).
    assert _venous_level(_track(80, 160.0), 100) == pytest.approx(160.0)
    assert _venous_level(_track(80, 50.0), 100) is None
    assert _venous_level(_track(30, 50.0), 100) == ENHANCED_BLOOD_HU


def test_tight_prior_kept_unless_it_cuts_the_first_track_short() -> None:
    assert _tight_kept(_track(90, 150.0), _track(100, 150.0))
    assert not _tight_kept(_track(30, 50.0), _track(100, 120.0))
