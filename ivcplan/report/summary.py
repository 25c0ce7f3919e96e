"""Human-readable rows drawn from the report dict, shared by the HTML and PDF reports.

Only presentation: values come from the report contract unchanged; missing values show as "n/a".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_DISCLAIMER = ("Decision support for a multidisciplinary tumor board, not a decision. Every measurement, "
                      "landmark and suggestion must be checked on the images by the treating team.")
NOT_AVAILABLE = "n/a"

#: (section, key, label, unit) of the measurement table, in reading order.
MEASUREMENTS: tuple[tuple[str, str, str, str], ...] = (
    ("ivc", "detected", "IVC detected", ""),
    ("ivc", "centerline_length_mm", "IVC centerline length", "mm"),
    ("tumor", "present", "Tumor present", ""),
    ("tumor", "volume_ml", "Tumor volume", "ml"),
    ("tumor", "max_diameter_mm", "Maximum 3D diameter", "mm"),
    ("tumor", "axes_mm", "Principal axes", "mm"),
    ("tumor", "axial_longest_diameter_mm", "Longest axial diameter (RECIST)", "mm"),
    ("tumor", "craniocaudal_length_mm", "Cranio-caudal length along the IVC", "mm"),
    ("tumor", "segments", "IVC segments involved", ""),
    ("tumor", "distance_upper_pole_to_hepatic_veins_mm", "Upper pole to lowest hepatic vein ostium", "mm"),
    ("tumor", "distance_upper_pole_to_cavoatrial_junction_mm", "Upper pole to cavoatrial junction", "mm"),
    ("tumor", "distance_lower_pole_to_renal_veins_mm", "Lower pole to renal vein inflow", "mm"),
    ("tumor", "max_lumen_occlusion_pct", "Maximum lumen occlusion", "%"),
    ("tumor", "complete_occlusion", "Complete occlusion", ""),
    ("tumor", "max_circumferential_involvement_deg", "Circumferential wall involvement", "deg"),
    ("tumor", "hepatic_veins_invaded", "Hepatic veins invaded", ""),
    ("tumor", "hepatic_veins_abutting", "Hepatic veins abutting", ""),
    ("tumor", "renal_veins_involved", "Renal veins involved", ""),
    ("tumor", "intracardiac", "Intracardiac extension", ""),
    ("tumor", "intracardiac_length_mm", "Length inside the right atrium", "mm"),
    ("tumor", "growth_pattern", "Growth pattern", ""),
    ("tumor", "adjacent_organs", "Adjacent organs in contact", ""),
    ("tumor", "ivc_diameter_above_mm", "IVC diameter above the tumor", "mm"),
    ("tumor", "ivc_diameter_below_mm", "IVC diameter below the tumor", "mm"),
    ("liver", "volume_ml", "Liver volume", "ml"),
    ("liver", "flr_ml", "Future liver remnant", "ml"),
    ("liver", "flr_ratio", "FLR / total liver volume", ""),
)
PLAN_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("approach", "Suggested approach", ""),
    ("vascular_control", "Vascular control", ""),
    ("ivc_reconstruction", "IVC reconstruction", ""),
    ("graft_diameter_mm", "Graft diameter", "mm"),
)


def fmt(value: Any, unit: str = "") -> str:
    """A value for people: rounded numbers, yes/no, comma-separated lists, n/a for missing."""
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        if value != value:  # NaN
            return NOT_AVAILABLE
        magnitude = abs(value)
        decimals = 0 if magnitude >= 100 or magnitude == 0 else 1 if magnitude >= 1 else 2
        text = f"{value:.{decimals}f}"
        return f"{text} {unit}".strip()
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            return "none"
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return " x ".join(fmt(v) for v in value) + (f" {unit}" if unit else "")
        return ", ".join(str(v).replace("_", " ") for v in value)
    return str(value).replace("_", " ")


def _section(report: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = report.get(name)
    return value if isinstance(value, Mapping) else {}


def measurement_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, formatted value) of the measurement table; fields absent from the report are left out."""
    rows = []
    for section, key, label, unit in MEASUREMENTS:
        data = _section(report, section)
        if key in data:
            rows.append((label, fmt(data[key], unit)))
    return rows


def plan_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    plan = _section(report, "plan")
    return [(label, fmt(plan.get(key), unit)) for key, label, unit in PLAN_FIELDS if key in plan]


def fired_rules(report: Mapping[str, Any]) -> list[dict[str, str]]:
    """The planner's fired rules as {id, text, source} strings."""
    rules = _section(report, "plan").get("rules") or []
    return [{k: str(rule.get(k, "")) for k in ("id", "text", "source")} for rule in rules if isinstance(rule, Mapping)]


def flags(report: Mapping[str, Any]) -> list[str]:
    return [str(f) for f in _section(report, "plan").get("flags") or []]


def warnings(report: Mapping[str, Any]) -> list[str]:
    """Input and analysis warnings (input.warnings plus a top-level ``warnings`` list if present)."""
    out = [str(w) for w in _section(report, "input").get("warnings") or []]
    out += [str(w) for w in report.get("warnings") or [] if str(w) not in out]
    return out


def landmark_rows(report: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(name, position, s, confidence) per landmark."""
    rows = []
    for name, lm in _section(report, "landmarks").items():
        if not isinstance(lm, Mapping):
            continue
        pos = lm.get("position_mm")
        where = "not found / outside the field of view" if pos is None else "(" + ", ".join(
            f"{float(v):.1f}" for v in pos) + ") mm"
        rows.append((name.replace("_", " "), where, fmt(lm.get("s_mm"), "mm"), fmt(lm.get("confidence"))))
    return rows


def input_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    data = _section(report, "input")
    rows = [("Series", fmt(data.get("series_description"))), ("Series UID", fmt(data.get("series_instance_uid"))),
            ("Matrix (z, y, x)", fmt(data.get("size"))), ("Voxel spacing (z, y, x)", fmt(data.get("spacing_mm"), "mm")),
            ("Contrast phase", fmt(data.get("contrast_phase"))),
            ("Segments in view", fmt(report.get("segments_in_view")))]
    return rows


def disclaimer(report: Mapping[str, Any]) -> str:
    return str(_section(report, "plan").get("disclaimer") or DEFAULT_DISCLAIMER)


#: Image keys in report order, with captions.
IMAGE_CAPTIONS: dict[str, str] = {
    "scene_anterior": "3D anatomy, anterior view (patient's right on the image left)",
    "scene_right": "3D anatomy, right lateral view",
    "scene_posterior": "3D anatomy, posterior view",
    "volume": "CT volume rendering around the IVC, tumor highlighted",
    "axial": "Axial slice at the tumor's largest cross-section",
    "coronal": "Coronal slice through the IVC",
    "sagittal": "Sagittal slice through the IVC",
    "cpr": "Stretched curved planar reformation along the IVC, with segments and landmarks",
    "profile": "Lumen and tumor area and IVC diameter along the centerline",
}


def ordered_images(images: Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """(key, path, caption) of the images, known kinds first in report order."""
    keys = [k for k in IMAGE_CAPTIONS if k in images] + [k for k in images if k not in IMAGE_CAPTIONS]
    return [(k, images[k], IMAGE_CAPTIONS.get(k, k.replace("_", " "))) for k in keys]
