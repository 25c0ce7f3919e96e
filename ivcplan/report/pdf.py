"""PDF report drawn with matplotlib (PdfPages): a summary page, a measurement page, image pages."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ivcplan.errors import InputError
from ivcplan.report import summary

log = logging.getLogger(__name__)

_A4 = (8.27, 11.69)
_WRAP = 95


class _Page:
    """A portrait page written top to bottom in figure coordinates."""

    def __init__(self, pdf) -> None:
        from ivcplan.render.figure import new_figure

        self.pdf = pdf
        self.fig = new_figure(*_A4)
        self.y = 0.95

    def text(self, text: str, *, size: float = 9.0, weight: str = "normal", color: str = "black",
             indent: float = 0.0, wrap: int = _WRAP) -> None:
        lines = []
        for para in str(text).splitlines() or [""]:
            lines += textwrap.wrap(para, wrap) or [""]
        for line in lines:
            if self.y < 0.05:
                self.new()
            self.fig.text(0.07 + indent, self.y, line, fontsize=size, weight=weight, color=color, va="top")
            self.y -= size * 1.45 / 72.0 / _A4[1]

    def gap(self, amount: float = 0.012) -> None:
        self.y -= amount

    def rows(self, rows, widths=(0.0, 0.45)) -> None:
        for row in rows:
            if self.y < 0.05:
                self.new()
            for x, cell in zip(widths, row, strict=False):
                self.fig.text(0.07 + x, self.y, str(cell), fontsize=8.5, va="top")
            self.y -= 8.5 * 1.5 / 72.0 / _A4[1]

    def new(self) -> None:
        self.pdf.savefig(self.fig)
        from ivcplan.render.figure import new_figure

        self.fig = new_figure(*_A4)
        self.y = 0.95

    def close(self) -> None:
        self.pdf.savefig(self.fig)


def write_pdf(report: Mapping[str, Any], images: Mapping[str, str | Path] | None, path: str | Path) -> Path:
    """Write the PDF report (text pages, then the images two per page) to ``path``."""
    from matplotlib import image as mpimg
    from matplotlib.backends.backend_pdf import PdfPages

    images = dict(images or {})
    for key, p in images.items():
        if not Path(p).is_file():
            raise InputError(f"image {key!r} does not exist", p)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with PdfPages(path, metadata={"Title": "IVC tumor planning report", "Creator": "ivcplan"}) as pdf:
        page = _Page(pdf)
        page.text("IVC tumor planning report", size=18, weight="bold")
        page.gap()
        page.text("Disclaimer: " + summary.disclaimer(report), size=9, color="#8a5a00")
        page.gap()
        page.text("Input", size=12, weight="bold")
        page.rows(summary.input_rows(report))
        page.gap()
        page.text("Plan (suggestion)", size=12, weight="bold")
        page.rows(summary.plan_rows(report) or [("No plan was computed.", "")])
        page.gap(0.006)
        page.text("Fired rules", size=10, weight="bold")
        rules = summary.fired_rules(report)
        for rule in rules:
            page.text(f"{rule['id']}: {rule['text']}", size=9, indent=0.01)
            page.text(f"Source: {rule['source']}", size=8, color="#555555", indent=0.04)
        if not rules:
            page.text("No rule fired.", size=9)
        for flag in summary.flags(report):
            page.text(f"Flag: {flag}", size=9, color="#aa3333")
        page.gap()
        page.text("Warnings", size=12, weight="bold")
        for warning in summary.warnings(report) or ["None."]:
            page.text(warning, size=9, color="#8a5a00")
        page.gap()
        page.text("Measurements", size=12, weight="bold")
        page.rows(summary.measurement_rows(report), widths=(0.0, 0.55))
        page.gap()
        page.text("Landmarks", size=12, weight="bold")
        page.rows(summary.landmark_rows(report), widths=(0.0, 0.2, 0.6, 0.75))
        page.close()
        ordered = summary.ordered_images(images)
        for i in range(0, len(ordered), 2):
            fig = _image_page(ordered[i:i + 2], mpimg)
            pdf.savefig(fig)
    return path


def _image_page(items, mpimg):
    from ivcplan.render.figure import new_figure

    fig = new_figure(*_A4)
    for j, (_, p, caption) in enumerate(items):
        ax = fig.add_axes((0.07, 0.52 - 0.47 * j + 0.03, 0.86, 0.4))
        ax.imshow(mpimg.imread(str(p)))
        ax.set_axis_off()
        fig.text(0.5, 0.52 - 0.47 * j + 0.015, caption, ha="center", fontsize=9)
    return fig
