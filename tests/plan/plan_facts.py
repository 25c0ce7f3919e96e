"""Report facts for the planner tests, built from the two seed case reports (../shared/seeds/).

Case (a) (Motodaka 2019): a 9 cm tumor at the junction of the renal veins, segments I-II, hepatic
veins free; resected with infrahepatic clamping, a 15 mm ringed PTFE graft, right renal vein
reconstructed, left renal vein ligated. Case (b) (Frontiers in Oncology, ELRA): segments II-III, the
right hepatic vein invaded, the upper margin at the right atrial entrance, the lower at the left
renal vein; ELRA with a left-liver autotransplant and an IVC graft.
"""

from __future__ import annotations

import copy
from typing import Any

LANDMARKS = ("iliac_confluence", "renal_veins", "hepatic_veins", "cavoatrial_junction")


def _landmarks(confidence: float = 0.9) -> dict[str, Any]:
    positions = {"iliac_confluence": [0.0, 20.0, -120.0], "renal_veins": [0.0, 20.0, 0.0],
                 "hepatic_veins": [0.0, 25.0, 90.0], "cavoatrial_junction": [0.0, 25.0, 120.0]}
    return {name: {"position_mm": positions[name], "confidence": confidence} for name in LANDMARKS}


def case_a() -> dict[str, Any]:
    """9 cm tumor centred on the renal vein inflow (renal veins at s=0, hepatic veins 90 mm above)."""
    return {
        "input": {"contrast_phase": "portal_venous", "warnings": []},
        "ivc": {"detected": True, "centerline_length_mm": 260.0},
        "landmarks": _landmarks(),
        "tumor": {
            "present": True, "confidence": 0.9, "volume_ml": 330.0, "max_diameter_mm": 90.0,
            "segments": ["I", "II"],
            "distance_upper_pole_to_hepatic_veins_mm": 45.0,
            "distance_upper_pole_to_cavoatrial_junction_mm": 75.0,
            "distance_lower_pole_to_renal_veins_mm": -45.0,
            "max_lumen_occlusion_pct": 85.0, "complete_occlusion": False, "collateral_return": None,
            "max_circumferential_involvement_deg": 300.0,
            "hepatic_veins_invaded": [], "hepatic_veins_abutting": [],
            "renal_veins_involved": ["right", "left"],
            "intracardiac": False, "intracardiac_length_mm": 0.0,
            "ivc_diameter_above_mm": 25.0, "ivc_diameter_below_mm": 24.0,
            "growth_pattern": "both", "adjacent_organs": ["duodenum"],
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
        "max_lumen_occlusion_pct": 90.0, "complete_occlusion": False,
        "max_circumferential_involvement_deg": 360.0,
        "hepatic_veins_invaded": ["right"], "hepatic_veins_abutting": [],
        "renal_veins_involved": [],
        "intracardiac": False, "intracardiac_length_mm": 0.0,
        "ivc_diameter_above_mm": 27.0, "growth_pattern": "intraluminal", "adjacent_organs": ["liver"],
    })
    facts["liver"] = {"volume_ml": 1400.0, "flr_ml": 588.0, "flr_ratio": 0.42, "flr_method": "left_of_ivc_mhv_plane"}
    return facts


def modified(base: dict[str, Any], **sections: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``section={key: value}`` updates (value None keeps the key as null)."""
    out = copy.deepcopy(base)
    for section, updates in sections.items():
        out.setdefault(section, {}).update(updates)
    return out
