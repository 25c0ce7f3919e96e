"""The report contract: build report.json's sections, validate them against ``schema.json``,
flatten them into one CSV row.

Field names: docs/report.md (the contract's are fixed; more may be added).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from ivcplan.errors import AnalysisError, InputError
from ivcplan.report.csvsafe import safe_cell

SCHEMA_VERSION = "ivcplan.report/1"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of report.json (shipped as ``ivcplan/report/schema.json``)."""
    return json.loads(resources.files("ivcplan.report").joinpath("schema.json").read_text(encoding="utf-8"))


def validate(report: Mapping[str, Any]) -> None:
    """Raise `AnalysisError` naming the first offending field when ``report`` breaks the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise AnalysisError(f"report.json does not satisfy {SCHEMA_VERSION} at {where}: {err.message}"
                            + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""))


def input_section(grid_shape: Sequence[int], spacing: Sequence[float], meta: Mapping[str, Any],
                  warnings: Sequence[str], phase: str) -> dict[str, Any]:
    uid = meta.get("series_instance_uid") or None
    return {
        "series_instance_uid": None if uid is None else str(uid),
        "size": [int(v) for v in grid_shape],
        "spacing_mm": [round(float(v), 4) for v in spacing],
        "warnings": [str(w) for w in warnings],
        "contrast_phase": phase,
        "source_path": str(meta.get("source_path", "")) or None,
        "modality": meta.get("modality") or None,
        "series_description": meta.get("series_description") or None,
        "chosen_reason": str(meta.get("chosen_reason") or "") or None,
        "other_series": [dict(s) for s in meta.get("other_series") or []],
    }


def assemble(*, input: Mapping[str, Any], ivc: Mapping[str, Any], landmarks: Mapping[str, Any],
             segments_in_view: Sequence[str], tumor: Mapping[str, Any], liver: Mapping[str, Any],
             plan: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The report dict in contract order (``plan`` may be added later)."""
    report: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "input": dict(input),
        "ivc": dict(ivc),
        "landmarks": {name: dict(value) for name, value in landmarks.items()},
        "segments_in_view": list(segments_in_view),
        "tumor": dict(tumor),
        "liver": dict(liver),
    }
    if plan is not None:
        report["plan"] = dict(plan)
    report.update(extra or {})
    return report


#: Optional clinical facts (not visible on CT) the planner reads; each is true / false / null (unknown),
#: and the body weight in kg (a number or null).
CLINICAL_KEYS = ("prior_chemotherapy", "liver_fibrosis", "weight_kg")
#: A body weight outside this range (kg) is a typing error, not a patient.
WEIGHT_RANGE_KG = (20.0, 400.0)


def clinical_section(clinical: Mapping[str, Any] | None) -> dict[str, bool | float | None]:
    """The report's ``clinical`` section; raises `InputError` naming an unknown key or a bad value."""
    clinical = dict(clinical or {})
    unknown = sorted(set(clinical) - set(CLINICAL_KEYS))
    if unknown:
        raise InputError(f"unknown clinical fact(s) {unknown}; known: {', '.join(CLINICAL_KEYS)}", "clinical")
    out: dict[str, bool | float | None] = {}
    for key in CLINICAL_KEYS:
        value = clinical.get(key)
        if key == "weight_kg":
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int | float) or \
                        not WEIGHT_RANGE_KG[0] <= float(value) <= WEIGHT_RANGE_KG[1]:
                    raise InputError(f"clinical.weight_kg must be a body weight in kg between {WEIGHT_RANGE_KG[0]:g} "
                                     f"and {WEIGHT_RANGE_KG[1]:g}, got {value!r}", "clinical")
                value = float(value)
        elif value is not None and not isinstance(value, bool):
            raise InputError(f"clinical.{key} must be true, false or null, got {value!r}", "clinical")
        out[key] = value
    return out


def facts(report: Mapping[str, Any]) -> dict[str, Any]:
    """The sections the planner reads (``ivcplan.plan.suggest``), ``clinical`` included when present."""
    return {k: report[k] for k in ("ivc", "landmarks", "tumor", "liver", "input", "clinical") if k in report}


_POINT_KEYS = ("position_mm", "pole_mm", "lps_mm", "size_mm")


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, out)
    elif isinstance(value, list | tuple):
        if value and len(value) <= 3 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            names = "xyz" if prefix.endswith(_POINT_KEYS) else "012"
            for axis, v in zip(names, value, strict=False):
                out[f"{prefix}.{axis}"] = _cell(v)
        else:
            out[prefix] = safe_cell(";".join(_cell(v) if not isinstance(v, Mapping) else _label_of(v) for v in value))
    else:
        out[prefix] = _cell(value)


def _label_of(entry: Mapping[str, Any]) -> str:
    """A list entry's name in a CSV cell: rules by id, references by key, options by method."""
    for key in ("id", "key", "method"):
        if key in entry:
            return str(entry[key])
    return str(entry)


def _cell(value: Any) -> str:
    """The CSV text of a value; text a spreadsheet would run as a formula is escaped (`safe_cell`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return safe_cell(str(value))


#: Sections in the CSV row (long free text such as rule texts stays in report.json).
CSV_SECTIONS = ("input", "ivc", "landmarks", "segments_in_view", "tumor", "liver", "statistics", "clinical", "plan",
                "provenance")
_CSV_SKIP = ("input.warnings", "input.other_series", "plan.disclaimer", "plan.rules_not_fired", ".detail", ".reason",
             "_method", "plan.graft_sizing.source_text")
#: Sub-objects left out of the CSV wherever they sit: who edited a value and why (the ``edited``
#: maps) is in report.json and corrections.json; the row says which landmarks were edited (``.source``).
_CSV_SKIP_PARTS = ("edited",)


#: The CSV's first columns: which case and what made the row, before the report's fields.
CSV_ID_COLUMNS = ("case_id", "ivcplan_version", "rules_sha256")


def case_id(report: Mapping[str, Any]) -> str:
    """The case a row belongs to: the CT's series instance UID (kept by --anonymize, the key DICOM tools
    share), else the input file's name without its extension(s) (a NIfTI, NRRD or MHA), else ""."""
    data = report.get("input") or {}
    if data.get("series_instance_uid"):
        return str(data["series_instance_uid"])
    source = str(data.get("source_path") or "")
    name = source.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    for ext in (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def csv_row(report: Mapping[str, Any]) -> dict[str, str]:
    """One flat row per case: `CSV_ID_COLUMNS` first, then ``section.field[.x|y|z]`` -> text; lists joined
    by ``;``, null as empty. Tidy: one row per case, one column per field, so the rows of many cases
    (batch) stack into one table."""
    prov = report.get("provenance") or {}
    out: dict[str, str] = {"case_id": safe_cell(case_id(report)), "ivcplan_version": _cell(prov.get("ivcplan_version")),
                           "rules_sha256": _cell(prov.get("rules_sha256"))}
    for section in CSV_SECTIONS:
        if section in report:
            _flatten(section, report[section], out)
    return {k: v for k, v in out.items()
            if k in CSV_ID_COLUMNS or (not any(k.startswith(s) or k.endswith(s) for s in _CSV_SKIP)
                                       and not set(k.split(".")) & set(_CSV_SKIP_PARTS))}
