"""Schematic of the IVC: a vertical tube from the iliac confluence to the atrium, segments I/II/III
marked at the landmark levels and the tumor drawn over the levels it occupies.

`Schematic` (pure data, from the report and the centerline) is drawn by `SchematicWidget` (QPainter).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ivcplan.labels import Label

#: Landmarks drawn as levels on the schematic (report name -> short label).
LEVELS: dict[str, str] = {
    "iliac_confluence": "iliac confluence",
    "renal_veins": "renal veins",
    "hepatic_veins": "hepatic veins",
    "cavoatrial_junction": "cavoatrial junction",
}


@dataclass(frozen=True)
class Schematic:
    """Arc lengths (mm, from the caudal end of the centerline) of what the schematic shows."""

    length_mm: float
    levels: dict[str, float] = field(default_factory=dict)
    tumor: tuple[float, float] | None = None  # (lower pole s, upper pole s)
    tumor_segments: tuple[str, ...] = ()

    def segment_ranges(self) -> dict[str, tuple[float, float]]:
        """s ranges of segments I, II, III that the landmarks allow to place."""
        lo, hi = 0.0, self.length_mm
        renal = self.levels.get("renal_veins")
        hepatic = self.levels.get("hepatic_veins")
        top = max(hi, self.levels.get("cavoatrial_junction", hi))
        out: dict[str, tuple[float, float]] = {}
        if renal is not None:
            out["I"] = (self.levels.get("iliac_confluence", lo), renal)
            out["II"] = (renal, hepatic if hepatic is not None else hi)
        if hepatic is not None:
            out["III"] = (hepatic, top)
        return out


def schematic_from_report(report: Mapping[str, Any], project: Callable[[np.ndarray], np.ndarray] | None,
                          length_mm: float | None = None) -> Schematic:
    """Build the schematic from ``report`` (the report contract) and ``project`` (LPS -> s).

    ``project`` is the centerline's projection (`Centerline.project`); without it only the
    segment list can be shown.
    """
    length = float(length_mm if length_mm is not None else (report.get("ivc", {}).get("centerline_length_mm") or 0.0))
    levels: dict[str, float] = {}
    tumor_span = None
    tumor = report.get("tumor", {}) or {}
    if project is not None:
        for name in LEVELS:
            pos = (report.get("landmarks", {}).get(name) or {}).get("position_mm")
            if pos is not None:
                levels[name] = float(np.ravel(project(np.asarray([pos], dtype=float)))[0])
        poles = [tumor.get("lower_pole_mm"), tumor.get("upper_pole_mm")]
        if tumor.get("present") and all(p is not None for p in poles):
            s = np.ravel(project(np.asarray(poles, dtype=float)))
            tumor_span = (float(min(s)), float(max(s)))
    if not length and (levels or tumor_span):
        length = max([*levels.values(), *(tumor_span or ())])
    return Schematic(length, levels, tumor_span, tuple(tumor.get("segments") or ()))


class SchematicWidget(QWidget):
    """Draws a `Schematic` (caudal at the bottom, cranial at the top)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.schematic: Schematic | None = None
        self.setMinimumSize(220, 260)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)

    def set_schematic(self, schematic: Schematic | None) -> None:
        self.schematic = schematic
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor(24, 26, 30))
        sch = self.schematic
        if sch is None or sch.length_mm <= 0:
            painter.setPen(QColor(180, 180, 180))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no IVC centerline")
            painter.end()
            return
        top_s = max(sch.length_mm, *sch.levels.values(), *(sch.tumor or ()))
        margin = 16.0
        h = self.height() - 2 * margin

        def y_of(s: float) -> float:
            return margin + h * (1.0 - s / top_s)

        tube_x, tube_w = 70.0, 36.0
        lumen = QColor(*Label.IVC_LUMEN.color)
        painter.setPen(QPen(QColor(200, 200, 200), 1))
        painter.setBrush(lumen.darker(150))
        painter.drawRoundedRect(QRectF(tube_x, y_of(top_s), tube_w, y_of(0.0) - y_of(top_s)), 12, 12)
        font = QFont(painter.font())
        font.setPointSize(8)
        painter.setFont(font)
        # segment bands and their roman numerals
        for name, (lo, hi) in sch.segment_ranges().items():
            painter.setPen(QColor(230, 230, 230))
            painter.drawText(QRectF(8, y_of(hi), 50, y_of(lo) - y_of(hi)), Qt.AlignmentFlag.AlignCenter, name)
        if sch.tumor is not None:
            lo, hi = sch.tumor
            painter.setPen(QPen(QColor(0, 0, 0), 1))
            painter.setBrush(QColor(*Label.IVC_TUMOR.color))
            painter.drawEllipse(QRectF(tube_x - 8, y_of(hi), tube_w + 16, max(y_of(lo) - y_of(hi), 4.0)))
        for name, s in sch.levels.items():
            y = y_of(s)
            painter.setPen(QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(tube_x - 14, y), QPointF(tube_x + tube_w + 14, y))
            painter.setPen(QColor(220, 220, 220))
            painter.drawText(QPointF(tube_x + tube_w + 18, y + 4), f"{LEVELS[name]} ({s:.0f} mm)")
        painter.end()


def format_value(value: Any) -> str:
    """How the panel shows one report value (the tests compare through this function)."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        if value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return "[" + ", ".join(f"{float(v):.1f}" for v in value) + "]"
        return ", ".join(str(v) for v in value) if value else "none"
    return str(value)
