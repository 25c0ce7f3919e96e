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
    "infrahepatic_clamping": "IVC clamped below the hepatic veins (hepatic outflow preserved)",
    "total_vascular_exclusion": "total hepatic vascular exclusion",
    "cardiopulmonary_bypass": "cardiopulmonary bypass",
}
_CLAMP = {
    "infrahepatic": "upper clamp on the IVC below the liver",
    "retrohepatic_below_hepatic_veins": "upper clamp on the retrohepatic IVC below the hepatic veins, after "
                                        "mobilising the liver and dividing the short hepatic veins",
    "suprahepatic_below_diaphragm": "upper clamp on the suprahepatic IVC below the diaphragm",
    "intrapericardial_or_suprahepatic": "intrapericardial or suprahepatic control of the IVC; cardiopulmonary "
                                        "bypass on standby",
    "right_atrium_on_bypass": "IVC and right atrium opened on cardiopulmonary bypass",
}
_SUPPORT = {"temporary_ivc_graft": "temporary IVC graft", "temporary_portocaval_shunt": "temporary portocaval shunt",
            "venovenous_bypass": "venovenous bypass", "ante_situm": "ante-situm resection",
            "in_situ_hypothermic_perfusion": "in-situ resection with hypothermic perfusion"}
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
        if plan.upper_clamp_site:
            lines.append(f"Clamp site: {_CLAMP.get(plan.upper_clamp_site, plan.upper_clamp_site)}")
        reconstruction = plan.ivc_reconstruction or "not specified"
        if plan.ivc_reconstruction == "graft":
            size = "diameter unknown" if plan.graft_diameter_mm is None else f"{plan.graft_diameter_mm:g} mm"
            if plan.graft_length_mm is not None:
                size += f", about {plan.graft_length_mm:g} mm long"
            reconstruction = f"ringed PTFE interposition graft ({size})"
            sizing = plan.graft_sizing
            if sizing:
                reconstruction += (f"; {sizing['ratio']:g} x {sizing['transverse_mm']:g} mm transverse diameter of "
                                   f"{sizing['source_text']}, kept within {sizing['bounds_mm'][0]:g}-"
                                   f"{sizing['bounds_mm'][1]:g} mm")
        lines.append(f"IVC management: {reconstruction}")
        for side in ("right", "left"):
            handling = plan.renal_vein_handling.get(side)
            lines.append(f"{side.capitalize()} renal vein: {_RENAL.get(handling or '', 'not assessed')}")
        if plan.liver_resection:
            lines.append(f"Liver: {plan.liver_resection.replace('_', ' ')} (remnant put back after ex-vivo resection)"
                         if plan.approach == "elra" else f"Liver: {plan.liver_resection.replace('_', ' ')}")
        if plan.anhepatic_support:
            lines.append("Anhepatic phase (options): " + "; ".join(
                f"{_SUPPORT.get(a['method'], a['method'])}{'' if a.get('suggested') else ' (not needed)'}: "
                f"{a['reason']}" for a in plan.anhepatic_support))
        if plan.elra_alternatives:
            lines.append("Alternatives to ex-vivo resection: " + "; ".join(
                f"{_SUPPORT.get(a['method'], 'none')}: {a['reason']}" for a in plan.elra_alternatives))
    lines.append("")
    lines.append("Rules that fired:" if plan.rules else "Rules that fired: none")
    for rule in plan.rules:
        lines.append(f"  {rule.id}: {rule.text}")
        lines.append(f"      source: {rule.source}" + (f" [{', '.join(rule.references)}]" if rule.references else ""))
        if rule.values:
            lines.append("      values: " + "; ".join(f"{k} = {_value(v)}" for k, v in rule.values.items()))
    if plan.flags:
        lines.append("")
        lines.append("Flags:")
        lines.extend(f"  - {flag}" for flag in plan.flags)
    if plan.references:
        lines.append("")
        lines.append("References:")
        lines.extend(f"  [{ref['key']}] {ref['citation']}" for ref in plan.references)
    if plan.rules_file:
        lines.append("")
        lines.append(f"Rules file: {plan.rules_file}" + (f" (sha256 {plan.rules_sha256[:16]})"
                                                         if plan.rules_sha256 else ""))
    lines.append("")
    lines.append(plan.disclaimer)
    return "\n".join(lines)
