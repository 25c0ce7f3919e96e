"""The PDF report: the HTML document of `ivcplan.report.html` laid out for print by WeasyPrint.

The same template and stylesheet as the HTML page, so the two never differ: A4 pages with the patient
and study identity and the report date in the header of every page, "Page n of N" and the ivcplan version
and rules hash in the footer, tables with headers repeated across pages, figures at the size they were
drawn for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ivcplan.report.html import check_images, render_html
from ivcplan.report.summary import TITLE

log = logging.getLogger(__name__)

#: WeasyPrint's own loggers: its notes on CSS it ignores go to the library log, never to a console.
_WEASYPRINT_LOGGERS = ("weasyprint", "weasyprint.progress", "fontTools")


def write_pdf(report: Mapping[str, Any], images: Mapping[str, str | Path] | None, path: str | Path) -> Path:
    """Write the PDF report to ``path``."""
    import weasyprint

    images = check_images(images)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for name in _WEASYPRINT_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.getLogger(name).level, logging.ERROR))
    document = weasyprint.HTML(string=render_html(report, images), media_type="print")
    document.write_pdf(path)
    log.info("wrote the PDF report (%s) to %s", TITLE, path)
    return path
