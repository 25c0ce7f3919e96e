"""Kidneys on anatomy the kidney method was not built on: cases of the random phantom's TUNE range
(issues 17 and 18) and a small torso with ribs against a kidney's upper pole.

Tune seed 47 (kidneys-up view, 3.9 mm slices, its drawn imaging): the left kidney's upper pole lies on
the lowest ribs. The kidney step used to reject every candidate with more than 4 % of its envelope on
bone (left kidney Dice 0.003: a neighbour was labelled instead); a candidate with a partner kidney at
shared levels now tolerates an upper pole on the ribs (a lone organ on the ribs, like the spleen of
the TotalSegmentator contrast example above the kidneys, is still rejected: scripts/evaluate.py
--real-only).
"""

from __future__ import annotations

import numpy as np
import pytest
from torso import ORIGIN, SPACING, trunk

from ivcplan.anatomy.organs import segment_organs
from ivcplan.labels import Label
from ivcplan.metrics import dice
from ivcplan.phantom.random_case import generate_random
from ivcplan.volume import Volume

#: Dice floors per side on tune seed 47 (measured 0.939 / 0.918 on this code; 0.939 / 0.003 before).
SEED_47_FLOORS = {"right": 0.90, "left": 0.85}


@pytest.fixture(scope="module")
def seed_47():
    case = generate_random(47)
    return case, segment_organs(case.volume)


def test_left_kidney_on_the_ribs_found_beside_its_partner(seed_47):
    case, seg = seed_47
    truth = np.asarray(case.truth.array)
    for side, label in (("right", Label.KIDNEY_RIGHT), ("left", Label.KIDNEY_LEFT)):
        assert seg.kidneys[side].found, (side, seg.kidneys[side].note)
        assert dice(seg.kidneys[side].mask, truth == int(label)) >= SEED_47_FLOORS[side], side


#: Tune seed 12 (portal venous, kidney cortex about 240 HU): the psoas pair, paired and in fat at muscle
#: level, took both kidneys' places (Dice 0.0 / 0.0 before); a muscle-like candidate now ranks lower
#: (organs_kidney.MUSCLE_LIKE_RANK). Measured 0.862 / 0.903.
SEED_12_FLOORS = {"right": 0.80, "left": 0.85}


def test_enhanced_kidneys_not_the_psoas_pair():
    case = generate_random(12)
    seg = segment_organs(case.volume)
    truth = np.asarray(case.truth.array)
    for side, label in (("right", Label.KIDNEY_RIGHT), ("left", Label.KIDNEY_LEFT)):
        assert dice(seg.kidneys[side].mask, truth == int(label)) >= SEED_12_FLOORS[side], (side, seg.kidneys[side].note)


#: The synthetic kidneys are ellipsoids of one attenuation: nearly exact (left 0.997, right 1.0 measured;
#: before, the left kidney's upper pole on the ribs was cut off: 0.805).
KIDNEY_DICE_MIN = 0.9


def _torso_with_ribs(seed: int = 0) -> tuple[Volume, dict[str, np.ndarray]]:
    """A fat torso with a vertebra, muscle wall, liver and two enhancing kidneys, the left one higher
    with its upper pole on ribs."""
    rng = np.random.default_rng(seed)
    t = trunk(60)
    nz, z, y, x, img, body, vert = t.img.shape[0], t.z, t.y, t.x, t.img, t.body, t.vertebra
    liver = ((x + 65.0) / 60.0) ** 2 + ((y + 15.0) / 55.0) ** 2 + ((z - 150.0) / 70.0) ** 2 <= 1.0
    img[liver & body & ~vert] = 105.0
    organs: dict[str, np.ndarray] = {}
    for side, cx, cz in (("right", -70.0, 60.0), ("left", 70.0, 80.0)):
        organs[side] = ((x - cx) / 25.0) ** 2 + ((y - 45.0) / 20.0) ** 2 + ((z - cz) / 50.0) ** 2 <= 1.0
        img[organs[side]] = 190.0
    # Ribs: 9 mm bars every 24 mm above z = 100 mm, 8 mm thick, lying on the back of the left kidney's
    # upper pole.
    target = organs["left"]
    near = np.zeros_like(target)
    for step in range(1, 5):
        near[:, step:, :] |= target[:, :-step, :]
    bands = np.zeros_like(target)
    for rz in np.arange(100.0, nz * SPACING[0], 24.0):
        bands |= np.abs(z - rz) < 4.5
    behind = bands & near & ~target
    img[behind & body] = 500.0
    img = img + rng.normal(0.0, 10.0, img.shape)
    return Volume.from_array(img.astype(np.int16), spacing=SPACING, origin=ORIGIN), organs


def test_kidney_upper_pole_on_the_ribs_is_found():
    vol, organs = _torso_with_ribs()
    seg = segment_organs(vol)
    for side in ("right", "left"):
        assert dice(seg.kidneys[side].mask, organs[side]) >= KIDNEY_DICE_MIN, (side, seg.kidneys[side].note)

