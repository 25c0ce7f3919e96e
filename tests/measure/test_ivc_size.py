"""Native IVC size, residual lumen and occlusion on synthetic elliptic veins with known answers (issue 19).

The vein is an elliptic cylinder along z (transverse semi-axis 12.5 mm towards patient left, AP
semi-axis 8 mm): transverse 25 mm, AP 16 mm, area pi x 12.5 x 8 = 314 mm2, as the normal IVC of
shared/design/domain.md (Cureus 2022: 25.8 x 16.3 mm at the renal veins).
"""

from __future__ import annotations

import numpy as np
import pytest
from measure_synth import AXIAL, lps_points

from ivcplan.labels import Label
from ivcplan.measure import ivc_size, trace_centerline
from ivcplan.volume import Grid, Labelmap

A_T, A_AP = 12.5, 8.0  # semi-axes, mm
CX, CY = 30.0, 30.0
NATIVE_AREA = np.pi * A_T * A_AP
#: 0.5 mm voxels give the ellipse's widths to about a voxel.
WIDTH_TOL_MM = 1.0
AREA_TOL = 0.06


def vein(*, tumor=(60.0, 100.0), channel_r: float | None = 2.0, channel_gap: tuple[float, float] | None = None,
         atrium_from: float | None = None, mouth_at: float | None = None, bulge: float = 1.0,
         extra_out: float = 0.0) -> Labelmap:
    """Elliptic IVC along z (0-150 mm); tumor over ``tumor`` filling it but for a lumen channel of radius
    ``channel_r`` along the wall (none over ``channel_gap``); the tumor expands the vein by ``bulge`` and
    ``extra_out`` mm beyond it on the left; optional atrium from ``atrium_from`` and a branch vein mouth."""
    grid = Grid((150, 60, 80), (1.0, 0.5, 0.5), (10.0, 10.0, 0.0), AXIAL)  # LPS origin: x 10-50, y 10-40
    p = lps_points(grid)
    x, y, z = p[..., 0] - CX, p[..., 1] - CY, p[..., 2]
    lab = np.zeros(grid.shape, np.uint8)
    in_tumor = (z >= tumor[0]) & (z <= tumor[1]) if tumor else np.zeros(grid.shape, bool)
    scale = np.where(in_tumor, bulge, 1.0)
    ell = (x / (A_T * scale)) ** 2 + (y / (A_AP * scale)) ** 2 <= 1.0
    lab[ell] = Label.IVC_LUMEN
    if tumor:
        lab[ell & in_tumor] = Label.IVC_TUMOR
        if extra_out:
            lab[in_tumor & (x > 0) & (x <= A_T * bulge + extra_out) & (np.abs(y) <= 4.0)] = Label.IVC_TUMOR
        if channel_r is not None:
            channel = (np.hypot(x + A_T * bulge - channel_r - 0.5, y) <= channel_r) & in_tumor & ell
            if channel_gap is not None:
                channel &= ~((z >= channel_gap[0]) & (z <= channel_gap[1]))
            lab[channel] = Label.IVC_LUMEN
    if atrium_from is not None:
        lab[(z >= atrium_from) & (np.hypot(x, y) <= 20.0) & ~ell] = Label.RIGHT_ATRIUM
        lab[(z >= atrium_from + 8) & (np.hypot(x, y) <= 20.0)] = Label.RIGHT_ATRIUM
    if mouth_at is not None:
        lab[(np.abs(z - mouth_at) <= 4.0) & (x < -A_T) & (x > -A_T - 15) & (np.abs(y) <= 4.0)] = \
            Label.RENAL_VEIN_RIGHT
    return Labelmap(lab, grid)


def _measure(lm: Labelmap, tumor=(60.0, 100.0), renal_s=None, caj_s=None):
    cl = trace_centerline(lm)
    z0 = cl.points[0, 2]  # s = z - z0 on a vertical vein
    rng = None if tumor is None else (tumor[0] - z0, tumor[1] - z0)
    levels = ivc_size.diameters(cl, renal_s=None if renal_s is None else renal_s - z0,
                                caj_s=None if caj_s is None else caj_s - z0, tumor_range=rng)
    return cl, levels, rng


def test_transverse_and_ap_of_the_normal_vein_beside_the_tumor():
    _, levels, _ = _measure(vein(), renal_s=30.0)
    for name in ("renal_veins", "above_tumor", "below_tumor"):
        level = levels[name]
        assert level.reason is None and level.sections == ivc_size.SECTIONS_PER_LEVEL, name
        assert level.transverse_mm == pytest.approx(2 * A_T, abs=WIDTH_TOL_MM)
        assert level.ap_mm == pytest.approx(2 * A_AP, abs=WIDTH_TOL_MM)
        assert level.area_mm2 == pytest.approx(NATIVE_AREA, rel=AREA_TOL)
    # The sections nearest the poles beyond the clearance: within 5-10 mm of them.
    assert levels["above_tumor"].s_mm - (100.0 - 0.0) == pytest.approx(ivc_size.TUMOR_CLEARANCE_MM + 3, abs=3)


def test_expanded_vein_is_not_the_native_size():
    # The tumor swells the vein 1.6 x: sections through it are never "normal".
    _, levels, _ = _measure(vein(bulge=1.6))
    assert levels["above_tumor"].transverse_mm == pytest.approx(2 * A_T, abs=WIDTH_TOL_MM)


def test_sections_clipped_by_the_atrium_give_no_diameter():
    # Seed case (b): the tumor reaches 8 mm below the atrium: no normal IVC above it.
    lm = vein(tumor=(60.0, 112.0), atrium_from=120.0)
    _, levels, _ = _measure(lm, tumor=(60.0, 112.0), caj_s=120.0)
    above = levels["above_tumor"]
    assert above.transverse_mm is None and above.ap_mm is None
    assert "right atrium" in above.reason and "normal" in above.reason
    assert levels["below_tumor"].transverse_mm == pytest.approx(2 * A_T, abs=WIDTH_TOL_MM)


def test_a_branch_mouth_is_skipped_and_the_nearest_normal_sections_used():
    lm = vein(mouth_at=30.0)
    cl, levels, _ = _measure(lm, renal_s=30.0)
    at_mouth = np.abs(cl.s + cl.points[0, 2] - 30.0) <= 3.0
    assert np.all(cl.branch_contact_pct[at_mouth] > 0)
    level = levels["renal_veins"]
    assert level.transverse_mm == pytest.approx(2 * A_T, abs=WIDTH_TOL_MM)
    assert abs(level.s_mm + cl.points[0, 2] - 30.0) > 4.0  # not at the mouth itself
    # A renal level entirely inside the tumor has no diameter, and says why.
    _, levels, _ = _measure(vein(), renal_s=80.0)
    assert levels["renal_veins"].transverse_mm is None and "tumor" in levels["renal_veins"].reason


def test_residual_lumen_and_stenosis_against_the_native_area():
    # A 2 mm radius channel left by a tumor filling the rest: 12.6 mm2 of 314 mm2 native = 96 % stenosis,
    # not "complete occlusion" (the old 1 - lumen / (lumen + tumor) read the same, but any bulky tumor too).
    cl, levels, rng = _measure(vein(channel_r=2.0))
    lumen = ivc_size.lumen(cl, levels, rng)
    channel = np.pi * 2.0**2
    assert lumen.residual_lumen_min_area_mm2 == pytest.approx(channel, rel=0.35)
    assert lumen.max_stenosis_pct == pytest.approx(100 * (1 - channel / NATIVE_AREA), abs=1.5)
    assert lumen.occluded_length_mm == 0.0
    assert lumen.native_area_source == "interpolated between the normal IVC above and below the tumor"


def test_a_swollen_vein_with_a_wide_lumen_is_not_occluded():
    # Tumor expanding the vein 1.8 x around a normal-sized lumen: the old formula gave 69 %; against the
    # native area the lumen is about what a normal IVC has.
    grid_lm = vein(bulge=1.8, channel_r=None)
    arr = grid_lm.array.copy()
    p = lps_points(grid_lm.grid)
    x, y, z = p[..., 0] - CX, p[..., 1] - CY, p[..., 2]
    arr[((x / A_T) ** 2 + (y / A_AP) ** 2 <= 0.8) & (z >= 60) & (z <= 100)] = Label.IVC_LUMEN
    lm = Labelmap(arr, grid_lm.grid)
    cl, levels, rng = _measure(lm)
    lumen = ivc_size.lumen(cl, levels, rng)
    assert lumen.max_stenosis_pct == pytest.approx(20.0, abs=6.0)


@pytest.mark.parametrize(("gap", "occluded"), [((70.0, 80.5), 11.0), ((70.0, 78.0), 9.0)])
def test_occluded_length_is_the_stretch_without_lumen(gap, occluded):
    cl, levels, rng = _measure(vein(channel_r=2.0, channel_gap=gap))
    lumen = ivc_size.lumen(cl, levels, rng)
    assert lumen.residual_lumen_min_area_mm2 == 0.0 and lumen.max_stenosis_pct == 100.0
    assert lumen.occluded_length_mm == pytest.approx(occluded, abs=1.5)


def test_extraluminal_volume_is_the_tumor_beyond_the_native_outline():
    # A flange 6 mm beyond the native wall on the left, 8 mm high, over the 40 mm tumor: the part outside the
    # native ellipse widened by the 1 mm partial-volume margin, counted on the mask (about 2 ml).
    lm = vein(channel_r=None, extra_out=6.0)
    cl, levels, _ = _measure(lm)
    tumor = lm.grid.index_to_lps(np.argwhere(lm.array == Label.IVC_TUMOR))
    ml = ivc_size.extraluminal_ml(cl, levels, tumor, lm.grid.voxel_volume_mm3 / 1000.0)
    m = ivc_size.EXTRALUMINAL_MARGIN_MM
    x, y = tumor[:, 0] - CX, tumor[:, 1] - CY
    outside = ((x / (A_T + m)) ** 2 + (y / (A_AP + m)) ** 2 > 1.0).sum() * lm.grid.voxel_volume_mm3 / 1000.0
    assert outside == pytest.approx(2.0, abs=0.4)
    assert ml == pytest.approx(outside, rel=0.15)
    # No flange: nothing outside.
    plain = vein(channel_r=None)
    cl, levels, _ = _measure(plain)
    tumor = plain.grid.index_to_lps(np.argwhere(plain.array == Label.IVC_TUMOR))
    assert ivc_size.extraluminal_ml(cl, levels, tumor, plain.grid.voxel_volume_mm3 / 1000.0) < 0.05
    assert ivc_size.extraluminal_ml(cl, levels, tumor[:0], 0.001) is None
