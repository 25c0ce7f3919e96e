"""Screenshot of the desktop viewer for the README: a bundled sample opened and analysed automatically.

Run under a display (Xvfb): ``xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/screenshot_viewer.py``
Writes ``docs/images/viewer.png`` (1600 x 1000) unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="case_a_renal", help="folder under sample_dicom/")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "viewer.png")
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    from ivcplan.viewer.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.open_path(REPO / "sample_dicom" / args.case / "dicom")
    end = time.monotonic() + TIMEOUT_S
    while window.result is None and window.last_error is None:
        app.processEvents()
        if time.monotonic() > end:
            print("timed out waiting for the analysis", file=sys.stderr)
            return 1
        time.sleep(0.02)
    if window.last_error is not None:
        print(f"analysis failed: {window.last_error}", file=sys.stderr)
        return 1
    window.panel.setCurrentIndex(1)  # the tumor measurements and the IVC segment schematic
    axial = window.slice_views["axial"]
    axial.hover(*axial.index_to_display(axial.cursor))  # the HU / LPS readout of the voxel at the crosshair
    for _ in range(50):  # let the views draw
        app.processEvents()
        time.sleep(0.02)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    window.grab_window().save(str(args.out))  # GL views painted in from their render windows
    print(f"wrote {args.out}")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
