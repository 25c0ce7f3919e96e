"""Fixtures of the batch tests: two small phantoms (generated once) and a mixed input tree run once."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

sys.path.insert(0, str(Path(__file__).parent))

from cases import (
    head_ct,
    make_phantoms,
    tree_hashes,
    truncate_pixels,
    write_corrupt_nifti,
    write_dicom,
)

from ivcplan.io import save_nifti
from ivcplan.volume import Volume

BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"


@dataclass
class Phantoms:
    tumor: Volume
    thrombus: Volume
    tumor_nii: Path
    thrombus_nii: Path


@pytest.fixture(scope="session")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> Phantoms:
    folder = tmp_path_factory.mktemp("phantoms")
    tumor, thrombus = make_phantoms([(1, "tumor"), (2, "thrombus")])
    save_nifti(tumor, folder / "tumor.nii.gz")
    save_nifti(thrombus, folder / "thrombus.nii.gz")
    return Phantoms(tumor, thrombus, folder / "tumor.nii.gz", folder / "thrombus.nii.gz")


def write_sr(path: Path) -> None:
    """A structured report (no pixels) lying beside the images, as PACS exports have."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = BASIC_TEXT_SR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = BASIC_TEXT_SR, meta.MediaStorageSOPInstanceUID
    ds.Modality = "SR"
    ds.SeriesInstanceUID, ds.StudyInstanceUID = generate_uid(), generate_uid()
    ds.PatientID = "SR"
    ds.save_as(path, enforce_file_format=True)


@dataclass
class MixedRoot:
    root: Path
    good: dict[str, str] = field(default_factory=dict)  # relpath -> SeriesInstanceUID ("" for a NIfTI)
    good_uids: dict[str, str] = field(default_factory=dict)  # SeriesInstanceUID -> relpath
    bad: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # relpath -> (status, error_type, text)


@pytest.fixture(scope="session")
def mixed_root(tmp_path_factory: pytest.TempPathFactory, phantoms: Phantoms) -> MixedRoot:
    """Nine cases: 5 good (DICOM folder, NIfTI, two series sharing one folder), a corrupt NIfTI, an MR series,
    a head CT (no abdomen) and a DICOM series with a truncated file; plus an SR object that is no case."""
    root = tmp_path_factory.mktemp("input") / "export"
    m = MixedRoot(root)
    uid = write_dicom(phantoms.tumor, root / "study1" / "ct", description="Abdomen PV 8mm")
    m.good["study1/ct"] = uid
    write_sr(root / "study1" / "ct" / "report_sr.dcm")
    (root / "nifti").mkdir(parents=True)
    save_nifti(phantoms.thrombus, root / "nifti" / "thrombus_ct.nii.gz")
    m.good["nifti/thrombus_ct.nii.gz"] = ""
    uid_a = write_dicom(phantoms.tumor, root / "mixed", prefix="A", series_number=3, description="PV")
    uid_b = write_dicom(phantoms.thrombus, root / "mixed", prefix="B", series_number=4, description="Delayed")
    m.good["mixed#A"], m.good["mixed#B"] = uid_a, uid_b
    write_corrupt_nifti(root / "corrupt.nii.gz", phantoms.thrombus)
    m.bad["corrupt.nii.gz"] = ("failed", "InputError", "corrupt.nii.gz")
    write_dicom(phantoms.tumor, root / "study2" / "mr", modality="MR", description="T2 axial")
    m.bad["study2/mr"] = ("failed", "NotCTError", "modality is MR")
    write_dicom(head_ct(), root / "head", description="Head")
    m.bad["head"] = ("no_ivc", "NoIVC", "IVC")
    write_dicom(phantoms.thrombus, root / "broken")
    truncate_pixels(root / "broken" / "IM0005.dcm")
    m.bad["broken"] = ("failed", "PixelDataError", "IM0005.dcm")
    m.good_uids = {v: k for k, v in m.good.items() if v}
    return m


@dataclass
class FirstRun:
    root: MixedRoot
    outdir: Path
    result: Any
    events: list
    before: dict
    after: dict
    seconds: float


@pytest.fixture(scope="session")
def first_run(tmp_path_factory: pytest.TempPathFactory, mixed_root: MixedRoot) -> FirstRun:
    from ivcplan.batch import run_batch

    outdir = tmp_path_factory.mktemp("out") / "batch"
    before = tree_hashes(mixed_root.root)
    events: list = []
    t0 = time.perf_counter()
    result = run_batch(mixed_root.root, outdir, jobs=2, outputs=["json", "csv"], on_event=events.append)
    seconds = time.perf_counter() - t0
    return FirstRun(mixed_root, outdir, result, events, before, tree_hashes(mixed_root.root), seconds)

