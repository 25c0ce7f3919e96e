"""The report document as one self-contained HTML page: every image embedded (base64), no external resource.

One template (``templates/report.html`` with ``templates/report.css``, Jinja2 with HTML escaping) makes the
page a browser shows and prints and the page `ivcplan.report.pdf` turns into the PDF: the print stylesheet
puts the patient and study identity and the report date at the top of every page and "Page n of N" at the
bottom. What the page says comes from `ivcplan.report.summary` (the report in words); each figure is printed
at the size it was drawn for (its PNG's resolution), so the figures' type is as large on paper as it was set.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ivcplan.errors import InputError
from ivcplan.render._vtk import print_info
from ivcplan.report import summary

log = logging.getLogger(__name__)

#: Width of the printed text column (A4 less 15 mm margins each side), mm: no figure is printed wider.
TEXT_WIDTH_MM = 180.0
#: Printed width of a figure whose PNG records no resolution (half the text column).
DEFAULT_FIGURE_MM = 86.0
MM_PER_INCH = 25.4


@dataclass(frozen=True)
class Figure:
    key: str
    caption: str
    src: str  # data: URI
    width_mm: float


def _css_string(text: Any) -> Any:
    """``text`` as a quoted CSS string safe inside a <style> element (every unusual character hex-escaped)."""
    from markupsafe import Markup

    out = []
    for ch in str(text):
        if (ch.isalnum() and ord(ch) < 128) or ch in " .,:;_-()/·…":
            out.append(ch)
        else:
            out.append(f"\\{ord(ch):06x}")
    return Markup('"' + "".join(out) + '"')


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("ivcplan.report", "templates"),
                             autoescape=jinja2.select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["css_string"] = _css_string
    return env


def _stylesheet() -> str:
    return resources.files("ivcplan.report").joinpath("templates/report.css").read_text(encoding="utf-8")


def figures(images: Mapping[str, str | Path]) -> list[Figure]:
    """The images in report order, embedded, each with the width it is printed at."""
    out = []
    for key, path, caption in summary.ordered_images(images):
        path = Path(path)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        dpi, _ = print_info(path)
        width = DEFAULT_FIGURE_MM
        if dpi:
            from PIL import Image

            with Image.open(path) as img:
                width = img.size[0] / dpi * MM_PER_INCH
        out.append(Figure(key, caption, f"data:image/png;base64,{data}", round(min(width, TEXT_WIDTH_MM), 1)))
    return out


def check_images(images: Mapping[str, str | Path] | None) -> dict[str, Path]:
    """The images as paths; InputError naming the first that is not a file."""
    out = {}
    for key, path in dict(images or {}).items():
        if not Path(path).is_file():
            raise InputError(f"image {key!r} does not exist", path)
        out[key] = Path(path)
    return out


def render_html(report: Mapping[str, Any], images: Mapping[str, str | Path] | None = None) -> str:
    """The report as one HTML document (string)."""
    images = check_images(images)
    doc = summary.document(report, images)
    template = _environment().get_template("report.html")
    return template.render(doc=doc, ident=summary.identity(report), css=_stylesheet(), figures=figures(images))


def write_html(report: Mapping[str, Any], images: Mapping[str, str | Path] | None, path: str | Path) -> Path:
    """Write the self-contained HTML report to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, images), encoding="utf-8")
    return path
