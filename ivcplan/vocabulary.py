"""The one table of display names: what a person reads for each internal identifier of the report.

Label keys, landmark names, the plan's values (approach, vascular control, clamp site, renal vein
handling, liver resection, anhepatic support), the report's field names and the numbers a rule used
all have a plain clinical name here. The report documents (HTML, PDF), the viewer's panel, the
plan's summary and the command line read them from this module, so that no internal identifier
("infrahepatic_clamping", "renal_veins", "max_stenosis_pct") reaches a reader. A key missing from
the tables is shown through `humanize` (words, never an underscore).

Distances along the IVC are signed in report.json (docs/design.md "Signed distances"); `distance_words`
turns one into "63 mm below the renal veins".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ivcplan.labels import Label

#: Label key -> display name (patient's side first, as in a radiology report).
LABEL_NAMES: dict[str, str] = {
    "background": "background",
    "ivc_lumen": "IVC lumen",
    "ivc_tumor": "IVC tumor",
    "aorta": "aorta",
    "liver": "liver",
    "kidney_right": "right kidney",
    "kidney_left": "left kidney",
    "renal_vein_right": "right renal vein",
    "renal_vein_left": "left renal vein",
    "hepatic_vein_right": "right hepatic vein",
    "hepatic_vein_middle": "middle hepatic vein",
    "hepatic_vein_left": "left hepatic vein",
    "right_atrium": "right atrium",
    "portal_vein": "portal vein",
    "spine": "spine",
    "body": "body outline",
    "ivc_thrombus": "bland thrombus in the IVC",
    "iliac_vein_right": "right common iliac vein",
    "iliac_vein_left": "left common iliac vein",
}

#: Landmark name -> display name (the level it marks along the IVC).
LANDMARK_NAMES: dict[str, str] = {
    "iliac_confluence": "iliac confluence",
    "renal_vein_right": "right renal vein ostium",
    "renal_vein_left": "left renal vein ostium",
    "renal_veins": "renal veins (upper edge of the inflow, segment I/II boundary)",
    "hepatic_vein_right": "right hepatic vein ostium",
    "hepatic_vein_middle": "middle hepatic vein ostium",
    "hepatic_vein_left": "left hepatic vein ostium",
    "hepatic_veins": "lowest hepatic vein ostium (segment II/III boundary)",
    "cavoatrial_junction": "cavoatrial junction",
    "liver_caudal_edge": "liver's caudal edge (lowest level of the retrohepatic IVC)",
    "caval_hiatus": "caval hiatus of the diaphragm",
}
#: Short landmark names, as the object of a distance ("63 mm below the renal veins").
LANDMARK_SHORT: dict[str, str] = {
    "iliac_confluence": "the iliac confluence",
    "renal_vein_right": "the right renal vein ostium",
    "renal_vein_left": "the left renal vein ostium",
    "renal_veins": "the renal veins",
    "hepatic_vein_right": "the right hepatic vein ostium",
    "hepatic_vein_middle": "the middle hepatic vein ostium",
    "hepatic_vein_left": "the left hepatic vein ostium",
    "hepatic_veins": "the lowest hepatic vein ostium",
    "cavoatrial_junction": "the cavoatrial junction",
    "liver_caudal_edge": "the liver's caudal edge",
    "caval_hiatus": "the caval hiatus",
}

APPROACH: dict[str, str] = {
    "conventional": "Conventional (in-situ) resection of the IVC tumor",
    "elra": "Ex-vivo liver resection and autotransplantation (ELRA)",
    "none": "No suggestion: multidisciplinary review",
}
VASCULAR_CONTROL: dict[str, str] = {
    "infrahepatic_clamping": "IVC clamped below the hepatic veins (hepatic outflow preserved)",
    "total_vascular_exclusion": "total hepatic vascular exclusion",
    "cardiopulmonary_bypass": "cardiopulmonary bypass",
}
CLAMP_SITE: dict[str, str] = {
    "infrahepatic": "on the IVC below the liver",
    "retrohepatic_below_hepatic_veins": "on the retrohepatic IVC below the hepatic veins, after mobilising the liver "
                                        "and dividing the short hepatic veins",
    "suprahepatic_below_diaphragm": "on the suprahepatic IVC below the diaphragm",
    "intrapericardial_or_suprahepatic": "intrapericardial or suprahepatic control of the IVC",
    "right_atrium_on_bypass": "IVC and right atrium opened on cardiopulmonary bypass",
}
RECONSTRUCTION: dict[str, str] = {
    "ligation": "IVC ligation (no reconstruction)",
    "patch": "patch or primary repair of the IVC",
    "graft": "ringed PTFE interposition graft",
}
RENAL_HANDLING: dict[str, str] = {
    "reimplant_or_reconstruct": "reimplant or reconstruct",
    "ligate_if_collaterals_patent": "may be ligated medial to its tributaries if they are patent",
    "preserve": "preserved (inflow free)",
}
LIVER_RESECTION: dict[str, str] = {
    "right_hepatectomy": "right hepatectomy",
    "left_hepatectomy": "left hepatectomy",
}
#: What is left of the liver after each resection (the remnant the R8 check assumes).
REMNANT_OF: dict[str, str] = {
    "right_hepatectomy": "left liver",
    "left_hepatectomy": "right liver",
}
SUPPORT: dict[str, str] = {
    "temporary_ivc_graft": "temporary IVC graft",
    "temporary_portocaval_shunt": "temporary portocaval shunt",
    "venovenous_bypass": "venovenous bypass",
    "ante_situm": "ante-situm resection",
    "in_situ_hypothermic_perfusion": "in-situ resection with hypothermic perfusion",
    "none": "no alternative",
}
GRAFT_SOURCE: dict[str, str] = {
    "above_tumor": "the normal IVC above the tumor (upper resection margin)",
    "renal_veins": "the normal IVC at the renal veins",
    "below_tumor": "the normal IVC below the tumor",
    "legacy": "the IVC diameter above the tumor given in the facts",
}
DIAMETER_LEVEL: dict[str, str] = {
    "renal_veins": "at the renal veins",
    "above_tumor": "above the tumor",
    "below_tumor": "below the tumor",
}
CONTRAST_PHASE: dict[str, str] = {
    "non_contrast": "non-contrast",
    "arterial": "arterial",
    "portal_venous": "portal venous",
    "delayed": "delayed",
    "unknown": "unknown",
}
GROWTH_PATTERN: dict[str, str] = {
    "intraluminal": "intraluminal",
    "extraluminal": "extraluminal",
    "both": "intra- and extraluminal",
}
FLR_METHOD: dict[str, str] = {
    "left_of_ivc_mhv_plane": "liver left of the plane through the retrohepatic IVC and the middle hepatic vein "
                             "(Cantlie-like line)",
}
COLLATERALS: dict[str, str] = {
    "azygos_hemiazygos": "azygos / hemiazygos veins",
    "ascending_lumbar": "ascending lumbar veins",
    "gonadal": "gonadal veins",
}
LANDMARK_SOURCE: dict[str, str] = {"automatic": "automatic", "edited": "edited by a person"}

#: Report fields and the numbers rules use (key, without section) -> display name. Units are shown with the value.
FIELD_NAMES: dict[str, str] = {
    # ivc
    "detected": "IVC detected",
    "centerline_length_mm": "IVC centerline length",
    "confidence": "confidence",
    "reaches_caudal_border": "IVC reaches the lower edge of the scan",
    "reaches_cranial_border": "IVC reaches the upper edge of the scan",
    # tumor
    "present": "tumor present",
    "volume_ml": "volume",
    "max_diameter_mm": "largest 3D diameter",
    "axes_mm": "principal axes",
    "axial_longest_diameter_mm": "longest axial diameter (RECIST)",
    "measurable_recist": "measurable (RECIST)",
    "craniocaudal_length_mm": "length along the IVC",
    "segments": "IVC segments involved",
    "upper_pole_mm": "upper pole position",
    "lower_pole_mm": "lower pole position",
    "upper_pole_s_mm": "upper pole height along the IVC",
    "lower_pole_s_mm": "lower pole height along the IVC",
    "distance_upper_pole_to_hepatic_veins_mm": "upper pole",
    "distance_upper_pole_to_cavoatrial_junction_mm": "upper pole",
    "distance_upper_pole_to_caval_hiatus_mm": "upper pole",
    "distance_upper_pole_to_liver_caudal_edge_mm": "upper pole",
    "distance_upper_pole_to_hepatic_vein_mm": "upper pole",
    "distance_lower_pole_to_renal_veins_mm": "lower pole",
    "distance_lower_pole_to_iliac_confluence_mm": "lower pole",
    "retrohepatic_length_mm": "tumor length along the retrohepatic IVC",
    "max_lumen_occlusion_pct": "largest stenosis",
    "max_stenosis_pct": "largest stenosis of the IVC lumen",
    "residual_lumen_min_area_mm2": "smallest residual lumen",
    "native_area_source": "native IVC area taken from",
    "occluded_length_mm": "longest stretch without lumen",
    "complete_occlusion": "IVC completely occluded (no lumen over at least 10 mm)",
    "extraluminal_volume_ml": "tumor volume outside the native IVC outline",
    "max_circumferential_involvement_deg": "circumferential wall involvement",
    "hepatic_veins_invaded": "hepatic vein ostia invaded",
    "hepatic_veins_abutting": "hepatic vein ostia abutting the tumor",
    "renal_veins_involved": "renal veins involved",
    "intracardiac": "tumor enters the right atrium",
    "intracardiac_length_mm": "length inside the right atrium",
    "growth_pattern": "growth pattern",
    "adjacent_organs": "structures in contact",
    "organs_invaded": "organs invaded",
    "ivc_diameter_above_mm": "IVC transverse diameter above the tumor",
    "ivc_diameter_below_mm": "IVC transverse diameter below the tumor",
    "collateral_return": "collateral venous return",
    "collaterals": "collateral veins",
    # liver
    "flr_ml": "future liver remnant (left liver)",
    "flr_ratio": "future liver remnant / total liver volume",
    "flr_method": "remnant measured as",
    "caudate_ml": "caudate lobe",
    "volume_ml_range": "volume range",
    # clinical
    "prior_chemotherapy": "chemotherapy given before surgery",
    "liver_fibrosis": "liver fibrosis or cirrhosis",
    "weight_kg": "body weight",
    # numbers the rules use
    "reasons": "reasons",
    "tumor_confidence": "tumor confidence",
    "landmark_confidence": "landmark confidence",
    "diameter_source": "diameter measured at",
    "transverse_diameter_mm": "transverse diameter of the normal IVC",
    "graft_diameter_mm": "graft diameter",
    "graft_length_mm": "graft length",
    "tumor_length_mm": "tumor length along the IVC",
    "liver_resection": "liver resection",
    "remnant_ratio": "remnant / total liver volume",
    "remnant_ratio_range": "remnant / total liver volume, range",
    "remnant_ml": "remnant volume",
    "caudate_excluded_ml": "caudate lobe left out of the remnant",
    "liver_volume_ml": "total liver volume",
    "condition": "liver condition assumed",
    "applied_min_ratio": "remnant limit applied",
    "remnant_body_weight_pct": "remnant / body weight",
    "puth_grade": "PUTH grade",
    "puth_b_reason": "why PUTH-B",
    # thresholds of the shipped rules file
    "min_upper_pole_margin_mm": "limit: clamp room below the hepatic vein ostia",
    "min_clamp_room_below_liver_mm": "limit: clamp room below the liver",
    "min_occluded_length_mm": "limit: occluded length for ligation",
    "graft_ratio": "graft / IVC diameter ratio",
    "graft_min_mm": "smallest graft",
    "graft_max_mm": "largest graft",
    "patch_max_circumferential_deg": "limit: wall involvement for a patch",
    "graft_margin_mm": "graft margin beyond each pole",
    "max_upper_pole_to_cavoatrial_junction_mm": "limit: upper pole to the cavoatrial junction",
    "intracardiac_min_mm": "limit: extension into the atrium",
    "puth_b_min_intracardiac_mm": "limit: PUTH-B extension into the atrium",
    "hiatus_standby_margin_mm": "limit: clamp room below the caval hiatus",
    "min_flr_ratio": "remnant limit, normal liver",
    "min_flr_ratio_chemotherapy": "remnant limit after chemotherapy",
    "min_flr_ratio_fibrosis": "remnant limit with fibrosis or cirrhosis",
    "min_remnant_body_weight_pct": "remnant limit, share of body weight",
    "min_landmark_confidence": "limit: landmark confidence",
    "min_tumor_confidence": "limit: tumor confidence",
}

#: Signed distance fields: key -> (pole, landmark, word when the value is positive, word when negative).
#: Signs as in docs/design.md: upper-pole distances are positive when the pole lies below the landmark,
#: lower-pole distances positive when the pole lies above it.
DISTANCES: dict[str, tuple[str, str, str, str]] = {
    "distance_upper_pole_to_hepatic_veins_mm": ("upper pole", "hepatic_veins", "below", "above"),
    "distance_upper_pole_to_cavoatrial_junction_mm": ("upper pole", "cavoatrial_junction", "below", "above"),
    "distance_upper_pole_to_caval_hiatus_mm": ("upper pole", "caval_hiatus", "below", "above"),
    "distance_upper_pole_to_liver_caudal_edge_mm": ("upper pole", "liver_caudal_edge", "below", "above"),
    "distance_lower_pole_to_renal_veins_mm": ("lower pole", "renal_veins", "above", "below"),
    "distance_lower_pole_to_iliac_confluence_mm": ("lower pole", "iliac_confluence", "above", "below"),
}
#: Per-vein upper-pole distances (``tumor.distance_upper_pole_to_hepatic_vein_mm.{right,middle,left}``).
HEPATIC_VEIN_DISTANCE = "distance_upper_pole_to_hepatic_vein_mm"
#: A distance shorter than this (mm) is "at the level of" the landmark.
SAME_LEVEL_MM = 0.5

_SNAKE = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)+")
_UNIT_SUFFIXES = {"_mm2": "mm²", "_mm": "mm", "_ml": "ml", "_pct": "%", "_deg": "degrees", "_kg": "kg", "_s": "s"}


def unit_of(key: str) -> str:
    """The unit a field name ends with (``_mm`` -> "mm"), "" when it has none."""
    for suffix, unit in _UNIT_SUFFIXES.items():
        if key.endswith(suffix):
            return unit
    return ""


def humanize(key: str) -> str:
    """Words for an identifier without a table entry: underscores and unit suffixes gone."""
    text = str(key)
    for suffix in _UNIT_SUFFIXES:
        if text.endswith(suffix):
            text = text[: -len(suffix)]
            break
    return text.replace("_", " ").strip()


def label_name(key: str | int) -> str:
    """Display name of a label key (``"renal_vein_right"``) or value."""
    if isinstance(key, int) and not isinstance(key, bool):
        try:
            key = Label(key).key
        except ValueError:
            return f"label {key}"
    return LABEL_NAMES.get(str(key), humanize(str(key)))


def landmark_name(name: str) -> str:
    return LANDMARK_NAMES.get(name, humanize(name))


def landmark_short(name: str) -> str:
    return LANDMARK_SHORT.get(name, f"the {humanize(name)}")


def landmark_label(name: str) -> str:
    """The landmark's name on a picture: short, without an article ("renal veins", "cavoatrial junction")."""
    short = landmark_short(name)
    return short[4:] if short.startswith("the ") else short


def landmark_tag(name: str) -> str:
    """The shortest clear name, for a label beside a line in a narrow view ("left hepatic vein")."""
    label = landmark_label(name)
    return label[: -len(" ostium")] if label.endswith(" ostium") else label


def field_name(key: str) -> str:
    return FIELD_NAMES.get(key, humanize(key))


#: Tables of enumerated values, by the field that holds them.
VALUE_TABLES: dict[str, Mapping[str, str]] = {
    "approach": APPROACH,
    "vascular_control": VASCULAR_CONTROL,
    "upper_clamp_site": CLAMP_SITE,
    "ivc_reconstruction": RECONSTRUCTION,
    "liver_resection": LIVER_RESECTION,
    "diameter_source": GRAFT_SOURCE,
    "contrast_phase": CONTRAST_PHASE,
    "growth_pattern": GROWTH_PATTERN,
    "flr_method": FLR_METHOD,
    "right": RENAL_HANDLING,
    "left": RENAL_HANDLING,
    "method": SUPPORT,
    "source": LANDMARK_SOURCE,
}


def value_name(field: str, value: str) -> str:
    """Display text of an enumerated value of ``field`` (e.g. approach "elra"); other text unchanged
    but for identifiers, which are put into words."""
    table = VALUE_TABLES.get(field)
    if table is not None and value in table:
        return table[value]
    if value in LABEL_NAMES:
        return LABEL_NAMES[value]
    return humanize(value) if _SNAKE.fullmatch(value) else value


def mm_text(value: float) -> str:
    """A length for reading, without its sign: whole millimetres (the scans' voxels are 0.5-3 mm), one
    decimal under 1 mm."""
    magnitude = abs(float(value))
    return f"{magnitude:.0f}" if magnitude >= 0.95 else f"{magnitude:.1f}"


def distance_words(key: str, value: float | None, *, landmark: str | None = None) -> str:
    """A signed distance in words: ``distance_lower_pole_to_renal_veins_mm`` = -62.9 -> "63 mm below the renal
    veins". ``landmark`` overrides the landmark (the per-vein distances). None -> "not measured"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "not measured"
    _, mark, positive, negative = DISTANCES.get(key, ("", landmark or "", "below", "above"))
    mark = landmark or mark
    if abs(float(value)) < SAME_LEVEL_MM:
        return f"at the level of {landmark_short(mark)}"
    word = positive if value > 0 else negative
    return f"{mm_text(value)} mm {word} {landmark_short(mark)}"


def is_identifier(text: str) -> bool:
    """Whether ``text`` is written like an internal identifier (lower-case words joined by underscores)."""
    return bool(_SNAKE.fullmatch(text))


def identifiers(report: Mapping[str, Any]) -> set[str]:
    """Every internal identifier a report holds (field names, enumerated values, label keys, landmark names):
    what must not appear in a document written for people."""
    found: set[str] = set(LABEL_NAMES) | set(LANDMARK_NAMES) | set(FIELD_NAMES)
    for table in VALUE_TABLES.values():
        found |= set(table)

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, sub in value.items():
                found.add(str(key))
                walk(sub)
        elif isinstance(value, list | tuple):
            for sub in value:
                walk(sub)
        elif isinstance(value, str) and is_identifier(value):
            found.add(value)

    walk(report)
    return {word for word in found if "_" in word}


#: Fields whose value is a share (0..1) shown as a percentage.
RATIO_FIELDS = frozenset({"flr_ratio", "remnant_ratio", "remnant_ratio_range", "applied_min_ratio", "min_flr_ratio",
                          "min_flr_ratio_chemotherapy", "min_flr_ratio_fibrosis", "flr_ratio_range"})
#: Fields holding 0..1 confidences.
CONFIDENCE_FIELDS = frozenset({"confidence", "tumor_confidence", "min_landmark_confidence", "min_tumor_confidence"})


def number_text(value: float, unit: str = "") -> str:
    """A number for reading: 3 significant figures at most, whole numbers from 100, with its unit."""
    value = float(value)
    if not math.isfinite(value):
        return "not measured"
    magnitude = abs(value)
    if magnitude >= 100 or magnitude == int(magnitude):
        text = f"{value:.0f}"
    elif magnitude >= 1:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}".rstrip("0")
    return f"{text} {unit}".strip()


def value_text(key: str, value: Any) -> str:
    """Any report value of field ``key`` in words: signed distances as "8 mm below the cavoatrial junction",
    shares as percentages, sides and enumerated values by name, yes / no / unknown."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in DISTANCES and isinstance(value, int | float):
        return distance_words(key, float(value))
    if key == HEPATIC_VEIN_DISTANCE and isinstance(value, Mapping):
        return "; ".join(f"{side}: {distance_words(key, v, landmark=f'hepatic_vein_{side}')}"
                         for side, v in value.items())
    if isinstance(value, Mapping):
        names = landmark_name if key == "landmark_confidence" else field_name
        return "; ".join(f"{names(str(k))} {value_text(str(k), v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        if not value:
            return "none"
        if key in RATIO_FIELDS and len(value) == 2:
            return f"{value_text(key, value[0])} to {value_text(key, value[1])}"
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            unit = unit_of(key)
            return " x ".join(number_text(v) for v in value) + (f" {unit}" if unit else "")
        return ", ".join(value_text(key, v) for v in value)
    if isinstance(value, int | float):
        if key in RATIO_FIELDS:
            return f"{100.0 * float(value):.1f} %".replace(".0 %", " %")
        if key in CONFIDENCE_FIELDS:
            return f"{float(value):.2f}"
        return number_text(value, unit_of(key))
    text = str(value)
    if key in ("adjacent_organs", "organs_invaded"):
        return label_name(text)
    return value_name(key, text)
