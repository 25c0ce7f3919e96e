"""Generated cases: deterministic, truth aligned with the image, truth consistent with the lesion spec."""

from __future__ import annotations

import numpy as np
import pytest

from ivcplan.errors import InputError
from ivcplan.labels import IVC_LABELS, Label
from ivcplan.phantom import PhantomConfig, ThrombusSpec, TumorSpec, generate
from ivcplan.phantom.config import parse_position

SMALL = {"matrix": 96, "pixel_mm": 4.0, "slice_spacing_mm": 6.0}

# Portal venous HU ranges (domain.md) the mean inside each truth structure must fall in. Coarse test
# grids blur small vessels into their neighbours, hence the wide vessel ranges.
HU_RANGES = {
    Label.LIVER: (90, 130), Label.AORTA: (110, 200), Label.KIDNEY_RIGHT: (130, 230),
    Label.KIDNEY_LEFT: (130, 230), Label.SPINE: (200, 900), Label.RIGHT_ATRIUM: (110, 200),
    Label.IVC_LUMEN: (90, 180), Label.PORTAL_VEIN: (100, 200), Label.IVC_TUMOR: (25, 100),
}


def _mean_hu(case, label):
    return float(case.volume.array[case.truth.array == int(label)].mean())


def test_truth_masks_align_with_image(tumor_case):
    for label, (lo, hi) in HU_RANGES.items():
        assert lo <= _mean_hu(tumor_case, label) <= hi, label.key
    outside = tumor_case.volume.array[tumor_case.truth.array == 0]
    assert np.median(outside) < -900  # air (and the table) outside the body


def test_same_seed_same_case_other_seed_other_case():
    config = PhantomConfig(seed=3, matrix=48, pixel_mm=8.0, slice_spacing_mm=12.0)
    a, b = generate(config), generate(config)
    assert np.array_equal(a.volume.array, b.volume.array)
    assert np.array_equal(a.truth.array, b.truth.array)
    assert a.truth_info == b.truth_info
    assert a.volume.meta["series_instance_uid"] == b.volume.meta["series_instance_uid"]
    c = generate(PhantomConfig(seed=4, matrix=48, pixel_mm=8.0, slice_spacing_mm=12.0))
    assert not np.array_equal(a.volume.array, c.volume.array)


def test_landmarks_order_and_anatomy(normal_ffs_case):
    lm = normal_ffs_case.truth_info["facts"]["landmarks"]
    s = {k: v["s_mm"] for k, v in lm.items()}
    assert s["iliac_confluence"] < s["renal_veins"] < s["hepatic_veins"] < s["cavoatrial_junction"]
    # Left renal vein enters 1-2 cm higher than the right one.
    assert 8 <= lm["renal_vein_left"]["position_mm"][2] - lm["renal_vein_right"]["position_mm"][2] <= 25
    # IVC length from confluence to atrium (adult: ~20-26 cm); landmarks on the patient's right.
    assert 190 <= s["cavoatrial_junction"] - s["iliac_confluence"] <= 270
    assert lm["renal_veins"]["position_mm"][0] < 0
    assert normal_ffs_case.truth_info["facts"]["tumor"]["present"] is False
    assert normal_ffs_case.truth_info["facts"]["segments_in_view"] == ["I", "II", "III"]


def test_feet_first_is_the_same_physical_image(normal_ffs_case):
    grid = normal_ffs_case.volume.grid
    assert normal_ffs_case.volume.meta["patient_position"] == "FFS"
    assert grid.direction[2, 0] == -1.0 and grid.direction[0, 2] == -1.0  # slices run caudally, columns right
    # The liver sits on the patient's right (negative LPS x) whatever the storage order.
    liver = grid.index_to_lps(np.argwhere(normal_ffs_case.truth.array == Label.LIVER))
    assert liver[:, 0].mean() < -20


def test_tumor_truth_follows_the_masks_and_the_spec(tumor_case):
    tumor = tumor_case.truth_info["facts"]["tumor"]
    assert tumor["present"]
    assert tumor["volume_ml"] == pytest.approx(tumor_case.truth.volume_ml(Label.IVC_TUMOR), abs=0.01)
    assert tumor["segments"] == ["II", "III"]
    assert "right" in tumor["hepatic_veins_invaded"]
    assert tumor["intracardiac"] and tumor["intracardiac_length_mm"] > 5
    assert tumor["axes_mm"][0] >= tumor["axes_mm"][1] >= tumor["axes_mm"][2] > 0
    assert tumor["max_diameter_mm"] >= tumor["axes_mm"][0] - 8  # Feret >= longest principal extent
    assert tumor["growth_pattern"] == "both"
    assert 0 < tumor["max_lumen_occlusion_pct"] <= 100
    plan = tumor_case.truth_info["expected_plan"]
    assert plan is not None and plan["approach"] == "elra"


def test_tumor_expands_the_ivc_and_thrombus_does_not(tumor_case, thrombus_case):
    def max_section_ml(case):  # largest IVC-set area per slice, in voxels
        ivc = np.isin(case.truth.array, [int(v) for v in IVC_LABELS])
        return ivc.sum(axis=(1, 2)).max() * case.truth.grid.spacing[1] * case.truth.grid.spacing[2]

    normal_area = np.pi * 13.5 * 9.0  # the widest normal IVC cross-section (mm2)
    assert max_section_ml(tumor_case) > 2 * normal_area
    assert max_section_ml(thrombus_case) < 1.6 * normal_area
    thrombus = thrombus_case.truth_info["facts"]["thrombus"]
    assert thrombus["volume_ml"] > 1
    assert thrombus_case.truth_info["facts"]["tumor"]["present"] is False
    assert _mean_hu(thrombus_case, Label.IVC_THROMBUS) < 80  # non-enhancing


@pytest.mark.parametrize("kwargs, message", [
    ({"matrix": 8}, "matrix"),
    ({"patient_position": "HFP"}, "patient_position"),
    ({"pixel_mm": 0}, "pixel_mm"),
    ({"tumor": TumorSpec(), "thrombus": ThrombusSpec()}, "either a tumor"),
])
def test_bad_config_names_the_argument(kwargs, message):
    with pytest.raises(InputError, match=message):
        PhantomConfig(**kwargs)


def test_bad_tumor_spec_names_the_argument():
    with pytest.raises(InputError, match=r"tumor\.upper"):
        TumorSpec(upper="hepatic_vein+3")
    with pytest.raises(InputError, match="hepatic_veins_invaded"):
        TumorSpec(hepatic_veins_invaded=("upper",))
    with pytest.raises(InputError, match="at least 5 mm above"):
        generate(PhantomConfig(tumor=TumorSpec(lower="renal_veins+10", upper="renal_veins"), **SMALL))
    assert parse_position("renal_veins-45", "x") == ("renal_veins", -45.0)
    assert parse_position(" 120 ", "x") == (None, 120.0)
