"""What the 2D views draw over the image, checked on screen pixels under Xvfb: orientation letters at the
four edges, a scale bar as long as it says, and the HU / LPS readout under the mouse."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

#: A screen pixel counts as drawn by the overlay when a channel differs by more than this from the
#: same view with the overlay hidden.
CHANGED = 40
#: The letters' boxes: this many pixels around their anchor (a glyph is about 12 x 18 pixels).
LETTER_BOX_PX = 24
MIN_LETTER_PIXELS = 15
#: The scale bar's drawn ends lie within this many pixels of where it says (line width and rounding).
BAR_TOLERANCE_PX = 2.0

EXPECTED_LETTERS = {"axial": {"left": "R", "right": "L", "top": "A", "bottom": "P"},
                    "coronal": {"left": "R", "right": "L", "top": "S", "bottom": "I"},
                    "sagittal": {"left": "A", "right": "P", "top": "S", "bottom": "I"}}


@pytest.fixture
def shown(window, synthetic_volume):
    window.set_volume(synthetic_volume)
    QApplication.processEvents()
    return window


def _drawn(view) -> np.ndarray:
    """Boolean (h, w) mask of the pixels the overlay changes (top row first)."""
    view.set_overlay_visible(True)
    on = view.capture().astype(int)
    view.set_overlay_visible(False)
    off = view.capture().astype(int)
    view.set_overlay_visible(True)
    return np.abs(on - off).max(axis=2) > CHANGED


@pytest.mark.parametrize("name", ["axial", "coronal", "sagittal"])
def test_letters_and_scale_bar_are_drawn_where_they_say(shown, name):
    view = shown.slice_views[name]
    assert view.letters == EXPECTED_LETTERS[name]
    drawn = _drawn(view)
    h, w = drawn.shape
    geometry = view.overlay_geometry
    justify = {"left": (0, 1), "right": (-1, 1), "top": (-0.5, -1), "bottom": (-0.5, 0)}
    for edge, (x, y) in geometry["letters"].items():
        # The glyph lies right of / left of / centred on its anchor as the edge's justification says.
        jx, jy = justify[edge]
        cx = x + jx * LETTER_BOX_PX / 2 + (LETTER_BOX_PX / 2 if jx == 0 else 0)
        row = h - 1 - y
        cy = row - jy * LETTER_BOX_PX / 2 if jy else row
        box = drawn[max(0, int(cy - LETTER_BOX_PX)):int(cy + LETTER_BOX_PX),
                    max(0, int(cx - LETTER_BOX_PX)):int(cx + LETTER_BOX_PX)]
        assert np.count_nonzero(box) >= MIN_LETTER_PIXELS, (name, edge)
    # Nothing drawn in the middle of the view: the overlay keeps to the edges.
    assert not drawn[h // 3:2 * h // 3, w // 3:2 * w // 3].any()
    # The bar: drawn from x0 to x1 on its row, and x1 - x0 is the stated millimetres at the view's scale,
    # measured independently through two voxel centres that far apart along the screen's x axis.
    (x0, y0), (x1, _) = geometry["scale_bar"]
    cols = np.flatnonzero(drawn[h - 1 - round(y0)])
    assert cols.min() == pytest.approx(x0, abs=BAR_TOLERANCE_PX)
    assert cols.max() == pytest.approx(x1, abs=BAR_TOLERANCE_PX)
    mm = geometry["scale_bar_mm"]
    plane = view.plane
    a = np.array(view.cursor, float)
    b = a.copy()
    b[plane.col_axis] += mm / plane.pixel_spacing[0]
    (ax, _), (bx, _) = view.index_to_display(a), view.index_to_display(b)
    assert x1 - x0 == pytest.approx(abs(bx - ax), abs=0.5)
    assert x1 - x0 <= 0.25 * w


def test_scale_bar_follows_the_zoom(shown):
    view = shown.slice_views["axial"]
    view.capture()
    before = view.pixels_per_mm(), view.overlay_geometry["scale_bar_mm"]
    view.zoom(4.0)
    view.capture()
    after = view.pixels_per_mm(), view.overlay_geometry["scale_bar_mm"]
    assert after[0] == pytest.approx(4 * before[0])
    assert after[1] < before[1]  # four times the pixels per mm: a shorter bar in mm
    (x0, _), (x1, _) = view.overlay_geometry["scale_bar"]
    assert x1 - x0 == pytest.approx(after[1] * after[0])
    view.reset_camera()


def test_hover_reads_out_hu_and_lps_of_the_voxel_under_the_mouse(shown):
    view = shown.slice_views["axial"]
    vol = shown.volume
    # A voxel inside the bright 'IVC' (180 HU) on the current axial slice.
    voxel = (view.slice_index, round(0.6 * vol.shape[1]), round(0.38 * vol.shape[2]))
    x, y = view.index_to_display(np.array(voxel, float))
    ratio = view.vtk_widget.devicePixelRatioF()
    pos = QPoint(round(x / ratio), round(view.vtk_widget.height() - 1 - y / ratio))
    lx, ly, lz = vol.grid.index_to_lps(np.array(voxel, float))
    hu = float(vol.array[voxel])
    assert hu == 180.0
    expected = f"LPS ({lx:.1f}, {ly:.1f}, {lz:.1f}) mm   HU 180   voxel (z {voxel[0]}, y {voxel[1]}, x {voxel[2]})"
    # A Qt mouse-move event to the widget itself (not the X server's shared pointer, which a window of
    # another test process on the same display may lie under), through VTK's interactor to the view.
    widget = view.vtk_widget
    for at in (pos + QPoint(9, 7), pos):
        event = QMouseEvent(QEvent.Type.MouseMove, QPointF(at), QPointF(widget.mapToGlobal(at)),
                            Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(widget, event)
    assert shown.readout_label.text() == expected
    # Off the image (the view's corner is background beyond the slice): the readout clears.
    view.hover(1, 1)
    assert shown.readout_label.text() == ""
