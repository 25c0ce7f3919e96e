"""End to end in a real window: open a phantom CT (DICOM written to disk) with its segmentation,
wait for the pipeline, compare the panel with report.json, toggle a structure, place a seed
(re-running the analysis), screenshot each view and find the tumor colour in it, export."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from ivcplan import vocabulary as words
from ivcplan.labels import Label
from ivcplan.outputs import write_outputs
from ivcplan.phantom.config import PhantomConfig, TumorSpec
from ivcplan.phantom.generate import generate
from ivcplan.phantom.write import write_case
from ivcplan.report import summary

ANALYSIS_TIMEOUT_S = 180
#: A pixel shows the tumor colour (240, 200, 20), shaded or blended over gray: red and green well
#: above blue and close to each other (no other structure's colour passes this).
def tumor_pixels(rgb: np.ndarray) -> int:
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    return int(np.count_nonzero((r - b > 60) & (g - b > 45) & (np.abs(r - g) < 0.45 * r)))


MIN_TUMOR_PIXELS = 30
#: A click on the axial view lands within this distance (mm) of the aimed point (one pixel ~ 1 mm).
SEED_TOLERANCE_MM = 4.0


def _wait(predicate, timeout_s: float = ANALYSIS_TIMEOUT_S) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        QApplication.processEvents()
        assert time.monotonic() < end, "timed out waiting for the viewer"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A small phantom with a tumor: DICOM series + its truth segmentation as NIfTI."""
    phantom = generate(PhantomConfig(seed=3, matrix=128, pixel_mm=3.0, slice_spacing_mm=4.0, tumor=TumorSpec()))
    root = tmp_path_factory.mktemp("case")
    write_case(phantom, root, transfer_syntax="explicit")
    folder = root / "dicom"
    labels = root / "truth.nii.gz"
    return phantom, folder, labels


@pytest.fixture(scope="module")
def analysed(qapp, case):
    from ivcplan.viewer.main_window import MainWindow

    _, folder, labels = case
    window = MainWindow()
    window.show()
    window.import_labels(labels)
    window.open_path(folder)
    _wait(lambda: window.result is not None or window.last_error is not None)
    assert window.last_error is None, window.last_error
    yield window
    if window.job is not None:
        window.job.cancel()
        window.job.done.wait(60)
    window.close()


def _tumor_centre(window) -> np.ndarray:
    labelmap = window.result.analysis.segmentation.labelmap
    return np.argwhere(labelmap.array == Label.IVC_TUMOR).mean(axis=0)


def test_panel_shows_the_report_values(analysed, tmp_path):
    written = write_outputs(analysed.result.analysis, tmp_path, ["json"])
    report = json.loads(written["json"].read_text())
    shown = analysed.panel.displayed(analysed.panel.tumor_table)
    assert report["tumor"]["present"] is True
    # the rows of the report document, in its words, each keeping its report field and raw value
    for section, rows in (("tumor", summary.tumor_rows(report)), ("liver", summary.liver_rows(report))):
        for row in rows:
            key = f"{section}.{row.key}" if row.key else f"{section}:{row.label}"
            text, raw = shown[key]
            assert text == row.value, key
            if row.key:
                assert raw == report[section][row.key], key
    volume = re.fullmatch(r"(\d+(?:\.\d)?) ml", shown["tumor.volume_ml"][0])
    assert volume and abs(float(volume[1]) - report["tumor"]["volume_ml"]) <= 0.5
    lower = report["tumor"]["distance_lower_pole_to_renal_veins_mm"]
    assert shown["tumor.distance_lower_pole_to_renal_veins_mm"][0].endswith(
        "mm above the renal veins" if lower > 0 else "mm below the renal veins")
    captions = [analysed.panel.tumor_table.item(r, 0).text() for r in range(analysed.panel.tumor_table.rowCount())]
    assert not [c for c in captions if "_" in c], captions
    assert "Tumor" in captions and "Liver" in captions and "Largest 3D diameter" in captions
    landmarks = analysed.panel.displayed(analysed.panel.landmark_table)
    for name, mark in report["landmarks"].items():
        assert landmarks[name][1] == mark["position_mm"]
    plan_text = analysed.panel.plan_view.toPlainText()
    assert report["plan"]["disclaimer"] in plan_text
    for rule in report["plan"]["rules"]:
        assert f"{rule['id']}: {summary.RULE_TITLES[rule['id']]}" in plan_text
    for entry in report["plan"]["rules_not_fired"]:
        assert entry["id"] in plan_text
    assert words.APPROACH[report["plan"]["approach"]] in plan_text
    assert not re.search(r"\b(elra|infrahepatic_clamping|total_vascular_exclusion)\b", plan_text)
    # the schematic places the tumor between its poles along the centerline
    schematic = analysed.panel.schematic.schematic
    lo, hi = schematic.tumor
    assert lo == pytest.approx(report["tumor"]["lower_pole_s_mm"], abs=3.0)
    assert hi == pytest.approx(report["tumor"]["upper_pole_s_mm"], abs=3.0)


#: Room a table cell leaves around its text (Qt's item margins), px.
CELL_MARGIN_PX = 8


@pytest.mark.parametrize("name", ["tumor_table", "landmark_table"])
def test_panel_tables_show_every_value_whole(analysed, name):
    """Nothing cut off: the columns fit the panel's width (no sideways scrolling) and each row is tall
    enough for its value wrapped to the column (measured with the table's own font)."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QFontMetrics

    panel = analysed.panel
    table = getattr(panel, name)
    panel.setCurrentIndex(1 if name == "tumor_table" else 2)
    QApplication.processEvents()
    assert table.isVisible() and table.rowCount() > 5
    assert table.horizontalHeader().length() <= table.viewport().width() + 1
    metrics = QFontMetrics(table.font())
    for r in range(table.rowCount()):
        for c in range(table.columnCount()):
            item = table.item(r, c)
            if item is None or table.columnSpan(r, c) > 1:
                continue
            width = table.columnWidth(c) - CELL_MARGIN_PX
            needed = metrics.boundingRect(QRect(0, 0, width, 100000), Qt.TextFlag.TextWordWrap, item.text()).height()
            assert needed <= table.rowHeight(r), f"{name} row {r} col {c}: {item.text()!r} needs {needed} px"
            assert "_" not in item.text(), item.text()  # no internal identifier


def test_every_view_shows_the_tumor_and_screenshots_are_written(analysed, tmp_path):
    analysed._on_cursor(_tumor_centre(analysed))
    QApplication.processEvents()
    paths = analysed.screenshot_views(tmp_path)
    for name, view in analysed.views().items():
        pixels = view.capture()
        assert pixels.std() > 10, f"{name} is blank"
        assert tumor_pixels(pixels) >= MIN_TUMOR_PIXELS, f"{name} does not show the tumor colour"
        assert paths[name].stat().st_size > 1000
    analysed.save_window_png(tmp_path / "window.png")


def test_toggling_the_tumor_hides_it_in_3d_and_overlays(analysed):
    tumor = int(Label.IVC_TUMOR)
    box = analysed.panel.structures.checkboxes[tumor]
    analysed._on_cursor(_tumor_centre(analysed))
    box.setChecked(False)
    QApplication.processEvents()
    assert not analysed.view3d.is_visible(tumor)
    assert tumor_pixels(analysed.view3d.capture()) < MIN_TUMOR_PIXELS
    assert tumor_pixels(analysed.slice_views["axial"].capture()) < MIN_TUMOR_PIXELS
    box.setChecked(True)
    QApplication.processEvents()
    assert analysed.view3d.is_visible(tumor)
    assert tumor_pixels(analysed.view3d.capture()) >= MIN_TUMOR_PIXELS
    slider = analysed.panel.structures.sliders[tumor]
    slider.setValue(30)
    assert analysed.view3d.opacity(tumor) == pytest.approx(0.3)


def test_clicking_a_tumor_seed_reruns_the_analysis(analysed, qtbot):
    before = analysed.result
    centre = _tumor_centre(analysed)
    analysed._on_cursor(centre)
    axial = analysed.slice_views["axial"]
    analysed.set_tool("seed_tumor")
    x, y = axial.index_to_display(centre)
    ratio = axial.vtk_widget.devicePixelRatioF()
    pos = QPoint(round(x / ratio), round(axial.vtk_widget.height() - 1 - y / ratio))
    qtbot.mouseClick(axial.vtk_widget, Qt.MouseButton.LeftButton, pos=pos)
    analysed.set_tool("navigate")
    assert len(analysed.seeds["tumor"]) == 1
    target = analysed.volume.grid.index_to_lps(centre)
    assert np.linalg.norm(analysed.seeds["tumor"][0] - target) < SEED_TOLERANCE_MM
    assert analysed.busy  # re-running in the background: the window still answers
    QApplication.processEvents()
    _wait(lambda: analysed.result is not before or analysed.last_error is not None)
    assert analysed.last_error is None, analysed.last_error
    assert analysed.analysed_seeds.tumor == (tuple(float(v) for v in analysed.seeds["tumor"][0]),)
    assert analysed.result.analysis.report["tumor"]["present"]


def test_export_writes_report_meshes_and_seg(analysed, tmp_path):
    analysed.export(tmp_path / "out", ["json", "meshes", "dicom_seg"])  # the menu writes every kind
    _wait(lambda: analysed.exported or analysed.last_error is not None)
    assert analysed.last_error is None, analysed.last_error
    assert set(analysed.exported) == {"json", "meshes", "dicom_seg"}
    assert (tmp_path / "out" / "report.json").is_file()
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == json.loads(
        json.dumps(analysed.report))
    for path in analysed.exported.values():
        assert path.exists()


def test_export_is_published_whole_and_asks_before_replacing_other_files(analysed, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    from ivcplan.outputs.publish import MARKER

    out = tmp_path / "notes"
    out.mkdir()
    (out / "surgeon_notes.txt").write_text("not an analysis")
    analysed.replace_dialog = None
    analysed.export(out, ["json"])
    box = analysed.replace_dialog
    assert box is not None and box.isVisible() and "surgeon_notes.txt" in box.text()
    assert analysed.job is None or analysed.job.name != "export"  # nothing started before the answer
    box.button(QMessageBox.StandardButton.No).click()
    assert [p.name for p in out.iterdir()] == ["surgeon_notes.txt"]  # "No" leaves the folder as it was
    assert "left as it was" in analysed.status_label.text()

    analysed.exported = {}
    analysed.export(out, ["json"])
    analysed.replace_dialog.button(QMessageBox.StandardButton.Yes).click()
    _wait(lambda: analysed.exported or analysed.last_error is not None)
    assert analysed.last_error is None, analysed.last_error
    # replaced whole, as `ivcplan analyze --force` does: no file of the folder's former content stays
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, "report.json"])
    assert analysed.exported["json"] == out / "report.json"
    assert not [p for p in tmp_path.iterdir() if ".ivcplan-staging-" in p.name]

    # exporting the same study there again replaces its own earlier export without asking
    analysed.replace_dialog = None
    analysed.exported = {}
    analysed.export(out, ["json", "csv"])
    _wait(lambda: analysed.exported or analysed.last_error is not None)
    assert analysed.replace_dialog is None and analysed.last_error is None
    assert {"report.json", "report.csv"} <= {p.name for p in out.iterdir()}


def test_cpr_is_labelled_with_segments_and_landmarks(analysed):
    from ivcplan.render.cpr import segment_spans

    cpr = analysed.cpr_view
    landmarks = analysed.result.analysis.landmarks
    placed = {name: mark.s_mm for name, mark in landmarks.items() if mark.s_mm is not None}
    x0, x1, s0, s1 = cpr.strip_extent()
    # Every placed landmark on the strip is labelled at its arc length (as in the report's CPR picture);
    # the segments between the boundaries found are named: the same spans that picture draws.
    assert cpr.landmark_labels == {k: v for k, v in placed.items() if s0 - 5 <= v <= s1 + 5}
    assert {"renal_veins", "hepatic_veins"} <= set(cpr.landmark_labels)
    expected = {name: (lo, hi) for lo, hi, name in segment_spans(cpr.landmark_labels, s0, s1)}
    assert cpr.segment_labels == expected
    assert set(cpr.segment_labels) == {"I", "II", "III"}
    # On screen: each landmark's line crosses the strip (pixels change there when the labels are hidden),
    # and each numeral is drawn left of the strip at its span's middle.
    cpr.set_annotations_visible(True)
    on = cpr.capture().astype(int)
    cpr.set_annotations_visible(False)
    off = cpr.capture().astype(int)
    cpr.set_annotations_visible(True)
    drawn = np.abs(on - off).max(axis=2) > 20  # a 1-pixel line over the blue lumen is blended (multisampling)
    h = drawn.shape[0]

    def display(x: float, s: float) -> tuple[float, float]:
        cpr.renderer.SetWorldPoint(x, s - cpr.s_start, 0.0, 1.0)
        cpr.renderer.WorldToDisplay()
        dx, dy, _ = cpr.renderer.GetDisplayPoint()
        return dx, h - 1 - dy

    for name, s in cpr.landmark_labels.items():
        (ax, row), (bx, _) = display(x0, s), display(x1, s)
        band = drawn[max(0, round(row) - 2):round(row) + 3, round(ax) + 2:round(bx) - 2]  # a 1-pixel line, +-2
        assert band.any(axis=0).mean() > 0.9, name
    for name, (lo, hi) in cpr.segment_labels.items():
        (nx, row) = display(x0 - 2.0, (lo + hi) / 2)
        box = drawn[max(0, round(row) - 12):round(row) + 12, max(0, round(nx) - 30):round(nx) + 2]
        assert np.count_nonzero(box) >= 10, name
