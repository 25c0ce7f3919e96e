"""Desktop viewer (PySide6 + VTK): `ivcplan view [PATH]`.

Qt and VTK are imported only when the viewer is used: `from ivcplan.viewer.app import run`.
"""

from __future__ import annotations

from pathlib import Path


def run(path: str | Path | None = None) -> int:
    """Open the viewer window (and the study at ``path``); blocks until it is closed."""
    from ivcplan.viewer.app import run as _run

    return _run(path)
