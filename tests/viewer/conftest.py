"""Viewer test fixtures: a real MainWindow under Xvfb (real X server, Mesa OpenGL).

The Qt VTK widget needs the platform's windowed OpenGL class; tests/conftest.py selects the EGL
offscreen window for the renderers, and the viewer lifts that choice only while it creates its own
windows (`ivcplan.viewer.vtkwidget.windowed_render_window`), so nothing is unset here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ivcplan.volume import Volume


def synthetic_ct(shape=(40, 96, 112)) -> np.ndarray:
    """Body ellipse at 40 HU, a round 'IVC' at 180 HU on the patient's right, a 'spine' at 700 HU."""
    _, y, x = np.mgrid[0 : shape[0], 0 : shape[1], 0 : shape[2]]
    arr = np.full(shape, -1000, np.int16)
    ny, nx = shape[1], shape[2]
    arr[((y - ny / 2) / (0.45 * ny)) ** 2 + ((x - nx / 2) / (0.48 * nx)) ** 2 < 1] = 40
    arr[(y - 0.6 * ny) ** 2 + (x - 0.38 * nx) ** 2 < (0.07 * nx) ** 2] = 180
    arr[(y > 0.82 * ny) & (y < 0.9 * ny) & (np.abs(x - nx / 2) < 0.05 * nx)] = 700
    return arr


def write_series(outdir: Path, array: np.ndarray, spacing=(2.5, 0.9, 0.9), *, origin=(-50.0, -40.0, 0.0),
                 modality="CT", description="synthetic", series_number=1) -> Path:
    """A real axial head-first DICOM series of ``array`` (z, y, x) in HU, written by pydicom through the
    loader tests' generator (which can also write non-CT modalities); returns the folder."""
    from dicomgen import write_series as write_dicom

    write_dicom(Path(outdir), array, spacing_zyx=spacing, origin=origin, modality=modality,
                description=description, series_number=series_number)
    return Path(outdir)


@pytest.fixture(scope="session")
def synthetic_volume() -> Volume:
    return Volume.from_array(synthetic_ct(), spacing=(2.5, 0.9, 0.9), origin=(-50.0, -40.0, 0.0))


@pytest.fixture
def window(qtbot):
    from ivcplan.viewer.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    if win.job is not None:
        win.job.cancel()
        win.job.done.wait(30)


