"""CSV cells that a spreadsheet cannot run: every CSV ivcplan writes passes its cells through `safe_cell`.

Spreadsheets (Excel, LibreOffice, Google Sheets) evaluate a cell whose text starts with ``=``, ``+``,
``-`` or ``@`` as a formula, and a leading tab or carriage return can hide such a start. Header text
(SeriesDescription, file names, error messages quoting them) reaches the report and the batch summary,
so ``=HYPERLINK(...)`` in a DICOM header would become a live formula. Such a cell gets a leading single
quote (OWASP's advice): shown as text, the formula never runs.

Numbers stay numbers: a cell that is a plain decimal number (``-12.5``, ``+3``, ``1e-3``) is what a
spreadsheet reads as a number, not a formula, so it is left as written. The test is on the text
itself, so a number written by ivcplan and a number-looking header value are treated alike, and
anything else starting with one of those characters (``-1+2``, ``-inf``, ``=1``) is escaped.
"""

from __future__ import annotations

import re

#: First characters that make a spreadsheet read a cell as a formula (or hide one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(text: str) -> str:
    """``text`` as it may stand in a CSV cell: a leading ``'`` when a spreadsheet would run it as a formula."""
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text
