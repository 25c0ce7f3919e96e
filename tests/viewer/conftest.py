"""Viewer test fixtures: a real MainWindow under Xvfb (real X server, Mesa OpenGL).

The Qt VTK widget needs the platform's windowed OpenGL class; tests/conftest.py selects the EGL
offscreen window for the renderers, and the viewer lifts that choice only while it creates its own
windows (`ivcplan.viewer.vtkwidget.windowed_render_window`), so nothing is unset here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

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
    """A real axial head-first DICOM series (one file per slice, pydicom) of ``array`` (z, y, x) in HU;
    ``origin`` is the LPS centre of voxel (0, 0, 0)."""
    outdir.mkdir(parents=True, exist_ok=True)
    series_uid, study_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    for k in range(array.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(outdir / f"s{k:04d}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.SeriesDescription, ds.SeriesNumber = modality, description, series_number
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.PatientID, ds.PatientName, ds.PatientPosition = "TEST", "Test^Viewer", "HFS"
        ds.PatientBirthDate, ds.PatientSex, ds.ReferringPhysicianName = "", "O", ""  # type 2: present, may be empty
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20261122", "120000", "1", ""
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [float(origin[0]), float(origin[1]), float(origin[2] + k * spacing[0])]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [spacing[1], spacing[2]]
        ds.SliceThickness = spacing[0]
        ds.Rows, ds.Columns = array.shape[1], array.shape[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = np.ascontiguousarray(array[k], dtype=np.int16).tobytes()
        ds.save_as(outdir / f"s{k:04d}.dcm", enforce_file_format=True)
    return outdir


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


