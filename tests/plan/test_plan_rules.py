"""One test per rule and per boundary (just inside / just outside each default threshold)."""

from __future__ import annotations

import numpy as np
import pytest
from plan_facts import case_a, case_b, modified

from ivcplan.errors import InputError
from ivcplan.plan import suggest

# Just outside a threshold: the smallest step the report's 0.1 mm / 0.001 ratio rounding can show.
STEP_MM = 0.1
STEP_RATIO = 0.001


def retrohepatic(**tumor) -> dict:
    """Case (a) moved up: segment II top, hepatic veins free, well below the atrium."""
    base = modified(case_a(), tumor={"distance_upper_pole_to_hepatic_veins_mm": 5.0,
                                     "distance_upper_pole_to_cavoatrial_junction_mm": 35.0})
    return modified(base, tumor=tumor)


# -- R1 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("distance", "approach", "control", "rule"), [
    (10.0, "conventional", "infrahepatic_clamping", "R1"),
    (10.0 - STEP_MM, "conventional", "total_vascular_exclusion", "R5"),
])
def test_r1_margin_boundary(distance: float, approach: str, control: str, rule: str) -> None:
    plan = suggest(modified(case_a(), tumor={"distance_upper_pole_to_hepatic_veins_mm": distance}))
    assert (plan.approach, plan.vascular_control) == (approach, control)
    assert rule in plan.fired_ids
    assert ("R1" in plan.fired_ids) == (rule == "R1")


def test_r1_needs_segments_i_ii_only() -> None:
    plan = suggest(modified(case_a(), tumor={"segments": ["II", "III"]}))
    assert "R1" not in plan.fired_ids and plan.not_fired["R1"] == "tumor in segment III"


def test_r1_hepatic_status_unknown_does_not_matter_below_the_margin() -> None:
    plan = suggest(modified(case_a(), tumor={"hepatic_veins_invaded": None}))
    assert plan.approach == "conventional" and "R1" in plan.fired_ids


def test_r1_infrarenal_tumor_with_hepatic_veins_out_of_view() -> None:
    facts = modified(case_a(), tumor={"segments": ["I"], "distance_upper_pole_to_hepatic_veins_mm": None,
                                      "distance_upper_pole_to_cavoatrial_junction_mm": None,
                                      "renal_veins_involved": []},
                     landmarks={"hepatic_veins": {"position_mm": None, "confidence": 0.0},
                                "cavoatrial_junction": {"position_mm": None, "confidence": 0.0}})
    plan = suggest(facts)
    assert plan.approach == "conventional" and "R1" in plan.fired_ids
    assert any("infrarenal" in flag for flag in plan.flags)


# -- R2 -------------------------------------------------------------------------------------------
def infrarenal_occluded(**tumor) -> dict:
    base = modified(case_a(), tumor={"segments": ["I"], "complete_occlusion": True, "collateral_return": True,
                                     "max_lumen_occlusion_pct": 100.0, "renal_veins_involved": []})
    return modified(base, tumor=tumor)


def test_r2_ligation_when_occluded_infrarenal_with_collaterals() -> None:
    plan = suggest(infrarenal_occluded())
    assert plan.ivc_reconstruction == "ligation" and plan.graft_diameter_mm is None
    assert "R2" in plan.fired_ids and "R3" not in plan.fired_ids


@pytest.mark.parametrize(("change", "reason"), [
    ({"collateral_return": False}, "no collateral return"),
    ({"complete_occlusion": False}, "IVC not completely occluded"),
    ({"segments": ["I", "II"]}, "tumor not infrarenal"),
    ({"collateral_return": None}, "collateral return not assessed"),
])
def test_r2_each_condition_missing_means_graft(change: dict, reason: str) -> None:
    plan = suggest(infrarenal_occluded(**change))
    assert plan.ivc_reconstruction == "graft"
    assert "R2" not in plan.fired_ids and plan.not_fired["R2"] == reason


def test_r2_unknown_collaterals_are_flagged_not_taken_as_absent() -> None:
    plan = suggest(infrarenal_occluded(collateral_return=None))
    assert any("collateral return not assessed" in flag for flag in plan.flags)


# -- R3 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("diameter", "graft"), [
    (25.0, 15.0),  # 0.6 x 25
    (20.0, 12.0),  # exactly the lower clamp
    (19.0, 12.0),  # 11.4 clamped up
    (100 / 3, 20.0),  # exactly the upper clamp
    (40.0, 20.0),  # 24 clamped down
])
def test_r3_graft_sizing_and_clamp(diameter: float, graft: float) -> None:
    plan = suggest(modified(case_a(), tumor={"ivc_diameter_above_mm": diameter}))
    assert plan.ivc_reconstruction == "graft"
    assert plan.graft_diameter_mm == pytest.approx(graft, abs=0.05)
    assert plan.fired("R3").values["ivc_diameter_above_mm"] == round(diameter, 1)


@pytest.mark.parametrize(("degrees", "expected"), [(180.0 - STEP_MM, "patch"), (180.0, "graft")])
def test_r3_patch_limit_boundary(degrees: float, expected: str) -> None:
    plan = suggest(modified(case_a(), tumor={"max_circumferential_involvement_deg": degrees}))
    assert plan.ivc_reconstruction == expected
    r3 = plan.fired("R3")
    assert r3.values["max_circumferential_involvement_deg"] == round(degrees, 1)
    assert ("patch or primary repair" in r3.text) == (expected == "patch")


def test_r3_unknown_involvement_assumes_graft_and_says_so() -> None:
    plan = suggest(modified(case_a(), tumor={"max_circumferential_involvement_deg": None}))
    assert plan.ivc_reconstruction == "graft"
    assert any("Circumferential wall involvement unknown" in flag for flag in plan.flags)


def test_r3_unknown_diameter_keeps_graft_without_size() -> None:
    plan = suggest(modified(case_a(), tumor={"ivc_diameter_above_mm": None}))
    assert plan.ivc_reconstruction == "graft" and plan.graft_diameter_mm is None
    assert any("graft diameter not computed" in flag for flag in plan.flags)


def test_r3_elra_always_grafts_even_with_partial_involvement() -> None:
    plan = suggest(modified(case_b(), tumor={"max_circumferential_involvement_deg": 90.0}))
    assert plan.approach == "elra" and plan.ivc_reconstruction == "graft"


# -- R4 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("involved", "handling"), [
    (["right"], {"right": "reimplant_or_reconstruct", "left": "preserve"}),
    (["left"], {"right": "preserve", "left": "ligate_if_collaterals_patent"}),
    ([], {"right": "preserve", "left": "preserve"}),
    (None, {"right": None, "left": None}),
])
def test_r4_renal_vein_handling(involved: list | None, handling: dict) -> None:
    plan = suggest(modified(case_a(), tumor={"renal_veins_involved": involved}))
    assert plan.renal_vein_handling == handling
    assert ("R4" in plan.fired_ids) == bool(involved)
    assert any("Renal vein involvement not assessed" in flag for flag in plan.flags) == (involved is None)


# -- R5 -------------------------------------------------------------------------------------------
def test_r5_segment_ii_top_with_free_ostia() -> None:
    plan = suggest(retrohepatic())
    assert (plan.approach, plan.vascular_control) == ("conventional", "total_vascular_exclusion")
    assert plan.fired_ids[0] == "R5" and plan.not_fired["R6"] == "no hepatic vein ostium invaded"


def test_r5_segment_iii_with_free_ostia() -> None:
    plan = suggest(retrohepatic(segments=["II", "III"], distance_upper_pole_to_hepatic_veins_mm=-15.0,
                                distance_upper_pole_to_cavoatrial_junction_mm=12.0))
    assert plan.approach == "conventional" and "R5" in plan.fired_ids and "R6" not in plan.fired_ids


def test_r5_abutting_veins_are_flagged() -> None:
    plan = suggest(retrohepatic(hepatic_veins_abutting=["middle"]))
    assert "R5" in plan.fired_ids
    assert any("abutting" in flag and "middle" in flag for flag in plan.flags)


def test_retrohepatic_tumor_with_unknown_hepatic_veins_is_blocked() -> None:
    plan = suggest(retrohepatic(hepatic_veins_invaded=None))
    assert plan.approach == "none" and plan.fired_ids == ("R9",)
    assert "hepatic vein invasion unknown" in plan.fired("R9").values["reasons"][0]


# -- R6 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("distance", "approach"), [(20.0, "elra"), (20.0 + STEP_MM, "none"), (-5.0, "elra")])
def test_r6_cavoatrial_distance_boundary(distance: float, approach: str) -> None:
    plan = suggest(modified(case_b(), tumor={"distance_upper_pole_to_cavoatrial_junction_mm": distance,
                                             "intracardiac": distance < 0,
                                             "intracardiac_length_mm": max(0.0, -distance)}))
    assert plan.approach == approach
    assert ("R6" in plan.fired_ids) == (approach == "elra")
    if approach == "none":
        assert "more than 20 mm" in plan.not_fired["R6"]
        assert any("no default rule covers" in flag for flag in plan.flags)
        assert plan.vascular_control is None and plan.ivc_reconstruction is None


def test_r6_needs_segment_iii() -> None:
    plan = suggest(modified(case_b(), tumor={"segments": ["II"], "distance_upper_pole_to_hepatic_veins_mm": 2.0}))
    assert plan.approach == "none" and plan.not_fired["R6"] == "tumor not in segment III"


# -- R7 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("distance", "fired"), [(0.0, False), (-STEP_MM, True)])
def test_r7_intracardiac_boundary_from_distance(distance: float, fired: bool) -> None:
    tumor = case_b()["tumor"] | {"distance_upper_pole_to_cavoatrial_junction_mm": distance}
    del tumor["intracardiac"], tumor["intracardiac_length_mm"]  # derived from the distance
    facts = case_b() | {"tumor": tumor}
    plan = suggest(facts)
    assert plan.approach == "elra"
    assert ("R7" in plan.fired_ids) == fired
    assert plan.vascular_control == ("cardiopulmonary_bypass" if fired else "total_vascular_exclusion")


@pytest.mark.parametrize(("length", "grade"), [(20.0, "not PUTH-B"), (20.0 + STEP_MM, "PUTH-B")])
def test_r7_puth_b_boundary(length: float, grade: str) -> None:
    plan = suggest(modified(case_b(), tumor={"distance_upper_pole_to_cavoatrial_junction_mm": -length,
                                             "intracardiac": True, "intracardiac_length_mm": length}))
    r7 = plan.fired("R7")
    assert r7 is not None and r7.values["puth_grade"] == grade
    assert r7.values["intracardiac_length_mm"] == round(length, 1)
    assert any("PUTH-B" in flag for flag in plan.flags) == (grade == "PUTH-B")


def test_r7_adds_bypass_to_conventional_resection() -> None:
    plan = suggest(retrohepatic(segments=["II", "III"], distance_upper_pole_to_hepatic_veins_mm=-40.0,
                                distance_upper_pole_to_cavoatrial_junction_mm=-10.0, intracardiac=True,
                                intracardiac_length_mm=10.0))
    assert plan.approach == "conventional"
    assert plan.fired_ids[:2] == ("R5", "R7") and plan.vascular_control == "cardiopulmonary_bypass"


# -- R8 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("ratio", "clinical", "fired"), [
    (0.30, {}, False),
    (0.30 - STEP_RATIO, {}, True),
    (0.40, {"liver_fibrosis": True}, False),
    (0.40 - STEP_RATIO, {"liver_fibrosis": True}, True),
    (0.40 - STEP_RATIO, {"prior_chemotherapy": True}, True),
    (0.40 - STEP_RATIO, {"prior_chemotherapy": False, "liver_fibrosis": False}, False),
])
def test_r8_remnant_boundaries(ratio: float, clinical: dict, fired: bool) -> None:
    plan = suggest(modified(case_b(), liver={"flr_ratio": ratio}, clinical=clinical))
    assert plan.approach == "elra"  # R8 flags; ELRA stays the candidate pending embolisation
    assert ("R8" in plan.fired_ids) == fired
    if fired:
        assert plan.fired("R8").values["remnant_ratio"] == round(ratio, 3)


def test_r8_flag_shows_the_ratio_unrounded_to_the_limit() -> None:
    # 29.6 % must not read "30 %, below 30 %".
    plan = suggest(modified(case_b(), liver={"flr_ratio": 0.296}))
    flag = next(f for f in plan.flags if f.startswith("Insufficient future liver remnant"))
    assert "29.6%" in flag and "below 30%" in flag


def test_r8_unknown_history_between_limits_is_flagged() -> None:
    plan = suggest(modified(case_b(), liver={"flr_ratio": 0.35}))
    assert "R8" not in plan.fired_ids
    assert any("history not given" in flag for flag in plan.flags)


def test_r8_unknown_remnant_is_flagged() -> None:
    plan = suggest(modified(case_b(), liver={"flr_ratio": None, "flr_ml": None}))
    assert "R8" not in plan.fired_ids and plan.not_fired["R8"] == "future liver remnant not estimated"
    assert any("Future liver remnant unknown" in flag for flag in plan.flags)


def test_r8_left_sided_invasion_keeps_the_right_liver() -> None:
    # FLR estimate = left liver 0.75 -> a left hepatectomy keeps 0.25 < 0.30.
    plan = suggest(modified(case_b(), tumor={"hepatic_veins_invaded": ["left"]}, liver={"flr_ratio": 0.75}))
    assert plan.liver_resection == "left_hepatectomy"
    assert plan.fired("R8").values["remnant_ratio"] == 0.25


def test_r8_not_assessed_without_hepatectomy() -> None:
    plan = suggest(modified(case_a(), liver={"flr_ratio": 0.1}))
    assert "R8" not in plan.fired_ids and plan.not_fired["R8"] == "no hepatectomy or ELRA suggested"


# -- R9 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "reason"), [
    ({"ivc": {"detected": False}}, "IVC not detected"),
    ({"ivc": {"detected": None}}, "IVC detection unknown"),
    ({"tumor": {"present": False}}, "no tumor found"),
    ({"tumor": {"segments": []}}, "IVC segments occupied by the tumor unknown"),
    ({"tumor": {"confidence": 0.49}}, "tumor confidence 0.49 below 0.5"),
    ({"landmarks": {"renal_veins": {"position_mm": None, "confidence": 0.0}}}, "landmark renal_veins not found"),
    ({"landmarks": {"hepatic_veins": {"position_mm": [0, 0, 0], "confidence": 0.49}}},
     "landmark hepatic_veins confidence 0.49 below 0.5"),
])
def test_r9_blocks_the_suggestion(change: dict, reason: str) -> None:
    plan = suggest(modified(case_a(), **change))
    assert plan.approach == "none" and plan.fired_ids == ("R9",)
    assert plan.vascular_control is None and plan.ivc_reconstruction is None and plan.graft_diameter_mm is None
    assert any(r.startswith(reason) for r in plan.fired("R9").values["reasons"])
    assert any("multidisciplinary" in flag for flag in plan.flags)


def test_r9_confidence_at_threshold_is_accepted() -> None:
    facts = modified(case_a(), landmarks={"hepatic_veins": {"position_mm": [0, 0, 0], "confidence": 0.5}},
                     tumor={"confidence": 0.5})
    assert suggest(facts).approach == "conventional"


def test_r9_cavoatrial_junction_needed_only_near_the_liver() -> None:
    missing = {"cavoatrial_junction": {"position_mm": None, "confidence": 0.0}}
    low = suggest(modified(case_a(), landmarks=missing, tumor={"distance_upper_pole_to_cavoatrial_junction_mm": None}))
    assert low.approach == "conventional"
    high = suggest(modified(case_b(), landmarks=missing, tumor={"distance_upper_pole_to_cavoatrial_junction_mm": None}))
    assert high.approach == "none"
    assert any("cavoatrial_junction not found" in r for r in high.fired("R9").values["reasons"])


def test_missing_sections_are_unknown_not_false() -> None:
    plan = suggest({})
    assert plan.approach == "none"
    assert plan.fired("R9").values["reasons"] == ["IVC detection unknown", "tumor presence unknown"]


# -- facts validation -------------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "field"), [
    ({"tumor": {"segments": "II"}}, "facts['tumor']['segments']"),
    ({"tumor": {"segments": ["IV"]}}, "facts['tumor']['segments']"),
    ({"tumor": {"present": "yes"}}, "facts['tumor']['present']"),
    ({"tumor": {"distance_upper_pole_to_hepatic_veins_mm": "45"}},
     "facts['tumor']['distance_upper_pole_to_hepatic_veins_mm']"),
    ({"liver": {"flr_ratio": 1.5}}, "facts['liver']['flr_ratio']"),
    ({"landmarks": {"renal_veins": {"position_mm": [1, 2], "confidence": 1.0}}}, "'renal_veins'"),
])
def test_bad_facts_raise_input_error_naming_the_field(change: dict, field: str) -> None:
    with pytest.raises(InputError, match=field.replace("[", r"\[").replace("]", r"\]")):
        suggest(modified(case_a(), **change))


def test_facts_must_be_a_mapping() -> None:
    with pytest.raises(InputError, match="facts must be a mapping"):
        suggest([1, 2])


def test_numpy_values_from_the_pipeline_are_accepted() -> None:
    facts = modified(case_a(), tumor={"distance_upper_pole_to_hepatic_veins_mm": np.float32(9.5),
                                      "complete_occlusion": np.bool_(False)},
                     landmarks={"renal_veins": {"position_mm": np.zeros(3), "confidence": np.float64(0.8)}})
    plan = suggest(facts)
    assert plan.approach == "conventional" and "R5" in plan.fired_ids  # 9.5 mm is inside the 10 mm margin
