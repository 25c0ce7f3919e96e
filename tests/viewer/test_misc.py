"""Volume rendering toggle, the `ivcplan view` command's argument check, and a guard against the
PySide6 release whose signals drop references to True (the viewer would abort after a while)."""

from __future__ import annotations

import sys

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication
from typer.testing import CliRunner

from ivcplan.cli import app

SIGNALS = 200


def test_signals_keep_the_reference_count_of_true(qapp):
    class Source(QObject):
        fired = Signal(object)

    received = []
    source = Source()
    source.fired.connect(received.append)
    before = sys.getrefcount(True)
    for i in range(SIGNALS):
        source.fired.emit(i)
    assert len(received) == SIGNALS
    assert abs(sys.getrefcount(True) - before) < SIGNALS // 2


def test_volume_rendering_shows_the_ct_in_3d(window, synthetic_volume):
    window.set_volume(synthetic_volume)
    blank = window.view3d.capture()
    window.volume_rendering_box.setChecked(True)
    QApplication.processEvents()
    shown = window.view3d.capture()
    assert window.view3d.volume_prop is not None
    assert np.abs(shown.astype(int) - blank.astype(int)).sum(axis=2).astype(bool).mean() > 0.02
    window.volume_rendering_box.setChecked(False)
    assert window.view3d.volume_prop is None


def test_view_command_rejects_a_missing_path(tmp_path):
    result = CliRunner().invoke(app, ["view", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "nothing" in result.output and "no such file" in result.output
