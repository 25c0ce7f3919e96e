"""Correct, then re-plan, in a real window under Xvfb (issue 20): the analysis of case (b) made on its
truth labels without the hepatic veins, so that the II/III landmark is missing and R9 withholds the
plan. A landmark placed and dragged with the mouse, or the right hepatic vein painted back with the
brush, gives the plan after Re-plan (run off the GUI thread); Save writes corrections.json and the
outputs as `ivcplan replan` does."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nibabel
import numpy as np
import pytest
from blocked_case import without_hepatic_level
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from scipy import ndimage
from typer.testing import CliRunner

from ivcplan import pipeline
from ivcplan.cli import app
from ivcplan.labels import Label
from ivcplan.outputs import write_outputs
from ivcplan.report.corrections import CORRECTIONS_FILE
from ivcplan.viewer.panel import RAW_ROLE
from ivcplan.volume import Labelmap, Volume

SAMPLE = Path(__file__).resolve().parents[2] / "sample_dicom" / "case_b_retrohepatic"
TIMEOUT_S = 300
#: Outputs saved by these tests (every kind is what the Save button writes; these suffice to compare).
KINDS = ["json", "csv", "segmentation", "state"]
HEPATIC = (Label.HEPATIC_VEIN_RIGHT, Label.HEPATIC_VEIN_MIDDLE, Label.HEPATIC_VEIN_LEFT)


def _wait(predicate, timeout_s: float = TIMEOUT_S) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        QApplication.processEvents()
        assert time.monotonic() < end, "timed out waiting for the viewer"
        time.sleep(0.01)


def _qt_point(view, index) -> QPoint:
    x, y = view.index_to_display(np.asarray(index, dtype=float))
    ratio = view.vtk_widget.devicePixelRatioF()
    return QPoint(round(x / ratio), round(view.vtk_widget.height() - 1 - y / ratio))


def _truth() -> tuple[np.ndarray, dict]:
    img = Volume.from_nifti(nibabel.load(SAMPLE / "truth.nii.gz"))
    return img.array.astype(np.uint8), json.loads((SAMPLE / "truth.json").read_text())


@pytest.fixture(scope="module")
def blocked(tmp_path_factory) -> Path:
    """Case (b) analysed on its truth labels with the hepatic veins painted as liver: R9 withholds the plan."""
    truth, _ = _truth()
    grid = Volume.from_nifti(nibabel.load(SAMPLE / "truth.nii.gz")).grid
    arr = without_hepatic_level(truth, grid.spacing)
    folder = tmp_path_factory.mktemp("edit") / "blocked"
    write_outputs(pipeline.run(SAMPLE / "dicom", labels=Labelmap(arr, grid)), folder, KINDS)
    return folder


@pytest.fixture
def opened(window, blocked):
    window.open_analysis(blocked)
    _wait(lambda: window.result is not None or window.last_error is not None)
    assert window.last_error is None, window.last_error
    report = window.result.analysis.report
    assert report["plan"]["approach"] == "none" and report["landmarks"]["hepatic_veins"]["position_mm"] is None
    assert window.panel.edit.replan_button.isEnabled()
    return window


def _replan(window, qtbot) -> None:
    before = window.result
    qtbot.mouseClick(window.panel.edit.replan_button, Qt.MouseButton.LeftButton)
    assert window.busy  # the re-plan runs in the background: the window keeps answering
    _wait(lambda: window.result is not before or window.last_error is not None)
    assert window.last_error is None, window.last_error


def edit_by(window) -> str:
    return window.session.by


def _save(window, folder: Path) -> dict:
    window.save(folder, kinds=KINDS)
    _wait(lambda: window.saved == folder or window.last_error is not None)
    assert window.last_error is None, window.last_error
    return json.loads((folder / "report.json").read_text())


def test_placing_and_dragging_the_missing_landmark_gives_the_plan(opened, qtbot, blocked, tmp_path) -> None:
    window = opened
    grid = window.volume.grid
    _, truth = _truth()
    hv = np.asarray(truth["facts"]["landmarks"]["hepatic_veins"]["position_mm"], dtype=float)
    target = grid.lps_to_index(hv)
    window._on_cursor(target)  # every view through the landmark's level
    coronal = window.slice_views["coronal"]
    window.set_tool("landmark")
    window.panel.edit.landmark_box.setCurrentText("hepatic_veins")
    # A click 12 mm caudal of the ostia places the landmark there ...
    low = grid.lps_to_index(hv - [0.0, 0.0, 12.0])
    qtbot.mouseClick(coronal.vtk_widget, Qt.MouseButton.LeftButton, pos=_qt_point(coronal, low))
    tolerance = 1.5 * float(max(grid.spacing))  # a click lands within about a voxel of its aim
    (placed,) = window.session.pending
    assert placed.what == "landmarks.hepatic_veins.position_mm"
    assert np.linalg.norm(np.asarray(placed.new) - (hv - [0, 0, 12.0])) < tolerance
    assert "hepatic_veins" in coronal.shown_landmarks()  # drawn where it was placed
    # ... and a drag from it to the ostia moves it: still one pending correction, at the new place.
    a, b = _qt_point(coronal, low), _qt_point(coronal, target)
    qtbot.mousePress(coronal.vtk_widget, Qt.MouseButton.LeftButton, pos=a)
    for t in np.linspace(0.0, 1.0, 6)[1:]:
        qtbot.mouseMove(coronal.vtk_widget, QPoint(round(a.x() + t * (b.x() - a.x())),
                                                   round(a.y() + t * (b.y() - a.y()))))
    qtbot.mouseRelease(coronal.vtk_widget, Qt.MouseButton.LeftButton, pos=b)
    (moved,) = window.session.pending
    assert np.linalg.norm(np.asarray(moved.new) - hv) < tolerance
    window.set_tool("navigate")
    # No hepatic vein is segmented, so their invasion is unknown (no state checked); the surgeon states
    # the right one free (which states the lists: the other two then read free too).
    buttons = window.panel.edit.vein_buttons
    assert not any(b.isChecked() for b in buttons.values())
    buttons[("right", "free")].click()
    assert [c.what for c in window.session.pending[1:]] == ["tumor.hepatic_veins_invaded",
                                                            "tumor.hepatic_veins_abutting"]

    _replan(window, qtbot)
    report = window.result.analysis.report
    mark = report["landmarks"]["hepatic_veins"]
    assert mark["source"] == "edited" and mark["position_mm"] == moved.new
    assert report["plan"]["approach"] == "conventional"  # R5, as `ivcplan replan --landmark` gives (test_replan)
    changes = [window.panel.edit.changes.item(i).text() for i in range(window.panel.edit.changes.count())]
    assert 'plan.approach: "none" -> "conventional"' in changes
    assert 'plan.vascular_control: null -> "total_vascular_exclusion"' in changes
    assert any(text.startswith("correction: landmarks.hepatic_veins.position_mm = ") for text in changes)
    shown = window.panel.displayed(window.panel.landmark_table)
    assert shown["hepatic_veins"][1] == moved.new
    table = window.panel.landmark_table
    where = {table.item(r, 0).data(RAW_ROLE): table.item(r, 1).text() for r in range(table.rowCount())}
    assert f"(edited by {edit_by(window)}, " in where["hepatic_veins"] and "edited" not in where["renal_veins"]

    saved = _save(window, tmp_path / "saved")
    edit, *stated = json.loads((tmp_path / "saved" / CORRECTIONS_FILE).read_text())["corrections"]
    assert edit["what"] == "landmarks.hepatic_veins.position_mm" and edit["old"] is None
    assert edit["new"] == moved.new and edit["by"] == window.session.by
    assert [(c["what"], c["old"], c["new"]) for c in stated] == [("tumor.hepatic_veins_invaded", None, []),
                                                                  ("tumor.hepatic_veins_abutting", None, [])]
    assert saved["corrections"] == [edit, *stated] and saved["plan"]["approach"] == "conventional"
    # The command line given the same correction writes the same report (timings, provenance and the
    # time of the edit excepted).
    result = CliRunner().invoke(app, ["replan", str(blocked), "-o", str(tmp_path / "cli"), "--landmark",
                                      "hepatic_veins=" + ",".join(map(str, moved.new)), "--set",
                                      "tumor.hepatic_veins_invaded=none", "--set", "tumor.hepatic_veins_abutting=none",
                                      "--by", edit["by"]])
    assert result.exit_code == 0, result.output
    cli = json.loads((tmp_path / "cli" / "report.json").read_text())
    for r in (cli, saved):
        r.pop("timings_s")
        r.pop("provenance")
        for c in r["corrections"]:
            c.pop("when")
        r["landmarks"]["hepatic_veins"]["edited"].pop("when")
        for stated_field in r["tumor"]["edited"].values():
            stated_field.pop("when")
        assert r["landmarks"]["hepatic_veins"].pop("detail").startswith(f"placed by {edit['by']} (")
    differ = [f"{section}.{k}: {cli[section][k]} != {saved[section].get(k)}" for section in cli
              if isinstance(cli[section], dict) for k in cli[section] if cli[section][k] != saved[section].get(k)]
    assert cli == saved, differ


def test_painting_the_hepatic_vein_back_gives_the_plan_and_undo_takes_a_stroke_back(opened, qtbot,
                                                                                    tmp_path) -> None:
    window = opened
    truth, _ = _truth()
    original = window.session.labels.copy()
    # The axial slice where the truth's right hepatic vein meets the IVC, its voxels from far to near.
    vein = truth == Label.HEPATIC_VEIN_RIGHT
    ivc = np.isin(truth, [Label.IVC_LUMEN, Label.IVC_TUMOR])
    touching = np.unique(np.argwhere(ndimage.binary_dilation(ivc, iterations=2) & vein)[:, 0])
    z = int(touching[len(touching) // 2])
    points = np.argwhere(vein[z])
    centre = np.argwhere(ivc[z]).mean(axis=0)
    points = points[np.argsort(-np.linalg.norm(points - centre, axis=1))]
    axial = window.slice_views["axial"]
    window._on_cursor(np.array([z, *points[0]], dtype=float))
    window.set_tool("paint")
    window.panel.edit.label_box.setCurrentIndex(window.panel.edit.label_box.findData(int(Label.HEPATIC_VEIN_RIGHT)))
    window.panel.edit.radius_box.setValue(3.0)

    def stroke() -> None:
        path = [_qt_point(axial, [z, *p]) for p in points[::3]]
        qtbot.mousePress(axial.vtk_widget, Qt.MouseButton.LeftButton, pos=path[0])
        for p in path[1:]:
            qtbot.mouseMove(axial.vtk_widget, p)
        qtbot.mouseRelease(axial.vtk_widget, Qt.MouseButton.LeftButton, pos=path[-1])

    stroke()
    painted = window.session.labels != original
    assert painted.any() and set(np.unique(window.session.labels[painted])) == {int(Label.HEPATIC_VEIN_RIGHT)}
    assert set(np.unique(np.argwhere(painted)[:, 0])) == {z}  # the brush paints the slice shown only
    # Most of the stroke lies on the truth's vein (the brush is 3 mm round, the vein a few mm wide).
    assert np.count_nonzero(painted & vein) >= 0.5 * np.count_nonzero(painted)
    window.undo()
    assert np.array_equal(window.session.labels, original) and not window.session.dirty
    stroke()
    painted = window.session.labels != original
    count = int(painted.sum())
    window.set_tool("navigate")

    _replan(window, qtbot)
    report = window.result.analysis.report
    # The painted vein meets the IVC: its ostium is found again (automatically) and R9 gives the plan.
    assert report["landmarks"]["hepatic_veins"]["position_mm"] is not None
    assert report["landmarks"]["hepatic_veins"]["source"] == "automatic"
    assert report["plan"]["approach"] != "none"
    (seg,) = window.replanned.added
    assert seg.what == "segmentation" and seg.new["changed_voxels"]["hepatic_vein_right"] == count
    # each painted voxel counts for the vein it became and for the label it replaced (background uncounted)
    replaced = int(np.count_nonzero(original[painted]))
    assert sum(seg.new["changed_voxels"].values()) == count + replaced

    saved = _save(window, tmp_path / "painted")
    (edit,) = json.loads((tmp_path / "painted" / CORRECTIONS_FILE).read_text())["corrections"]
    assert edit["what"] == "segmentation" and edit["new"]["changed_voxels"]["hepatic_vein_right"] == count
    assert saved["plan"]["approach"] == report["plan"]["approach"]
    labels = np.asarray(nibabel.load(tmp_path / "painted" / "segmentation.nii.gz").dataobj)
    assert int(np.count_nonzero(labels == Label.HEPATIC_VEIN_RIGHT)) == count


def test_a_vein_status_and_a_clinical_fact_toggled_in_the_panel(opened, qtbot, tmp_path) -> None:
    window = opened
    edit = window.panel.edit
    edit.vein_buttons[("right", "invaded")].click()
    edit.clinical_boxes["prior_chemotherapy"].setCurrentText("yes")
    edit.clinical_boxes["prior_chemotherapy"].activated.emit(edit.clinical_boxes["prior_chemotherapy"].currentIndex())
    # Invasion was unknown (no hepatic vein segmented): the first vein stated states both lists.
    assert [(c.what, c.new) for c in window.session.pending] == [("tumor.hepatic_veins_invaded", ["right"]),
                                                                 ("tumor.hepatic_veins_abutting", []),
                                                                 ("clinical.prior_chemotherapy", True)]
    edit.vein_buttons[("right", "abutting")].click()  # invaded -> abutting: off one list, onto the other
    assert {c.what: c.new for c in window.session.pending} == {
        "tumor.hepatic_veins_invaded": [], "tumor.hepatic_veins_abutting": ["right"],
        "clinical.prior_chemotherapy": True}
    window.undo()  # the last correction (abutting) is taken back
    assert "tumor.hepatic_veins_abutting" not in {c.what for c in window.session.pending}
    before = window.result
    qtbot.mouseClick(edit.replan_button, Qt.MouseButton.LeftButton)
    assert window.replanning
    edit.clinical_boxes["liver_fibrosis"].setCurrentText("yes")  # while re-planning: refused, not lost later
    edit.clinical_boxes["liver_fibrosis"].activated.emit(edit.clinical_boxes["liver_fibrosis"].currentIndex())
    assert "clinical.liver_fibrosis" not in {c.what for c in window.session.pending}
    assert edit.clinical_boxes["liver_fibrosis"].currentText() == "unknown"
    assert window.status_label.text() == "Wait for the re-plan to finish before editing again."
    _wait(lambda: window.result is not before or window.last_error is not None)
    assert window.last_error is None, window.last_error
    report = window.result.analysis.report
    assert report["tumor"]["hepatic_veins_invaded"] == [] and report["clinical"]["prior_chemotherapy"] is True
    assert report["tumor"]["edited"]["hepatic_veins_invaded"]["by"] == window.session.by
    assert window.panel.edit.clinical_boxes["prior_chemotherapy"].currentText() == "yes"
    # Saving into a folder of other files asks first (without blocking); No leaves it as it was.
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    window.save(out, kinds=KINDS)
    assert window.save_dialog.isVisible() and not window.busy
    window.save_dialog.button(QMessageBox.StandardButton.No).click()
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and window.saved is None
    window.save(out, kinds=KINDS)
    window.save_dialog.button(QMessageBox.StandardButton.Yes).click()
    _wait(lambda: window.saved == out or window.last_error is not None)
    assert window.last_error is None, window.last_error
    assert not (out / "notes.txt").exists()
    saved = json.loads((out / CORRECTIONS_FILE).read_text())["corrections"]
    # In the order they were last made (the invaded list was set again after the clinical fact).
    assert [(c["what"], c["new"]) for c in saved] == [("clinical.prior_chemotherapy", True),
                                                      ("tumor.hepatic_veins_invaded", [])]


def test_a_click_on_the_cpr_places_the_landmark_on_the_centerline(opened, qtbot) -> None:
    window = opened
    cpr = window.cpr_view
    centerline = window.result.analysis.centerline
    _, truth = _truth()
    hv = np.asarray(truth["facts"]["landmarks"]["hepatic_veins"]["position_mm"], dtype=float)
    s = float(centerline.project(hv))
    window.set_tool("landmark")
    window.panel.edit.landmark_box.setCurrentText("hepatic_veins")
    x0, x1, _, _ = cpr.strip_extent()
    x, y = cpr.s_to_display(s, (x0 + x1) / 2)
    ratio = cpr.vtk_widget.devicePixelRatioF()
    qtbot.mouseClick(cpr.vtk_widget, Qt.MouseButton.LeftButton,
                     pos=QPoint(round(x / ratio), round(cpr.vtk_widget.height() - 1 - y / ratio)))
    (placed,) = window.session.pending
    assert placed.what == "landmarks.hepatic_veins.position_mm"
    # On the centerline at the clicked arc length (a screen pixel is under 2 mm of strip here).
    assert np.linalg.norm(np.asarray(placed.new) - centerline.point_at(s)) < 2.0
    assert abs(cpr.landmarks_s["hepatic_veins"] - s) < 2.0  # its line drawn across the strip at once
    assert "hepatic_veins" in cpr.landmark_labels
    window.set_tool("navigate")
