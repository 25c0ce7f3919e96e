"""Plain-text summary of a plan (the HTML/PDF report and the viewer's side panel show it)."""

from __future__ import annotations

from ivcplan import vocabulary
from ivcplan.plan.engine import Plan

_APPROACH = vocabulary.APPROACH
_CONTROL = vocabulary.VASCULAR_CONTROL
_CLAMP = vocabulary.CLAMP_SITE
_SUPPORT = vocabulary.SUPPORT
_RENAL = vocabulary.RENAL_HANDLING


def explain(plan: Plan) -> str:
    """Several lines: the suggestion, each fired rule with the numbers it used, flags, disclaimer."""
    lines = [f"Suggested approach: {_APPROACH.get(plan.approach, plan.approach)}"]
    withheld = {k: f"not suggested ({why})" for k, why in plan.withheld.items()}
    if plan.approach == "none" and any(plan.renal_vein_handling.values()):
        for side in ("right", "left"):  # R9 withheld the approach, not the renal veins (issue 18 item 5)
            handling = _RENAL.get(plan.renal_vein_handling[side] or "", "not assessed")
            lines.append(f"{side.capitalize()} renal vein: {handling}")
    if plan.approach != "none":
        control = _CONTROL.get(plan.vascular_control or "", "not specified")
        lines.append(f"Vascular control: {withheld.get('vascular_control', control)}")
        if plan.upper_clamp_site:
            lines.append(f"Upper clamp: {_CLAMP.get(plan.upper_clamp_site, plan.upper_clamp_site)}")
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
        lines.append(f"IVC management: {withheld.get('ivc_reconstruction', reconstruction)}")
        for side in ("right", "left"):
            handling = plan.renal_vein_handling.get(side)
            shown = withheld.get("renal_vein_handling") or _RENAL.get(handling or "", "not assessed")
            lines.append(f"{side.capitalize()} renal vein: {shown}")
        if "liver_resection" in withheld:
            lines.append(f"Liver: {withheld['liver_resection']}")
        elif plan.liver_resection:
            resection = vocabulary.value_name("liver_resection", plan.liver_resection)
            lines.append(f"Liver: {resection} (remnant put back after ex-vivo resection)"
                         if plan.approach == "elra" else f"Liver: {resection}")
        if plan.anhepatic_support:
            lines.append("Anhepatic phase (options): " + "; ".join(
                f"{_SUPPORT.get(a['method'], a['method'])}{'' if a.get('suggested') else ' (not needed)'}: "
                f"{a['reason']}" for a in plan.anhepatic_support))
        if plan.elra_alternatives:
            lines.append("Alternatives to ex-vivo resection: " + "; ".join(
                f"{_SUPPORT.get(a['method'], 'no alternative')}: {a['reason']}" for a in plan.elra_alternatives))
    lines.append("")
    lines.append("Rules that fired:" if plan.rules else "Rules that fired: none")
    for rule in plan.rules:
        lines.append(f"  {rule.id}: {rule.text}")
        lines.append(f"      source: {rule.source}" + (f" [{', '.join(rule.references)}]" if rule.references else ""))
        if rule.values:
            lines.append("      values: " + "; ".join(f"{vocabulary.field_name(k)}: {vocabulary.value_text(k, v)}"
                                                 for k, v in rule.values.items()))
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
