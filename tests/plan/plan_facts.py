"""Report facts for the planner tests, built from the two seed case reports (../shared/seeds/).

Case (a) (Motodaka 2019): a 9 cm tumor at the junction of the renal veins, segments I-II, hepatic
veins free; the liver mobilised, the infrahepatic IVC clamped, a 15 mm ringed PTFE graft, right renal
vein reconstructed, left renal vein ligated. Case (b) (Front Oncol 2023, ELRA): segments II-III, the
right hepatic vein invaded, the upper margin close to the right atrial entrance (above the caval
hiatus, not in the atrium), the lower at the left renal vein; ELRA with a left-liver autotransplant
and an IVC graft, no pump.
"""

from __future__ import annotations

import copy
from typing import Any

LANDMARKS = ("iliac_confluence", "renal_veins", "hepatic_veins", "cavoatrial_junction", "caval_hiatus",
             "liver_caudal_edge")


def _landmarks(confidence: float = 0.9) -> dict[str, Any]:
    positions = {"iliac_confluence": [0.0, 20.0, -120.0], "renal_veins": [0.0, 20.0, 0.0],
                 "hepatic_veins": [0.0, 25.0, 90.0], "cavoatrial_junction": [0.0, 25.0, 120.0],
                 "caval_hiatus": [0.0, 25.0, 105.0], "liver_caudal_edge": [0.0, 20.0, 25.0]}
    return {name: {"position_mm": positions[name], "confidence": confidence} for name in LANDMARKS}


def case_a() -> dict[str, Any]:
    """9 cm tumor centred on the renal vein inflow (renal veins at s=0, hepatic veins 90 mm above)."""
    return {
        "input": {"contrast_phase": "portal_venous", "warnings": []},
        "ivc": {"detected": True, "centerline_length_mm": 260.0,
                "diameters_mm": {"renal_veins": {"ap": None, "transverse": None, "reason": "tumor at that level"},
                                 "above_tumor": {"ap": 16.0, "transverse": 25.0, "reason": None},
                                 "below_tumor": {"ap": 15.0, "transverse": 22.0, "reason": None}}},
        "landmarks": _landmarks(),
        "tumor": {
            "present": True, "confidence": 0.9, "volume_ml": 330.0, "max_diameter_mm": 90.0,
            "segments": ["I", "II"],
            "distance_upper_pole_to_hepatic_veins_mm": 45.0,
            "distance_upper_pole_to_cavoatrial_junction_mm": 75.0,
            "distance_lower_pole_to_renal_veins_mm": -45.0,
            "distance_upper_pole_to_hepatic_vein_mm": {"right": 45.0, "middle": 50.0, "left": 52.0},
            "distance_upper_pole_to_caval_hiatus_mm": 60.0,
            "distance_upper_pole_to_liver_caudal_edge_mm": -20.0, "retrohepatic_length_mm": 20.0,
            "distance_lower_pole_to_iliac_confluence_mm": 75.0, "craniocaudal_length_mm": 90.0,
            "max_lumen_occlusion_pct": 85.0, "max_stenosis_pct": 85.0, "residual_lumen_min_area_mm2": 40.0,
            "occluded_length_mm": 0.0, "complete_occlusion": False, "collateral_return": None,
            "max_circumferential_involvement_deg": 300.0,
            "hepatic_veins_invaded": [], "hepatic_veins_abutting": [],
            "renal_veins_involved": ["right", "left"],
            "intracardiac": False, "intracardiac_length_mm": 0.0,
            "ivc_diameter_above_mm": 25.0, "ivc_diameter_below_mm": 24.0,
            "growth_pattern": "both", "adjacent_organs": ["duodenum"], "extraluminal_volume_ml": 150.0,
        },
        "liver": {"volume_ml": 1500.0, "flr_ml": 540.0, "flr_ratio": 0.36, "flr_method": "left_of_ivc_mhv_plane"},
    }


def case_b() -> dict[str, Any]:
    """Segments II-III, right hepatic vein invaded, upper pole at the cavoatrial junction."""
    facts = case_a()
    facts["tumor"].update({
        "volume_ml": 125.0, "max_diameter_mm": 80.0,
        "segments": ["II", "III"],
        "distance_upper_pole_to_hepatic_veins_mm": -28.0,
        "distance_upper_pole_to_cavoatrial_junction_mm": 2.0,
        "distance_lower_pole_to_renal_veins_mm": 3.0,
        "distance_upper_pole_to_hepatic_vein_mm": {"right": -28.0, "middle": -20.0, "left": -17.0},
        "distance_upper_pole_to_caval_hiatus_mm": -13.0,
        "distance_upper_pole_to_liver_caudal_edge_mm": -90.0, "retrohepatic_length_mm": 77.0,
        "distance_lower_pole_to_iliac_confluence_mm": 123.0, "craniocaudal_length_mm": 80.0,
        "max_lumen_occlusion_pct": 90.0, "max_stenosis_pct": 90.0, "residual_lumen_min_area_mm2": 30.0,
        "occluded_length_mm": 0.0, "complete_occlusion": False,
        "max_circumferential_involvement_deg": 360.0,
        "hepatic_veins_invaded": ["right"], "hepatic_veins_abutting": [],
        "renal_veins_involved": [],
        "intracardiac": False, "intracardiac_length_mm": 0.0,
        "ivc_diameter_above_mm": None, "growth_pattern": "intraluminal", "adjacent_organs": ["liver"],
    })
    facts["ivc"]["diameters_mm"] = {
        "renal_veins": {"ap": 17.0, "transverse": 27.0, "reason": None},
        "above_tumor": {"ap": None, "transverse": None, "reason": "every section touches the right atrium"},
        "below_tumor": {"ap": 16.0, "transverse": 25.0, "reason": None}}
    facts["liver"] = {"volume_ml": 1400.0, "flr_ml": 588.0, "flr_ratio": 0.42, "flr_method": "left_of_ivc_mhv_plane",
                      "caudate_ml": 70.0, "flr_ratio_range": [0.38, 0.46]}
    return facts


def modified(base: dict[str, Any], **sections: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``section={key: value}`` updates (value None keeps the key as null)."""
    out = copy.deepcopy(base)
    for section, updates in sections.items():
        out.setdefault(section, {}).update(updates)
    return out
