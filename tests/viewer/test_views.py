"""The 2D views in a real window under Xvfb: orientation on screen, linked crosshair, scroll,
window/level presets and mouse W/L, distance tool, screenshots."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from ivcplan.viewer.slicing import PRESETS

#: A click lands within this many voxels of where it was aimed (one screen pixel is < 1 voxel here).
CLICK_TOLERANCE_VOXELS = 1.0
#: Measured distance vs the true one: the end points are each within a pixel (< 0.9 mm here).
DISTANCE_TOLERANCE_MM = 2.0


def _qt_point(view, index) -> QPoint:
    """Qt widget position (top-left origin) of array index ``index`` in ``view``."""
    x, y = view.index_to_display(np.asarray(index, dtype=float))
    ratio = view.vtk_widget.devicePixelRatioF()
    return QPoint(round(x / ratio), round(view.vtk_widget.height() - 1 - y / ratio))


def _click(qtbot, view, index) -> None:
    qtbot.mouseClick(view.vtk_widget, Qt.MouseButton.LeftButton, pos=_qt_point(view, index))


def _drag(qtbot, view, a: QPoint, b: QPoint) -> None:
    qtbot.mousePress(view.vtk_widget, Qt.MouseButton.LeftButton, pos=a)
    for t in np.linspace(0.0, 1.0, 6)[1:]:
        p = QPoint(round(a.x() + t * (b.x() - a.x())), round(a.y() + t * (b.y() - a.y())))
        qtbot.mouseMove(view.vtk_widget, p)
    qtbot.mouseRelease(view.vtk_widget, Qt.MouseButton.LeftButton, pos=b)


@pytest.fixture
def shown(window, synthetic_volume, qtbot):
    window.set_volume(synthetic_volume)
    QApplication.processEvents()
    return window


def test_axial_screen_shows_patient_right_on_the_left(shown):
    axial = shown.slice_views["axial"]
    pixels = axial.capture().astype(int)
    vol = shown.volume
    # The bright 'IVC' (180 HU) sits on the patient's right: on screen it is left of the image centre.
    ivc_index = np.array([axial.slice_index, 0.6 * vol.shape[1], 0.38 * vol.shape[2]])
    x, y = axial.index_to_display(ivc_index)
    h = pixels.shape[0]
    ivc_gray = pixels[h - 1 - round(y), round(x)]
    assert x < pixels.shape[1] / 2
    expected = round((180 - (PRESETS["abdomen"][1] - PRESETS["abdomen"][0] / 2)) * 255 / PRESETS["abdomen"][0])
    assert np.all(np.abs(ivc_gray - expected) <= 2), (ivc_gray, expected)


def test_click_moves_the_crosshair_in_all_views(shown, qtbot):
    axial = shown.slice_views["axial"]
    target = np.array([axial.slice_index, 30.0, 70.0])
    _click(qtbot, axial, target)
    for name in ("coronal", "sagittal"):
        view = shown.slice_views[name]
        assert np.allclose(view.cursor[1:], target[1:], atol=CLICK_TOLERANCE_VOXELS), name
    assert shown.slice_views["coronal"].slice_index == pytest.approx(30, abs=1)
    assert shown.slice_views["sagittal"].slice_index == pytest.approx(70, abs=1)


def test_wheel_scrolls_slices_and_links_the_others(shown, qtbot):
    axial = shown.slice_views["axial"]
    before = axial.slice_index
    centre = QPointF(axial.vtk_widget.width() / 2, axial.vtk_widget.height() / 2)
    for _ in range(3):
        event = QWheelEvent(centre, axial.vtk_widget.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(axial.vtk_widget, event)
    assert axial.slice_index == before + 3
    assert shown.slice_views["coronal"].cursor[0] == pytest.approx(before + 3)


def test_presets_and_mouse_window_level(shown, qtbot):
    shown.apply_preset("bone")
    for view in shown.slice_views.values():
        assert (view.window, view.level) == PRESETS["bone"]
    axial = shown.slice_views["axial"]
    centre = QPoint(axial.vtk_widget.width() // 2, axial.vtk_widget.height() // 2)
    _drag(qtbot, axial, centre, centre + QPoint(50, 0))
    window, level = PRESETS["bone"]
    assert axial.window > window and axial.level == pytest.approx(level)
    assert shown.slice_views["sagittal"].window == axial.window  # linked


def test_distance_tool_measures_physical_distance(shown, qtbot):
    shown.set_tool("measure")
    axial = shown.slice_views["axial"]
    k = axial.slice_index
    a, b = np.array([k, 20.0, 20.0]), np.array([k, 70.0, 90.0])
    _drag(qtbot, axial, _qt_point(axial, a), _qt_point(axial, b))
    truth = float(np.linalg.norm((b - a)[1:] * shown.volume.spacing[1:]))
    assert shown.last_distance_mm == pytest.approx(truth, abs=DISTANCE_TOLERANCE_MM)
    assert "distance" in shown.status_label.text()
    shown.set_tool("navigate")


def test_screenshots_of_every_view_are_written_and_not_blank(shown, tmp_path):
    paths = shown.screenshot_views(tmp_path)
    from PySide6.QtGui import QImage

    for name in ("axial", "coronal", "sagittal"):
        image = QImage(str(paths[name]))
        assert image.width() > 100 and image.height() > 100
        arr = shown.slice_views[name].capture()
        assert arr.std() > 20, name  # body, vessel and background show: not a flat image
    window_png = shown.save_window_png(tmp_path / "window.png")
    assert QImage(str(window_png)).width() == shown.width()
