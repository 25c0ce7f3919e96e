"""The two seed cases end to end through `suggest`, and the plan's report shape."""

from __future__ import annotations

import json

from plan_facts import case_a, case_b, modified

from ivcplan.plan import explain, suggest


def test_case_a_conventional_infrahepatic_graft_right_renal_reconstruction() -> None:
    plan = suggest(case_a())
    assert plan.approach == "conventional"
    assert plan.vascular_control == "infrahepatic_clamping"
    assert plan.ivc_reconstruction == "graft"
    assert plan.graft_diameter_mm == 15.0  # 0.6 x 25 mm: the seed's 15 mm ringed PTFE graft
    assert plan.renal_vein_handling == {"right": "reimplant_or_reconstruct", "left": "ligate_if_collaterals_patent"}
    assert plan.liver_resection is None
    assert plan.fired_ids == ("R1", "R3", "R4")
    assert {"R5", "R6", "R7", "R8"} <= set(plan.not_fired)


def test_case_b_elra_with_graft_and_right_hepatectomy_remnant() -> None:
    plan = suggest(case_b())
    assert plan.approach == "elra"
    assert plan.vascular_control == "total_vascular_exclusion"
    assert plan.ivc_reconstruction == "graft"
    assert plan.graft_diameter_mm == 16.2  # 0.6 x 27 mm
    assert plan.liver_resection == "right_hepatectomy"
    assert plan.renal_vein_handling == {"right": "preserve", "left": "preserve"}
    assert plan.fired_ids == ("R6", "R3")
    assert "hepatic vein ostium invaded" in plan.not_fired["R5"]
    assert "R8" in plan.not_fired  # 42 % remnant is enough
    r6 = plan.fired("R6")
    assert r6.values["distance_upper_pole_to_cavoatrial_junction_mm"] == 2.0
    assert r6.values["max_upper_pole_to_cavoatrial_junction_mm"] == 20.0
    assert r6.values["hepatic_veins_invaded"] == ["right"]


def test_case_b_with_hepatitis_fibrosis_flags_insufficient_remnant() -> None:
    # The seed patient had 20 years of hepatitis B: with fibrosis the 40 % remnant limit applies.
    facts = modified(case_b(), liver={"flr_ratio": 0.36, "flr_ml": 504.0}, clinical={"liver_fibrosis": True})
    plan = suggest(facts)
    assert plan.approach == "elra"
    assert "R8" in plan.fired_ids
    assert plan.fired("R8").values["applied_min_ratio"] == 0.40
    assert any("portal vein embolisation" in flag for flag in plan.flags)


def test_plan_dict_is_the_report_section() -> None:
    plan = suggest(case_a())
    data = json.loads(json.dumps(plan.to_dict()))
    assert set(data) >= {"approach", "vascular_control", "ivc_reconstruction", "graft_diameter_mm", "rules",
                         "flags", "disclaimer", "renal_vein_handling"}
    assert "decision support for a multidisciplinary team, never a decision" in data["disclaimer"].lower()
    for rule in data["rules"]:
        assert set(rule) == {"id", "text", "source", "values"}
        assert rule["text"] and rule["source"]
    r1 = next(r for r in data["rules"] if r["id"] == "R1")
    assert r1["values"]["distance_upper_pole_to_hepatic_veins_mm"] == 45.0
    assert r1["values"]["min_upper_pole_margin_mm"] == 10.0
    assert "10 mm below" in r1["text"]  # thresholds are quoted in the text


def test_explain_lists_approach_rules_numbers_flags_and_disclaimer() -> None:
    plan = suggest(case_b())
    text = explain(plan)
    assert text.startswith("Suggested approach: Ex-vivo liver resection and autotransplantation (ELRA)")
    assert "R6:" in text and "R3:" in text and "R1:" not in text
    assert "16.2 mm" in text
    assert "distance_upper_pole_to_cavoatrial_junction_mm = 2" in text
    assert plan.disclaimer in text
    blocked = explain(suggest(modified(case_a(), tumor={"present": False})))
    assert blocked.startswith("Suggested approach: No suggestion")
    assert "R9:" in blocked and "no tumor found" in blocked


def test_inputs_are_not_modified() -> None:
    facts = case_b()
    before = json.dumps(facts, sort_keys=True)
    suggest(facts)
    assert json.dumps(facts, sort_keys=True) == before
