"""Start the desktop viewer: one QApplication, one `MainWindow`, optionally opening a study."""

from __future__ import annotations

import sys
from pathlib import Path


def run(path: str | Path | None = None) -> int:
    """Open the viewer (and ``path`` if given); returns the Qt exit code when the window closes."""
    from PySide6.QtWidgets import QApplication

    from ivcplan.viewer.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow()
    window.show()
    if path is not None:
        window.open_path(path)
    return int(app.exec())
