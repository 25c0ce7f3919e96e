"""What the report documents and the viewer's panel show, drawn from the report dict in plain clinical words.

Only presentation: every value comes from the report contract unchanged, put into words through
`ivcplan.vocabulary` (display names, signed distances as "63 mm below the renal veins"); a value that is
absent shows as "not measured" or "unknown". The HTML and PDF documents (one template) and the viewer's
side panel read the same rows, so they say the same thing the same way.

Values a person set (issue 20: ``landmarks.<name>.source == "edited"`` with ``landmarks.<name>.edited``
{by, when, why}, a section's ``edited`` map {field: {by, when, why, unedited}} and the top-level
``corrections`` list) are carried on the rows as `Edit` so that the documents can mark them; a report
without them renders as before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ivcplan import vocabulary as words
from ivcplan.labels import Label

DEFAULT_DISCLAIMER = ("Decision support for a multidisciplinary tumor board, not a decision. Every measurement, "
                      "landmark and suggestion must be checked on the images by the treating team.")
NOT_MEASURED = "not measured"
UNKNOWN = "unknown"
#: What the header says in place of the study identifiers of an anonymized report.
ANONYMIZED = "anonymized"
TITLE = "IVC tumor planning report"

#: Short titles of the rules (what each decides), for the lists of fired and not fired rules.
RULE_TITLES: dict[str, str] = {
    "R1": "conventional resection with the IVC clamped below the liver or the hepatic veins",
    "R2": "IVC ligation instead of reconstruction",
    "R3": "IVC reconstruction: graft or patch",
    "R4": "renal vein inflow",
    "R5": "conventional resection under total hepatic vascular exclusion",
    "R6": "ex-vivo liver resection and autotransplantation (ELRA)",
    "R7": "control above the liver: atrium, intrapericardial IVC, cardiopulmonary bypass",
    "R8": "future liver remnant",
    "R9": "no suggestion where findings are missing or uncertain",
}


@dataclass(frozen=True)
class Edit:
    """A value a person set: who, when (UTC ISO 8601), why, and the value the analysis gave."""

    by: str
    when: str
    why: str | None = None
    unedited: Any = None

    @property
    def text(self) -> str:
        why = f": {self.why}" if self.why else ""
        return f"by {self.by}, {when_text(self.when)}{why}"  # follows the "edited" mark


@dataclass(frozen=True)
class Row:
    """One line of a table: what, its value in words, and the edit behind it (None: automatic)."""

    label: str
    value: str
    edited: Edit | None = None
    note: str = ""
    key: str = ""  # the report field shown ("tumor.volume_ml"), "" for a row that combines several


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    text: str
    source: str
    numbers: tuple[Row, ...]
    references: tuple[int, ...]  # numbers in the references list


@dataclass(frozen=True)
class Reference:
    number: int
    citation: str
    link: str | None  # https://doi.org/... or the stored URL


@dataclass(frozen=True)
class Landmark:
    name: str
    where: str  # height along the IVC, or why there is none
    position: str
    confidence: str
    how: str
    edited: Edit | None = None
    key: str = ""  # the landmark's name in the report


@dataclass(frozen=True)
class Structure:
    name: str
    color: tuple[int, int, int]
    volume: str
    hu: str
    size: str


@dataclass(frozen=True)
class Correction:
    what: str
    old: str
    new: str
    by: str
    when: str
    why: str


@dataclass
class Document:
    """Everything the report template shows, in words."""

    title: str
    header: str  # identity and report date, in one line
    study: str  # the patient and study identity, repeated at the top of every printed page
    identity: list[Row]
    disclaimer: str
    plan: list[Row]
    flags: list[str]
    fired: list[Rule]
    not_fired: list[Row]
    tumor: list[Row]
    ivc: list[Row]
    liver: list[Row]
    clinical: list[Row]
    confidence: list[Row]
    landmarks: list[Landmark]
    statistics: list[Structure]
    corrections: list[Correction]
    warnings: list[str]
    references: list[Reference]
    legend: list[tuple[str, tuple[int, int, int]]]
    footer: str
    edited: bool = False
    images: list[tuple[str, Any, str]] = field(default_factory=list)


# -- helpers ---------------------------------------------------------------------------------------------------------
def _section(report: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = report.get(name)
    return value if isinstance(value, Mapping) else {}


def fmt(value: Any, unit: str = "") -> str:
    """A plain value for people: rounded numbers with their unit, yes / no, lists joined, "not measured"."""
    if value is None:
        return NOT_MEASURED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return words.number_text(value, unit)
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            return "none"
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            return " x ".join(words.number_text(v) for v in value) + (f" {unit}" if unit else "")
        return ", ".join(fmt(v) for v in value)
    text = str(value)
    return words.humanize(text) if words.is_identifier(text) else text


def when_text(stamp: Any) -> str:
    """``2026-12-06T19:24:14Z`` -> ``2026-12-06 19:24 UTC``."""
    text = str(stamp or "")
    if len(text) >= 16 and text[10] == "T":
        return f"{text[:10]} {text[11:16]} UTC"
    return text or UNKNOWN


def date_text(dicom_date: Any) -> str | None:
    """DICOM DA ``20261122`` -> ``2026-11-22`` (other text unchanged)."""
    text = str(dicom_date or "").strip()
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text or None


def _edit(entry: Any) -> Edit | None:
    if not isinstance(entry, Mapping) or not entry.get("by"):
        return None
    return Edit(str(entry["by"]), str(entry.get("when") or ""), entry.get("why"), entry.get("unedited"))


def _edits(section: Mapping[str, Any]) -> dict[str, Edit]:
    """The section's ``edited`` map (issue 20), field -> Edit; empty when absent."""
    out = {}
    for key, entry in (section.get("edited") or {}).items() if isinstance(section.get("edited"), Mapping) else ():
        edit = _edit(entry)
        if edit is not None:
            out[str(key)] = edit
    return out


def _row(section: Mapping[str, Any], key: str, label: str | None = None, text: str | None = None,
         edits: Mapping[str, Edit] | None = None) -> Row:
    value = section.get(key)
    shown = text if text is not None else words.value_text(key, value) if value is not None else NOT_MEASURED
    return Row(label or words.field_name(key).capitalize(), shown, (edits or {}).get(key), key=key)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# -- identity and provenance -----------------------------------------------------------------------------------------
def identity(report: Mapping[str, Any]) -> dict[str, str]:
    """Patient ID, study date, accession number and report date as shown (``anonymized`` when dropped)."""
    prov = _section(report, "provenance")
    anonymized = bool(prov.get("anonymized"))
    missing = ANONYMIZED if anonymized else "not given"
    return {"patient_id": ANONYMIZED if anonymized else str(prov.get("patient_id") or missing),
            "study_date": ANONYMIZED if anonymized else date_text(prov.get("study_date")) or missing,
            "accession_number": ANONYMIZED if anonymized else str(prov.get("accession_number") or missing),
            "report_date": when_text(prov.get("created_utc")),
            "version": str(prov.get("ivcplan_version") or UNKNOWN),
            "rules_file": str(prov.get("rules_file") or _section(report, "plan").get("rules_file") or UNKNOWN),
            "rules_sha256": str(prov.get("rules_sha256") or _section(report, "plan").get("rules_sha256") or UNKNOWN)}


def header_line(report: Mapping[str, Any]) -> str:
    """Who and which study, and when the report was made: the line at the top of every printed page."""
    return f"{study_line(report)} · Report: {identity(report)['report_date']}"


def study_line(report: Mapping[str, Any]) -> str:
    ident = identity(report)
    return (f"Patient ID: {ident['patient_id']} · Study date: {ident['study_date']} · Accession: "
            f"{ident['accession_number']}")


def footer_line(report: Mapping[str, Any]) -> str:
    ident = identity(report)
    return (f"ivcplan {ident['version']} · rules SHA-256 {ident['rules_sha256'][:12]}… · decision support, "
            "not a decision")


def identity_rows(report: Mapping[str, Any]) -> list[Row]:
    ident = identity(report)
    data = _section(report, "input")
    rows = [Row("Patient ID", ident["patient_id"]), Row("Study date", ident["study_date"]),
            Row("Accession number", ident["accession_number"]), Row("Report created", ident["report_date"]),
            Row("Series", str(data.get("series_description") or "not described")),
            Row("Series instance UID", str(data.get("series_instance_uid") or "none (not a DICOM input)")),
            Row("Contrast phase", words.value_name("contrast_phase", str(data.get("contrast_phase") or "unknown"))),
            Row("Matrix (slices x rows x columns)", fmt(data.get("size"))),
            Row("Voxel size (slice x row x column)", fmt(data.get("spacing_mm"), "mm"))]
    if data.get("chosen_reason"):
        rows.append(Row("Why this series", str(data["chosen_reason"])))
    rows += [Row("Made by", f"ivcplan {ident['version']}"),
             Row("Decision rules", f"{ident['rules_file']}, SHA-256 {ident['rules_sha256']}")]
    return rows


# -- the plan --------------------------------------------------------------------------------------------------------
def _rule(plan: Mapping[str, Any], rule_id: str) -> Mapping[str, Any]:
    return next((r for r in plan.get("rules") or [] if isinstance(r, Mapping) and r.get("id") == rule_id), {})


def _graft_text(plan: Mapping[str, Any]) -> str:
    size = [] if plan.get("graft_diameter_mm") is None else [f"{fmt(plan['graft_diameter_mm'], 'mm')} diameter"]
    if plan.get("graft_length_mm") is not None:
        size.append(f"about {words.mm_text(plan['graft_length_mm'])} mm long")
    return words.RECONSTRUCTION["graft"] + (f", {', '.join(size)}" if size else ", size not computed")


def _sizing_text(plan: Mapping[str, Any]) -> str | None:
    sizing = plan.get("graft_sizing")
    if not isinstance(sizing, Mapping) or sizing.get("transverse_mm") is None:
        return None
    source = sizing.get("source_text") or words.GRAFT_SOURCE.get(str(sizing.get("source")), "the normal IVC")
    low, high = (sizing.get("bounds_mm") or [None, None])[:2]
    text = (f"diameter {fmt(sizing.get('ratio'))} x the {fmt(sizing['transverse_mm'], 'mm')} transverse diameter of "
            f"{source} = {fmt(sizing.get('raw_mm'), 'mm')}")
    if low is not None and high is not None:
        text += (f", brought within {fmt(low)}-{fmt(high, 'mm')}" if sizing.get("clamped")
                 else f", within the {fmt(low)}-{fmt(high, 'mm')} range")
    values = _rule(plan, "R3").get("values") or {}
    if plan.get("graft_length_mm") is not None and values.get("tumor_length_mm") is not None:
        text += (f"; length = tumor length {fmt(values['tumor_length_mm'], 'mm')} + "
                 f"{fmt(values.get('graft_margin_mm'), 'mm')} at each end")
        if values.get("graft_length_mm") is not None and values["tumor_length_mm"] + 2 * (
                values.get("graft_margin_mm") or 0) - values["graft_length_mm"] > 0.5:
            text += " (shortened where the resection stops at the cavoatrial junction)"
    return text


def _reconstruction(plan: Mapping[str, Any]) -> str:
    kind = plan.get("ivc_reconstruction")
    if kind == "graft":
        return _graft_text(plan)
    return words.RECONSTRUCTION.get(str(kind), "not specified") if kind else "not specified"


def _bypass(plan: Mapping[str, Any]) -> str:
    if plan.get("vascular_control") == "cardiopulmonary_bypass":
        return "required (the tumor enters the right atrium)"
    standby = plan.get("bypass_standby")
    return {True: "on standby", False: "not needed"}.get(standby, "not assessed")


def _mobilisation(plan: Mapping[str, Any]) -> str:
    return {True: "yes: mobilise the liver (and divide the short hepatic veins) to reach the IVC above the tumor",
            False: "not needed"}.get(plan.get("liver_mobilisation"), "not assessed")


def remnant_text(plan: Mapping[str, Any]) -> str | None:
    """The remnant a suggested hepatectomy leaves, as R8 checked it, in one sentence."""
    rem = plan.get("remnant")
    if not isinstance(rem, Mapping):
        return None
    resection = str(rem.get("liver_resection") or "")
    part = words.REMNANT_OF.get(resection, "remnant")
    if rem.get("remnant_ratio") is None:
        return f"{part}: not estimated (liver or hepatic veins not segmented); volumetry needed"
    text = (f"{part} {fmt(rem.get('remnant_ml'), 'ml')} = {words.value_text('remnant_ratio', rem['remnant_ratio'])} "
            f"of the {fmt(rem.get('liver_volume_ml'), 'ml')} liver")
    if rem.get("remnant_ratio_range"):
        text += f" (range {words.value_text('remnant_ratio_range', rem['remnant_ratio_range'])})"
    if rem.get("caudate_excluded_ml") is not None:
        text += f", caudate lobe ({fmt(rem['caudate_excluded_ml'], 'ml')}) excluded: it goes with the retrohepatic IVC"
    text += (f"; limit {words.value_text('applied_min_ratio', rem.get('applied_min_ratio'))} "
             f"({rem.get('condition') or 'normal liver'})")
    if rem.get("remnant_body_weight_pct") is not None:
        text += (f"; {fmt(rem['remnant_body_weight_pct'], '%')} of body weight (limit "
                 f"{fmt(rem.get('min_remnant_body_weight_pct'), '%')})")
    verdict = {True: "sufficient", False: "insufficient: consider portal vein embolisation"}.get(rem.get("sufficient"))
    return text + (f": {verdict}" if verdict else "")


def _options(options: Any) -> str | None:
    if not options:
        return None
    parts = []
    for option in options:
        if not isinstance(option, Mapping):
            continue
        name = words.SUPPORT.get(str(option.get("method")), words.humanize(str(option.get("method"))))
        status = "" if "suggested" not in option else " (suggested)" if option.get("suggested") else " (not needed)"
        parts.append(f"{_cap(name)}{status}: {option.get('reason') or ''}".rstrip(": "))
    return "\n".join(parts) or None


def _renal_rows(renal: Mapping[str, Any]) -> list[Row]:
    return [Row(f"{side.capitalize()} renal vein", words.RENAL_HANDLING.get(str(renal.get(side)), "not assessed")
                if renal.get(side) else "not assessed") for side in ("right", "left")]


def plan_rows(report: Mapping[str, Any]) -> list[Row]:
    """The whole suggestion, one row per decision, in words (empty without a plan)."""
    plan = _section(report, "plan")
    if not plan:
        return []
    approach = str(plan.get("approach") or "none")
    # R9 may withhold single decisions (a landmark they rest on is doubtful) and give the others: the
    # reader sees which were withheld and why, and what was still decided.
    withheld = {str(k): str(v) for k, v in (plan.get("withheld") or {}).items()}

    def held(decision: str) -> str:
        return f"not suggested: it rests on a doubtful landmark ({withheld[decision]}); check on the images"

    if "approach" in withheld:
        rows = [Row("Approach", held("approach"))]
        renal = plan.get("renal_vein_handling") or {}
        if "renal_vein_handling" not in withheld and any(renal.get(side) for side in ("right", "left")):
            rows += _renal_rows(renal)
        return rows
    rows = [Row("Approach", words.APPROACH.get(approach, words.humanize(approach)))]
    if approach == "none":
        return rows
    control = plan.get("vascular_control")
    rows.append(Row("Vascular control", held("vascular_control") if "vascular_control" in withheld else
                    words.VASCULAR_CONTROL.get(str(control), "not specified") if control else "not specified"))
    if plan.get("upper_clamp_site"):
        site = str(plan["upper_clamp_site"])
        rows.append(Row("Upper clamp", _cap(words.CLAMP_SITE.get(site, words.humanize(site)))))
    rows.append(Row("Liver mobilisation", _mobilisation(plan)))
    rows.append(Row("Cardiopulmonary bypass", _bypass(plan)))
    rows.append(Row("IVC reconstruction", held("ivc_reconstruction") if "ivc_reconstruction" in withheld
                    else _reconstruction(plan)))
    sizing = _sizing_text(plan)
    if sizing:
        rows.append(Row("Graft sizing", _cap(sizing)))
    if "renal_vein_handling" in withheld:
        rows.append(Row("Renal veins", held("renal_vein_handling")))
    else:
        rows += _renal_rows(plan.get("renal_vein_handling") or {})
    resection = plan.get("liver_resection")
    if "liver_resection" in withheld:
        rows.append(Row("Liver resection", held("liver_resection")))
    elif resection:
        name = words.LIVER_RESECTION.get(str(resection), words.humanize(str(resection)))
        if approach == "elra":
            name += (f" on the back table; the {words.REMNANT_OF.get(str(resection), 'remnant')} is "
                     "autotransplanted")
        rows.append(Row("Liver resection", _cap(name)))
    elif approach == "conventional":
        rows.append(Row("Liver resection", "none suggested"))
    remnant = remnant_text(plan)
    if remnant:
        rows.append(Row("Future liver remnant assumed", _cap(remnant)))
    support = _options(plan.get("anhepatic_support"))
    if support:
        rows.append(Row("Anhepatic phase support", support))
    alternatives = _options(plan.get("elra_alternatives"))
    if alternatives:
        rows.append(Row("Alternatives to full ex-vivo resection", alternatives))
    return rows


def references(report: Mapping[str, Any]) -> list[Reference]:
    """The full references of the fired rules, numbered in order of citation."""
    out = []
    for i, ref in enumerate(_section(report, "plan").get("references") or [], start=1):
        if not isinstance(ref, Mapping):
            continue
        link = f"https://doi.org/{ref['doi']}" if ref.get("doi") else ref.get("url") or None
        out.append(Reference(i, str(ref.get("citation") or ref.get("key") or ""), link))
    return out


def fired_rules(report: Mapping[str, Any]) -> list[Rule]:
    """Each fired rule: its text, why it fired (the numbers it used, in words), its source and references."""
    plan = _section(report, "plan")
    numbers = {str(ref.get("key")): i for i, ref in enumerate(plan.get("references") or [], start=1)
               if isinstance(ref, Mapping)}
    out = []
    for rule in plan.get("rules") or []:
        if not isinstance(rule, Mapping):
            continue
        rid = str(rule.get("id", ""))
        values = rule.get("values") or {}
        rows = []
        for key, value in values.items():
            if key == "reasons" and isinstance(value, list):
                rows.extend(Row("Reason", _cap(str(v))) for v in value)
                continue
            label = words.field_name(key)
            if key in words.DISTANCES or key == words.HEPATIC_VEIN_DISTANCE:
                label = words.DISTANCES.get(key, ("upper pole",))[0]
            rows.append(Row(_cap(label), words.value_text(key, value)))
        out.append(Rule(rid, RULE_TITLES.get(rid, ""), str(rule.get("text", "")), str(rule.get("source", "")),
                        tuple(rows), tuple(numbers[k] for k in rule.get("references") or [] if k in numbers)))
    return out


def not_fired_rows(report: Mapping[str, Any]) -> list[Row]:
    """(rule, why it did not fire) for every rule that did not."""
    rows = []
    for entry in _section(report, "plan").get("rules_not_fired") or []:
        if isinstance(entry, Mapping):
            rid = str(entry.get("id", ""))
            title = RULE_TITLES.get(rid)
            rows.append(Row(f"{rid}: {title}" if title else rid, _cap(str(entry.get("reason") or ""))))
    return rows


def flags(report: Mapping[str, Any]) -> list[str]:
    return [str(f) for f in _section(report, "plan").get("flags") or []]


#: A label key standing alone in a message (not part of a path or file name: "ivc_lumen," but not
#: "/ivc_lumen.nii.gz").
_LABEL_KEY = re.compile(r"(?<![\w/.\\-])(" + "|".join(sorted((k for k in words.LABEL_NAMES if "_" in k), key=len,
                                                              reverse=True)) + r")(?![\w/.\\-])")


def _label_words(text: str) -> str:
    """Label keys in a message (the label importer lists the structures it read) as their names."""
    return _LABEL_KEY.sub(lambda m: words.label_name(m.group(1)), text)


def warnings(report: Mapping[str, Any]) -> list[str]:
    """Input and analysis warnings (input.warnings plus a top-level ``warnings`` list if present), label keys
    named in words."""
    out = [_label_words(str(w)) for w in _section(report, "input").get("warnings") or []]
    out += [_label_words(str(w)) for w in report.get("warnings") or [] if _label_words(str(w)) not in out]
    return out


def disclaimer(report: Mapping[str, Any]) -> str:
    return str(_section(report, "plan").get("disclaimer") or DEFAULT_DISCLAIMER)


# -- findings --------------------------------------------------------------------------------------------------------
def _hepatic_distances(tumor: Mapping[str, Any]) -> str | None:
    per_vein = tumor.get(words.HEPATIC_VEIN_DISTANCE)
    if not isinstance(per_vein, Mapping) or not per_vein:
        return None
    return "; ".join(f"{words.distance_words(words.HEPATIC_VEIN_DISTANCE, v, landmark=f'hepatic_vein_{side}')}"
                     for side, v in per_vein.items() if v is not None) or None


def _stenosis(tumor: Mapping[str, Any]) -> str:
    pct = tumor.get("max_stenosis_pct")
    if pct is None:
        return NOT_MEASURED
    text = f"{fmt(pct, '%')} of the native IVC area"
    if tumor.get("native_area_source"):
        text += f" ({tumor['native_area_source']})"
    return text


def tumor_rows(report: Mapping[str, Any]) -> list[Row]:
    """The tumor's size, position (distances in words), lumen, vein involvement and spread."""
    tumor = _section(report, "tumor")
    if not tumor:
        return []
    edits = _edits(tumor)
    if not tumor.get("present"):
        return [Row("Tumor", "no tumor found in the IVC" if tumor.get("present") is False else UNKNOWN,
                    edits.get("present"))]
    rows = [Row("Tumor", "present" + (f" (confidence {words.value_text('confidence', tumor['confidence'])})"
                                      if tumor.get("confidence") is not None else ""), edits.get("present"))]

    def add(key: str, label: str, text: str | None = None) -> None:
        if key in tumor or text is not None:
            rows.append(_row(tumor, key, label, text, edits))

    add("volume_ml", "Volume")
    add("max_diameter_mm", "Largest 3D diameter")
    add("axes_mm", "Principal axes")
    add("axial_longest_diameter_mm", "Longest axial diameter (RECIST)")
    add("craniocaudal_length_mm", "Length along the IVC")
    add("segments", "IVC segments involved", "none" if not tumor.get("segments") else
        ", ".join(tumor["segments"]) if isinstance(tumor.get("segments"), list) else None)
    for key in ("distance_upper_pole_to_cavoatrial_junction_mm", "distance_upper_pole_to_caval_hiatus_mm",
                "distance_upper_pole_to_hepatic_veins_mm", "distance_upper_pole_to_liver_caudal_edge_mm"):
        add(key, "Upper pole")
    hepatic = _hepatic_distances(tumor)
    if hepatic:
        add(words.HEPATIC_VEIN_DISTANCE, "Upper pole, each hepatic vein", hepatic)
    for key in ("distance_lower_pole_to_renal_veins_mm", "distance_lower_pole_to_iliac_confluence_mm"):
        add(key, "Lower pole")
    add("retrohepatic_length_mm", "Tumor along the retrohepatic IVC")
    add("max_stenosis_pct", "Largest stenosis of the lumen", _stenosis(tumor))
    add("residual_lumen_min_area_mm2", "Smallest residual lumen")
    add("occluded_length_mm", "Longest stretch without lumen")
    add("complete_occlusion", "IVC completely occluded (10 mm or more without lumen)")
    add("max_circumferential_involvement_deg", "Circumferential wall involvement")
    unknown = "unknown: no hepatic vein segmented" if tumor.get("hepatic_veins_invaded", []) is None else None
    add("hepatic_veins_invaded", "Hepatic vein ostia invaded", unknown)
    add("hepatic_veins_abutting", "Hepatic vein ostia abutting the tumor",
        unknown if tumor.get("hepatic_veins_abutting", []) is None else None)
    add("renal_veins_involved", "Renal veins involved")
    add("intracardiac", "Tumor enters the right atrium")
    if tumor.get("intracardiac"):
        add("intracardiac_length_mm", "Length inside the right atrium")
    add("growth_pattern", "Growth pattern")
    add("extraluminal_volume_ml", "Tumor outside the native IVC outline")
    add("adjacent_organs", "Structures in contact (contact, not invasion)")
    if tumor.get("collateral_return") is not None or isinstance(tumor.get("collaterals"), Mapping):
        collat = tumor.get("collaterals") if isinstance(tumor.get("collaterals"), Mapping) else {}
        verdict = {True: "yes", False: "no"}.get(tumor.get("collateral_return"), "not assessed")
        reason = collat.get("reason")
        add("collateral_return", "Collateral venous return", verdict + (f" ({reason})" if reason else ""))
    return rows


def ivc_rows(report: Mapping[str, Any]) -> list[Row]:
    ivc = _section(report, "ivc")
    rows = [Row("IVC detected", fmt(ivc.get("detected")) + (
        f" (confidence {words.value_text('confidence', ivc['confidence'])})" if ivc.get("confidence") is not None
        else ""))]
    if ivc.get("centerline_length_mm") is not None:
        rows.append(Row("Centerline length in view", fmt(ivc["centerline_length_mm"], "mm")))
    rows.append(Row("IVC segments in view", ", ".join(report.get("segments_in_view") or []) or "none"))
    for level, caption in words.DIAMETER_LEVEL.items():
        size = (ivc.get("diameters_mm") or {}).get(level)
        if not isinstance(size, Mapping):
            continue
        if size.get("transverse") is None:
            text = f"not measured: {size.get('reason') or 'no normal section'}"
        else:
            text = (f"{fmt(size['transverse'])} mm transverse x {fmt(size.get('ap'))} mm antero-posterior "
                    f"({size.get('sections') or 0} normal sections)")
        rows.append(Row(f"Native IVC size {caption}", text))
    return rows


def _range(values: Any, unit: str, ratio: bool = False) -> str:
    if not values or len(values) != 2 or any(v is None for v in values):
        return ""
    if ratio:
        return f" (range {words.value_text('flr_ratio_range', list(values))})"
    return f" (range {fmt(values[0])}-{fmt(values[1], unit)})"


def liver_rows(report: Mapping[str, Any]) -> list[Row]:
    liver = _section(report, "liver")
    if not liver:
        return []
    edits = _edits(liver)
    rows = [Row("Liver volume", fmt(liver.get("volume_ml"), "ml") + _range(liver.get("volume_ml_range"), "ml"),
                edits.get("volume_ml"))]
    if liver.get("flr_ml") is not None:
        method = words.FLR_METHOD.get(str(liver.get("flr_method")), fmt(liver.get("flr_method")))
        rows.append(Row("Left liver (remnant of a right hepatectomy)",
                        f"{fmt(liver['flr_ml'], 'ml')}{_range(liver.get('flr_ml_range'), 'ml')} = "
                        f"{words.value_text('flr_ratio', liver.get('flr_ratio'))} of the liver"
                        f"{_range(liver.get('flr_ratio_range'), '', ratio=True)}; measured as the {method}",
                        edits.get("flr_ml")))
    elif liver.get("flr_reason"):
        rows.append(Row("Left liver (remnant of a right hepatectomy)", f"not measured: {liver['flr_reason']}"))
    if liver.get("caudate_ml") is not None:
        rows.append(Row("Caudate lobe", fmt(liver["caudate_ml"], "ml") + _range(liver.get("caudate_ml_range"), "ml")
                        + " (geometric estimate)", edits.get("caudate_ml")))
    elif liver.get("caudate_reason"):
        rows.append(Row("Caudate lobe", f"not measured: {liver['caudate_reason']}"))
    return rows


def clinical_rows(report: Mapping[str, Any]) -> list[Row]:
    clinical = _section(report, "clinical")
    edits = _edits(clinical)
    rows = []
    for key, label in (("prior_chemotherapy", "Chemotherapy before surgery"),
                       ("liver_fibrosis", "Liver fibrosis or cirrhosis"), ("weight_kg", "Body weight")):
        value = clinical.get(key)
        text = "not given" if value is None else words.value_text(key, value)
        rows.append(Row(label, text, edits.get(key)))
    return rows


def confidence_rows(report: Mapping[str, Any]) -> list[Row]:
    """How sure the analysis is of the IVC, the tumor and the liver volumes (landmarks: `landmark_rows`)."""
    ivc, tumor, liver = _section(report, "ivc"), _section(report, "tumor"), _section(report, "liver")
    rows = [Row("IVC found", words.value_text("confidence", ivc["confidence"]) if ivc.get("confidence") is not None
                else UNKNOWN),
            Row("Tumor found", words.value_text("confidence", tumor["confidence"])
                if tumor.get("confidence") is not None else UNKNOWN)]
    if liver.get("volume_ml_range"):
        rows.append(Row("Liver volume", f"{fmt(liver.get('volume_ml'), 'ml')}{_range(liver['volume_ml_range'], 'ml')}:"
                        " half a voxel over the surface"))
    if liver.get("flr_ratio_range"):
        rows.append(Row("Left liver share", f"{words.value_text('flr_ratio', liver.get('flr_ratio'))}"
                        f"{_range(liver['flr_ratio_range'], '', ratio=True)}: the dividing plane shifted 5 mm"))
    remnant = _section(report, "plan").get("remnant")
    if isinstance(remnant, Mapping) and remnant.get("remnant_ratio_range"):
        rows.append(Row("Remnant after the suggested resection",
                        f"{words.value_text('remnant_ratio', remnant.get('remnant_ratio'))}"
                        f"{_range(remnant['remnant_ratio_range'], '', ratio=True)}"))
    return rows


def landmark_rows(report: Mapping[str, Any]) -> list[Landmark]:
    """Each landmark: where it lies along the IVC, its confidence, how it was found, and who placed it."""
    out = []
    for name, lm in _section(report, "landmarks").items():
        if not isinstance(lm, Mapping):
            continue
        pos = lm.get("position_mm")
        s_mm = lm.get("s_mm")
        where = ("not found (outside the field of view or not detected)" if pos is None else
                 f"{fmt(s_mm, 'mm')} above the IVC's lowest point in view" if s_mm is not None else "found")
        position = "" if pos is None else "(" + ", ".join(f"{float(v):.0f}" for v in pos) + ")"
        edit = _edit(lm.get("edited")) if lm.get("source") == "edited" else None
        if lm.get("source") == "edited" and edit is None:
            edit = Edit("a person", "", None)
        out.append(Landmark(_cap(words.landmark_name(str(name))), where, position,
                            words.value_text("confidence", lm.get("confidence")) if lm.get("confidence") is not None
                            else UNKNOWN, str(lm.get("detail") or ""), edit, key=str(name)))
    return out


def statistics_rows(report: Mapping[str, Any]) -> list[Structure]:
    """Per structure: volume, mean and SD of the HU, size of its box (left-right x front-back x head-foot)."""
    out = []
    for key, stats in _section(report, "statistics").items():
        if not isinstance(stats, Mapping):
            continue
        try:
            color = Label(int(stats.get("label"))).color
        except (TypeError, ValueError):
            color = (128, 128, 128)
        hu = (f"{fmt(stats.get('hu_mean'))} ± {fmt(stats.get('hu_sd'))}" if stats.get("hu_mean") is not None
              else NOT_MEASURED)
        size = stats.get("size_mm")
        size_text = (" x ".join(words.mm_text(v) for v in size) + " mm" if isinstance(size, list | tuple) and size
                     else NOT_MEASURED)
        out.append(Structure(_cap(words.label_name(str(key))), color, fmt(stats.get("volume_ml"), "ml"), hu,
                             size_text))
    return out


def _field_path(path: str) -> str:
    """``landmarks.renal_veins.position_mm`` -> "renal veins (...) position"; ``tumor.hepatic_veins_invaded`` ->
    "Tumor: hepatic vein ostia invaded"."""
    parts = str(path).split(".")
    if parts[0] == "landmarks" and len(parts) >= 2:
        return _cap(words.landmark_name(parts[1])) + (" position" if parts[-1] == "position_mm" else "")
    if parts[0] == "segmentation":
        return "Segmentation (labels painted or imported)"
    if len(parts) >= 2:
        return f"{_cap(words.humanize(parts[0]))}: {words.field_name(parts[-1])}"
    return _cap(words.field_name(parts[0]))


def _correction_value(path: str, value: Any) -> str:
    key = str(path).split(".")[-1]
    if value is None:
        return "none"
    if key == "position_mm" and isinstance(value, list | tuple):
        return "(" + ", ".join(f"{float(v):.0f}" for v in value) + ") mm"
    return words.value_text(key, value)


def corrections(report: Mapping[str, Any]) -> list[Correction]:
    """The human changes behind this report (issue 20's ``corrections`` list), oldest first."""
    out = []
    for entry in report.get("corrections") or []:
        if not isinstance(entry, Mapping):
            continue
        what = str(entry.get("what") or "")
        out.append(Correction(_field_path(what), _correction_value(what, entry.get("old")),
                              _correction_value(what, entry.get("new")), str(entry.get("by") or UNKNOWN),
                              when_text(entry.get("when")), str(entry.get("why") or "")))
    return out


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
    return [(k, images[k], IMAGE_CAPTIONS.get(k, words.humanize(k))) for k in keys]


def legend(report: Mapping[str, Any]) -> list[tuple[str, tuple[int, int, int]]]:
    """Colour key of the structures present (the images' overlays and 3D surfaces), body outline left out."""
    keys = [k for k in _section(report, "statistics") if k != "body"]
    if not keys:
        keys = [lab.key for lab in Label if lab not in (Label.BACKGROUND, Label.BODY)]
    out = []
    for key in keys:
        try:
            out.append((_cap(words.label_name(key)), Label[key.upper()].color))
        except KeyError:
            continue
    return out


def document(report: Mapping[str, Any], images: Mapping[str, Any] | None = None) -> Document:
    """The report in words, ready for the template (and, row by row, for the viewer)."""
    landmarks = landmark_rows(report)
    tumor, liver, clinical = tumor_rows(report), liver_rows(report), clinical_rows(report)
    fixes = corrections(report)
    edited = bool(fixes) or any(r.edited for r in (*tumor, *liver, *clinical)) or any(lm.edited for lm in landmarks)
    return Document(
        title=TITLE, header=header_line(report), study=study_line(report), identity=identity_rows(report),
        disclaimer=disclaimer(report),
        plan=plan_rows(report), flags=flags(report), fired=fired_rules(report), not_fired=not_fired_rows(report),
        tumor=tumor, ivc=ivc_rows(report), liver=liver, clinical=clinical, confidence=confidence_rows(report),
        landmarks=landmarks, statistics=statistics_rows(report), corrections=fixes, warnings=warnings(report),
        references=references(report), legend=legend(report), footer=footer_line(report), edited=edited,
        images=ordered_images(images or {}))
