"""The bundled sample CTs analysed from the DICOM alone (automatic segmentation, no truth labels):
the renal and hepatic veins are found, the contract landmarks land at the truth's heights, the tumor
sits in the right segments, and the plan is the truth JSON's expected suggestion."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel
import numpy as np
import pytest

from ivcplan import pipeline
from ivcplan.labels import HEPATIC_VEIN_LABELS, RENAL_VEIN_LABELS
from ivcplan.volume import Labelmap, Volume

SAMPLES = Path(__file__).resolve().parents[1] / "sample_dicom"
#: Issue 5: landmarks within 10 mm along z.
LANDMARK_Z_TOL_MM = 10.0
CONTRACT_LANDMARKS = ("renal_veins", "hepatic_veins", "cavoatrial_junction")
#: A found vein overlaps its own truth label at least this much (Dice; measured 0.35-0.88, the lowest on
#: the small right renal vein of case (a), mostly filled by tumor), more than any other vein's.
VEIN_DICE = 0.30

_CACHE: dict[str, tuple[pipeline.Analysis, dict, np.ndarray]] = {}


def _analysed(name: str) -> tuple[pipeline.Analysis, dict, np.ndarray]:
    if name not in _CACHE:
        analysis = pipeline.run(SAMPLES / name / "dicom")
        truth = json.loads((SAMPLES / name / "truth.json").read_text())
        img = Volume.from_nifti(nibabel.load(SAMPLES / name / "truth.nii.gz"))
        ref = Labelmap(img.array.astype(np.uint8), img.grid).resample_to(analysis.volume.grid).array
        _CACHE[name] = analysis, truth, ref
    return _CACHE[name]


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * np.count_nonzero(a & b) / max(np.count_nonzero(a) + np.count_nonzero(b), 1))


@pytest.mark.parametrize("name", ["case_a_renal", "case_b_retrohepatic", "case_c_normal"])
def test_renal_and_hepatic_veins_are_found_and_named(name: str) -> None:
    analysis, _, ref = _analysed(name)
    pred = analysis.segmentation.labelmap.array
    veins = {**{f"renal_{k}": v for k, v in RENAL_VEIN_LABELS.items()},
             **{f"hepatic_{k}": v for k, v in HEPATIC_VEIN_LABELS.items() if k != "left"}}
    for key, lab in veins.items():
        scores = {other: _dice(pred == lab, ref == olab) for other, olab in veins.items()}
        assert scores[key] >= VEIN_DICE, f"{name} {key}: Dice {scores}"
        assert max(scores, key=scores.get) == key, f"{name} {key} overlaps another vein more: {scores}"


@pytest.mark.parametrize("name", ["case_a_renal", "case_b_retrohepatic", "case_c_normal"])
def test_landmarks_at_the_truth_heights(name: str) -> None:
    analysis, truth, _ = _analysed(name)
    for key in CONTRACT_LANDMARKS:
        ours = analysis.report["landmarks"][key]["position_mm"]
        ref = truth["facts"]["landmarks"][key]["position_mm"]
        assert ours is not None, f"{name}: {key} not found"
        assert abs(ours[2] - ref[2]) <= LANDMARK_Z_TOL_MM, f"{name} {key}: z {ours[2]:.1f} vs truth {ref[2]:.1f}"


@pytest.mark.parametrize("name", ["case_a_renal", "case_b_retrohepatic", "case_c_normal"])
def test_segments_and_plan_equal_the_expected_suggestion(name: str) -> None:
    analysis, truth, _ = _analysed(name)
    facts, expected = truth["facts"], truth["expected_plan"] or {}
    report = analysis.report
    assert report["tumor"]["present"] == facts["tumor"]["present"]
    assert report["tumor"]["segments"] == facts["tumor"]["segments"]
    plan = report["plan"]
    assert plan["approach"] == (expected.get("approach") or "none")
    if expected:
        for key in ("vascular_control", "ivc_reconstruction", "renal_vein_handling", "liver_resection"):
            assert plan[key] == expected[key], f"{name} {key}: {plan[key]} vs expected {expected[key]}"


@pytest.mark.parametrize("name", ["case_a_renal", "case_b_retrohepatic"])
def test_right_atrium_is_one_solid_chamber(name: str) -> None:
    from scipy import ndimage

    from ivcplan.labels import Label

    analysis, _, ref = _analysed(name)
    atrium = analysis.segmentation.labelmap.array == Label.RIGHT_ATRIUM
    # Noise voxels inside the chamber are its blood: no holes on any section (they were 4-5 % of it).
    holes = sum(int(np.count_nonzero(ndimage.binary_fill_holes(s) & ~s)) for s in atrium)
    assert holes <= 0.005 * atrium.sum()
    assert _dice(atrium, ref == Label.RIGHT_ATRIUM) >= 0.74  # measured 0.749 and 0.753 (0.73 with holes)


# -- issue 19: the decision-driving facts of the two seed cases, from the DICOM alone ------------------------
def test_case_a_graft_from_the_transverse_diameter_of_the_normal_ivc() -> None:
    report = _analysed("case_a_renal")[0].report
    truth = _analysed("case_a_renal")[1]
    plan, tumor = report["plan"], report["tumor"]
    above = report["ivc"]["diameters_mm"]["above_tumor"]
    ref = truth["facts"]["ivc"]["diameters_mm"]["above_tumor"]
    assert above["transverse"] == pytest.approx(ref["transverse"], abs=2.0)  # 25.6 vs 26.1 mm measured
    assert report["ivc"]["diameters_mm"]["renal_veins"]["transverse"] is None  # the tumor sits there
    assert 14.0 <= plan["graft_diameter_mm"] <= 16.0  # the seed's 15 mm ringed PTFE graft
    assert plan["graft_sizing"]["source"] == "above_tumor"
    assert plan["graft_length_mm"] == pytest.approx(tumor["craniocaudal_length_mm"] + 20.0, abs=0.2)
    # The tumor leaves a channel (its truth): no complete occlusion; the stenosis is against the native area.
    assert tumor["complete_occlusion"] is False and truth["facts"]["tumor"]["complete_occlusion"] is False
    assert tumor["residual_lumen_min_area_mm2"] > 0 and 80.0 <= tumor["max_stenosis_pct"] < 100.0
    # Upper pole above the liver's caudal edge (its truth: 26.9 mm): the liver is mobilised, as in the seed.
    ref_edge = truth["facts"]["tumor"]["distance_upper_pole_to_liver_caudal_edge_mm"]
    assert tumor["distance_upper_pole_to_liver_caudal_edge_mm"] == pytest.approx(ref_edge, abs=10.0)
    assert plan["upper_clamp_site"] == "retrohepatic_below_hepatic_veins" and plan["liver_mobilisation"] is True
    assert tumor["distance_lower_pole_to_iliac_confluence_mm"] > 0
    assert set(tumor["distance_upper_pole_to_hepatic_vein_mm"]) == {"right", "middle", "left"}
    assert not any("en-bloc resection of adjacent structures may be needed" in f for f in plan["flags"])


def test_case_b_no_graft_size_from_sections_clipped_by_the_atrium() -> None:
    analysis, truth, _ = _analysed("case_b_retrohepatic")
    report = analysis.report
    plan, tumor, diameters = report["plan"], report["tumor"], report["ivc"]["diameters_mm"]
    assert diameters["above_tumor"]["transverse"] is None and "right atrium" in diameters["above_tumor"]["reason"]
    assert plan["graft_sizing"]["source"] == "renal_veins"
    assert 14.0 <= plan["graft_diameter_mm"] <= 16.0
    assert tumor["complete_occlusion"] is False and truth["facts"]["tumor"]["complete_occlusion"] is False
    # Upper pole above the caval hiatus (truth -11.2 mm), not in the atrium: bypass on standby, no pump.
    ref = truth["facts"]["tumor"]["distance_upper_pole_to_caval_hiatus_mm"]
    assert tumor["distance_upper_pole_to_caval_hiatus_mm"] == pytest.approx(ref, abs=6.0)
    assert plan["vascular_control"] == "total_vascular_exclusion" and plan["bypass_standby"] is True
    assert plan["upper_clamp_site"] == truth["expected_plan"]["upper_clamp_site"] == "intrapericardial_or_suprahepatic"
    assert {a["method"] for a in plan["anhepatic_support"]} == {"temporary_ivc_graft", "temporary_portocaval_shunt",
                                                                "venovenous_bypass"}
    assert [r["id"] for r in plan["rules"]][:2] == ["R6", "R7"]
    hiatus = report["landmarks"]["caval_hiatus"]
    assert abs(hiatus["position_mm"][2] - truth["facts"]["landmarks"]["caval_hiatus"]["position_mm"][2]) <= 6.0


@pytest.mark.parametrize("name", ["case_a_renal", "case_b_retrohepatic"])
def test_provenance_and_references_in_the_report(name: str) -> None:
    import hashlib

    from ivcplan.plan import DEFAULT_RULES_PATH

    report = _analysed(name)[0].report
    prov = report["provenance"]
    assert prov["rules_sha256"] == hashlib.sha256(DEFAULT_RULES_PATH.read_bytes()).hexdigest()
    assert prov["rules_file"] == report["plan"]["rules_file"] == "plan_rules.toml (shipped with ivcplan)"
    assert prov["patient_id"] == f"PHANTOM-{name}" and prov["study_date"] and prov["anonymized"] is False
    cited = {key for rule in report["plan"]["rules"] for key in rule["references"]}
    assert cited == {ref["key"] for ref in report["plan"]["references"]}
    assert all(ref["citation"] for ref in report["plan"]["references"])
