"""Safe parsing of DICOM header values: every numeric or multi-valued attribute the loader reads goes
through `TagReader`, which turns an unparsable, non-finite, mis-counted or out-of-range value into a
`HeaderProblem` naming the file, the attribute and the value, instead of an exception deep in the loader.

A problem is *fatal* when the image cannot be placed, decoded or scaled without that value (the series
is then refused with the problem as its reason), and a *note* otherwise (the value is ignored, and said so).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Largest Rows/Columns accepted. CT is reconstructed at 512 or 1024, specimen and high-resolution CT at up
#: to 2048-4096; beyond this a declared size is a damaged or hostile header, and decoding it would
#: allocate gigabytes before any check could run (compressed data carry no length to compare with).
MAX_IMAGE_DIMENSION = 8192
#: Largest NumberOfFrames accepted in one file (enhanced CT of a whole body: a few thousand frames).
MAX_FRAMES = 65536
#: BitsAllocated values of a grey-level image.
BITS_ALLOCATED = (1, 8, 16, 32, 64)
#: ImageOrientationPatient: each direction must have unit length within this, and the two be orthogonal
#: within this cosine (0.01 = 0.6 deg). Scanners write cosines to 4-6 decimals, far inside both.
ORIENTATION_NORM_TOLERANCE = 0.01
ORIENTATION_ORTHOGONAL_TOLERANCE = 0.01
#: Longest value quoted in a message (hostile headers may hold kilobytes).
MAX_QUOTED = 40


@dataclass(frozen=True)
class HeaderProblem:
    """One bad header value of one file."""

    path: str
    tag: str
    value: str
    reason: str
    fatal: bool = True

    @property
    def message(self) -> str:
        return f"{self.tag} '{self.value}' {self.reason}" if self.value else f"{self.tag} {self.reason}"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def quote(raw: Any) -> str:
    """A header value as short text for a message (multi-values joined by a backslash, as DICOM stores them)."""
    if raw is None:
        return ""
    if isinstance(raw, bytes):
        text = raw.decode("latin-1", "replace")
    elif isinstance(raw, list | tuple) or type(raw).__name__ == "MultiValue":
        text = "\\".join(quote(v) for v in raw)
    else:
        text = str(raw)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= MAX_QUOTED else text[:MAX_QUOTED] + "..."


def _items(raw: Any) -> list[Any]:
    if raw is None:
        return []
    if isinstance(raw, str):
        text = raw.strip(" \x00")
        return [v.strip() for v in text.split("\\")] if text else []
    if isinstance(raw, list | tuple) or type(raw).__name__ == "MultiValue":
        return list(raw)
    return [raw]


def _to_float(value: Any) -> float | None:
    """A finite float from a DICOM DS/IS/US value or its text; None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        out = float(str(value).strip()) if isinstance(value, str | bytes) else float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return out if math.isfinite(out) else None


class TagReader:
    """Parses one file's values, collecting a `HeaderProblem` for each bad one (``problems``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[HeaderProblem] = []

    def problem(self, tag: str, raw: Any, reason: str, fatal: bool = True) -> None:
        self.problems.append(HeaderProblem(self.path, tag, quote(raw), reason, fatal))

    def number(self, tag: str, raw: Any, *, kind: type = float, default: Any = None, minimum: float | None = None,
               maximum: float | None = None, exclusive_minimum: bool = False, fatal: bool = True) -> Any:
        """One number (``kind`` float or int) or ``default`` when absent or empty; a bad value is recorded
        and gives ``default``."""
        items = _items(raw)
        if not items:
            return default
        if len(items) != 1:
            self.problem(tag, raw, f"has {len(items)} values, 1 expected", fatal)
            return default
        value = _to_float(items[0])
        if value is None:
            self.problem(tag, raw, "is not a finite number", fatal)
            return default
        if kind is int:
            if not value.is_integer():
                self.problem(tag, raw, "is not an integer", fatal)
                return default
            value = int(value)
        return value if self._in_range(tag, raw, value, minimum, maximum, exclusive_minimum, fatal) else default

    def vector(self, tag: str, raw: Any, n: int, *, positive: bool = False, fatal: bool = True
               ) -> tuple[float, ...] | None:
        """``n`` finite numbers, or None when absent, empty or bad (bad values are recorded)."""
        items = _items(raw)
        if not items:
            return None
        if len(items) != n:
            self.problem(tag, raw, f"has {len(items)} values, {n} expected", fatal)
            return None
        values = [_to_float(v) for v in items]
        if any(v is None for v in values):
            self.problem(tag, raw, "holds a value that is not a finite number", fatal)
            return None
        if positive and any(v <= 0 for v in values):
            self.problem(tag, raw, "must be greater than 0", fatal)
            return None
        return tuple(float(v) for v in values)

    def orientation(self, tag: str, raw: Any, *, fatal: bool = True) -> tuple[float, ...] | None:
        """ImageOrientationPatient: two unit, orthogonal direction cosines (row, column)."""
        iop = self.vector(tag, raw, 6, fatal=fatal)
        if iop is None:
            return None
        reason = orientation_problem(iop)
        if reason:
            self.problem(tag, raw, reason, fatal)
            return None
        return iop

    def _in_range(self, tag: str, raw: Any, value: float, minimum: float | None, maximum: float | None,
                  exclusive_minimum: bool, fatal: bool) -> bool:
        if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
            self.problem(tag, raw, f"must be {'greater than' if exclusive_minimum else 'at least'} {minimum:g}", fatal)
            return False
        if maximum is not None and value > maximum:
            self.problem(tag, raw, f"is out of range (at most {maximum:g})", fatal)
            return False
        return True


def orientation_problem(iop: Sequence[float]) -> str | None:
    """Why six direction cosines are not a usable ImageOrientationPatient (None when they are)."""
    row, col = np.asarray(iop[:3], float), np.asarray(iop[3:], float)
    for name, v in (("row", row), ("column", col)):
        norm = float(np.linalg.norm(v))
        if norm < ORIENTATION_NORM_TOLERANCE:
            return f"has a zero-length {name} direction"
        if abs(norm - 1.0) > ORIENTATION_NORM_TOLERANCE:
            return f"has a {name} direction of length {norm:.3g}, not a unit vector"
    cosine = float(row @ col)
    if abs(cosine) > 1 - ORIENTATION_ORTHOGONAL_TOLERANCE:
        return "has the same row and column direction (they must be orthogonal)"
    if abs(cosine) > ORIENTATION_ORTHOGONAL_TOLERANCE:
        return f"has row and column directions {math.degrees(math.acos(max(-1.0, min(1.0, cosine)))):.1f} deg " \
               "apart (they must be orthogonal)"
    return None
