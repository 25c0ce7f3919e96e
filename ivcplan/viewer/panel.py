"""Side panel: structures (toggle, opacity), tumor measurements, landmarks, IVC schematic, plan, and the
Edit tab (`ivcplan.viewer.edit_panel`).

Every value shown comes from the analysis report dict, in the words of the report document: the rows
are `ivcplan.report.summary`'s (display names and signed distances from `ivcplan.vocabulary`), so the
panel and the printed report say the same thing the same way. Each table cell keeps the report field
and its raw value under `RAW_ROLE` next to the text; values a person edited are marked.
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
    QScrollArea,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ivcplan import vocabulary as words
from ivcplan.report import summary
from ivcplan.viewer.edit_panel import EditPanel
from ivcplan.viewer.schematic import Schematic, SchematicWidget

RAW_ROLE = Qt.ItemDataRole.UserRole + 1
SLIDER_STEPS = 100


def _item(text: str, raw: Any = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    item.setData(RAW_ROLE, raw)
    return item


#: Background of a row whose value a person set (as the report document marks it).
EDITED_RGB = (232, 240, 255)


def _table(columns: list[str]) -> QTableWidget:
    """A read-only table whose columns share the panel's width and whose rows grow to their wrapped text:
    nothing is cut off however narrow the panel (a value column sized to its contents ran off the side)."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().setVisible(False)
    table.setWordWrap(True)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return table


class StructureTable(QTableWidget):
    """One row per structure: visibility checkbox, colour, name, opacity slider."""

    visibilityChanged = Signal(int, bool)
    opacityChanged = Signal(int, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 3, parent)
        self.setHorizontalHeaderLabels(["Show", "Structure", "Opacity"])
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
            item = _item(words.label_name(name)[:1].upper() + words.label_name(name)[1:], label)
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
        self.tumor_table = _table(["Finding", "Value"])
        self.schematic = SchematicWidget()
        layout.addWidget(self.tumor_table, 3)
        layout.addWidget(QLabel("IVC segments (head at the top)"))
        layout.addWidget(self.schematic, 2)
        self.addTab(tumor_page, "Tumor")

        self.landmark_table = _table(["Landmark", "Height along the IVC", "Confidence"])
        self.landmark_table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.addTab(self.landmark_table, "Landmarks")

        self.plan_view = QTextBrowser()
        self.plan_view.setOpenExternalLinks(False)
        self.addTab(self.plan_view, "Plan")
        self.edit = EditPanel()
        scroll = QScrollArea()  # its minimum size stays inside the tab: the dock keeps its width
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.edit)
        self.addTab(scroll, "Edit")
        self.report: Mapping[str, Any] = {}

    # -- filling ---------------------------------------------------------------------------------
    def set_report(self, report: Mapping[str, Any], schematic: Schematic | None) -> None:
        self.report = report
        self.tumor_table.setRowCount(0)
        for section, heading, rows in (("tumor", "Tumor", summary.tumor_rows(report)),
                                       ("ivc", "IVC", summary.ivc_rows(report)),
                                       ("liver", "Liver", summary.liver_rows(report))):
            if not rows:
                continue
            self._add_heading(self.tumor_table, heading)
            values = report.get(section) or {}
            for row in rows:
                key = f"{section}.{row.key}" if row.key else f"{section}:{row.label}"
                self._add_row(self.tumor_table, [_item(row.label, key), _item(_with_edit(row.value, row.edited),
                                                                              values.get(row.key))],
                              edited=row.edited is not None)
        self.tumor_table.resizeRowsToContents()
        self.landmark_table.setRowCount(0)
        marks = report.get("landmarks") or {}
        for lm in summary.landmark_rows(report):
            mark = marks.get(lm.key) or {}
            self._add_row(self.landmark_table, [
                _item(lm.name, lm.key),
                _item(_with_edit(lm.where, lm.edited), mark.get("position_mm")),
                _item(lm.confidence, mark.get("confidence")),
            ], edited=lm.edited is not None)
        self.landmark_table.resizeRowsToContents()
        self.schematic.set_schematic(schematic)
        self.plan_view.setHtml(plan_html(report))

    @staticmethod
    def _add_heading(table: QTableWidget, text: str) -> None:
        r = table.rowCount()
        table.insertRow(r)
        item = _item(text, None)
        font = item.font()
        font.setBold(True)
        item.setFont(font)
        table.setItem(r, 0, item)
        table.setSpan(r, 0, 1, table.columnCount())

    @staticmethod
    def _add_row(table: QTableWidget, items: list[QTableWidgetItem], edited: bool = False) -> None:
        r = table.rowCount()
        table.insertRow(r)
        for c, item in enumerate(items):
            if edited:
                item.setBackground(QColor(*EDITED_RGB))
            table.setItem(r, c, item)

    def displayed(self, table: QTableWidget) -> dict[Any, tuple[str, Any]]:
        """{row key: (shown text of the value column, raw value)} (what the tests compare); headings left out."""
        out = {}
        for r in range(table.rowCount()):
            key = table.item(r, 0).data(RAW_ROLE)
            cell = table.item(r, 1)
            if key is not None and cell is not None:
                out[key] = (cell.text(), cell.data(RAW_ROLE))
        return out


def _esc(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _with_edit(text: str, edit: summary.Edit | None) -> str:
    return text if edit is None else f"{text} (edited {edit.text})"


def plan_html(report: Mapping[str, Any]) -> str:
    """The plan as the report document words it: each decision, the points for the tumor board, why each
    rule fired or did not, corrections a person made, and the disclaimer (simple HTML for QTextBrowser)."""
    doc = summary.document(report)
    if not doc.plan:
        return "<p>No analysis yet.</p>"
    parts = ["<table cellspacing='0' cellpadding='3'>"]
    for row in doc.plan:
        value = "<br>".join(_esc(line) for line in row.value.splitlines())
        parts.append(f"<tr><td valign='top'><b>{_esc(row.label)}</b></td><td>{value}</td></tr>")
    parts.append("</table>")
    if doc.flags:
        parts.append("<h4>Points for the tumor board</h4><ul>" + "".join(f"<li>{_esc(f)}</li>" for f in doc.flags)
                     + "</ul>")
    parts.append("<h4>Rules that fired</h4><ul>")
    for rule in doc.fired:
        title = f": {_esc(rule.title)}" if rule.title else ""
        parts.append(f"<li><b>{_esc(rule.id)}{title}.</b> {_esc(rule.text)} <i>Source: {_esc(rule.source)}</i></li>")
    parts.append("</ul>" if doc.fired else "<li>none</li></ul>")
    if doc.not_fired:
        parts.append("<h4>Rules that did not fire, and why</h4><ul>"
                     + "".join(f"<li><b>{_esc(r.label)}</b>: {_esc(r.value)}</li>" for r in doc.not_fired) + "</ul>")
    if doc.corrections:
        parts.append("<h4>Corrections</h4><ul>" + "".join(
            f"<li>{_esc(c.what)}: {_esc(c.old)} &rarr; {_esc(c.new)} (by {_esc(c.by)}, {_esc(c.when)}"
            f"{': ' + _esc(c.why) if c.why else ''})</li>" for c in doc.corrections) + "</ul>")
    parts.append(f"<p style='color:#b00'><b>{_esc(doc.disclaimer)}</b></p>")
    return "".join(parts)
