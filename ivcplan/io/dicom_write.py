"""Write a `Volume` as a CT DICOM series (CT Image Storage, one file per slice) with pydicom.

Stored values are ``HU - RESCALE_INTERCEPT`` as unsigned 16-bit (the usual CT convention);
transfer syntaxes: explicit VR little endian, RLE lossless, JPEG 2000 lossless (pydicom encoders).
Slices are written along the grid's first axis; when that axis runs against the normal implied by
the in-plane directions (row x column), slices are written in reverse so every file's geometry is
consistent and a reader rebuilds exactly the same physical image.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

from ivcplan.errors import InputError
from ivcplan.progress import ProgressCallback, no_progress
from ivcplan.volume import Volume

log = logging.getLogger(__name__)

TRANSFER_SYNTAXES = {"explicit": ExplicitVRLittleEndian, "rle": RLELossless, "jpeg2000": JPEG2000Lossless}
RESCALE_INTERCEPT = -1024.0
STORED_MAX = 65535
#: Default acquisition date of synthetic series (fixed: outputs are deterministic).
DEFAULT_DATE = "20261122"


def _ds(value: float) -> str:
    """A DICOM DS string (at most 16 characters)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text if len(text) <= 16 else f"{value:.8g}"


def write_series(volume: Volume, outdir: str | Path, *, transfer_syntax: str = "explicit",
                 meta: Mapping[str, Any] | None = None, overwrite: bool = False,
                 progress: ProgressCallback | None = None) -> list[Path]:
    """Write ``volume`` (HU) as ``outdir/IM0001.dcm ...``; returns the file paths in slice order.

    ``meta`` (defaults to ``volume.meta``) may give: study_instance_uid, series_instance_uid,
    frame_of_reference_uid, patient_position (HFS/FFS/...), series_description, patient_name,
    patient_id, contrast_agent, slice_thickness_mm, series_number, study_date.
    """
    if transfer_syntax not in TRANSFER_SYNTAXES:
        raise InputError(f"transfer_syntax={transfer_syntax!r}: expected one of {', '.join(TRANSFER_SYNTAXES)}")
    tsuid = TRANSFER_SYNTAXES[transfer_syntax]
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise InputError("output path exists and is not a directory", outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    existing = sorted(outdir.glob("*.dcm"))
    if existing and not overwrite:
        raise InputError(f"directory already holds {len(existing)} DICOM files; pass overwrite=True "
                         "or choose an empty directory", outdir)
    for path in existing:
        path.unlink()
    info = dict(volume.meta)
    info.update(meta or {})
    report = progress or no_progress

    grid = volume.grid
    row_dir = grid.direction[:, 2]   # along a row = increasing column index
    col_dir = grid.direction[:, 1]   # down a column = increasing row index
    normal = np.cross(row_dir, col_dir)
    order = np.arange(grid.shape[0])
    if float(normal @ grid.direction[:, 0]) < 0:
        order = order[::-1]
    hu = np.asarray(volume.array)
    if not np.all(np.isfinite(hu)):
        raise InputError("volume holds NaN or infinite values; cannot be stored as DICOM")
    stored = np.rint(hu.astype(np.float64) - RESCALE_INTERCEPT)
    clipped = int(np.count_nonzero((stored < 0) | (stored > STORED_MAX)))
    if clipped:
        log.warning("%d voxels outside [%d, %d] HU were clipped", clipped, RESCALE_INTERCEPT,
                    RESCALE_INTERCEPT + STORED_MAX)
    stored = np.clip(stored, 0, STORED_MAX).astype(np.uint16)

    study_uid = info.get("study_instance_uid") or generate_uid()
    series_uid = info.get("series_instance_uid") or generate_uid()
    frame_uid = info.get("frame_of_reference_uid") or generate_uid()
    thickness = float(info.get("slice_thickness_mm") or grid.spacing[0])
    date = str(info.get("study_date", DEFAULT_DATE))
    paths = []
    for number, k in enumerate(order, start=1):
        ds = _slice_dataset(stored[k], grid.index_to_lps((k, 0, 0)), row_dir, col_dir, normal, grid.spacing,
                            thickness, info, study_uid, series_uid, frame_uid, number, date)
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[series_uid, str(number)])
        ds.file_meta = _file_meta(ds.SOPInstanceUID)
        if tsuid == ExplicitVRLittleEndian:
            ds.file_meta.TransferSyntaxUID = tsuid
        else:
            ds.compress(tsuid, stored[k], encoding_plugin="pylibjpeg" if tsuid == RLELossless else "",
                        generate_instance_uid=False)
        path = outdir / f"IM{number:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
        report("writing DICOM", number / len(order))
    return paths


def _file_meta(sop_uid: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "IVCPLAN"
    return meta


def _slice_dataset(pixels: np.ndarray, position: np.ndarray, row_dir: np.ndarray, col_dir: np.ndarray,
                   normal: np.ndarray, spacing: np.ndarray, thickness: float, info: Mapping[str, Any],
                   study_uid: str, series_uid: str, frame_uid: str, number: int, date: str) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = date
    ds.StudyTime = ds.SeriesTime = "120000"
    ds.AcquisitionTime = ds.ContentTime = f"1201{number % 60:02d}"
    ds.AccessionNumber = ""
    ds.Modality = "CT"
    ds.Manufacturer = "ivcplan"
    ds.ManufacturerModelName = "synthetic phantom"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "CT abdomen with contrast"
    ds.SeriesDescription = str(info.get("series_description", "CT series"))
    ds.PatientName = str(info.get("patient_name", "PHANTOM^IVC"))
    ds.PatientID = str(info.get("patient_id", "PHANTOM"))
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.BodyPartExamined = "ABDOMEN"
    ds.ContrastBolusAgent = str(info.get("contrast_agent", ""))
    if ds.ContrastBolusAgent:
        ds.ContrastBolusRoute = "IV"
    ds.SliceThickness = _ds(thickness)
    ds.SpacingBetweenSlices = _ds(float(spacing[0]))
    ds.KVP = "120"
    ds.ConvolutionKernel = "STANDARD"
    ds.PatientPosition = str(info.get("patient_position", "HFS"))
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = int(info.get("series_number", 3))
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = number
    ds.ImagePositionPatient = [_ds(float(v)) for v in position]
    ds.ImageOrientationPatient = [_ds(float(v)) for v in (*row_dir, *col_dir)]
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = _ds(float(position @ normal))
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.PixelSpacing = [_ds(float(spacing[1])), _ds(float(spacing[2]))]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = _ds(RESCALE_INTERCEPT)
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    ds.PixelData = pixels.tobytes()
    return ds
