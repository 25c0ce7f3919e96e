"""The side panel's Edit tab: the tools' choices (which landmark, which label, brush size), a vein's
invaded / abutting / free status, the clinical facts, Undo, Re-plan, Save, and what the last re-plan
changed. It only emits what the person asked for; the main window applies it to its `EditSession`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ivcplan.report.corrections import EDITABLE_LANDMARKS
from ivcplan.viewer.editing import BRUSH_LABELS, BRUSH_RADIUS_MM, HEPATIC_SIDES, RENAL_SIDES, UNKNOWN_STATE, VEIN_STATES

#: Clinical facts with three states in the panel (the report's booleans or null).
TRISTATE = {"unknown": None, "yes": True, "no": False}
#: Brush radius limits (mm): under a voxel paints nothing; over a few cm is no longer a correction.
BRUSH_MIN_MM, BRUSH_MAX_MM = 1.0, 30.0


class EditPanel(QWidget):
    """Controls of the corrections (see the module docstring)."""

    veinChanged = Signal(str, str)           # hepatic side, state (free / abutting / invaded)
    renalChanged = Signal(str, bool)         # renal side, involved
    clinicalChanged = Signal(str, object)    # clinical key, value (True / False / None / float)
    undoRequested = Signal()
    replanRequested = Signal()
    saveRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        tools = QGroupBox("Tools (choose one in the toolbar)")
        form = QFormLayout(tools)
        self.landmark_box = QComboBox()
        self.landmark_box.addItems(list(EDITABLE_LANDMARKS))
        form.addRow("landmark to place", self.landmark_box)
        self.label_box = QComboBox()
        for lab in BRUSH_LABELS:
            self.label_box.addItem(lab.key.replace("_", " "), int(lab))
        form.addRow("brush label", self.label_box)
        self.radius_box = QDoubleSpinBox()
        self.radius_box.setRange(BRUSH_MIN_MM, BRUSH_MAX_MM)
        self.radius_box.setValue(BRUSH_RADIUS_MM)
        self.radius_box.setSuffix(" mm")
        form.addRow("brush radius", self.radius_box)
        layout.addWidget(tools)

        veins = QGroupBox("Veins")
        vein_form = QFormLayout(veins)
        self.vein_groups: dict[str, QButtonGroup] = {}
        self.vein_buttons: dict[tuple[str, str], QRadioButton] = {}
        for side in HEPATIC_SIDES:
            row = QHBoxLayout()
            group = QButtonGroup(self)
            for state in VEIN_STATES:
                button = QRadioButton(state)
                group.addButton(button)
                row.addWidget(button)
                self.vein_buttons[(side, state)] = button
                button.clicked.connect(lambda _=False, s=side, st=state: self.veinChanged.emit(s, st))
            self.vein_groups[side] = group
            holder = QWidget()
            holder.setLayout(row)
            vein_form.addRow(f"{side} hepatic vein", holder)
        self.renal_boxes: dict[str, QCheckBox] = {}
        for side in RENAL_SIDES:
            box = QCheckBox("involved")
            box.clicked.connect(lambda on, s=side: self.renalChanged.emit(s, bool(on)))
            self.renal_boxes[side] = box
            vein_form.addRow(f"{side} renal vein", box)
        layout.addWidget(veins)

        clinical = QGroupBox("Clinical facts")
        clinical_form = QFormLayout(clinical)
        self.clinical_boxes: dict[str, QComboBox] = {}
        for key in ("prior_chemotherapy", "liver_fibrosis"):
            box = QComboBox()
            box.addItems(list(TRISTATE))
            box.activated.connect(lambda _i, k=key, b=box: self.clinicalChanged.emit(k, TRISTATE[b.currentText()]))
            self.clinical_boxes[key] = box
            clinical_form.addRow(key.replace("_", " "), box)
        self.weight_edit = QLineEdit()
        self.weight_edit.setPlaceholderText("unknown")
        self.weight_edit.editingFinished.connect(self._weight)
        clinical_form.addRow("weight (kg)", self.weight_edit)
        layout.addWidget(clinical)

        buttons = QHBoxLayout()
        self.undo_button = QPushButton("Undo")
        self.replan_button = QPushButton("Re-plan")
        self.save_button = QPushButton("Save...")
        self.undo_button.clicked.connect(self.undoRequested)
        self.replan_button.clicked.connect(self.replanRequested)
        self.save_button.clicked.connect(self.saveRequested)
        for b in (self.undo_button, self.replan_button, self.save_button):
            buttons.addWidget(b)
        layout.addLayout(buttons)
        self.pending_label = QLabel("No edits.")
        self.pending_label.setWordWrap(True)
        layout.addWidget(self.pending_label)
        layout.addWidget(QLabel("What the last re-plan changed:"))
        self.changes = QListWidget()
        layout.addWidget(self.changes, 1)
        self.set_enabled(False)

    def _weight(self) -> None:
        text = self.weight_edit.text().strip()
        try:
            value: float | None = float(text) if text else None
        except ValueError:
            self.clinicalChanged.emit("weight_kg", text)  # refused with a message by the window
            return
        self.clinicalChanged.emit("weight_kg", value)

    # -- filling ------------------------------------------------------------------------------------
    def set_enabled(self, enabled: bool) -> None:
        for w in (self.undo_button, self.replan_button, self.save_button):
            w.setEnabled(enabled)

    @property
    def brush_label(self) -> int:
        return int(self.label_box.currentData())

    def show_state(self, vein_states: dict[str, str], renal: Iterable[str], clinical: dict[str, Any]) -> None:
        """Show the current facts (the analysis' with the pending edits) without emitting anything."""
        for side, state in vein_states.items():
            group = self.vein_groups[side]
            if state == UNKNOWN_STATE:  # no button checked: an exclusive group cannot clear itself
                group.setExclusive(False)
                for st in VEIN_STATES:
                    self.vein_buttons[(side, st)].setChecked(False)
                group.setExclusive(True)
            else:
                self.vein_buttons[(side, state)].setChecked(True)
        involved = set(renal)
        for side, box in self.renal_boxes.items():
            box.setChecked(side in involved)
        for key, box in self.clinical_boxes.items():
            value = clinical.get(key)
            box.setCurrentText(next(k for k, v in TRISTATE.items() if v is value))
        weight = clinical.get("weight_kg")
        self.weight_edit.setText("" if weight is None else f"{weight:g}")

    def show_pending(self, lines: list[str]) -> None:
        self.pending_label.setText("Not yet re-planned: " + "; ".join(lines) if lines else "No edits pending.")

    def show_changes(self, lines: list[str]) -> None:
        self.changes.clear()
        self.changes.addItems(lines or ["nothing in the report's facts or plan"])

