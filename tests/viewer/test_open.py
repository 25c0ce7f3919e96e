"""Opening studies in the window: real DICOM folders written by pydicom, the series picker,
drag-and-drop, Cancel, and clear error dialogs for bad studies (never a traceback)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from tests.viewer.conftest import synthetic_ct, write_series

LOAD_TIMEOUT_MS = 30_000


@pytest.fixture
def loader_window(window):
    window.analyse_on_open = False  # these tests are about opening; the analysis has its own tests
    return window


def _wait_idle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.busy and window.job is None, timeout=LOAD_TIMEOUT_MS)


def test_open_folder_loads_the_series_and_shows_it(loader_window, qtbot, tmp_path):
    ct = synthetic_ct((12, 64, 72))
    folder = write_series(tmp_path / "study", ct)
    loader_window.open_path(folder)
    _wait_idle(qtbot, loader_window)
    assert loader_window.last_error is None
    assert loader_window.volume.shape == ct.shape
    assert np.array_equal(loader_window.volume.array, ct)
    axial = loader_window.slice_views["axial"]
    assert axial.capture().std() > 20  # the slice is drawn


def test_series_picker_opens_the_chosen_series(loader_window, qtbot, tmp_path):
    write_series(tmp_path / "study" / "a", synthetic_ct((12, 64, 72)), description="arterial", series_number=2)
    write_series(tmp_path / "study" / "b", synthetic_ct((20, 64, 72)), description="venous", series_number=3)
    loader_window.open_path(tmp_path / "study")
    qtbot.waitUntil(lambda: loader_window.series_dialog is not None and loader_window.series_dialog.isVisible(),
                    timeout=LOAD_TIMEOUT_MS)
    dialog = loader_window.series_dialog
    texts = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert len(texts) == 2
    dialog.list.setCurrentRow(next(i for i, t in enumerate(texts) if "arterial" in t))
    dialog.accept()
    _wait_idle(qtbot, loader_window)
    assert loader_window.volume.shape[0] == 12
    assert loader_window.volume.meta["series_description"] == "arterial"


def test_drop_a_folder_opens_it(loader_window, qtbot, tmp_path):
    folder = write_series(tmp_path / "dropped", synthetic_ct((8, 48, 48)))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    args = (QPoint(300, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier)
    with warnings.catch_warnings():  # PySide marks this constructor deprecated; it is the one Qt has
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(*args)
    QApplication.sendEvent(loader_window, enter)  # Qt delivers a drop only after an accepted enter
    assert enter.isAccepted()
    QApplication.sendEvent(loader_window, QDropEvent(*args))
    _wait_idle(qtbot, loader_window)
    assert loader_window.volume is not None and loader_window.volume.shape == (8, 48, 48)


def test_cancel_stops_loading_without_an_error(loader_window, qtbot, tmp_path):
    folder = write_series(tmp_path / "big", synthetic_ct((300, 32, 32)))
    loader_window.open_path(folder)
    assert loader_window.cancel_button.isVisible() and loader_window.busy
    qtbot.mouseClick(loader_window.cancel_button, Qt.MouseButton.LeftButton)
    _wait_idle(qtbot, loader_window)
    assert loader_window.volume is None
    assert loader_window.last_error is None
    assert "cancelled" in loader_window.status_label.text()
    assert not loader_window.progress_bar.isVisible()


def _bad(tmp_path, kind: str):
    if kind == "not_dicom":
        folder = tmp_path / "notes"
        folder.mkdir()
        (folder / "scan.dcm").write_text("this is not a DICOM file")
        return folder, "no DICOM image files"
    if kind == "mr":
        return write_series(tmp_path / "mr", synthetic_ct((6, 32, 32)), modality="MR"), "modality is MR"
    if kind == "missing":
        return tmp_path / "does_not_exist", "no such file"
    folder = write_series(tmp_path / "single", synthetic_ct((1, 32, 32)))
    return folder, "single slice"


@pytest.mark.parametrize("kind", ["not_dicom", "mr", "missing", "single_slice"])
def test_bad_study_shows_a_clear_error_dialog(loader_window, qtbot, tmp_path, kind):
    path, expected = _bad(tmp_path, kind)
    loader_window.open_path(path)
    qtbot.waitUntil(lambda: loader_window.error_dialog is not None, timeout=LOAD_TIMEOUT_MS)
    dialog = loader_window.error_dialog
    assert dialog.isVisible()
    assert expected in dialog.text(), dialog.text()
    assert str(path.name) in dialog.text()
    assert "Traceback" not in dialog.text()
    assert loader_window.volume is None
    dialog.accept()
