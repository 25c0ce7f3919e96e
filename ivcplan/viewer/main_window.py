"""The viewer's main window: open a study, four linked views + CPR, side panel, tools, export.

Loading, analysis, re-plan and save run as background `Job`s (progress bar + Cancel in the status
bar); the GUI thread only draws. The window talks to the library only through `ivcplan.io` (scan,
load), `ivcplan.pipeline` (run), `ivcplan.replan` (open an analysis folder; re-plan and save through
`ivcplan.viewer.editing.EditSession`), `ivcplan.outputs` (write_outputs), `ivcplan.render` (surfaces,
CPR sampling). Corrections: the landmark tool, the brush (paint / erase, undo) and the Edit tab
collect edits; Re-plan shows the new plan and what changed; Save writes what `ivcplan replan` writes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QActionGroup, QImage, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ivcplan import vocabulary as words
from ivcplan.errors import IvcplanError
from ivcplan.labels import LANDMARKS, Label
from ivcplan.viewer.cpr_view import CprView
from ivcplan.viewer.editing import BRUSH_LABELS, EditSession
from ivcplan.viewer.jobs import Job, start
from ivcplan.viewer.panel import SidePanel
from ivcplan.viewer.schematic import schematic_from_report
from ivcplan.viewer.slice_view import SliceView
from ivcplan.viewer.slicing import PRESETS, VIEW_NAMES, distance_mm, plane_for
from ivcplan.viewer.view3d import View3D
from ivcplan.volume import Volume

log = logging.getLogger(__name__)

DEFAULT_PRESET = "abdomen"
#: Structures hidden in the slice overlays by default (the body outline covers everything).
OVERLAY_HIDDEN: tuple[int, ...] = (int(Label.BODY),)
#: The CPR strip spans the patient's left-right axis (a coronal-like straightened view).
CPR_REFERENCE = (1.0, 0.0, 0.0)


@dataclass
class AnalysisResult:
    """What the analysis job hands to the GUI: the pipeline's Analysis plus display data."""

    analysis: Any
    surfaces: list
    cpr: Any  # (hu, labels, (along, across) spacing) or None


class SeriesDialog(QDialog):
    """Pick one of several series found in a folder (non-blocking: connect to `accepted`)."""

    def __init__(self, series: list[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a series")
        self.series = series
        self.list = QListWidget()
        for info in series:
            self.list.addItem(_describe_series(info))
        chosen = [i for i, info in enumerate(series) if info.chosen]
        self.list.setCurrentRow(chosen[0] if chosen else 0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Several series were found. Which one should be opened?"))
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.list.itemDoubleClicked.connect(lambda *_: self.accept())

    def selected(self) -> Any:
        return self.series[max(self.list.currentRow(), 0)]


def _describe_series(info: Any) -> str:
    """One line per series in the picker: number, modality, description, size, orientation."""
    text = (f"#{info.number}  {info.modality}  {info.description or '(no description)'}  "
            f"{info.n_slices} slices {info.cols}x{info.rows}  {info.orientation}")
    if info.chosen:
        text += f"  [suggested: {info.reason}]" if info.reason else "  [suggested]"
    if info.problems:
        text += "  problems: " + "; ".join(info.problems)
    return text


class MainWindow(QMainWindow):
    """ivcplan desktop viewer."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("ivcplan viewer")
        self.setAcceptDrops(True)
        self.resize(1500, 950)
        self.volume: Volume | None = None
        self.source: Path | None = None
        self.result: AnalysisResult | None = None
        self.seeds: dict[str, list[np.ndarray]] = {"ivc": [], "tumor": []}
        self.hidden: set[int] = set(OVERLAY_HIDDEN)
        self.job: Job | None = None
        self.last_error: str | None = None
        self.error_dialog: QMessageBox | None = None
        self.replace_dialog: QMessageBox | None = None
        self.series_dialog: SeriesDialog | None = None
        self.last_distance_mm: float | None = None
        self.exported: dict[str, Path] = {}
        #: Run the analysis as soon as a study is loaded (off: only the slices are shown).
        self.analyse_on_open = True
        #: External segmentation merged over the automatic one (pipeline.run(labels=...)).
        self.labels_path: Path | None = None
        self.analysed_seeds: Any = None
        #: The edits since the last re-plan of the analysis shown (None before any analysis).
        self.session: EditSession | None = None
        #: The analysis folder opened (`open_analysis`), reused by Save; None for an analysis run here.
        self.analysis_folder: Path | None = None
        self.replanned: Any = None  # the last `ivcplan.replan.Replanned`
        self.saved: Path | None = None
        self.save_dialog: QMessageBox | None = None

        self.slice_views = {name: SliceView(name) for name in VIEW_NAMES}
        self.view3d = View3D()
        self.cpr_view = CprView()
        central = QWidget()
        grid = QGridLayout(central)
        grid.setContentsMargins(2, 2, 2, 2)
        grid.setSpacing(3)
        grid.addWidget(self.slice_views["axial"], 0, 0)
        grid.addWidget(self.slice_views["coronal"], 0, 1)
        grid.addWidget(self.slice_views["sagittal"], 0, 2)
        grid.addWidget(self.view3d, 1, 0, 1, 2)
        grid.addWidget(self.cpr_view, 1, 2)
        for r in range(2):
            grid.setRowStretch(r, 1)
        for c in range(3):
            grid.setColumnStretch(c, 1)
        self.setCentralWidget(central)

        self.panel = SidePanel()
        dock = QDockWidget("Analysis", self)
        dock.setObjectName("analysis_dock")
        dock.setWidget(self.panel)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.resizeDocks([dock], [380], Qt.Orientation.Horizontal)

        self._build_actions()
        self._build_status()
        for view in self.slice_views.values():
            view.cursorMoved.connect(self._on_cursor)
            view.windowLevelChanged.connect(self._on_window_level)
            view.seedPlaced.connect(self.add_seed)
            view.measured.connect(self._on_measured)
            view.hovered.connect(self._on_hover)
            view.landmarkPlaced.connect(self.place_landmark)
            view.strokeStarted.connect(self._stroke_started)
            view.brushed.connect(lambda index, v=view: self.brush(v, index))
            view.strokeEnded.connect(self._stroke_ended)
        self.cpr_view.landmarkPlaced.connect(self.place_landmark_at_s)
        edit = self.panel.edit
        edit.landmark_box.currentTextChanged.connect(self._choose_landmark)
        self._choose_landmark(edit.landmark_box.currentText())  # the views place what the box shows
        edit.veinChanged.connect(lambda side, state: self._edit(lambda s: s.set_vein(side, state)))
        edit.renalChanged.connect(lambda side, on: self._edit(lambda s: s.set_renal(side, on)))
        edit.clinicalChanged.connect(lambda key, value: self._edit(lambda s: s.set_clinical(key, value)))
        edit.undoRequested.connect(self.undo)
        edit.replanRequested.connect(self.start_replan)
        edit.saveRequested.connect(self._ask_save)
        self.panel.structures.visibilityChanged.connect(self.set_structure_visible)
        self.panel.structures.opacityChanged.connect(self.view3d.set_opacity)
        self.apply_preset(DEFAULT_PRESET)

    # -- UI construction -------------------------------------------------------------------------
    def _build_actions(self) -> None:
        bar = QToolBar("Main")
        bar.setObjectName("main_toolbar")
        self.addToolBar(bar)
        menu = self.menuBar().addMenu("&File")
        self.open_dir_action = QAction("Open &folder...", self, shortcut="Ctrl+O", triggered=self._ask_open_dir)
        self.open_file_action = QAction("Open f&ile...", self, shortcut="Ctrl+Shift+O", triggered=self._ask_open_file)
        self.labels_action = QAction("Import se&gmentation...", self, triggered=self._ask_labels)
        self.open_analysis_action = QAction("Open &analysis folder...", self, triggered=self._ask_open_analysis)
        self.export_action = QAction("&Export...", self, shortcut="Ctrl+E", triggered=self._ask_export)
        self.screenshot_action = QAction("&Screenshots...", self, shortcut="Ctrl+P", triggered=self._ask_screenshots)
        quit_action = QAction("&Quit", self, shortcut="Ctrl+Q", triggered=self.close)
        for action in (self.open_dir_action, self.open_file_action, self.open_analysis_action, self.labels_action,
                       self.export_action, self.screenshot_action):
            menu.addAction(action)
            bar.addAction(action)
        menu.addSeparator()
        menu.addAction(quit_action)
        bar.addSeparator()

        bar.addWidget(QLabel(" W/L "))
        self.preset_box = QComboBox()
        self.preset_box.addItems(list(PRESETS))
        self.preset_box.currentTextChanged.connect(self.apply_preset)
        bar.addWidget(self.preset_box)
        bar.addSeparator()

        self.tool_group = QActionGroup(self)
        self.tool_actions: dict[str, QAction] = {}
        for tool, caption in (("navigate", "Navigate"), ("seed_ivc", "IVC seed"), ("seed_tumor", "Tumor seed"),
                              ("measure", "Measure"), ("landmark", "Landmark"), ("paint", "Paint"),
                              ("erase", "Erase")):
            action = QAction(caption, self, checkable=True)
            action.triggered.connect(lambda _=False, t=tool: self.set_tool(t))
            self.tool_group.addAction(action)
            bar.addAction(action)
            self.tool_actions[tool] = action
        self.tool_actions["navigate"].setChecked(True)
        self.clear_seeds_action = QAction("Clear seeds", self, triggered=self.clear_seeds)
        self.rerun_action = QAction("Re-run segmentation", self, triggered=self.start_analysis)
        bar.addAction(self.clear_seeds_action)
        bar.addAction(self.rerun_action)
        self.auto_rerun = QCheckBox("re-run on seed")
        self.auto_rerun.setChecked(True)
        bar.addWidget(self.auto_rerun)
        bar.addSeparator()
        self.volume_rendering_box = QCheckBox("volume rendering")
        self.volume_rendering_box.toggled.connect(self.set_volume_rendering)
        bar.addWidget(self.volume_rendering_box)

    def _build_status(self) -> None:
        self.status_label = QLabel("Open a DICOM folder or file (or drop it here).")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setMaximumWidth(260)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        #: What lies under the mouse in a slice view: LPS position, HU, voxel index and structure.
        self.readout_label = QLabel("")
        self.readout_label.setObjectName("readout")
        status = self.statusBar()
        status.addWidget(self.status_label, 1)
        status.addPermanentWidget(self.readout_label)
        status.addPermanentWidget(self.progress_bar)
        status.addPermanentWidget(self.cancel_button)
        self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        self.progress_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if not busy:
            self.progress_bar.setValue(0)

    # -- opening -------------------------------------------------------------------------------------
    def _ask_open_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a DICOM folder")
        if path:
            self.open_path(path)

    def _ask_open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a DICOM file or image",
                                              filter="Images (*.dcm DICOMDIR *.nii *.nii.gz *.nrrd *.mha);;All (*)")
        if path:
            self.open_path(path)

    def _ask_labels(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a segmentation (NIfTI, NRRD, DICOM SEG)")
        if path:
            self.import_labels(path)

    def import_labels(self, path: str | Path | None) -> None:
        """Use an external segmentation (merged over the automatic one); re-analyse if a study is open."""
        self.labels_path = None if path is None else Path(path)
        if self.volume is not None:
            self.start_analysis()

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_path(paths[0])

    def open_path(self, path: str | Path) -> None:
        """Open a study: NIfTI/NRRD/MHA load at once; DICOM is scanned once, and when several
        series are found the series picker asks which one (the scan's suggestion preselected)."""
        from ivcplan import io
        from ivcplan.io.formats import image_kind

        path = Path(path)
        self.source = path
        self.analysis_folder = None
        if path.is_file() and image_kind(path):
            self._run(Job("loading", lambda progress: io.load(path, progress=progress)), self._on_loaded)
        else:
            self._run(Job("scanning", lambda progress: io.scan(path, progress=progress)), self._on_scanned)

    def _on_scanned(self, series: list[Any]) -> None:
        if len(series) > 1:
            dialog = self.series_dialog = SeriesDialog(series, self)
            dialog.accepted.connect(lambda: self.load_series(dialog.selected()))
            dialog.open()
        else:
            self.load_series(series[0])

    def load_series(self, info: Any) -> None:
        """Load one scanned series (`ivcplan.io.SeriesInfo`) in the background, then analyse it."""
        from ivcplan.io.dicom import load_series

        self._run(Job("loading", lambda progress: load_series(info, progress=progress)), self._on_loaded)

    def _on_loaded(self, volume: Volume) -> None:
        self.set_volume(volume)
        if self.analyse_on_open:
            self.start_analysis()

    def set_volume(self, volume: Volume) -> None:
        """Show a volume's slices (no analysis yet)."""
        self.volume = volume
        self.result = None
        self.seeds = {"ivc": [], "tumor": []}
        planes = {name: plane_for(volume.grid, name) for name in VIEW_NAMES}
        for view in self.slice_views.values():
            view.set_volume(volume.array, planes)
        self.view3d.set_surfaces([])
        self.view3d.set_centerline(None)
        self.cpr_view.set_image(None, None, (1.0, 1.0), {})
        if self.volume_rendering_box.isChecked():
            self.view3d.set_volume_rendering(volume, True)
        desc = volume.meta.get("series_description") or volume.meta.get("source_path") or ""
        self.setWindowTitle(f"ivcplan viewer - {desc}")
        self.status_label.setText(f"{desc}  {volume.shape[2]}x{volume.shape[1]}x{volume.shape[0]} voxels, "
                                  f"spacing {', '.join(f'{s:.2f}' for s in volume.spacing[::-1])} mm")
        for message in volume.warnings:
            log.warning("%s", message)

    # -- analysis ------------------------------------------------------------------------------------
    def start_analysis(self) -> None:
        """Run the pipeline (segmentation with the current seeds) in the background."""
        if self.volume is None:
            return
        volume, seeds, labels = self.volume, self._seeds_object(), self.labels_path
        self.analysed_seeds = seeds

        def work(progress):
            from ivcplan import pipeline

            return _display(pipeline.run(volume, labels=labels, seeds=seeds, progress=progress), progress)

        self._run(Job("analysis", work), self.set_result)

    def _seeds_object(self) -> Any:
        if not any(self.seeds.values()):
            return None
        from ivcplan.anatomy import Seeds

        return Seeds(ivc=[tuple(map(float, p)) for p in self.seeds["ivc"]],
                     tumor=[tuple(map(float, p)) for p in self.seeds["tumor"]])

    def set_result(self, result: AnalysisResult) -> None:
        self.result = result
        self.session = EditSession(result.analysis, folder=self.analysis_folder)
        colors = self.overlay_colors()
        for view in self.slice_views.values():
            view.set_labels(self.session.labels, colors)  # the brush paints into this array
        self._show_edits()
        self.view3d.set_surfaces(result.surfaces)
        centerline = getattr(result.analysis, "centerline", None)
        self.view3d.set_centerline(None if centerline is None else centerline.points)
        if result.cpr is not None:
            hu, labels, spacing, s_start = result.cpr
            self.cpr_view.set_image(hu, labels, spacing, colors, landmarks_s=_landmarks_s(result.analysis),
                                    s_start=s_start)
        else:
            self.cpr_view.set_image(None, None, (1.0, 1.0), {})
        report = self.report
        project = None if centerline is None else centerline.project
        self.panel.set_report(report, schematic_from_report(report, project))
        rows = []
        for surf in result.surfaces:
            rows.append((surf.label, surf.name, surf.color, self.view3d.is_visible(surf.label),
                         self.view3d.opacity(surf.label)))
        self.panel.structures.set_structures(rows)
        plan = report.get("plan") or {}
        approach = words.APPROACH.get(str(plan.get("approach")), "no plan")
        self.status_label.setText(f"Analysis done. Suggested approach: {approach}")
        self.view3d.render()

    @property
    def report(self) -> dict[str, Any]:
        if self.result is None:
            return {}
        return dict(self.result.analysis.report)

    def overlay_colors(self) -> dict[int, tuple[int, int, int]]:
        if self.result is None:
            return {}
        labelmap = self.result.analysis.segmentation.labelmap
        shown = {*labelmap.present(), *(int(lab) for lab in BRUSH_LABELS)}  # what the brush may add too
        return {v: labelmap.color(v) for v in sorted(shown) if v not in self.hidden}

    def set_structure_visible(self, label: int, visible: bool) -> None:
        """Toggle a structure in the 3D view and in the slice overlays."""
        (self.hidden.discard if visible else self.hidden.add)(int(label))
        self.view3d.set_visible(label, visible)
        colors = self.overlay_colors()
        for view in self.slice_views.values():
            view.set_labels(view.labels, colors)
        self.cpr_view.set_colors(colors)

    # -- corrections -------------------------------------------------------------------------------
    def _ask_open_analysis(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open an ivcplan analysis folder (to correct it)")
        if path:
            self.open_analysis(path)

    def open_analysis(self, folder: str | Path) -> None:
        """Open a finished analysis folder (`ivcplan analyze` / `replan` output) to correct it: its CT,
        segmentation, centerline and corrections, measured and planned again in the background."""
        folder = Path(folder)

        def work(progress):
            from ivcplan.replan import open_analysis

            analysis = open_analysis(folder, progress=progress)
            return _display(analysis, progress)

        def done(result: AnalysisResult) -> None:
            self.set_volume(result.analysis.volume)
            self.source = folder
            self.analysis_folder = folder
            self.set_result(result)

        self._run(Job("opening analysis", work), done)

    def _choose_landmark(self, name: str) -> None:
        for view in (*self.slice_views.values(), self.cpr_view):
            view.landmark_name = name

    def place_landmark_at_s(self, name: str, s_mm: float) -> None:
        """Place landmark ``name`` on the IVC centerline at arc length ``s_mm`` (a click on the CPR)."""
        centerline = None if self.session is None else self.session.analysis.centerline
        if centerline is None or self.volume is None:
            self.show_error("No IVC centerline: place the landmark in a slice view.")
            return
        point = np.asarray(centerline.point_at(float(s_mm)), dtype=float)
        self.place_landmark(name, self.volume.grid.lps_to_index(point))

    @property
    def replanning(self) -> bool:
        """A re-plan is running: edits wait for it (its result starts a new session; edits made meanwhile
        would be lost)."""
        return self.busy and self.job is not None and self.job.name == "re-plan"

    def _editable(self) -> bool:
        if self.replanning:
            self.status_label.setText("Wait for the re-plan to finish before editing again.")
            return False
        return True

    def place_landmark(self, name: str, index: np.ndarray) -> None:
        """Place (or move) landmark ``name`` at array index (z, y, x): a correction until the next re-plan."""
        if self.session is None or self.volume is None:
            self.show_error("Nothing to correct yet: open a study or an analysis folder and wait for the analysis.")
            return
        if not self._editable():
            self._show_edits()  # the dragged marker goes back
            return
        lps = self.volume.grid.index_to_lps(np.asarray(index, dtype=float))
        self._edit(lambda s: s.place_landmark(name, lps))
        self.status_label.setText(f"{name} placed at LPS ({', '.join(f'{v:.1f}' for v in lps)}) mm: re-plan to "
                                  "see the plan follow")

    def _edit(self, change) -> None:
        if self.session is None:
            self.show_error("Nothing to correct yet: open a study or an analysis folder and wait for the analysis.")
            return
        if not self._editable():
            self._show_edits()  # the panel shows the facts as they are
            return
        try:
            change(self.session)
        except IvcplanError as exc:
            self.show_error(f"Correction refused:\n{exc}")
        self._show_edits()

    def _stroke_started(self) -> None:
        if self.session is not None:
            self.session.begin_stroke()

    def brush(self, view: SliceView, index: np.ndarray) -> int:
        """Paint (or erase) under the brush at ``index`` in ``view``'s slice; returns the voxels changed."""
        if self.session is None or view.plane is None or not self._editable():
            return 0
        label = 0 if view.tool == "erase" else self.panel.edit.brush_label
        changed = self.session.paint(index, view.plane.normal_axis, label, self.panel.edit.radius_box.value())
        if changed:
            for v in self.slice_views.values():
                v.update_slice()
        return changed

    def _stroke_ended(self) -> None:
        if self.session is not None:
            self.session.end_stroke()
            self._show_edits()

    def undo(self) -> None:
        if self.session is None or not self._editable():
            return
        what = self.session.undo()
        for v in self.slice_views.values():
            v.update_slice()
        self._show_edits()
        self.status_label.setText(f"undone: {what}" if what else "nothing to undo")

    def _show_edits(self) -> None:
        """Landmarks in the slice views, the Edit tab's facts and the list of pending edits."""
        session, edit = self.session, self.panel.edit
        edit.set_enabled(session is not None)
        if session is None or self.volume is None:
            return
        grid = self.volume.grid
        marks = {name: grid.lps_to_index(np.asarray(pos, dtype=float))
                 for name, pos in session.landmark_positions().items()}
        for view in self.slice_views.values():
            view.set_landmarks(marks)
        centerline = session.analysis.centerline
        if centerline is not None and self.cpr_view.hu is not None:
            placed = {c.name for c in session.pending if c.kind == "landmark"}
            self.cpr_view.set_landmarks_s({name: float(centerline.project(np.asarray(pos, dtype=float)))
                                           for name, pos in session.landmark_positions().items()
                                           if name in LANDMARKS or name in placed})
        edit.show_state({side: session.vein_state(side) for side in ("right", "middle", "left")},
                        session.current("tumor.renal_veins_involved") or [],
                        {k: session.current(f"clinical.{k}") for k in ("prior_chemotherapy", "liver_fibrosis",
                                                                       "weight_kg")})
        lines = [f"{c.what} = {c.new}" for c in session.pending]
        if session.labels_changed:
            lines.append("segmentation painted")
        edit.show_pending(lines)

    def start_replan(self) -> None:
        """Re-plan with the edits in the background (`ivcplan.replan.replan`, what `ivcplan replan` runs);
        the window shows the new plan and the changes when it is done."""
        if self.session is None:
            self.show_error("Nothing to re-plan yet: open a study or an analysis folder and wait for the analysis.")
            return
        if self.replanning:
            return  # one re-plan at a time
        session, previous = self.session, self.result

        def work(progress):
            replanned = session.replan(progress)
            same_labels = replanned.analysis.segmentation is session.analysis.segmentation
            if same_labels and previous is not None:
                return replanned, AnalysisResult(replanned.analysis, previous.surfaces, _cpr(replanned.analysis))
            return replanned, _display(replanned.analysis, progress)

        self._run(Job("re-plan", work), self._on_replanned)

    def _on_replanned(self, outcome: tuple[Any, AnalysisResult]) -> None:
        replanned, result = outcome
        self.replanned = replanned
        self.set_result(result)
        lines = [f"correction: {c.what}" + (f" ({sum(c.new['changed_voxels'].values())} voxels)"
                                            if c.kind == "segmentation" else f" = {_shown(c.new)}")
                 for c in replanned.added]
        lines += [f"{c.field}: {_shown(c.before)} -> {_shown(c.after)}" for c in replanned.changes]
        self.panel.edit.show_changes(lines)
        plan = result.analysis.report.get("plan") or {}
        self.status_label.setText(f"Re-planned: approach {plan.get('approach', 'n/a')} "
                                  f"({len(replanned.changes)} report field(s) changed)")

    def _ask_save(self) -> None:
        outdir = QFileDialog.getExistingDirectory(self, "Save the corrected analysis (report, corrections.json) to")
        if outdir:
            self.save(outdir)

    def save(self, outdir: str | Path, *, force: bool = False, kinds: Any = "all") -> None:
        """Write every output (or ``kinds``) and corrections.json as `ivcplan replan` does (`EditSession.save`:
        published whole). A folder holding another analysis or other files is replaced only after a Yes."""
        if self.session is None:
            self.show_error("Nothing to save yet: open a study or an analysis folder and wait for the analysis.")
            return
        if self.session.dirty:
            self.show_error("Re-plan before saving: some edits are not in the plan yet.")
            return
        session, outdir = self.session, Path(outdir)
        try:
            holds = session.target_contents(outdir)  # at once: the question comes before any work
        except IvcplanError as exc:
            self.show_error(f"Save refused:\n{exc}")
            return
        if holds in ("other input", "other files") and not force:
            self._ask_replace_save(outdir, holds, kinds)
            return
        self._run(Job("save", lambda progress: session.save(outdir, force=force, kinds=kinds)), self._on_saved)

    def _ask_replace_save(self, outdir: Path, holds: str, kinds: Any) -> None:
        what = "another analysis" if holds == "other input" else "files that are not an ivcplan analysis"
        box = QMessageBox(QMessageBox.Icon.Question, "ivcplan", f"{outdir} holds {what}.\nReplace the whole "
                          "folder with the corrected analysis?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def answered(button) -> None:
            if box.standardButton(button) == QMessageBox.StandardButton.Yes:
                self.save(outdir, force=True, kinds=kinds)
            else:
                self.status_label.setText(f"Save cancelled: {outdir} left as it was")

        box.buttonClicked.connect(answered)
        box.open()
        self.save_dialog = box

    def _on_saved(self, folder: Path) -> None:
        self.saved = Path(folder)
        self.status_label.setText(f"Saved to {folder}")

    # -- seeds ---------------------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        for view in self.slice_views.values():
            view.tool = tool
        self.cpr_view.tool = tool
        self.tool_actions[tool].setChecked(True)

    def add_seed(self, kind: str, index: np.ndarray) -> None:
        """Add an IVC or tumor seed at array index (z, y, x); re-run the analysis if asked to."""
        if self.volume is None:
            return
        lps = self.volume.grid.index_to_lps(np.asarray(index, dtype=float))
        self.seeds[kind].append(lps)
        self._show_seeds()
        self.status_label.setText(f"{kind} seed at LPS ({', '.join(f'{v:.1f}' for v in lps)}) mm")
        if self.auto_rerun.isChecked():
            self.start_analysis()

    def clear_seeds(self) -> None:
        self.seeds = {"ivc": [], "tumor": []}
        self._show_seeds()

    def _show_seeds(self) -> None:
        assert self.volume is not None
        marks = [(kind, self.volume.grid.lps_to_index(p)) for kind, pts in self.seeds.items() for p in pts]
        for view in self.slice_views.values():
            view.set_seeds(marks)

    # -- linked navigation ---------------------------------------------------------------------------
    def _on_cursor(self, index: np.ndarray) -> None:
        for view in self.slice_views.values():
            if not np.allclose(view.cursor, index):
                view.set_cursor(index)

    def _on_hover(self, index: np.ndarray | None) -> None:
        """The readout: LPS position (mm) and HU of the voxel under the mouse, its index and structure."""
        if index is None or self.volume is None:
            self.readout_label.setText("")
            return
        voxel = tuple(int(v) for v in np.clip(np.rint(index), 0, np.asarray(self.volume.shape) - 1))
        x, y, z = self.volume.grid.index_to_lps(np.asarray(voxel, dtype=float))
        text = (f"LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm   HU {float(self.volume.array[voxel]):.0f}   "
                f"voxel (z {voxel[0]}, y {voxel[1]}, x {voxel[2]})")
        if self.result is not None:
            labelmap = self.result.analysis.segmentation.labelmap
            value = int(labelmap.array[voxel])
            if value:
                text += f"   {labelmap.name(value)}"
        self.readout_label.setText(text)

    def set_orientation_overlay(self, visible: bool) -> None:
        """Show or hide the orientation letters and scale bars of the slice views and the CPR's labels."""
        for view in self.slice_views.values():
            view.set_overlay_visible(visible)
        self.cpr_view.set_annotations_visible(visible)

    def _on_window_level(self, window: float, level: float) -> None:
        for view in self.slice_views.values():
            if (view.window, view.level) != (window, level):
                view.set_window_level(window, level)
        self.cpr_view.set_window_level(window, level)

    def apply_preset(self, name: str) -> None:
        window, level = PRESETS[name]
        if self.preset_box.currentText() != name:
            self.preset_box.setCurrentText(name)
        self._on_window_level(window, level)

    def _on_measured(self, a: np.ndarray, b: np.ndarray) -> None:
        assert self.volume is not None
        self.last_distance_mm = distance_mm(self.volume.grid, a, b)
        text = f"distance {self.last_distance_mm:.1f} mm"
        for view in self.slice_views.values():
            view.measurement_text = text if view is self.sender() else ""
            if view is not self.sender():
                view.measurement = None
            view.update_slice()
        self.status_label.setText(text)

    def set_volume_rendering(self, enabled: bool) -> None:
        self.view3d.set_volume_rendering(self.volume, enabled)

    # -- screenshots and export ----------------------------------------------------------------------
    def views(self) -> dict[str, Any]:
        return {**self.slice_views, "3d": self.view3d, "cpr": self.cpr_view}

    def screenshot_views(self, outdir: str | Path) -> dict[str, Path]:
        """One PNG per view in ``outdir`` (view name.png)."""
        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        return {name: view.save_png(outdir / f"{name}.png") for name, view in self.views().items()}

    def grab_window(self) -> QImage:
        """The whole window as an image, with the GL views painted in from their render windows."""
        image = self.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
        painter = QPainter(image)
        ratio = image.devicePixelRatio()
        for view in self.views().values():
            pixels = view.capture()
            h, w, _ = pixels.shape
            frame = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
            frame.setDevicePixelRatio(ratio)
            top_left = view.mapTo(self, QPoint(0, 0))
            painter.drawImage(top_left, frame)
        painter.end()
        return image

    def save_window_png(self, path: str | Path) -> Path:
        path = Path(path)
        if not self.grab_window().save(str(path)):
            raise OSError(f"could not write screenshot {path}")
        return path

    def _ask_screenshots(self) -> None:
        outdir = QFileDialog.getExistingDirectory(self, "Folder for the screenshots")
        if outdir:
            paths = self.screenshot_views(outdir)
            paths["window"] = self.save_window_png(Path(outdir) / "window.png")
            self.status_label.setText(f"{len(paths)} screenshots written to {outdir}")

    def _ask_export(self) -> None:
        outdir = QFileDialog.getExistingDirectory(self, "Export report, meshes and DICOM SEG to")
        if outdir:
            self.export(outdir)

    def export(self, outdir: str | Path, kinds: Any = None, *, force: bool = False) -> None:
        """Write the outputs through `ivcplan.outputs.write_outputs` (the same code as `ivcplan analyze`),
        published as `ivcplan analyze` publishes them (`ivcplan.outputs.publish.Staging`): into a staging
        folder first, then in OUTDIR's place in one step, so a failed export leaves OUTDIR as it was and
        the files of another analysis never stay beside the new ones. A folder holding another analysis
        or other files is replaced only after the user agrees (``force``)."""
        if self.result is None:
            self.show_error("Nothing to export yet: open a study and wait for the analysis.")
            return
        from ivcplan.errors import OptionError, OutputError
        from ivcplan.outputs import write_outputs
        from ivcplan.outputs.publish import Staging

        analysis, outdir = self.result.analysis, Path(outdir)
        stage = Staging(outdir, source=self.source, series=None, force=force)
        try:
            stage.check()  # at once, in the window's thread: the question comes before any work
        except OptionError as exc:
            if force or not outdir.is_dir() or stage.replaced == "":
                self.show_error(f"Export refused:\n{exc}")
            else:
                self._ask_replace(outdir, kinds, str(exc))
            return

        def work(progress):
            with Staging(outdir, source=self.source, series=None, force=force) as staging:
                try:
                    written = write_outputs(analysis, staging.path, kinds) if kinds is not None else \
                        write_outputs(analysis, staging.path)
                except OSError as exc:
                    raise OutputError(f"cannot write the outputs ({exc.strerror or exc})",
                                      exc.filename or outdir) from None
                staging.publish({"series_instance_uid": analysis.report["input"].get("series_instance_uid")})
                return {kind: staging.final_path(p) for kind, p in written.items()}

        self._run(Job("export", work), self._on_exported)

    def _ask_replace(self, outdir: Path, kinds: Any, why: str) -> None:
        """Ask (without blocking) whether OUTDIR may be replaced whole; export with ``force`` on Yes."""
        what = why.split("holds ", 1)[-1].split(";", 1)[0]
        box = QMessageBox(QMessageBox.Icon.Question, "ivcplan",
                          f"{outdir} holds {what}.\nReplace the whole folder with this export?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def answered(button) -> None:
            if box.standardButton(button) == QMessageBox.StandardButton.Yes:
                self.export(outdir, kinds, force=True)
            else:
                self.status_label.setText(f"Export cancelled: {outdir} left as it was")

        box.buttonClicked.connect(answered)
        box.open()
        self.replace_dialog = box

    def _on_exported(self, written: dict[str, Path]) -> None:
        self.exported = dict(written)
        self.status_label.setText(f"Exported {len(written)} files")

    # -- jobs ----------------------------------------------------------------------------------------
    def _run(self, job: Job, on_done) -> None:
        if self.job is not None and not self.job.done.is_set():
            self.job.cancel()
        self.job = job
        job.signals.progress.connect(lambda stage, fraction, j=job: self._on_progress(j, stage, fraction))
        job.signals.finished.connect(lambda result, j=job: self._finish(j, on_done, result))
        job.signals.failed.connect(lambda message, j=job: self._failed(j, message))
        job.signals.cancelled.connect(lambda j=job: self._cancelled(j))
        self._set_busy(True)
        self.progress_bar.setFormat(f"{job.name} %p%")
        self.status_label.setText(f"{job.name}...")
        start(job)

    @property
    def busy(self) -> bool:
        return self.job is not None and not self.job.done.is_set()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status_label.setText(f"cancelling {self.job.name}...")

    def _on_progress(self, job: Job, stage: str, fraction: float) -> None:
        if job is self.job:
            self.progress_bar.setValue(round(1000 * min(max(fraction, 0.0), 1.0)))
            self.progress_bar.setFormat(f"{stage} %p%")

    def _finish(self, job: Job, on_done, result: Any) -> None:
        if job is not self.job:
            return  # a newer job replaced this one
        self._set_busy(False)
        on_done(result)
        if self.job is job:
            self.job = None

    def _failed(self, job: Job, message: str) -> None:
        if job is self.job:
            self._set_busy(False)
            self.job = None
            self.show_error(f"{job.name.capitalize()} failed:\n{message}")

    def _cancelled(self, job: Job) -> None:
        if job is self.job:
            self._set_busy(False)
            self.job = None
            self.status_label.setText(f"{job.name} cancelled")

    def show_error(self, message: str) -> None:
        """A clear, non-blocking error dialog (never a traceback)."""
        self.last_error = message
        self.status_label.setText(message.splitlines()[0])
        box = QMessageBox(QMessageBox.Icon.Critical, "ivcplan", message, QMessageBox.StandardButton.Ok, self)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        self.error_dialog = box

    def closeEvent(self, event) -> None:
        if self.job is not None:
            self.job.cancel()
        for view in self.views().values():
            view.finalize()
        super().closeEvent(event)


def _shown(value: Any) -> str:
    """A report value as report.json writes it (null, true, [1.0, 2.0]), on one line."""
    import json

    return json.dumps(value, default=str)


def _display(analysis: Any, progress: Any) -> AnalysisResult:
    """An analysis with what the window draws of it: label surfaces and the CPR strip."""
    from ivcplan.render.mesh import extract_surfaces

    progress("surfaces", 0.0)
    labelmap = analysis.segmentation.labelmap
    surfaces = extract_surfaces(labelmap, [v for v in labelmap.present() if v not in OVERLAY_HIDDEN])
    progress("curved reformation", 0.0)
    return AnalysisResult(analysis, surfaces, _cpr(analysis))


def _cpr(analysis: Any) -> tuple[np.ndarray, np.ndarray | None, tuple[float, float], float] | None:
    """Coronal CPR strip along the IVC centerline (render's sampler): rows from caudal, patient right first;
    the last item is the arc length s (mm) of the first row."""
    from ivcplan.render.cpr import CPR_STEP_MM, sample_strip

    centerline = getattr(analysis, "centerline", None)
    if centerline is None or len(centerline.points) < 2:
        return None
    s_rows, _, hu, labels = sample_strip(analysis.volume, analysis.segmentation.labelmap, centerline.points,
                                         centerline.s, CPR_REFERENCE)
    return hu, labels, (CPR_STEP_MM, CPR_STEP_MM), float(s_rows[0])


def _landmarks_s(analysis: Any) -> dict[str, float]:
    """Arc length along the IVC of every landmark placed (the CPR's labels)."""
    landmarks = getattr(analysis, "landmarks", None) or {}
    return {name: float(lm.s_mm) for name, lm in landmarks.items() if lm.s_mm is not None and np.isfinite(lm.s_mm)}
