"""Side panel: structures (toggle, opacity), tumor measurements, landmarks, IVC schematic, plan.

Every value shown comes straight from the analysis report dict; each table cell keeps the raw
report value under `RAW_ROLE` next to its formatted text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QHeaderView,
    QLabel,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ivcplan.viewer.schematic import Schematic, SchematicWidget, format_value

RAW_ROLE = Qt.ItemDataRole.UserRole + 1
#: Tumor fields shown (report key -> caption); the rest of report["tumor"] follows under its own key.
TUMOR_FIELDS: dict[str, str] = {
    "present": "tumor present",
    "volume_ml": "volume (ml)",
    "max_diameter_mm": "max 3D diameter (mm)",
    "axes_mm": "principal axes (mm)",
    "axial_longest_diameter_mm": "axial longest diameter (mm)",
    "craniocaudal_length_mm": "craniocaudal length (mm)",
    "segments": "segments",
    "distance_upper_pole_to_hepatic_veins_mm": "upper pole to hepatic veins (mm)",
    "distance_upper_pole_to_cavoatrial_junction_mm": "upper pole to cavoatrial junction (mm)",
    "distance_lower_pole_to_renal_veins_mm": "lower pole to renal veins (mm)",
    "max_lumen_occlusion_pct": "max lumen occlusion (%)",
    "hepatic_veins_invaded": "hepatic veins invaded",
    "renal_veins_involved": "renal veins involved",
    "intracardiac": "intracardiac",
}
SLIDER_STEPS = 100


def _item(text: str, raw: Any = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    item.setData(RAW_ROLE, raw)
    return item


def _table(columns: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class StructureTable(QTableWidget):
    """One row per structure: visibility checkbox, colour, name, opacity slider."""

    visibilityChanged = Signal(int, bool)
    opacityChanged = Signal(int, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 3, parent)
        self.setHorizontalHeaderLabels(["show", "structure", "opacity"])
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.checkboxes: dict[int, QCheckBox] = {}
        self.sliders: dict[int, QSlider] = {}

    def set_structures(self, rows: list[tuple[int, str, tuple[int, int, int], bool, float]]) -> None:
        """rows: (label, name, rgb, visible, opacity)."""
        self.setRowCount(0)
        self.checkboxes, self.sliders = {}, {}
        for label, name, rgb, visible, opacity in rows:
            r = self.rowCount()
            self.insertRow(r)
            box = QCheckBox()
            box.setChecked(visible)
            box.toggled.connect(lambda on, lab=label: self.visibilityChanged.emit(lab, on))
            self.setCellWidget(r, 0, box)
            item = _item(name.replace("_", " "), label)
            item.setBackground(QColor(*rgb))
            item.setForeground(QColor(0, 0, 0) if sum(rgb) > 380 else QColor(255, 255, 255))
            self.setItem(r, 1, item)
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, SLIDER_STEPS)
            slider.setValue(round(opacity * SLIDER_STEPS))
            slider.valueChanged.connect(lambda v, lab=label: self.opacityChanged.emit(lab, v / SLIDER_STEPS))
            self.setCellWidget(r, 2, slider)
            self.checkboxes[label] = box
            self.sliders[label] = slider


class SidePanel(QTabWidget):
    """Tabs: Structures, Tumor (measurements + schematic), Landmarks, Plan."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.structures = StructureTable()
        self.addTab(self.structures, "Structures")

        tumor_page = QWidget()
        layout = QVBoxLayout(tumor_page)
        self.tumor_table = _table(["measurement", "value"])
        self.schematic = SchematicWidget()
        layout.addWidget(self.tumor_table, 3)
        layout.addWidget(QLabel("IVC segments (caudal at the bottom)"))
        layout.addWidget(self.schematic, 2)
        self.addTab(tumor_page, "Tumor")

        self.landmark_table = _table(["landmark", "position (LPS mm)", "confidence"])
        self.addTab(self.landmark_table, "Landmarks")

        self.plan_view = QTextBrowser()
        self.plan_view.setOpenExternalLinks(False)
        self.addTab(self.plan_view, "Plan")
        self.report: Mapping[str, Any] = {}

    # -- filling ---------------------------------------------------------------------------------
    def set_report(self, report: Mapping[str, Any], schematic: Schematic | None) -> None:
        self.report = report
        tumor = dict(report.get("tumor") or {})
        rows = [(key, caption) for key, caption in TUMOR_FIELDS.items() if key in tumor]
        rows += [(key, key.replace("_", " ")) for key in tumor if key not in TUMOR_FIELDS]
        liver = report.get("liver") or {}
        self.tumor_table.setRowCount(0)
        for key, caption in rows:
            self._add_row(self.tumor_table, [_item(caption, f"tumor.{key}"), _item(format_value(tumor[key]),
                                                                                   tumor[key])])
        for key, value in liver.items():
            self._add_row(self.tumor_table, [_item(f"liver {key.replace('_', ' ')}", f"liver.{key}"),
                                             _item(format_value(value), value)])
        self.landmark_table.setRowCount(0)
        for name, mark in (report.get("landmarks") or {}).items():
            mark = mark or {}
            self._add_row(self.landmark_table, [
                _item(name.replace("_", " "), name),
                _item(format_value(mark.get("position_mm")), mark.get("position_mm")),
                _item(format_value(mark.get("confidence")), mark.get("confidence")),
            ])
        self.schematic.set_schematic(schematic)
        self.plan_view.setHtml(plan_html(report.get("plan") or {}))

    @staticmethod
    def _add_row(table: QTableWidget, items: list[QTableWidgetItem]) -> None:
        r = table.rowCount()
        table.insertRow(r)
        for c, item in enumerate(items):
            table.setItem(r, c, item)

    def displayed(self, table: QTableWidget) -> dict[Any, tuple[str, Any]]:
        """{row key: (shown text of the value column, raw value)} (what the tests compare)."""
        out = {}
        for r in range(table.rowCount()):
            key = table.item(r, 0).data(RAW_ROLE)
            cell = table.item(r, 1)
            out[key] = (cell.text(), cell.data(RAW_ROLE))
        return out


def _esc(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plan_html(plan: Mapping[str, Any]) -> str:
    """The suggested approach, fired rules, flags and the disclaimer as simple HTML."""
    if not plan:
        return "<p>No analysis yet.</p>"
    parts = [f"<h3>Suggested approach: {_esc(plan.get('approach', 'none'))}</h3><ul>"]
    for key, caption in (("vascular_control", "vascular control"), ("ivc_reconstruction", "IVC reconstruction"),
                         ("graft_diameter_mm", "graft diameter (mm)")):
        parts.append(f"<li>{caption}: <b>{_esc(format_value(plan.get(key)))}</b></li>")
    parts.append("</ul><h4>Fired rules</h4><ul>")
    for rule in plan.get("rules") or []:
        parts.append(f"<li><b>{_esc(rule.get('id'))}</b>: {_esc(rule.get('text'))} "
                     f"<i>({_esc(rule.get('source'))})</i></li>")
    parts.append("</ul>")
    flags = plan.get("flags") or []
    if flags:
        parts.append("<h4>Flags</h4><ul>" + "".join(f"<li>{_esc(f)}</li>" for f in flags) + "</ul>")
    parts.append(f"<p style='color:#b00'><b>{_esc(plan.get('disclaimer', ''))}</b></p>")
    return "".join(parts)
