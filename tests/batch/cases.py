"""Inputs of the batch tests: small phantom CTs written as real DICOM series (pydicom) and NIfTI files,
plus the bad cases a PACS export contains (a corrupt file, an MR series, a head CT, a broken series)."""

from __future__ import annotations

import gzip
import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

from ivcplan.io import save_nifti
from ivcplan.volume import Volume

#: Small phantoms: 96 x 96 at 3.5 mm, 8 mm slices over the iliac-to-atrium range (about 44 slices).
PHANTOM_OPTIONS = {"matrix": 96, "pixel_mm": 3.5, "slice_spacing_mm": 8.0}
#: A patient ID that would be dangerous in a file name: must never reach one.
HOSTILE_PATIENT_ID = "../../etc/passwd"


def make_phantom(seed: int, lesion: str) -> Volume:
    from ivcplan.phantom.config import PhantomConfig, ThrombusSpec, TumorSpec
    from ivcplan.phantom.generate import generate

    spec = {"tumor": TumorSpec(), "thrombus": ThrombusSpec(), "none": None}[lesion]
    kw = {lesion: spec} if spec is not None else {}
    return generate(PhantomConfig(seed=seed, name=f"batch-{lesion}-{seed}", **PHANTOM_OPTIONS, **kw)).volume


def make_phantoms(specs: list[tuple[int, str]]) -> list[Volume]:
    """Generate phantoms in parallel (generation is the slow part of the test setup)."""
    with ProcessPoolExecutor(max_workers=min(2, len(specs))) as pool:
        return list(pool.map(make_phantom, *zip(*specs, strict=True)))


def head_ct(n_slices: int = 24, matrix: int = 80, pixel_mm: float | None = None, slice_mm: float = 5.0) -> Volume:
    """Head-like CT: air, a bony skull shell around brain tissue; no abdomen, no IVC. The field of view is
    240 mm unless ``pixel_mm`` says otherwise, so air surrounds the head as in a real head CT."""
    pixel_mm = 240.0 / matrix if pixel_mm is None else pixel_mm
    z, y, x = np.meshgrid(np.arange(n_slices) * slice_mm, (np.arange(matrix) - matrix / 2) * pixel_mm,
                          (np.arange(matrix) - matrix / 2) * pixel_mm, indexing="ij")
    r = np.sqrt((x / 75.0) ** 2 + (y / 95.0) ** 2 + ((z - n_slices * slice_mm / 2) / 90.0) ** 2)
    hu = np.full(r.shape, -1000.0)
    hu[r < 1.0] = 900.0  # skull
    hu[r < 0.92] = 35.0  # brain
    hu += np.random.default_rng(3).normal(0, 5, hu.shape)
    return Volume.from_array(np.round(hu).astype(np.int16), spacing=(slice_mm, pixel_mm, pixel_mm),
                             origin=(-(matrix / 2) * pixel_mm, -(matrix / 2) * pixel_mm, 1300.0),
                             meta={"modality": "CT"})


def write_dicom(volume: Volume, folder: Path, *, modality: str = "CT", prefix: str = "IM",
                description: str = "Abdomen PV", series_number: int = 2, study_uid: str | None = None) -> str:
    """Write ``volume`` as a single-frame series (one Part-10 file per slice); returns its SeriesInstanceUID."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid, frame_uid = generate_uid(), generate_uid()
    study_uid = study_uid or generate_uid()
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    grid = volume.grid
    row_dir, col_dir = grid.direction[:, 2], grid.direction[:, 1]
    for k in range(grid.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.Modality = modality
        ds.PatientName, ds.PatientID = "Batch^Test", HOSTILE_PATIENT_ID
        ds.PatientBirthDate, ds.PatientSex = "", "O"
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.ReferringPhysicianName, ds.StudyID = (
            "20261122", "120000", "", "", "1")
        ds.SeriesNumber, ds.InstanceNumber = series_number, k + 1
        ds.SeriesDescription = description
        ds.PatientPosition = "HFS"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [float(v) for v in grid.index_to_lps([k, 0, 0])]
        ds.ImageOrientationPatient = [float(v) for v in np.r_[row_dir, col_dir]]
        ds.PixelSpacing = [float(grid.spacing[1]), float(grid.spacing[2])]
        ds.SliceThickness = float(grid.spacing[0])
        ds.Rows, ds.Columns = grid.shape[1], grid.shape[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "HU"
        ds.PixelData = np.ascontiguousarray(volume.array[k].astype(np.int16)).tobytes()
        ds.save_as(folder / f"{prefix}{k:04d}.dcm", enforce_file_format=True)
    return series_uid


def write_corrupt_nifti(path: Path, volume: Volume) -> None:
    """A .nii.gz cut off halfway (an interrupted copy)."""
    save_nifti(volume, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with gzip.open(path) as fh:  # make sure it really is unreadable past the cut
        try:
            fh.read()
        except (EOFError, OSError):
            return
    raise AssertionError("truncation did not corrupt the file")


def truncate_pixels(path: Path) -> None:
    """Cut the pixel data of one DICOM file short (the header stays readable)."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 2000])


@dataclass
class Expected:
    good: dict[str, str] = field(default_factory=dict)  # relpath (+ uid) -> description
    bad: dict[str, str] = field(default_factory=dict)  # relpath -> error keyword expected in the reason
    uids: dict[str, str] = field(default_factory=dict)  # series uid -> relpath


def tree_hashes(root: Path) -> dict[str, tuple[str, int]]:
    """SHA-256 and mtime of every file under ``root`` (to prove the batch changed nothing)."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath, f)
            out[str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    return out
