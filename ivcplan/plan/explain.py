"""Plain-text summary of a plan (the HTML/PDF report and the viewer's side panel show it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ivcplan.plan.engine import Plan

_APPROACH = {
    "conventional": "Conventional (in-situ) resection",
    "elra": "Ex-vivo liver resection and autotransplantation (ELRA)",
    "none": "No suggestion",
}
_CONTROL = {
    "infrahepatic_clamping": "IVC clamped below the liver",
    "total_vascular_exclusion": "total hepatic vascular exclusion",
    "cardiopulmonary_bypass": "cardiopulmonary bypass",
}
_RENAL = {
    "reimplant_or_reconstruct": "reimplant or reconstruct",
    "ligate_if_collaterals_patent": "may be ligated if its collaterals are patent",
    "preserve": "preserved",
}


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value) or "none"
    if isinstance(value, Mapping):
        return "; ".join(f"{k} {_value(v)}" for k, v in value.items())
    return "unknown" if value is None else str(value)


def explain(plan: Plan) -> str:
    """Several lines: the suggestion, each fired rule with the numbers it used, flags, disclaimer."""
    lines = [f"Suggested approach: {_APPROACH.get(plan.approach, plan.approach)}"]
    if plan.approach != "none":
        lines.append(f"Vascular control: {_CONTROL.get(plan.vascular_control or '', 'not specified')}")
        reconstruction = plan.ivc_reconstruction or "not specified"
        if plan.ivc_reconstruction == "graft":
            size = "size unknown" if plan.graft_diameter_mm is None else f"{plan.graft_diameter_mm:g} mm"
            reconstruction = f"ringed PTFE interposition graft ({size})"
        lines.append(f"IVC management: {reconstruction}")
        for side in ("right", "left"):
            handling = plan.renal_vein_handling.get(side)
            lines.append(f"{side.capitalize()} renal vein: {_RENAL.get(handling or '', 'not assessed')}")
        if plan.liver_resection:
            lines.append(f"Liver: {plan.liver_resection.replace('_', ' ')} (remnant put back after ex-vivo resection)"
                         if plan.approach == "elra" else f"Liver: {plan.liver_resection.replace('_', ' ')}")
    lines.append("")
    lines.append("Rules that fired:" if plan.rules else "Rules that fired: none")
    for rule in plan.rules:
        lines.append(f"  {rule.id}: {rule.text}")
        lines.append(f"      source: {rule.source}")
        if rule.values:
            lines.append("      values: " + "; ".join(f"{k} = {_value(v)}" for k, v in rule.values.items()))
    if plan.flags:
        lines.append("")
        lines.append("Flags:")
        lines.extend(f"  - {flag}" for flag in plan.flags)
    lines.append("")
    lines.append(plan.disclaimer)
    return "\n".join(lines)
