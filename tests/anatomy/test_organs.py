"""Organ segmentation on a small generated torso with known truth (contrast and non-contrast)."""

from __future__ import annotations

import numpy as np
import pytest
from torso import ORIGIN, SPACING, VERTEBRA_YX, trunk

from ivcplan.anatomy.organs import FOUND_CONFIDENCE, body_mask, liver_mask, segment_organs, spine_centres, spine_mask
from ivcplan.errors import InputError
from ivcplan.metrics import dice
from ivcplan.volume import Volume

LIVER_DICE_MIN = 0.85
KIDNEY_DICE_MIN = 0.80
SPINE_CENTRE_TOL_MM = 6.0


def _torso(liver_hu: float, kidney_hu: float, *, with_liver: bool = True, seed: int = 0):
    """(z, y, x) = (S, P, L) torso 60 x 150 x 200 mm-ish with a table; returns volume and truth masks."""
    rng = np.random.default_rng(seed)
    t = trunk(50)
    z, y, x, img, body, vert = t.z, t.y, t.x, t.img, t.body, t.vertebra
    img[(y > 108) & (y < 114) & (np.abs(x) < 150)] = 300.0          # table, separate from the body
    vy, vx = VERTEBRA_YX                                 # vertebral body centre (posterior midline)
    liver = ((x + 65.0) / 60.0) ** 2 + ((y + 15.0) / 55.0) ** 2 + ((z - 100.0) / 90.0) ** 2 <= 1.0
    liver &= body & ~vert
    if with_liver:
        img[liver] = liver_hu
    else:
        liver = np.zeros_like(liver)
    kidneys = {}
    for side, cx in (("right", -70.0), ("left", 70.0)):
        k = ((x - cx) / 25.0) ** 2 + ((y - 45.0) / 20.0) ** 2 + ((z - 60.0) / 50.0) ** 2 <= 1.0
        if side == "right":
            k &= ~ndi_dilate(liver)
        img[k] = kidney_hu
        kidneys[side] = k
    img = img + rng.normal(0.0, 10.0, img.shape)
    vol = Volume.from_array(img.astype(np.int16), spacing=SPACING, origin=ORIGIN)
    return vol, body, liver, kidneys, (vy, vx)


def ndi_dilate(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_dilation(mask, iterations=3)


@pytest.fixture(scope="module")
def contrast_case():
    vol, body, liver, kidneys, centre = _torso(105.0, 190.0)
    return vol, body, liver, kidneys, centre, segment_organs(vol)


def test_body_excludes_table_and_matches_outline(contrast_case) -> None:
    _, body, *_, seg = contrast_case
    assert dice(seg.body, body) > 0.97
    assert not seg.body[:, 118:, :].any()  # the table rows (y > 108 mm) are not body


def test_spine_centre_on_vertebral_body(contrast_case) -> None:
    vol, *_, centre, seg = contrast_case
    centres = seg.spine_centres
    ok = ~np.isnan(centres[:, 0])
    assert ok.mean() > 0.9
    # The truth centre is at (y, x) = (vy, vx) mm in the frame centred on the array.
    idx = vol.lps_to_index(centres[ok])
    y_mm = (idx[:, 1] - 130 / 2) * SPACING[1]
    x_mm = (idx[:, 2] - 160 / 2) * SPACING[2]
    assert np.all(np.abs(x_mm - centre[1]) < SPINE_CENTRE_TOL_MM)
    assert np.all(np.abs(y_mm - centre[0]) < SPINE_CENTRE_TOL_MM)


def test_liver_contrast(contrast_case) -> None:
    _, _, liver, _, _, seg = contrast_case
    assert seg.liver.found and seg.liver.confidence >= 0.5
    assert dice(seg.liver.mask, liver) >= LIVER_DICE_MIN


def test_kidneys_contrast(contrast_case) -> None:
    _, _, _, kidneys, _, seg = contrast_case
    assert set(seg.kidneys) == {"left", "right"}
    for side, truth in kidneys.items():
        res = seg.kidneys[side]
        assert res.found and res.note, side
        assert dice(res.mask, truth) >= KIDNEY_DICE_MIN, side
        assert not (res.mask & seg.liver.mask).any()
        assert not (res.mask & ~seg.body).any()


def test_liver_and_kidneys_non_contrast() -> None:
    vol, _, liver, kidneys, _ = _torso(52.0, 32.0, seed=1)
    seg = segment_organs(vol)
    assert dice(seg.liver.mask, liver) >= LIVER_DICE_MIN
    for side, truth in kidneys.items():
        assert dice(seg.kidneys[side].mask, truth) >= KIDNEY_DICE_MIN, side


def test_no_kidneys_reported_as_not_found() -> None:
    # A torso without kidneys: nothing else (psoas-like muscle, liver) may be labelled kidney.
    vol, *_ = _torso(105.0, -100.0, seed=3)  # "kidneys" painted as fat
    seg = segment_organs(vol)
    for res in seg.kidneys.values():
        assert not res.found and not res.mask.any()
        assert "not" in res.note


def test_no_liver_reported_as_not_found() -> None:
    vol, *_ = _torso(105.0, 190.0, with_liver=False, seed=2)
    seg = segment_organs(vol)
    assert seg.liver.confidence < FOUND_CONFIDENCE or not seg.liver.mask.any()
    assert "not" in seg.liver.note


def test_separate_functions_agree_and_input_untouched(contrast_case) -> None:
    vol, *_, seg = contrast_case
    before = vol.array.copy()
    body = body_mask(vol)
    spine = spine_mask(vol, body)
    res = liver_mask(vol, body, spine)
    assert np.array_equal(vol.array, before)
    assert dice(body, seg.body) > 0.99 and dice(res.mask, seg.liver.mask) > 0.95
    assert spine_centres(spine, vol.grid).shape == (vol.shape[0], 3)
    with pytest.raises(InputError, match="body"):
        spine_mask(vol, body[:-1])


def test_enhanced_kidney_core_at_the_medulla_grows_into_the_brighter_cortex() -> None:
    from ivcplan.anatomy.organs_kidney import _grow

    # Medulla (165 HU) inside a 4-voxel cortex (200 HU, noisy), in fat; paraspinal muscle at 50 HU.
    rng = np.random.default_rng(3)
    shape = (20, 40, 40)
    zz, yy, xx = np.mgrid[0:shape[0], 0:shape[1], 0:shape[2]]
    r = np.sqrt(((zz - 10) / 0.6) ** 2 + (yy - 20) ** 2 + (xx - 20) ** 2)
    kidney = r <= 14
    medulla = r <= 10
    sub = np.where(kidney, 200.0, -90.0) + rng.normal(0, 12, shape)
    sub[medulla] = 165.0 + rng.normal(0, 6, int(medulla.sum()))
    core = r <= 7
    grown, (_lo, hi) = _grow(core, sub, np.ones(shape, bool), sub < -30.0, 50.0, np.array([2.0, 1.0, 1.0]))
    assert hi >= 220.0
    assert dice(grown, kidney) >= 0.9
