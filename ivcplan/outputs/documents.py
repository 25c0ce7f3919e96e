"""The readable report: a self-contained HTML page and a PDF, both with the analysis' images."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ivcplan.analysis import Analysis
from ivcplan.report.html import write_html
from ivcplan.report.pdf import write_pdf


def write_html_report(analysis: Analysis, outdir: Path, images: Mapping[str, Path]) -> Path:
    return write_html(analysis.report, images, Path(outdir) / "report.html")


def write_pdf_report(analysis: Analysis, outdir: Path, images: Mapping[str, Path]) -> Path:
    return write_pdf(analysis.report, images, Path(outdir) / "report.pdf")
