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


@pytest.mark.parametrize(("distance", "site", "mobilise"), [
    (10.0, "infrahepatic", False),  # room for a clamp below the liver
    (10.0 - STEP_MM, "retrohepatic_below_hepatic_veins", True),
    (-20.0, "retrohepatic_below_hepatic_veins", True),  # seed case (a): the liver was mobilised
])
def test_r1_clamp_room_below_the_liver(distance: float, site: str, mobilise: bool) -> None:
    plan = suggest(modified(case_a(), tumor={"distance_upper_pole_to_liver_caudal_edge_mm": distance}))
    assert (plan.approach, plan.vascular_control) == ("conventional", "infrahepatic_clamping")
    assert plan.upper_clamp_site == site and plan.liver_mobilisation is mobilise
    r1 = plan.fired("R1")
    assert ("mobilisation of the liver and division of the short hepatic veins" in r1.text) == mobilise
    assert any("mobilise the liver and divide the short hepatic veins" in f for f in plan.flags) == mobilise
    assert r1.values["distance_upper_pole_to_liver_caudal_edge_mm"] == round(distance, 1)


def test_r1_unknown_liver_edge_is_flagged_not_assumed() -> None:
    facts = modified(case_a(), tumor={"distance_upper_pole_to_liver_caudal_edge_mm": None},
                     landmarks={"liver_caudal_edge": {"position_mm": None, "confidence": 0.0}})
    plan = suggest(facts)
    assert plan.approach == "conventional" and plan.liver_mobilisation is None
    assert any(f.startswith("Clamp room below the liver not assessed (the liver's caudal edge not found")
               for f in plan.flags)


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
                                     "occluded_length_mm": 30.0, "max_lumen_occlusion_pct": 100.0,
                                     "renal_veins_involved": []})
    return modified(base, tumor=tumor)


def test_r2_ligation_when_occluded_infrarenal_with_collaterals() -> None:
    plan = suggest(infrarenal_occluded())
    assert plan.ivc_reconstruction == "ligation" and plan.graft_diameter_mm is None
    assert "R2" in plan.fired_ids and "R3" not in plan.fired_ids


@pytest.mark.parametrize(("change", "reason"), [
    ({"collateral_return": False}, "no collateral return"),
    ({"complete_occlusion": False, "occluded_length_mm": 4.0}, "IVC not completely occluded"),
    ({"segments": ["I", "II"]}, "tumor not infrarenal"),
    ({"collateral_return": None}, "collateral return not assessed"),
])
def test_r2_each_condition_missing_means_graft(change: dict, reason: str) -> None:
    plan = suggest(infrarenal_occluded(**change))
    assert plan.ivc_reconstruction == "graft"
    assert "R2" not in plan.fired_ids and plan.not_fired["R2"] == reason


@pytest.mark.parametrize(("length", "ligation"), [(10.0, True), (10.0 - STEP_MM, False)])
def test_r2_no_lumen_over_at_least_10_mm(length: float, ligation: bool) -> None:
    # The occluded length decides (the rules file's threshold), whatever the measured flag says.
    plan = suggest(infrarenal_occluded(occluded_length_mm=length, complete_occlusion=None))
    assert (plan.ivc_reconstruction == "ligation") == ligation
    assert ("R2" in plan.fired_ids) == ligation
    if ligation:
        assert plan.fired("R2").values["occluded_length_mm"] == 10.0
    else:
        assert plan.not_fired["R2"] == "IVC not completely occluded"


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
    facts = case_a()
    facts["ivc"]["diameters_mm"]["above_tumor"]["transverse"] = diameter
    plan = suggest(facts)
    assert plan.ivc_reconstruction == "graft"
    assert plan.graft_diameter_mm == pytest.approx(graft, abs=0.05)
    r3 = plan.fired("R3")
    assert r3.values["transverse_diameter_mm"] == round(diameter, 1)
    assert r3.values["diameter_source"] == "above_tumor"
    assert plan.graft_sizing["bounds_mm"] == [12.0, 20.0]
    assert plan.graft_sizing["clamped"] == (not 12.0 <= 0.6 * diameter <= 20.0 + 1e-9)


def test_r3_graft_from_the_renal_level_when_the_atrium_clips_the_margin() -> None:
    # Seed case (b): no normal IVC above the tumor (the atrium); the IVC at the renal veins is used and said.
    plan = suggest(case_b())
    assert plan.graft_sizing["source"] == "renal_veins" and plan.graft_diameter_mm == 16.2
    assert any(f.startswith("Graft sized on the normal IVC at the renal veins") and "right atrium" in f
               for f in plan.flags)
    facts = case_b()
    facts["ivc"]["diameters_mm"]["renal_veins"] = {"ap": None, "transverse": None, "reason": "tumor"}
    assert suggest(facts).graft_sizing["source"] == "below_tumor"
    for level in ("renal_veins", "below_tumor"):
        facts["ivc"]["diameters_mm"][level] = {"ap": None, "transverse": None, "reason": f"no normal {level}"}
    plan = suggest(facts)
    assert plan.graft_diameter_mm is None and plan.ivc_reconstruction == "graft"
    assert any("graft diameter not computed" in f and "no normal below_tumor" in f for f in plan.flags)


@pytest.mark.parametrize(("caj", "length"), [(75.0, 110.0), (10.0, 110.0), (10.0 - STEP_MM, 109.9), (2.0, 102.0)])
def test_r3_graft_length_is_tumor_length_plus_margins(caj: float, length: float) -> None:
    # 90 mm of tumor + 10 mm at each end; the resection stops at the cavoatrial junction.
    plan = suggest(modified(case_a(), tumor={"distance_upper_pole_to_cavoatrial_junction_mm": caj}))
    assert plan.graft_length_mm == pytest.approx(length, abs=0.05)


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
    plan = suggest(modified(case_a(), ivc={"diameters_mm": {}}, tumor={"ivc_diameter_above_mm": None}))
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
@pytest.mark.parametrize(("distance", "bypass"), [(-1.0, False), (-1.0 - STEP_MM, True)])
def test_r7_intracardiac_boundary_from_distance(distance: float, bypass: bool) -> None:
    tumor = case_b()["tumor"] | {"distance_upper_pole_to_cavoatrial_junction_mm": distance}
    del tumor["intracardiac"], tumor["intracardiac_length_mm"]  # derived from the distance (> 1 mm in)
    plan = suggest(case_b() | {"tumor": tumor})
    assert plan.approach == "elra" and "R7" in plan.fired_ids  # bypass, or bypass on standby above the hiatus
    assert plan.vascular_control == ("cardiopulmonary_bypass" if bypass else "total_vascular_exclusion")
    assert plan.bypass_standby is (not bypass)
    assert ("cardiopulmonary bypass on standby" in plan.fired("R7").text) == (not bypass)


@pytest.mark.parametrize("length", [2.0, 20.0, 20.0 + STEP_MM])
def test_r7_any_atrial_entry_of_a_wall_based_tumor_is_puth_b(length: float) -> None:
    # PUTH-A (< 2 cm, no wall invasion) was for renal tumor thrombus; a leiomyosarcoma entering the atrium
    # involves the intrapericardial IVC wall: PUTH-B, bypass, with that reason.
    plan = suggest(modified(case_b(), tumor={"distance_upper_pole_to_cavoatrial_junction_mm": -length,
                                             "intracardiac": True, "intracardiac_length_mm": length}))
    r7 = plan.fired("R7")
    assert plan.vascular_control == "cardiopulmonary_bypass" and plan.upper_clamp_site == "right_atrium_on_bypass"
    assert r7.values["puth_grade"] == "PUTH-B" and r7.values["intracardiac_length_mm"] == round(length, 1)
    beyond = length > 20.0
    assert (r7.values["puth_b_reason"] == "more than 20 mm into the right atrium") == beyond
    flag = next(f for f in plan.flags if f.startswith("Tumor enters the right atrium"))
    assert "intrapericardial IVC wall" in flag and ("more than 20 mm into the atrium" in flag) == beyond


@pytest.mark.parametrize(("hiatus", "standby"), [(20.0, False), (20.0 - STEP_MM, True), (-13.0, True)])
def test_r7_bypass_on_standby_near_the_caval_hiatus(hiatus: float, standby: bool) -> None:
    plan = suggest(modified(case_b(), tumor={"distance_upper_pole_to_caval_hiatus_mm": hiatus}))
    assert plan.vascular_control == "total_vascular_exclusion"  # the flag does not change the control
    assert plan.bypass_standby is standby
    assert ("R7" in plan.fired_ids) == standby
    assert plan.upper_clamp_site == ("intrapericardial_or_suprahepatic" if standby else "suprahepatic_below_diaphragm")
    if not standby:
        assert "room for a suprahepatic clamp" in plan.not_fired["R7"]


def test_r7_unknown_hiatus_is_flagged() -> None:
    plan = suggest(modified(case_b(), tumor={"distance_upper_pole_to_caval_hiatus_mm": None},
                            landmarks={"caval_hiatus": {"position_mm": None, "confidence": 0.0}}))
    assert plan.bypass_standby is None and "R7" not in plan.fired_ids
    assert any(f.startswith("Caval hiatus not located (the caval hiatus not found") for f in plan.flags)


def test_r7_does_not_apply_to_r1_tumors() -> None:
    plan = suggest(modified(case_a(), tumor={"distance_upper_pole_to_caval_hiatus_mm": 5.0}))
    assert plan.bypass_standby is None and "R1 applies" in plan.not_fired["R7"]


def test_r7_adds_bypass_to_conventional_resection() -> None:
    plan = suggest(retrohepatic(segments=["II", "III"], distance_upper_pole_to_hepatic_veins_mm=-40.0,
                                distance_upper_pole_to_cavoatrial_junction_mm=-10.0, intracardiac=True,
                                intracardiac_length_mm=10.0))
    assert plan.approach == "conventional"
    assert plan.fired_ids[:2] == ("R5", "R7") and plan.vascular_control == "cardiopulmonary_bypass"


# -- R8 -------------------------------------------------------------------------------------------
def remnant(ratio: float, **liver) -> dict:
    """Case (b) with a remnant ratio after the caudate lobe is taken out (no caudate, no range given)."""
    return modified(case_b(), liver={"flr_ratio": ratio, "caudate_ml": None, "flr_ratio_range": None, **liver})


@pytest.mark.parametrize(("ratio", "clinical", "fired", "limit"), [
    (0.25, {}, False, 0.25),
    (0.25 - STEP_RATIO, {}, True, 0.25),
    (0.30, {"prior_chemotherapy": True}, False, 0.30),
    (0.30 - STEP_RATIO, {"prior_chemotherapy": True}, True, 0.30),
    (0.40, {"liver_fibrosis": True}, False, 0.40),
    (0.40 - STEP_RATIO, {"liver_fibrosis": True}, True, 0.40),
    (0.40 - STEP_RATIO, {"prior_chemotherapy": True, "liver_fibrosis": True}, True, 0.40),
    (0.40 - STEP_RATIO, {"prior_chemotherapy": False, "liver_fibrosis": False}, False, 0.25),
])
def test_r8_remnant_boundaries(ratio: float, clinical: dict, fired: bool, limit: float) -> None:
    plan = suggest(modified(remnant(ratio), clinical=clinical))
    assert plan.approach == "elra"  # R8 flags; ELRA stays the candidate pending embolisation
    assert ("R8" in plan.fired_ids) == fired
    if fired:
        assert plan.fired("R8").values["remnant_ratio"] == round(ratio, 3)
        assert plan.fired("R8").values["applied_min_ratio"] == limit
    else:
        assert f"at least {limit:.0%}" in plan.not_fired["R8"]


@pytest.mark.parametrize(("weight", "fired"), [(117.6, False), (117.7, True)])
def test_r8_remnant_to_body_weight_boundary(weight: float, fired: bool) -> None:
    # 588 ml remnant: 0.5 % of 117.6 kg is 588 g (liver about 1 g/ml).
    plan = suggest(modified(remnant(0.42, flr_ml=588.0), clinical={"weight_kg": weight}))
    assert ("R8" in plan.fired_ids) == fired
    assert any("% of body weight, below 0.5 %" in f for f in plan.flags) == fired
    values = plan.fired("R8").values if fired else None
    if fired:
        assert values["remnant_body_weight_pct"] == round(100 * 588.0 / (weight * 1000), 3)


def test_r8_caudate_is_not_remnant_when_the_retrohepatic_ivc_goes() -> None:
    # 42 % of 1400 ml = 588 ml, less a 70 ml caudate lobe = 518 ml = 37 %; a 300 ml caudate leaves 20.6 %.
    plan = suggest(case_b())
    assert "R8" not in plan.fired_ids and "remnant 37.0%" in plan.not_fired["R8"]
    plan = suggest(modified(case_b(), liver={"caudate_ml": 300.0}))
    r8 = plan.fired("R8")
    assert r8.values["caudate_excluded_ml"] == 300.0 and r8.values["remnant_ratio"] == 0.206
    facts = modified(case_b(), liver={"caudate_ml": None})
    assert any(f.startswith("Caudate lobe volume not estimated") for f in suggest(facts).flags)


def test_r8_uncertainty_straddling_the_limit_is_flagged() -> None:
    plan = suggest(remnant(0.27, flr_ratio_range=[0.22, 0.32]))
    assert "R8" not in plan.fired_ids
    assert any("straddles the 25% limit" in f and "22.0%-32.0%" in f for f in plan.flags)
    assert not any("straddles" in f for f in suggest(remnant(0.27, flr_ratio_range=[0.26, 0.29])).flags)


def test_r8_flag_shows_the_ratio_unrounded_to_the_limit() -> None:
    # 24.6 % must not read "25 %, below 25 %".
    plan = suggest(remnant(0.246))
    flag = next(f for f in plan.flags if f.startswith("Insufficient future liver remnant"))
    assert "24.6%" in flag and "below 25%" in flag


def test_r8_unknown_history_between_limits_is_flagged() -> None:
    plan = suggest(remnant(0.35))
    assert "R8" not in plan.fired_ids
    assert any("history not given" in flag for flag in plan.flags)


def test_r8_unknown_remnant_is_flagged() -> None:
    plan = suggest(modified(case_b(), liver={"flr_ratio": None, "flr_ml": None}))
    assert "R8" not in plan.fired_ids and plan.not_fired["R8"] == "future liver remnant not estimated"
    assert any("Future liver remnant unknown" in flag for flag in plan.flags)


def test_r8_left_sided_invasion_keeps_the_right_liver() -> None:
    # FLR estimate = left liver 0.75 -> a left hepatectomy keeps 0.25 < 0.30.
    # FLR estimate = left liver 0.78 -> a left hepatectomy keeps 0.22 < 0.25 (the caudate stays with the IVC's
    # left side: not subtracted from a right-liver remnant).
    plan = suggest(modified(remnant(0.78), tumor={"hepatic_veins_invaded": ["left"]}))
    assert plan.liver_resection == "left_hepatectomy"
    assert plan.fired("R8").values["remnant_ratio"] == 0.22


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
])
def test_r9_blocks_the_suggestion(change: dict, reason: str) -> None:
    plan = suggest(modified(case_a(), **change))
    assert plan.approach == "none" and plan.fired_ids == ("R9",)
    assert plan.vascular_control is None and plan.ivc_reconstruction is None and plan.graft_diameter_mm is None
    assert any(r.startswith(reason) for r in plan.fired("R9").values["reasons"])
    assert any("multidisciplinary" in flag for flag in plan.flags)


DOUBTFUL_RENAL = ({"position_mm": None, "confidence": 0.0}, {"position_mm": [0, 0, 0], "confidence": 0.35})


@pytest.mark.parametrize("renal", DOUBTFUL_RENAL)
def test_r9_doubtful_renal_level_withholds_only_what_rests_on_it(renal: dict) -> None:
    # Case (a), segments I-II, upper pole 45 mm below the hepatic veins, IVC not completely occluded: R1's
    # conventional approach, its control and the graft (R2's ligation cannot apply to a patent IVC) do not
    # depend on the I/II boundary; the renal vein handling (R4) does.
    plan = suggest(modified(case_a(), landmarks={"renal_veins": renal}))
    reference = suggest(case_a())
    assert (plan.approach, plan.vascular_control) == ("conventional", "infrahepatic_clamping")
    assert (plan.ivc_reconstruction, plan.graft_diameter_mm) == ("graft", reference.graft_diameter_mm)
    assert plan.graft_diameter_mm == 15.0
    assert "R2" not in plan.fired_ids and "R3" in plan.fired_ids
    assert plan.renal_vein_handling == {"right": None, "left": None}
    assert set(plan.withheld) == {"renal_vein_handling"}
    assert "R1" in plan.fired_ids and "R9" in plan.fired_ids and "R4" not in plan.fired_ids
    assert plan.not_fired["R4"] == "withheld by R9: renal vein handling rests on the renal veins"
    flag = "R9: renal vein handling not suggested: it rests on the renal veins"
    assert any(f.startswith(flag) for f in plan.flags)
    assert plan.to_dict()["withheld"] == dict(plan.withheld)


@pytest.mark.parametrize("occlusion", [{"occluded_length_mm": 30.0, "complete_occlusion": True},
                                       {"occluded_length_mm": None, "complete_occlusion": None}])
@pytest.mark.parametrize("renal", DOUBTFUL_RENAL)
def test_r9_doubtful_renal_level_withholds_the_reconstruction_of_an_occluded_ivc(occlusion: dict,
                                                                                renal: dict) -> None:
    # An occluded (or unassessed) IVC: whether R2's infrarenal ligation applies rests on the I/II boundary.
    plan = suggest(modified(case_a(), tumor=occlusion, landmarks={"renal_veins": renal}))
    assert plan.approach == "conventional"
    assert plan.ivc_reconstruction is None and plan.graft_diameter_mm is None
    assert set(plan.withheld) == {"ivc_reconstruction", "renal_vein_handling"}
    assert plan.not_fired["R3"] == "withheld by R9: ivc reconstruction rests on the renal veins"


def test_r9_graft_sized_at_a_doubtful_renal_level_says_so() -> None:
    # Seed case (b) sizes its graft at the renal veins (no normal IVC above the tumor): a doubtful renal level
    # keeps the size (a patent IVC's graft does not rest on the boundary) and flags where it was measured.
    facts = modified(case_b(), landmarks={"renal_veins": {"position_mm": [0, 0, 0], "confidence": 0.35}})
    plan = suggest(facts)
    assert plan.graft_sizing["source"] == "renal_veins" and plan.graft_diameter_mm == 16.2
    assert any(f.startswith("The graft's diameter was measured at a doubtful renal vein level (the renal veins "
                            "found with confidence 0.35") for f in plan.flags)
    assert not any("doubtful renal vein level" in f for f in suggest(case_b()).flags)


def test_r9_doubtful_hepatic_level_still_gives_the_renal_vein_handling() -> None:
    plan = suggest(modified(case_a(), landmarks={"hepatic_veins": {"position_mm": [0, 0, 0], "confidence": 0.49}}))
    assert plan.approach == "none" and plan.vascular_control is None and plan.ivc_reconstruction is None
    assert plan.renal_vein_handling == {"right": "reimplant_or_reconstruct", "left": "ligate_if_collaterals_patent"}
    assert set(plan.withheld) == {"approach", "vascular_control", "ivc_reconstruction", "liver_resection"}
    assert plan.withheld["approach"] == "the lowest hepatic vein ostium found with confidence 0.49, below 0.5"
    assert plan.fired_ids == ("R4", "R9")
    assert any("multidisciplinary" in flag for flag in plan.flags)


def test_r9_tumor_above_the_hepatic_veins_needs_no_renal_landmark() -> None:
    facts = modified(case_b(), tumor={"segments": ["III"]}, landmarks={"renal_veins": {"position_mm": None,
                                                                                       "confidence": 0.0}})
    plan, reference = suggest(facts), suggest(modified(case_b(), tumor={"segments": ["III"]}))
    assert plan.approach == reference.approach == "elra" and not plan.withheld
    assert plan.to_dict()["renal_vein_handling"] == reference.to_dict()["renal_vein_handling"]


def test_r9_doubtful_junction_with_free_ostia_withholds_the_control_only() -> None:
    # R5 (ostia free) gives a conventional resection whatever the junction; R7 (bypass, clamp site) rests on it.
    tumor = {"hepatic_veins_invaded": [], "distance_upper_pole_to_cavoatrial_junction_mm": None}
    doubt = {"cavoatrial_junction": {"position_mm": [0, 0, 0], "confidence": 0.3}}
    facts = modified(case_b(), tumor=tumor, landmarks=doubt)
    plan = suggest(facts)
    assert plan.approach == "conventional" and "R5" in plan.fired_ids
    assert plan.vascular_control is None and plan.upper_clamp_site is None and "R7" not in plan.fired_ids
    assert set(plan.withheld) == {"vascular_control"}
    assert plan.ivc_reconstruction == "graft"


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
    assert any("the cavoatrial junction not found" in r for r in high.fired("R9").values["reasons"])


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


def _plan_rows(plan) -> dict[str, str]:
    from ivcplan.report.summary import plan_rows

    return {row.label: row.value for row in plan_rows({"plan": plan.to_dict()})}


def test_report_rows_name_the_withheld_decisions_and_keep_the_given_ones() -> None:
    # The document and the viewer read these rows: a withheld decision is said to be withheld, with why,
    # never shown as "none" or "not assessed"; what R9 still gave is shown.
    hepatic = suggest(modified(case_a(), landmarks={"hepatic_veins": {"position_mm": [0, 0, 0],
                                                                      "confidence": 0.49}}))
    rows = _plan_rows(hepatic)
    assert rows["Approach"].startswith("not suggested: it rests on a doubtful landmark (the lowest hepatic vein "
                                       "ostium found with confidence 0.49")
    assert rows["Right renal vein"] != "not assessed" and rows["Left renal vein"] != "not assessed"
    assert "Vascular control" not in rows
    renal = suggest(modified(case_a(), landmarks={"renal_veins": {"position_mm": None, "confidence": 0.0}},
                             tumor={"complete_occlusion": True, "occluded_length_mm": 30.0}))
    rows = _plan_rows(renal)
    assert rows["Approach"] == "Conventional (in-situ) resection of the IVC tumor"
    assert rows["Vascular control"].startswith("IVC clamped below the hepatic veins")
    assert rows["IVC reconstruction"].startswith("not suggested: it rests on a doubtful landmark")
    assert rows["Renal veins"].startswith("not suggested") and "Right renal vein" not in rows
    assert "not suggested" not in " ".join(_plan_rows(suggest(case_a())).values())
