"""report.json (the contract, validated) and report.csv (the same fields as one flat row)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ivcplan.analysis import Analysis
from ivcplan.report.contract import csv_row, validate


def write_json(analysis: Analysis, outdir: Path) -> Path:
    validate(analysis.report)
    path = Path(outdir) / "report.json"
    path.write_text(json.dumps(analysis.report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def write_csv(analysis: Analysis, outdir: Path) -> Path:
    row = csv_row(analysis.report)
    path = Path(outdir) / "report.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    return path
