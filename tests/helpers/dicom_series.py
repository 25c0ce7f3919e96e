"""Write a Volume as a real single-frame CT DICOM series with pydicom (test input for DICOM SEG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from ivcplan.volume import Volume


def write_ct_series(volume: Volume, outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    grid = volume.grid
    row_dir, col_dir = grid.direction[:, 2], grid.direction[:, 1]
    paths = []
    for k in range(grid.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality = "CT"
        ds.PatientName = "Test^Render"
        ds.PatientID = "../../etc/passwd"  # must never reach a file name
        ds.PatientBirthDate = ""
        ds.PatientSex = "O"
        ds.StudyDate = "20261122"
        ds.StudyTime = "120000"
        ds.AccessionNumber = ""
        ds.ReferringPhysicianName = ""
        ds.StudyID = "1"
        ds.SeriesNumber = 3
        ds.InstanceNumber = k + 1
        ds.Manufacturer = "test"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [float(v) for v in grid.index_to_lps([k, 0, 0])]
        ds.ImageOrientationPatient = [float(v) for v in np.r_[row_dir, col_dir]]
        ds.PixelSpacing = [float(grid.spacing[1]), float(grid.spacing[2])]
        ds.SliceThickness = float(grid.spacing[0])
        ds.Rows, ds.Columns = grid.shape[1], grid.shape[2]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = np.ascontiguousarray(volume.array[k].astype(np.int16)).tobytes()
        path = outdir / f"slice_{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
