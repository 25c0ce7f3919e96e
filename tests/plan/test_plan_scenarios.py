"""The two seed cases end to end through `suggest`, and the plan's report shape."""

from __future__ import annotations

import json

from plan_facts import case_a, case_b, modified

from ivcplan.plan import explain, suggest


def test_case_a_conventional_infrahepatic_graft_right_renal_reconstruction() -> None:
    plan = suggest(case_a())
    assert plan.approach == "conventional"
    assert plan.vascular_control == "infrahepatic_clamping"
    # The seed: the liver mobilised, the IVC clamped above the tumor below the liver's veins.
    assert plan.upper_clamp_site == "retrohepatic_below_hepatic_veins" and plan.liver_mobilisation is True
    assert plan.ivc_reconstruction == "graft"
    assert plan.graft_diameter_mm == 15.0  # 0.6 x 25 mm transverse: the seed's 15 mm ringed PTFE graft
    assert plan.graft_sizing["source"] == "above_tumor" and plan.graft_length_mm == 110.0
    assert plan.renal_vein_handling == {"right": "reimplant_or_reconstruct", "left": "ligate_if_collaterals_patent"}
    assert plan.liver_resection is None and plan.anhepatic_support is None
    assert plan.fired_ids == ("R1", "R3", "R4")
    assert {"R5", "R6", "R7", "R8"} <= set(plan.not_fired)
    assert not any("en-bloc resection of adjacent structures may be needed" in f for f in plan.flags)


def test_case_b_elra_with_graft_and_right_hepatectomy_remnant() -> None:
    plan = suggest(case_b())
    assert plan.approach == "elra"
    assert plan.vascular_control == "total_vascular_exclusion"  # the seed: no pump
    # Above the caval hiatus, 2 mm below the atrium: intrapericardial control, bypass on standby.
    assert plan.bypass_standby is True and plan.upper_clamp_site == "intrapericardial_or_suprahepatic"
    assert plan.ivc_reconstruction == "graft"
    assert plan.graft_diameter_mm == 16.2  # 0.6 x 27 mm at the renal veins (the atrium clips the upper margin)
    assert plan.liver_resection == "right_hepatectomy"
    assert plan.renal_vein_handling == {"right": "preserve", "left": "preserve"}
    assert plan.fired_ids == ("R6", "R7", "R3")
    assert "hepatic vein ostium invaded" in plan.not_fired["R5"]
    assert "R8" in plan.not_fired  # 37 % remnant without the caudate lobe is enough
    r6 = plan.fired("R6")
    assert r6.values["distance_upper_pole_to_cavoatrial_junction_mm"] == 2.0
    assert r6.values["max_upper_pole_to_cavoatrial_junction_mm"] == 20.0
    assert r6.values["hepatic_veins_invaded"] == ["right"]
    support = {a["method"]: a for a in plan.anhepatic_support}
    assert set(support) == {"temporary_ivc_graft", "temporary_portocaval_shunt", "venovenous_bypass"}
    assert all(a["reason"] for a in plan.anhepatic_support)
    assert "without a pump" in support["temporary_ivc_graft"]["reason"]
    # The remnant's own veins (middle, left) are free: the alternatives are named.
    assert {a["method"] for a in plan.elra_alternatives} == {"ante_situm", "in_situ_hypothermic_perfusion"}


def test_elra_alternatives_need_the_remnants_outflow_free() -> None:
    plan = suggest(modified(case_b(), tumor={"hepatic_veins_abutting": ["middle", "left"]}))
    assert [a["method"] for a in plan.elra_alternatives] == ["none"]
    assert "middle, left invaded or abutting" in plan.elra_alternatives[0]["reason"]


def test_anhepatic_support_with_established_collaterals() -> None:
    plan = suggest(modified(case_b(), tumor={"complete_occlusion": True, "occluded_length_mm": 40.0,
                                             "collateral_return": True,
                                             "distance_upper_pole_to_caval_hiatus_mm": 30.0}))
    support = {a["method"]: a["suggested"] for a in plan.anhepatic_support}
    assert support == {"temporary_ivc_graft": False, "temporary_portocaval_shunt": True, "venovenous_bypass": False}


def test_case_b_with_hepatitis_fibrosis_flags_insufficient_remnant() -> None:
    # The seed patient had 20 years of hepatitis B: with fibrosis the 40 % remnant limit applies.
    plan = suggest(modified(case_b(), clinical={"liver_fibrosis": True}))
    assert plan.approach == "elra"
    assert "R8" in plan.fired_ids
    assert plan.fired("R8").values["applied_min_ratio"] == 0.40
    assert plan.fired("R8").values["remnant_ratio"] == 0.37  # (588 - 70 ml caudate) / 1400 ml
    assert any("portal vein embolisation" in flag for flag in plan.flags)


def test_contact_is_reported_as_contact_invasion_as_invasion() -> None:
    contact = suggest(modified(case_a(), tumor={"adjacent_organs": ["liver", "aorta", "spine"]}))
    flag = next(f for f in contact.flags if f.startswith("Tumor in contact with liver, aorta, spine"))
    assert "contact, not invasion" in flag
    assert not any("en-bloc resection of adjacent structures." in f for f in contact.flags)
    invaded = suggest(modified(case_a(), tumor={"organs_invaded": ["right_kidney"]}))
    assert "Adjacent organ(s) invaded (right kidney): en-bloc resection of adjacent structures." in invaded.flags


def test_plan_dict_is_the_report_section() -> None:
    plan = suggest(case_a())
    data = json.loads(json.dumps(plan.to_dict()))
    assert set(data) >= {"approach", "vascular_control", "ivc_reconstruction", "graft_diameter_mm", "rules",
                         "flags", "disclaimer", "renal_vein_handling"}
    assert "decision support for a multidisciplinary team, never a decision" in data["disclaimer"].lower()
    for rule in data["rules"]:
        assert set(rule) == {"id", "text", "source", "values", "references"}
        assert rule["text"] and rule["source"]
    # The references table, printed in full for every rule that fired.
    keys = [ref["key"] for ref in data["references"]]
    assert keys == ["kieffer2006", "hollenbeck2003", "mingoli1996", "pantoja2019", "gaignard2020", "cureus2022",
                    "motodaka2019"]
    pantoja = data["references"][3]
    assert pantoja["doi"] == "10.1016/j.avsg.2019.11.007" and pantoja["citation"].startswith("Pantoja JL, Patel RP")
    assert data["rules_file"] == "plan_rules.toml (shipped with ivcplan)" and len(data["rules_sha256"]) == 64
    r1 = next(r for r in data["rules"] if r["id"] == "R1")
    assert r1["values"]["distance_upper_pole_to_hepatic_veins_mm"] == 45.0
    assert r1["values"]["min_upper_pole_margin_mm"] == 10.0
    assert "10 mm below" in r1["text"]  # thresholds are quoted in the text


def test_explain_lists_approach_rules_numbers_flags_and_disclaimer() -> None:
    plan = suggest(case_b())
    text = explain(plan)
    assert text.startswith("Suggested approach: Ex-vivo liver resection and autotransplantation (ELRA)")
    assert "R6:" in text and "R3:" in text and "R1:" not in text
    assert "16.2 mm, about 92 mm long" in text and "transverse diameter of the normal IVC at the renal veins" in text
    assert "Anhepatic phase (options): temporary IVC graft" in text
    assert "References:" in text and "[puth2021]" in text and "doi:10.3389/fonc.2021.735145" in text
    assert "upper pole: 2 mm below the cavoatrial junction" in text
    assert plan.disclaimer in text
    blocked = explain(suggest(modified(case_a(), tumor={"present": False})))
    assert blocked.startswith("Suggested approach: No suggestion")
    assert "R9:" in blocked and "no tumor found" in blocked


def test_inputs_are_not_modified() -> None:
    facts = case_b()
    before = json.dumps(facts, sort_keys=True)
    suggest(facts)
    assert json.dumps(facts, sort_keys=True) == before
