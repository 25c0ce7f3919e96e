"""Benchmark: time for the viewer to open a 512x512x300 DICOM study and show its slices.

Run under a display (e.g. ``xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/bench_viewer.py``).
Measures, in one process: (a) the viewer's open -> scan -> load -> three slice views drawn (with
the analysis switched off), and (b) the peer: `ivcplan.io.load` of the same folder alone. The
ratio (a)/(b) is the viewer's overhead; the absolute time is checked against the 3 s target.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_S = 3.0


def write_study(outdir: Path, shape=(300, 512, 512), spacing=(1.0, 0.75, 0.75)) -> Path:
    """A synthetic uncompressed CT series (pydicom), one file per slice, if not already there."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    outdir.mkdir(parents=True, exist_ok=True)
    if len(list(outdir.glob("*.dcm"))) == shape[0]:
        return outdir
    _, y, x = np.ogrid[0:1, 0 : shape[1], 0 : shape[2]]
    body = ((y - shape[1] / 2) / (0.42 * shape[1])) ** 2 + ((x - shape[2] / 2) / (0.46 * shape[2])) ** 2 < 1
    rng = np.random.default_rng(0)
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(shape[0]):
        img = np.where(body[0], 40, -1000).astype(np.int16) + rng.integers(-15, 15, shape[1:], dtype=np.int16)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(outdir / f"{k:04d}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.SeriesDescription, ds.SeriesNumber, ds.InstanceNumber = "CT", "bench", 1, k + 1
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientID, ds.PatientPosition = "BENCH", "HFS"
        ds.ImagePositionPatient = [-192.0, -192.0, float(k * spacing[0])]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing, ds.SliceThickness = [spacing[1], spacing[2]], spacing[0]
        ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = shape[1], shape[2], 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = (img + 1024).astype(np.int16).tobytes()
        ds.save_as(outdir / f"{k:04d}.dcm", enforce_file_format=True)
    return outdir


def time_viewer(app, folder: Path) -> float:
    from ivcplan.viewer.main_window import MainWindow

    window = MainWindow()
    window.analyse_on_open = False
    window.show()
    app.processEvents()
    start = time.perf_counter()
    window.open_path(folder)
    while window.volume is None or window.busy:
        app.processEvents()
        if window.last_error:
            raise RuntimeError(window.last_error)
        time.sleep(0.002)
    for view in window.slice_views.values():  # the three slices are drawn (set_volume rendered them)
        view.render_window.Render()
    elapsed = time.perf_counter() - start
    window.close()
    window.deleteLater()
    app.processEvents()
    del window
    gc.collect()  # free the VTK/Qt objects while Qt is still alive (not at interpreter exit)
    return elapsed


def time_load(folder: Path) -> float:
    from ivcplan import io

    start = time.perf_counter()
    io.load(folder)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ivcplan_bench_viewer")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from PySide6.QtWidgets import QApplication

    folder = write_study(args.workdir / "study")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    time_load(folder)  # warm the page cache so both sides read from memory
    viewer, load = [], []
    for _ in range(args.repeat):  # interleaved so both see the same machine state
        viewer.append(time_viewer(app, folder))
        load.append(time_load(folder))
    v, ld = statistics.median(viewer), statistics.median(load)
    print(f"study: {folder} (512x512x300)")
    print(f"viewer open -> slices shown: median {v:.2f} s over {args.repeat} runs {[round(t, 2) for t in viewer]}")
    print(f"peer io.load alone:          median {ld:.2f} s {[round(t, 2) for t in load]}")
    print(f"ratio viewer / io.load: {v / ld:.2f}; target {TARGET_S:.1f} s: {'met' if v < TARGET_S else 'MISSED'}")
    return 0 if v < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
