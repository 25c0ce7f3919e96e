"""Small real DICOM series written with pydicom for the loader tests and the loader benchmark.

Every file is a complete Part-10 file (file meta, patient/study/series/image modules) so that
pydicom, GDCM (SimpleITK) and ivcplan read the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    EnhancedCTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

AXIAL_IOP = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _base(sop_class: str, sop_uid: str, transfer_syntax: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.PatientName = "Test^Loader"
    ds.PatientID = "LOADER01"
    ds.StudyDate = "20261122"
    ds.StudyTime = "120000"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    return ds


def _pixel_module(ds: Dataset, rows: int, cols: int, signed: bool = True) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if signed else 0


def _encode(ds: Dataset, stored: np.ndarray, transfer_syntax: str) -> None:
    if transfer_syntax == ExplicitVRLittleEndian:
        ds.PixelData = np.ascontiguousarray(stored).tobytes()
        ds["PixelData"].VR = "OW"
    elif transfer_syntax in (JPEG2000Lossless, RLELossless):
        ds.compress(transfer_syntax, np.ascontiguousarray(stored))
    else:
        ds.PixelData = np.ascontiguousarray(stored).tobytes()
        ds["PixelData"].VR = "OW"
        ds.file_meta.TransferSyntaxUID = transfer_syntax


def ct_slice(stored: np.ndarray, *, ipp: Sequence[float], iop: Sequence[float] = AXIAL_IOP,
             pixel_spacing: Sequence[float] = (0.8, 0.8), thickness: float = 1.0, series_uid: str,
             study_uid: str, frame_uid: str, instance: int = 1, modality: str = "CT",
             description: str = "Abdomen", contrast: str = "", patient_position: str = "HFS",
             slope: float = 1.0, intercept: float = -1024.0,
             image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "AXIAL"),
             transfer_syntax: str = ExplicitVRLittleEndian, series_number: int = 1,
             signed: bool = True) -> Dataset:
    """One single-frame CT image whose stored values are ``stored`` (rows, cols)."""
    ds = _base(CTImageStorage, generate_uid(), transfer_syntax)
    ds.Modality = modality
    ds.SeriesInstanceUID = series_uid
    ds.StudyInstanceUID = study_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.SeriesNumber = series_number
    ds.SeriesDescription = description
    if contrast:
        ds.ContrastBolusAgent = contrast
    ds.PatientPosition = patient_position
    ds.ImageType = list(image_type)
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [float(v) for v in ipp]
    ds.ImageOrientationPatient = [float(v) for v in iop]
    ds.PixelSpacing = [float(v) for v in pixel_spacing]
    ds.SliceThickness = float(thickness)
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    ds.RescaleType = "HU"
    _pixel_module(ds, stored.shape[0], stored.shape[1], signed)
    _encode(ds, stored.astype(np.int16 if signed else np.uint16), transfer_syntax)
    return ds


def write_series(outdir: Path, hu: np.ndarray, *, spacing_zyx: Sequence[float] = (2.0, 0.8, 0.8),
                 origin: Sequence[float] = (-100.0, -120.0, -50.0), iop: Sequence[float] = AXIAL_IOP,
                 positions: Sequence[Sequence[float]] | None = None, slope: float = 1.0,
                 intercept: float = -1024.0, seed: int = 0, **kwargs) -> list[Path]:
    """Write ``hu`` (z, y, x) as a series; slice k lies at ``origin + k * spacing_z * normal``
    unless ``positions`` gives each slice's ImagePositionPatient. File names are random so that
    the loader cannot rely on them; InstanceNumber is reversed for the same reason."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    row = np.asarray(iop[:3], float)
    col = np.asarray(iop[3:], float)
    normal = np.cross(row, col)
    if positions is None:
        positions = [np.asarray(origin, float) + k * spacing_zyx[0] * normal for k in range(hu.shape[0])]
    uids = {key: kwargs.pop(key, None) or generate_uid() for key in ("series_uid", "study_uid", "frame_uid")}
    rng = np.random.default_rng(seed)
    paths = []
    for k, (plane, ipp) in enumerate(zip(hu, positions, strict=True)):
        stored = np.round((plane.astype(float) - intercept) / slope)
        ds = ct_slice(stored, ipp=ipp, iop=iop, pixel_spacing=spacing_zyx[1:], slope=slope, intercept=intercept,
                      instance=len(hu) - k, **uids, **kwargs)
        path = outdir / f"IM{rng.integers(1 << 40):012x}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_enhanced(path: Path, hu: np.ndarray, *, spacing_zyx: Sequence[float] = (2.0, 0.8, 0.8),
                   origin: Sequence[float] = (-100.0, -120.0, -50.0), iop: Sequence[float] = AXIAL_IOP,
                   intercept: float = -1024.0, frame_order: Sequence[int] | None = None,
                   transfer_syntax: str = ExplicitVRLittleEndian) -> Path:
    """Write ``hu`` as one multi-frame Enhanced CT file with per-frame plane positions, frames
    stored in ``frame_order`` (a permutation of slice indices)."""
    ds = _base(EnhancedCTImageStorage, generate_uid(), transfer_syntax)
    ds.Modality = "CT"
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.SeriesNumber = 5
    ds.SeriesDescription = "Enhanced CT"
    ds.PatientPosition = "HFS"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    ds.InstanceNumber = 1
    ds.ContentDate = "20261122"
    ds.ContentTime = "120000"
    order = list(range(hu.shape[0])) if frame_order is None else list(frame_order)
    ds.NumberOfFrames = len(order)
    _pixel_module(ds, hu.shape[1], hu.shape[2])
    normal = np.cross(np.asarray(iop[:3], float), np.asarray(iop[3:], float))

    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [float(v) for v in spacing_zyx[1:]]
    measures.SliceThickness = float(spacing_zyx[0])
    shared.PixelMeasuresSequence = [measures]
    orient = Dataset()
    orient.ImageOrientationPatient = [float(v) for v in iop]
    shared.PlaneOrientationSequence = [orient]
    transform = Dataset()
    transform.RescaleSlope = 1.0
    transform.RescaleIntercept = intercept
    transform.RescaleType = "HU"
    shared.PixelValueTransformationSequence = [transform]
    ds.SharedFunctionalGroupsSequence = [shared]
    per_frame = []
    for k in order:
        item = Dataset()
        pos = Dataset()
        pos.ImagePositionPatient = [float(v) for v in np.asarray(origin, float) + k * spacing_zyx[0] * normal]
        item.PlanePositionSequence = [pos]
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = per_frame
    stored = np.round(hu[order].astype(float) - intercept).astype(np.int16)
    _encode(ds, stored, transfer_syntax)
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def read_back(path: Path) -> Dataset:
    return pydicom.dcmread(path)
