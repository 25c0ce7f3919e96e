"""One summary row per case: the key report fields, the status and the timings (CSV and JSON)."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ivcplan.report.csvsafe import safe_cell

#: Report fields copied into the summary: column -> dotted path in report.json.
REPORT_COLUMNS: dict[str, str] = {
    "contrast_phase": "input.contrast_phase",
    "size_zyx": "input.size",
    "spacing_mm": "input.spacing_mm",
    "ivc_detected": "ivc.detected",
    "ivc_centerline_length_mm": "ivc.centerline_length_mm",
    "segments_in_view": "segments_in_view",
    "tumor_present": "tumor.present",
    "tumor_volume_ml": "tumor.volume_ml",
    "tumor_max_diameter_mm": "tumor.max_diameter_mm",
    "tumor_axial_longest_diameter_mm": "tumor.axial_longest_diameter_mm",
    "tumor_craniocaudal_length_mm": "tumor.craniocaudal_length_mm",
    "tumor_segments": "tumor.segments",
    "upper_pole_to_hepatic_veins_mm": "tumor.distance_upper_pole_to_hepatic_veins_mm",
    "upper_pole_to_cavoatrial_junction_mm": "tumor.distance_upper_pole_to_cavoatrial_junction_mm",
    "lower_pole_to_renal_veins_mm": "tumor.distance_lower_pole_to_renal_veins_mm",
    "max_lumen_occlusion_pct": "tumor.max_lumen_occlusion_pct",
    "hepatic_veins_invaded": "tumor.hepatic_veins_invaded",
    "renal_veins_involved": "tumor.renal_veins_involved",
    "intracardiac": "tumor.intracardiac",
    "liver_volume_ml": "liver.volume_ml",
    "flr_ratio": "liver.flr_ratio",
    "plan_approach": "plan.approach",
    "plan_vascular_control": "plan.vascular_control",
    "plan_ivc_reconstruction": "plan.ivc_reconstruction",
    "plan_graft_diameter_mm": "plan.graft_diameter_mm",
    "plan_flags": "plan.flags",
}
#: Columns of summary.csv, in order (timings follow as ``time_<stage>_s``).
LEAD_COLUMNS = ("case", "status", "error_type", "error", "kind", "source", "series_uid", "modality",
                "series_description")
TAIL_COLUMNS = ("plan_rules", "warnings", "attempts", "resumed", "output_dir", "worker")
TIMING_STAGES = ("load", "segment", "centerline", "landmarks", "measure", "plan", "write", "total")
SUMMARY_FORMAT = "ivcplan.batch-summary/1"


def _get(report: Mapping[str, Any], dotted: str) -> Any:
    value: Any = report
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def key_fields(report: Mapping[str, Any]) -> dict[str, Any]:
    """The summary's measurement columns from a report dict (None where absent)."""
    out = {column: _get(report, path) for column, path in REPORT_COLUMNS.items()}
    rules = _get(report, "plan.rules") or []
    out["plan_rules"] = [r.get("id") for r in rules if isinstance(r, Mapping)]
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _cell(value: Any) -> str:
    """The CSV text of a value; text a spreadsheet would run as a formula is escaped (`safe_cell`)."""
    return safe_cell(_text(value))


def csv_columns() -> list[str]:
    return [*LEAD_COLUMNS, *REPORT_COLUMNS, *(f"time_{s}_s" for s in TIMING_STAGES), *TAIL_COLUMNS]


def csv_row(result: Mapping[str, Any]) -> dict[str, str]:
    """Flat text row of one case result (see `ivcplan.batch.worker.run_case`)."""
    measures = result.get("measurements") or {}
    timings = result.get("timings_s") or {}
    row: dict[str, Any] = {c: result.get(c) for c in LEAD_COLUMNS}
    row.update({c: measures.get(c) for c in REPORT_COLUMNS})
    row.update({f"time_{s}_s": timings.get(s) for s in TIMING_STAGES})
    row["plan_rules"] = measures.get("plan_rules")
    row.update({c: result.get(c) for c in TAIL_COLUMNS if c != "plan_rules"})
    return {k: _cell(v) for k, v in row.items()}


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_summary(outdir: Path, results: Sequence[Mapping[str, Any]], info: Mapping[str, Any]) -> tuple[Path, Path]:
    """summary.csv and summary.json in ``outdir``, each replaced atomically (never half-written)."""
    ordered = sorted(results, key=lambda r: str(r.get("case")))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=csv_columns(), lineterminator="\n")
    writer.writeheader()
    for r in ordered:
        writer.writerow(csv_row(r))
    csv_path, json_path = outdir / "summary.csv", outdir / "summary.json"
    _atomic_write(csv_path, buf.getvalue())
    doc = {"format": SUMMARY_FORMAT, **info, "cases": list(ordered)}
    _atomic_write(json_path, json.dumps(doc, indent=2, default=str) + "\n")
    return csv_path, json_path
