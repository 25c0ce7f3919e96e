"""The trunk every step is placed in (`ivcplan.anatomy.trunk`): one body outline, one vertebral
column and the vessels' anchor on it, on a small synthetic trunk with known geometry."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ivcplan.anatomy.frame import WorkFrame
from ivcplan.anatomy.trunk import find_column, spine_anchor, tissue_reference
from ivcplan.volume import Volume

SPACING = np.array([3.0, 1.5, 1.5])
#: Geometry (mm) of the synthetic trunk: vertebral body centre, its half-depth and half-width.
VERT_Y, VERT_X, VERT_RY, VERT_RX = 190.0, 165.0, 16.0, 20.0
#: The front of the vertebral body on the midline.
FRONT_Y = VERT_Y - VERT_RY
#: The anchor's front lies within this (mm) of the true front on every slice, discs included.
FRONT_TOL_MM = 3.0


def _trunk(*, aorta_hu: float = 210.0, marrow_hu: float = 230.0, pubic: bool = False,
           seed: int = 0, touching: bool = False, crus_hu: float | None = None) -> Volume:
    """A trunk of 40 slices of 3 mm: fat, muscle wall, paraspinal muscles, a vertebral column
    (cortex, marrow, canal, arch) with 6 mm discs every 30 mm, and an enhanced aorta lying on the
    front of the vertebral bodies, separated from them by 4 mm of ligament and aortic wall (with
    ``touching``, lying directly on them, as in thin patients and the random phantoms; with
    ``crus_hu``, the diaphragmatic crura, enhanced (100-130 HU), wrap it and lie between). With
    ``pubic``, the lowest 5 slices hold no vertebra but a pubic bone in the front midline."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = 40, 170, 220
    z, y, x = np.meshgrid(*(np.arange(n) * s for n, s in zip((nz, ny, nx), SPACING, strict=True)), indexing="ij")
    hu = np.full((nz, ny, nx), -1000.0)
    hu[((x - 165) / 150) ** 2 + ((y - 125) / 105) ** 2 <= 1] = -100.0
    hu[((x - 165) / 140) ** 2 + ((y - 125) / 95) ** 2 <= 1] = 45.0
    hu[((x - 165) / 80) ** 2 + ((y - 165) / 50) ** 2 <= 1] = -95.0  # retroperitoneal fat
    hu[((np.abs(x - 165) - 28) / 24) ** 2 + ((y - 228) / 18) ** 2 <= 1] = 50.0  # paraspinal muscles
    disc = (z % 30.0) >= 24.0
    body = ((x - VERT_X) / VERT_RX) ** 2 + ((y - VERT_Y) / VERT_RY) ** 2 <= 1
    marrow = ((x - VERT_X) / (VERT_RX - 3)) ** 2 + ((y - VERT_Y) / (VERT_RY - 3)) ** 2 <= 1
    canal = ((x - VERT_X) / 9) ** 2 + ((y - 218) / 8) ** 2 <= 1
    arch = (((x - VERT_X) / 22) ** 2 + ((y - 222) / 14) ** 2 <= 1) & ~canal
    column = np.ones(nz, bool)
    if pubic:
        column[:5] = False
    col = column[:, None, None]
    hu[body & ~disc & col] = 650.0
    hu[marrow & ~disc & col] = marrow_hu
    hu[body & disc & col] = 90.0
    hu[arch & col] = 650.0
    hu[canal & col] = 15.0
    # The aorta on the front of the vertebral bodies, behind 4 mm of ligament and wall.
    gap = 0.0 if touching else 4.0
    ligament = (np.abs(x - VERT_X) <= 12.0) & (y > FRONT_Y - gap) & (y <= FRONT_Y)
    hu[ligament] = 50.0 if crus_hu is None else crus_hu
    aorta = ((x - VERT_X - 4.0) / 12) ** 2 + ((y - (FRONT_Y - 12.0 - gap)) / 12) ** 2 <= 1
    aorta &= ~body
    if crus_hu is not None:
        hu[(np.abs(x - VERT_X - 4.0) <= 30.0) & (y > FRONT_Y - 30.0) & (y <= FRONT_Y) & ~body] = crus_hu
    hu[aorta] = aorta_hu
    if pubic:
        hu[:5][(((x - 165) / 30) ** 2 + ((y - 50) / 10) ** 2 <= 1)[:5]] = 700.0
    hu = ndimage.gaussian_filter(hu, sigma=(0.3, 0.7, 0.7)) + rng.normal(0, 8.0, hu.shape)
    return Volume.from_array(hu.astype(np.int16), spacing=SPACING)


def _anchor(vol: Volume):
    fine, coarse = WorkFrame.fine(vol), WorkFrame.coarse(vol)
    column = find_column(coarse)
    return fine, column, spine_anchor(column, coarse, fine)


@pytest.mark.parametrize(("aorta_hu", "touching", "crus_hu"),
                         [(210.0, False, None), (400.0, False, None), (290.0, True, None), (250.0, True, None),
                          (290.0, False, 115.0)])
def test_front_of_the_vertebral_body_not_the_aorta_lying_on_it(aorta_hu: float, touching: bool,
                                                                crus_hu: float | None) -> None:
    # An enhanced aorta (portal-venous, or arterial at 400 HU) lies on the vertebral bodies' front,
    # as dense as bone: the anchor's front stays on the vertebrae, across the discs too. Touching them
    # (no ligament between), the dense run goes on into the aorta: it is told apart as a homogeneous
    # pool in front of denser cortex (the old front was the aorta's, 24 mm too far forwards); so it
    # is wrapped in enhanced crura (as dense as marrow, so not a gap; as wide as the vertebra).
    vol = _trunk(aorta_hu=aorta_hu, touching=touching, crus_hu=crus_hu)
    fine, _column, anchor = _anchor(vol)
    assert anchor.usable.all()
    front_mm = fine.grid.origin[1] + anchor.y_anterior * fine.spacing[1]
    assert np.abs(front_mm - FRONT_Y).max() <= FRONT_TOL_MM
    cx_mm = fine.grid.origin[0] + anchor.cx * fine.spacing[2]
    assert np.abs(cx_mm - VERT_X).max() <= FRONT_TOL_MM


def test_front_of_an_osteopenic_vertebral_body() -> None:
    # Marrow at 90 HU (no denser than a disc): the front is the anterior cortex, not the back wall.
    vol = _trunk(marrow_hu=90.0)
    fine, _column, anchor = _anchor(vol)
    front_mm = fine.grid.origin[1] + anchor.y_anterior[anchor.usable] * fine.spacing[1]
    assert anchor.usable.sum() >= 0.9 * anchor.usable.size
    assert np.abs(front_mm - FRONT_Y).max() <= FRONT_TOL_MM


def test_column_is_one_tube_the_pubic_bone_below_it_is_not() -> None:
    # Below the column's end, a midline bone in front (the pubic symphysis) is not the column: the
    # centre line is held from the column (not pulled 140 mm forwards onto the pubis).
    vol = _trunk(pubic=True)
    fine, column, anchor = _anchor(vol)
    coarse_sp = WorkFrame.coarse(vol).spacing
    ok = np.isfinite(column.centres[:, 0])
    assert ok[5:].all()
    centre_y = column.centres[ok, 0] * coarse_sp[1]
    assert np.all(np.abs(centre_y - VERT_Y) <= 15.0)
    # Nor does the vessels' anchor run onto it.
    front_mm = fine.grid.origin[1] + anchor.y_anterior[anchor.usable] * fine.spacing[1]
    assert np.abs(front_mm - FRONT_Y).max() <= FRONT_TOL_MM


def test_tissue_references_are_measured_on_the_scan() -> None:
    vol = _trunk()
    coarse = WorkFrame.coarse(vol)
    ref = tissue_reference(coarse, find_column(coarse))
    assert ref.fat_hu == pytest.approx(-100.0, abs=10.0)
    assert ref.muscle_hu == pytest.approx(50.0, abs=10.0)
