"""Issue 17 on a real portal-venous CT: 3D-IRCADb-01 patient 17 (../shared/data/ircadb_17) through the
whole pipeline against its expert masks, as ``scripts/evaluate.py`` scores it (tests/anatomy/realdata.py
reads the references for both). The floors are what the branch reached (BENCHMARKS.md, issue 17
table); the issue's targets are noted where a floor is below them. A missing ../shared fails.
"""

from __future__ import annotations

import numpy as np
import pytest
from realdata import VENOUS_LABELS, ircadb_reference

from ivcplan import pipeline
from ivcplan.io import load
from ivcplan.labels import Label
from ivcplan.measure.landmarks import LEFT_MINUS_RIGHT_MM
from ivcplan.metrics import dice

#: Our venous labels (IVC, renal, hepatic, iliac veins) against the expert venoussystem mask: 0.761
#: measured, issue 17's target 0.75 (0.686 before the hepatic veins were followed through the liver and
#: the blood's outline settled on the scan grid).
VENOUS_DICE_MIN = 0.75
#: Liver (with its metastases) against the expert liver mask: 0.925 measured (the hepatic veins inside it
#: are labelled as veins), target 0.92.
LIVER_DICE_MIN = 0.92
#: Share of our aorta inside the expert artery mask: 0.959 measured, target 0.95.
AORTA_IN_ARTERY_MIN = 0.95
#: Each kidney (both plainly in view), ml: 234 measured each, target 60.
KIDNEY_MIN_ML = 60.0


@pytest.fixture(scope="module")
def ircadb(shared_dir):
    case = shared_dir / "data" / "ircadb_17"
    volume = load(case / "PATIENT_DICOM")
    ref = ircadb_reference(case, volume)
    analysis = pipeline.run(volume)
    return volume, ref, analysis


def test_venous_system_liver_and_aorta_against_the_expert_masks(ircadb) -> None:
    _, ref, analysis = ircadb
    pred = np.asarray(analysis.segmentation.labelmap.array)
    assert dice(np.isin(pred, VENOUS_LABELS), ref["venoussystem"]) >= VENOUS_DICE_MIN
    assert dice(pred == Label.LIVER, ref["liver"]) >= LIVER_DICE_MIN
    aorta = pred == Label.AORTA
    assert np.count_nonzero(aorta & ref["artery"]) / np.count_nonzero(aorta) >= AORTA_IN_ARTERY_MIN


def test_both_kidneys_and_both_renal_ostia(ircadb) -> None:
    volume, _, analysis = ircadb
    pred = np.asarray(analysis.segmentation.labelmap.array)
    voxel_ml = float(np.prod(volume.spacing)) / 1000.0
    for lab in (Label.KIDNEY_RIGHT, Label.KIDNEY_LEFT):
        assert np.count_nonzero(pred == lab) * voxel_ml >= KIDNEY_MIN_ML, lab.key
        assert analysis.segmentation.found(lab), lab.key
    landmarks = analysis.report["landmarks"]
    for key in ("renal_vein_right", "renal_vein_left"):
        assert landmarks[key]["position_mm"] is not None, landmarks[key]
    # Issue 18: the right ostium is the right renal vein's (z 68 mm, on the slice where the expert's right
    # renal vein leaves the IVC), not a vein at the scan's lower edge (z 23 mm before, 57 mm below the left
    # one): the left renal vein enters 0-3 cm above the right (docs/clinical.md).
    dz = landmarks["renal_vein_left"]["position_mm"][2] - landmarks["renal_vein_right"]["position_mm"][2]
    assert LEFT_MINUS_RIGHT_MM[0] <= dz <= LEFT_MINUS_RIGHT_MM[1], dz
    assert not any("kidney" in w and "not" in w for w in analysis.warnings), analysis.warnings


def test_no_ivc_tumor_and_no_landmark_outside_the_scan(ircadb) -> None:
    """Its lesions are liver metastases, not an IVC tumor; the scan ends above the iliac veins."""
    volume, _, analysis = ircadb
    pred = np.asarray(analysis.segmentation.labelmap.array)
    assert not analysis.report["tumor"]["present"]
    assert not np.isin(pred, [int(Label.IVC_TUMOR), int(Label.IVC_THROMBUS)]).any()
    assert analysis.report["landmarks"]["iliac_confluence"]["position_mm"] is None
    assert not np.isin(pred, [int(Label.ILIAC_VEIN_RIGHT), int(Label.ILIAC_VEIN_LEFT)]).any()
    assert "iliac confluence not in view: the aorta does not divide within the scanned range" in analysis.warnings
    # Every landmark that is placed lies within the scanned range.
    heights = volume.grid.index_to_lps([[0, 0, 0], [volume.shape[0] - 1, 0, 0]])[:, 2]
    for key, entry in analysis.report["landmarks"].items():
        pos = entry.get("position_mm") if isinstance(entry, dict) else None
        if pos is not None:
            assert heights.min() - 1.0 <= pos[2] <= heights.max() + 1.0, (key, pos)
