"""Building blocks of the vessel segmentation: phase rules, working frame, tracking, tumor split."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ivcplan.anatomy.frame import WorkFrame
from ivcplan.anatomy.phase import detect_phase
from ivcplan.anatomy.tumor import RESIDUAL_LUMEN_MM, residual_lumen, split_ivc
from ivcplan.anatomy.vessels_track import Candidate, dynamic_track
from ivcplan.volume import Volume, orientation_direction

#: A round trip through the working grid keeps a 20 mm ball to within this Dice.
ROUND_TRIP_DICE = 0.93


@pytest.mark.parametrize(("values", "expected"), [
    ({"aorta": 42, "ivc": 38, "kidney": 30}, "non_contrast"),
    ({"aorta": 320, "portal_vein": 120, "ivc": 70, "kidney": 180}, "arterial"),
    ({"aorta": 300, "ivc": 60}, "arterial"),
    ({"aorta": 165, "portal_vein": 175, "ivc": 150, "kidney": 190}, "portal_venous"),
    ({"aorta": 150, "ivc": 95}, "portal_venous"),
    ({"aorta": 115, "ivc": 108, "kidney": 130}, "delayed"),
    ({"aorta": 120, "ivc": 110, "kidney": 140, "kidney_p99": 900}, "delayed"),
    ({}, "unknown"),
    ({"aorta": float("nan")}, "unknown"),
])
def test_phase_rules(values: dict[str, float], expected: str) -> None:
    result = detect_phase(values)
    assert result.phase == expected
    assert 0.0 <= result.confidence <= 1.0 and result.reason


def test_work_frame_is_canonical_and_round_trips() -> None:
    # A ball stored with flipped rows and columns and 0.8 mm pixels.
    direction = np.array([[0.0, 0.0, -1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])
    shape = (30, 90, 100)
    sp = (2.5, 0.8, 0.8)
    vol = Volume.from_array(np.zeros(shape, np.int16), spacing=sp, origin=(40.0, 30.0, -10.0), direction=direction)
    centre = vol.grid.index_to_lps([15, 45, 50])
    idx = np.indices(shape).reshape(3, -1).T
    dist = np.linalg.norm(vol.grid.index_to_lps(idx) - centre, axis=1).reshape(shape)
    ball = dist <= 10.0
    vol = vol.with_array(np.where(ball, 200, 0).astype(np.int16))
    frame = WorkFrame.fine(vol)
    assert np.allclose(frame.grid.direction, orientation_direction("SPL"))
    # Blocks of two 0.8 mm pixels (1.6 mm: a 2.4 mm block would be too coarse); slices kept.
    assert frame.factors == (1, 2, 2) and frame.spacing[1] == pytest.approx(1.6) and frame.spacing[0] == 2.5
    # The bright ball is where it was, in physical space.
    work_idx = np.argwhere(frame.hu > 100).mean(axis=0)
    assert np.linalg.norm(frame.grid.index_to_lps(work_idx) - centre) < 1.0
    back = frame.to_scan((frame.hu > 100).astype(np.uint8), smooth=(1,))
    assert back.shape == vol.shape
    got = back == 1
    assert 2 * np.count_nonzero(got & ball) / (got.sum() + ball.sum()) >= ROUND_TRIP_DICE
    # Frames of one scan share their blocks' positions: the coarse frame's mask on the fine one.
    coarse = WorkFrame.coarse(vol)
    on_fine = frame.from_frame(coarse, coarse.hu > 100)
    assert 2 * np.count_nonzero(on_fine & (frame.hu > 100)) / (on_fine.sum() + (frame.hu > 100).sum()) >= 0.85


def _cand(y: float, x: float, score: float) -> Candidate:
    return Candidate(y, x, 8.0, 8.0, score, 150.0, 0.0)


def test_dynamic_track_prefers_a_continuous_tube_over_isolated_peaks() -> None:
    # A straight tube at (50, 50) with fair scores; a decoy jumping around with higher single scores.
    rng = np.random.default_rng(0)
    cands = {}
    for z in range(20):
        decoy = _cand(rng.uniform(0, 100), rng.uniform(0, 100), 4.0)
        cands[z] = [decoy, _cand(50 + 0.3 * rng.normal(), 50 + 0.3 * rng.normal(), 2.5)]
    track = dynamic_track(cands, np.array([3.0, 1.5, 1.5]), lambda z, c: 0.0, range(20))
    assert track.z.size == 20
    assert np.all(np.abs(track.y - 50) < 2) and np.all(np.abs(track.x - 50) < 2)


def test_dynamic_track_stops_where_the_vessel_ends() -> None:
    cands = {z: [_cand(50, 50, 3.0 if z < 12 else 0.2)] for z in range(20)}
    track = dynamic_track(cands, np.array([3.0, 1.5, 1.5]), lambda z, c: 0.0, range(20))
    assert track.z.min() == 0 and track.z.max() == 11


def test_template_scores_for_both_polarities_in_one_pass() -> None:
    from ivcplan.anatomy.vessels_track import template_scores, template_scores_by_polarity

    # A bright vessel (160 HU) and a dark one (-20 HU) of radius 8 mm in soft tissue (50 HU).
    yy, xx = np.mgrid[0:80, 0:120]
    hu = np.full((3, 80, 120), 50.0, np.float32)
    hu[:, (yy - 40) ** 2 + (xx - 30) ** 2 <= 64] = 160.0
    hu[:, (yy - 40) ** 2 + (xx - 90) ** 2 <= 64] = -20.0
    hu += np.random.default_rng(1).normal(0, 5, hu.shape).astype(np.float32)
    sp = np.array([3.0, 1.0, 1.0])
    templates = ((5.0, 5.0), (8.0, 8.0), (12.0, 12.0))
    both = template_scores_by_polarity(hu, sp, templates, (-100.0, 400.0), ("any", "bright"))
    for polarity in ("any", "bright"):  # one pass gives what each polarity gives alone
        alone = template_scores(hu, sp, templates, (-100.0, 400.0), polarity)
        assert all(np.array_equal(a, b) for a, b in zip(both[polarity], alone, strict=True))
    any_score, bright_score = both["any"][0][1], both["bright"][0][1]
    assert any_score[40, 30] > 2.0 and any_score[40, 90] > 2.0  # "any": both vessels
    assert bright_score[40, 30] > 2.0 and bright_score[40, 90] <= 0.0  # "bright": the enhanced one only
    assert templates[both["bright"][1][1, 40, 30]] == (8.0, 8.0)  # its own size


def test_split_ivc_tumor_versus_bland_thrombus() -> None:
    # A vein of constant calibre with a non-expanding dark defect (thrombus) and, further up, an
    # expanding dark mass (tumor).
    nz, n = 40, 80
    zz, yy, xx = np.mgrid[0:nz, 0:n, 0:n]
    r = np.hypot(yy - 40, xx - 40)
    radius = np.where((zz >= 25) & (zz < 35), 18.0, 8.0)
    ivc = r <= radius
    hu = np.where(ivc, 160.0, -90.0)
    thrombus = ivc & (zz >= 5) & (zz < 12) & (xx < 40)
    tumor = ivc & (zz >= 25) & (zz < 35) & (r > 3)
    hu[thrombus] = 45.0
    hu[tumor] = 60.0
    sp = np.array([2.0, 1.5, 1.5])
    parts = split_ivc(hu, ivc, spacing=sp, contrast=True)
    d_t = 2 * np.count_nonzero(parts.tumor & tumor) / (parts.tumor.sum() + tumor.sum())
    d_b = 2 * np.count_nonzero(parts.thrombus & thrombus) / (parts.thrombus.sum() + thrombus.sum())
    assert d_t >= 0.85 and d_b >= 0.7
    assert not np.any(parts.tumor[:20]) and not np.any(parts.thrombus[20:])
    # Without enhancement nothing is split.
    plain = split_ivc(hu, ivc, spacing=sp, contrast=False)
    assert not plain.tumor.any() and not plain.thrombus.any()


def _vein_with_mass(nz: int, n: int, centre: tuple[int, int], mass_z: tuple[int, int]
                    ) -> tuple[np.ndarray, tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """Grid (2 x 1 x 1 mm) with a vein (radius 6 mm) along z through ``centre`` (y, x), expanded by a
    mass (radius 16 mm) on slices ``mass_z``: spacing, (z, y, x) coordinates, vein and mass masks."""
    sp = np.array([2.0, 1.0, 1.0])
    zz, yy, xx = np.mgrid[0:nz, 0:n, 0:n].astype(float)
    r = np.hypot(yy - centre[0], xx - centre[1])
    return sp, (zz, yy, xx), r <= 6, (r <= 16) & (zz >= mass_z[0]) & (zz < mass_z[1])


def _mass_with_neighbours() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A vein (radius 6 mm, bright) expanded by a dark mass (radius 16 mm, z 20-40) that touches, broadly,
    a 4 mm thick sheet of the same attenuation (a diaphragm cut tangentially) and sends a thin plug
    (radius 3 mm) into a bright organ (a tumor-filled vein inside the liver)."""
    nz, n = 60, 100
    sp, (zz, yy, xx), vein, mass = _vein_with_mass(nz, n, (50, 50), (20, 40))
    sheet = ((zz == 30) | (zz == 31)) & (xx > 50) & (xx < 95) & (yy > 20) & (yy < 80) & ~mass
    organ = (xx < 28) & (yy > 25) & (yy < 75) & (zz > 10) & (zz < 50)
    plug = (np.hypot(yy - 50, zz * sp[0] - 60) <= 3) & (xx < 36) & (xx > 18)
    hu = np.full((nz, n, n), -90.0)
    hu[organ] = 115.0
    hu[vein] = 160.0
    hu[sheet] = 60.0
    hu[mass | plug] = 60.0
    return hu, vein | mass, mass, sheet, plug & organ, sp


def test_tumor_growth_stops_at_thin_sheets_but_keeps_vein_invasion() -> None:
    hu, ivc, mass, sheet, plug, sp = _mass_with_neighbours()
    organ = hu == 115.0
    kept_in = ndimage.binary_closing(organ | plug, iterations=3) | organ | plug
    parts = split_ivc(hu, ivc, spacing=sp, contrast=True, upper_hu=100.0, enclosed=kept_in)
    # The sheet touches the mass over 40 mm but is thin in 3D: not tumor.
    assert np.count_nonzero(parts.tumor & sheet) <= 0.05 * sheet.sum()
    # The plug inside the bright organ is tumor (the vein it fills is invaded).
    assert np.count_nonzero(parts.tumor & plug) >= 0.8 * plug.sum()
    # Without the enclosure the plug, thin too, is cut like the sheet.
    bare = split_ivc(hu, ivc, spacing=sp, contrast=True, upper_hu=100.0)
    assert np.count_nonzero(bare.tumor & plug) <= 0.2 * plug.sum()
    dice = 2 * np.count_nonzero(parts.tumor & mass) / (parts.tumor.sum() + mass.sum())
    assert dice >= 0.85


def test_residual_lumen_beside_the_tumor_is_found_but_not_a_branch_vein() -> None:
    nz, n = 50, 90
    sp = np.array([2.0, 1.0, 1.0])
    zz, yy, xx = np.mgrid[0:nz, 0:n, 0:n].astype(float)
    r = np.hypot(yy - 45, xx - 45)
    tumor = (r <= 14) & (zz >= 10) & (zz < 40)
    crescent = (r > 14) & (r <= 18) & (yy < 45) & (zz >= 10) & (zz < 40)  # 4 mm lumen, 60 mm long
    branch = (np.abs(zz - 25) * sp[0] <= 5) & (np.abs(yy - 45) <= 4) & (xx > 60)  # a renal vein, leaving
    hu = np.full((nz, n, n), -90.0)
    hu[tumor] = 60.0
    hu[crescent | branch] = 160.0
    free = ~tumor
    got = residual_lumen(hu, free, tumor, np.zeros_like(tumor), (120.0, 240.0), sp)
    # Its core (partial volume blurs its two edges) on every slice of the tumor.
    assert np.count_nonzero(got & crescent) >= 0.7 * crescent.sum()
    assert np.all(got[10:40].any(axis=(1, 2))) and not got[:9].any() and not got[41:].any()
    # Only the branch's mouth (within the residual lumen's reach of the tumor) comes along.
    far = branch & (xx > 45 + 14 + RESIDUAL_LUMEN_MM + 1)
    assert not np.any(got & far)
    assert not residual_lumen(hu, free, np.zeros_like(tumor), tumor, (120.0, 240.0), sp).any()


def test_tumor_leak_into_a_thick_neighbour_on_a_few_sections_is_cut() -> None:
    # A mass (radius 16 mm, 40 mm long) touched broadly, over 10 mm of its length, by a thick blob of
    # its own attenuation (a bowel loop): on those sections the grown region is wider on one side,
    # but the mass's outline along the vein says where the mass is.
    nz, n = 60, 110
    sp, (zz, yy, xx), vein, mass = _vein_with_mass(nz, n, (55, 45), (10, 30))
    loop = (np.hypot(yy - 55, xx - 73) <= 13) & (zz >= 18) & (zz < 23) & ~mass
    hu = np.full((nz, n, n), -90.0)
    hu[vein] = 160.0
    hu[mass | loop] = 60.0
    parts = split_ivc(hu, vein | mass, spacing=sp, contrast=True, upper_hu=100.0)
    assert np.count_nonzero(parts.tumor & loop) <= 0.25 * loop.sum()
    dice = 2 * np.count_nonzero(parts.tumor & mass) / (parts.tumor.sum() + mass.sum())
    assert dice >= 0.85


def test_poles_beside_the_tracked_lumen_are_reached_within_their_reach() -> None:
    # A mass (radius 16 mm, z 4-46) beside a vein (radius 6 mm) that it fills on slices 16-27 only;
    # above (in the liver) and below, the vein's enhanced lumen runs beside it and the delineated
    # vein holds no defect.
    nz, n = 56, 100
    sp = np.array([2.0, 1.0, 1.0])
    zz, yy, xx = np.mgrid[0:nz, 0:n, 0:n].astype(float)
    vein = np.hypot(yy - 50, xx - 56) <= 6
    mass = (np.hypot(yy - 50, xx - 40) <= 16) & (zz >= 4) & (zz < 46)
    filled = (zz >= 16) & (zz < 28)
    hu = np.full((nz, n, n), -90.0)
    hu[(np.hypot(yy - 50, xx - 50) <= 42) & (zz >= 20)] = 115.0  # the liver
    hu[mass] = 60.0
    hu[vein & ~(mass & filled)] = 160.0
    tumor_truth = mass & ~(vein & ~filled)
    parts = split_ivc(hu, vein | (mass & filled), spacing=sp, contrast=True, upper_hu=100.0)
    area = parts.tumor.sum(axis=(1, 2))
    per_slice = tumor_truth.sum(axis=(1, 2))
    # Cranially the mass is followed up to its last section, 34 mm beyond the defect (POLE_REACH_MM:
    # 40 mm): slices 28-44 (at 15 mm it stopped at slice 35).
    assert np.all(area[28:45] >= 0.8 * per_slice[28:45]) and not area[46:].any()
    assert np.all(area[16:28] >= 0.8 * per_slice[16:28])
    # Caudally, where bowel and psoas of its attenuation lie, up to 20 mm below the defect's first
    # section (POLE_REACH_BELOW_MM; before, one section: slice 15): slices 6-15, not the mass's last 4 mm.
    assert np.all(area[6:16] >= 0.8 * per_slice[6:16])
    assert per_slice[4:6].all() and not area[:6].any()
    assert np.count_nonzero(parts.tumor & ~tumor_truth) <= 0.05 * parts.tumor.sum()


def test_bulky_tumor_beside_the_vertebral_body_is_kept_within_its_outline() -> None:
    # A mass (radius 16 mm) whose back 8 mm lie behind the vertebral front (y > 58), beside the body;
    # a muscle of its attenuation (a psoas or crus) touches it there.
    nz, n = 50, 100
    sp, (zz, yy, xx), vein, mass = _vein_with_mass(nz, n, (50, 50), (10, 40))
    behind = yy > 58
    muscle = (np.hypot(yy - 70, xx - 76) <= 11) & ~mass & (zz >= 5) & (zz < 45)
    hu = np.full((nz, n, n), -90.0)
    hu[vein] = 160.0
    hu[mass | muscle] = 60.0
    ivc = (vein | mass) & ~behind  # the vein as the pipeline delineates it: in front of the spine
    band = behind & (yy <= 58 + 20)
    parts = split_ivc(hu, ivc, spacing=sp, contrast=True, upper_hu=100.0, forbidden=behind, within_mass=band)
    back = mass & behind
    assert np.count_nonzero(parts.tumor & back) >= 0.8 * back.sum()
    assert np.count_nonzero(parts.tumor & muscle) <= 0.1 * muscle.sum()
    # Without the band the tumor stops at the vertebral front.
    front_only = split_ivc(hu, ivc, spacing=sp, contrast=True, upper_hu=100.0, forbidden=behind)
    assert not np.any(front_only.tumor & back)


def test_tumor_islands_off_the_vein_are_dropped_but_branch_plugs_kept() -> None:
    from ivcplan.anatomy.tumor import _drop_islands

    sp = np.array([3.0, 1.5, 1.5])
    yy, xx = np.mgrid[0:80, 0:80]
    tumor = np.zeros((3, 80, 80), bool)
    lumen = np.zeros_like(tumor)
    lumen[:, (yy - 40) ** 2 + (xx - 40) ** 2 <= 16] = True  # the vein's lumen (radius 6 mm)
    mass = ((yy - 40) ** 2 + (xx - 48) ** 2 <= 64) & ~lumen[0]
    leak = (yy - 40) ** 2 + (xx - 70) ** 2 <= 49  # a psoas cut end, larger than a vein's plug
    plug = (yy - 12) ** 2 + (xx - 40) ** 2 <= 9  # a hepatic vein's plug (radius 4.5 mm)
    tumor[0] = mass | leak | plug
    filled = mass | lumen[1]
    tumor[1] = filled | leak  # no lumen on this section: the tumor fills the vein
    lumen[1] = False
    tumor[2] = leak  # below the mass: the leak's cut end alone, beside the vein's lumen
    enclosed = np.zeros_like(tumor)
    enclosed[:, :25] = True  # the liver, where plugs are kept ...
    enclosed[:, :, 62:] = True  # ... and a hilum: the leak lies there, but is no plug
    out = _drop_islands(tumor, lumen, enclosed, sp)
    assert (out[0] == (mass | plug)).all()
    assert (out[1] == filled).all()  # the largest piece where nothing touches the lumen
    assert not out[2].any()  # one piece, but off the lumen of its section


def test_thrombus_remnants_beside_the_tumor_are_tumor_but_a_real_thrombus_is_not() -> None:
    from ivcplan.anatomy.tumor import _absorb_remnants

    tumor = np.zeros((20, 30, 30), bool)
    tumor[2:8, 5:20, 5:20] = True
    thrombus = np.zeros_like(tumor)
    thrombus[8:9, 8:12, 8:12] = True  # 16 voxels on the tumor's pole: what it left of a defect
    thrombus[12:20, 5:20, 5:20] = True  # 1800 voxels, apart from the tumor: a bland thrombus
    thrombus[0:1, 25:28, 25:28] = True  # small, but not touching the tumor: left alone
    vox_ml = 1.0 / 1000.0  # 1 mm voxels
    out_tumor, out_thrombus = _absorb_remnants(tumor, thrombus, vox_ml)
    assert out_tumor[8, 8:12, 8:12].all() and not out_thrombus[8].any()
    assert out_thrombus[12:20, 5:20, 5:20].all() and out_thrombus[0, 25:28, 25:28].all()
    assert out_tumor.sum() == tumor.sum() + 16


def test_vein_edge_against_touching_soft_tissue_is_peeled() -> None:
    from ivcplan.anatomy.vessels import _delineate_slice

    # An enhanced vein (150 HU, radius 8 px) in fat, touching a bowel loop (95 HU) on one side; the
    # scanner's blur mixes them at the contact. The ring's median mixes fat and bowel, so the
    # half-way edge from it lies in the bowel's partial volume.
    yy, xx = np.mgrid[0:60, 0:60]
    vein = (yy - 30) ** 2 + (xx - 30) ** 2 <= 64
    loop = ((yy - 30) ** 2 + (xx - 47) ** 2 <= 100) & ~vein
    hu = np.full((60, 60), -100.0)
    hu[loop] = 95.0
    hu[vein] = 150.0
    hu = ndimage.gaussian_filter(hu, 1.0) + np.random.default_rng(0).normal(0, 8.0, hu.shape)
    sp = np.array([2.0, 1.5, 1.5])
    plain = _delineate_slice(hu, 30.0, 30.0, 8.0, 8.0, sp)
    peeled = _delineate_slice(hu, 30.0, 30.0, 8.0, 8.0, sp, peel=True)

    def dice(a: np.ndarray) -> float:
        return 2 * np.count_nonzero(a & vein) / (a.sum() + vein.sum())

    # Measured: 0.853 -> 0.871 (one layer peeled where the loop touches; the fat side is kept).
    assert np.count_nonzero(peeled & loop) <= 0.7 * np.count_nonzero(plain & loop)
    assert dice(peeled) >= dice(plain) + 0.01
    assert np.count_nonzero(peeled & vein & (xx < 36)) == np.count_nonzero(plain & vein & (xx < 36))


def test_lower_pole_sections_lie_within_the_sections_above() -> None:
    from ivcplan.anatomy.tumor import _taper_lower_pole

    sp = np.array([5.0, 1.0, 1.0])
    yy, xx = np.mgrid[0:80, 0:80]
    kept = np.zeros((8, 80, 80), bool)
    for z, radius in enumerate((6, 10, 14, 16, 18, 16, 12, 8)):  # widest at slice 4
        kept[z] = (yy - 40) ** 2 + (xx - 40) ** 2 <= radius**2
    lobe = (yy - 40) ** 2 + (xx - 62) ** 2 <= 36  # a bowel loop beside the thin pole sections
    kept[1] |= lobe
    kept[7] |= lobe  # beside the upper pole: not a lower pole, left alone
    hilum = np.zeros_like(kept)
    hilum[0, 35:45, 50:60] = True  # a renal vein it fills, at the hilum
    kept[0] |= hilum[0]
    before = kept.copy()
    _taper_lower_pole(kept, sp, hilum)
    # Within the two sections above (radius 16 px) widened by 3 mm: the lobe beyond x = 59 is cut.
    assert not np.any(kept[1] & lobe & (xx > 59)) and np.any(kept[1] & lobe)
    assert not np.any(kept[1] & ~before[1])
    assert kept[1][before[1] & ((yy - 40) ** 2 + (xx - 40) ** 2 <= 18**2)].all()
    assert kept[0][hilum[0]].all()  # the plug in its vein is kept
    assert (kept[2:] == before[2:]).all()


def test_small_template_in_a_large_artery_grows_to_its_calcified_wall() -> None:
    from ivcplan.anatomy.vessels import _delineate_slice

    # An enhanced aorta (150 HU, radius 12 px) in fat with a calcified wall (600 HU) over half its
    # circumference; the track's template is a 6 px disc at its centre (its ring lies in the same
    # lumen). The lumen and its wall are the artery (reference masks include the wall).
    yy, xx = np.mgrid[0:70, 0:70]
    r = np.hypot(yy - 35, xx - 35)
    lumen = r <= 12
    wall = (r > 12) & (r <= 14)
    hu = np.full((70, 70), -100.0)
    hu[lumen] = 150.0
    hu[wall & (yy > 35)] = 600.0
    hu[wall & (yy <= 35)] = 60.0
    hu = ndimage.gaussian_filter(hu, 0.8) + np.random.default_rng(1).normal(0, 8.0, hu.shape)
    sp = np.array([2.0, 1.0, 1.0])
    out = _delineate_slice(hu, 35.0, 35.0, 6.0, 6.0, sp, wall=True)
    artery = lumen | wall
    assert 2 * np.count_nonzero(out & artery) / (out.sum() + artery.sum()) >= 0.9  # 0.31 before
    assert out[wall & (yy > 37)].mean() >= 0.8


def test_tumor_specks_apart_from_the_mass_are_dropped() -> None:
    from ivcplan.anatomy.tumor import _drop_specks

    tumor = np.zeros((20, 40, 40), bool)
    tumor[5:15, 10:25, 10:25] = True  # the mass (2.25 ml at 1 mm)
    tumor[18, 35:37, 35:37] = True  # 4 voxels far from it: a leak's remnant
    tumor[2, 2:4, 30:32] = True  # 4 voxels where thin extensions are vein invasion (a hilum)
    enclosed = np.zeros_like(tumor)
    enclosed[:4, :6, 28:34] = True
    out = _drop_specks(tumor, 1.0 / 1000.0, enclosed)
    assert out[5:15, 10:25, 10:25].all() and not out[18].any() and out[2, 2:4, 30:32].all()


def test_atrium_of_blood_brighter_than_the_bone_threshold_is_found() -> None:
    """The atrium's blood may lie above the bone threshold (mixed inflow at 200+ HU on the random phantoms;
    dense contrast from the superior vena cava on real CT): only the vertebrae and the aorta are excluded
    from its blood, as for the iliac veins. Tune seed 15: the chamber was never found, so the atrium was
    labelled IVC (IVC Dice 0.76 -> 0.91 once found)."""
    from ivcplan.anatomy.trunk import BONE_HU
    from ivcplan.anatomy.vessels_branches import find_ends
    from ivcplan.anatomy.vessels_track import Track

    sp = np.array([2.5, 1.5, 1.5])
    nz, ny, nx = 60, 80, 80
    zz, yy, xx = np.mgrid[0:nz, 0:ny, 0:nx]
    blood = BONE_HU + 30.0
    hu = np.full((nz, ny, nx), 45.0, np.float32)
    r_ivc = np.hypot((yy - 40) * sp[1], (xx - 40) * sp[2])
    vein = (r_ivc <= 10.0) & (zz < 40)
    hu[vein] = blood
    chamber = np.sqrt(((zz - 48) * sp[0]) ** 2 + r_ivc**2) <= 24.0
    hu[chamber & (zz >= 40)] = blood
    spine = np.hypot((yy - 70) * sp[1], (xx - 40) * sp[2]) <= 12.0
    hu[spine] = 450.0
    hu += np.random.default_rng(3).normal(0, 6, hu.shape).astype(np.float32)
    z = np.arange(0, 44)
    track = Track(z, np.full(z.shape, 40.0), np.full(z.shape, 40.0), np.full(z.shape, 10.0), np.full(z.shape, 10.0),
                  np.ones(z.shape), np.full(z.shape, blood))
    ivc = vein.copy()
    ivc[40:44] = r_ivc[40:44] <= 10.0
    forbidden = hu > BONE_HU  # what the orchestrator passes: bone by threshold (and the aorta)
    ends = find_ends(hu, track, ivc, forbidden, sp, enhanced=True, iliac_top=None, blood_forbidden=spine)
    assert ends.junction_z is not None and abs(ends.junction_z - 40) <= 2
    found = ends.atrium & chamber
    assert found.sum() >= 0.8 * (chamber & (zz >= 40)).sum()
    assert not (ends.atrium & spine).any()
