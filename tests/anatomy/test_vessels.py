"""Building blocks of the vessel segmentation: phase rules, working frame, tracking, tumor split."""

from __future__ import annotations

import numpy as np
import pytest

from ivcplan.anatomy.phase import detect_phase
from ivcplan.anatomy.tumor import split_ivc
from ivcplan.anatomy.vessels_frame import CANONICAL_DIRECTION, labels_to_source, to_work_frame
from ivcplan.anatomy.vessels_track import Candidate, dynamic_track
from ivcplan.volume import Volume

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
    frame = to_work_frame(vol)
    assert np.allclose(frame.grid.direction, CANONICAL_DIRECTION)
    assert frame.spacing[1] == pytest.approx(1.5) and frame.spacing[0] == pytest.approx(2.5)
    # The bright ball is where it was, in physical space.
    work_idx = np.argwhere(frame.hu > 100).mean(axis=0)
    assert np.linalg.norm(frame.grid.index_to_lps(work_idx) - centre) < 1.0
    back = labels_to_source((frame.hu > 100).astype(np.uint8), frame, smooth_labels=(1,))
    assert back.grid.is_same(vol.grid)
    got = back.array == 1
    assert 2 * np.count_nonzero(got & ball) / (got.sum() + ball.sum()) >= ROUND_TRIP_DICE


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
