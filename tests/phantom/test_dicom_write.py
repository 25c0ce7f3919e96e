"""Phantom cases written as DICOM: real files that ivcplan's loader and SimpleITK read identically."""

from __future__ import annotations

import json

import nibabel
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

import ivcplan.io
from ivcplan.errors import InputError
from ivcplan.io.dicom_write import TRANSFER_SYNTAXES, write_series
from ivcplan.phantom import write_case
from ivcplan.volume import Labelmap, Volume


def _sitk_read(folder):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


@pytest.mark.parametrize("syntax", list(TRANSFER_SYNTAXES))
def test_round_trip_every_transfer_syntax(tmp_path, tumor_case, syntax):
    volume = tumor_case.volume.crop((10, 0, 0), (16, 96, 96))  # a few slices are enough per syntax
    files = write_series(volume, tmp_path / syntax, transfer_syntax=syntax)
    ds = pydicom.dcmread(files[0])
    assert ds.file_meta.TransferSyntaxUID == TRANSFER_SYNTAXES[syntax]
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2" and ds.Modality == "CT"
    assert (float(ds.RescaleIntercept), float(ds.RescaleSlope)) == (-1024.0, 1.0)
    assert len({pydicom.dcmread(f).SOPInstanceUID for f in files}) == len(files)
    image = _sitk_read(tmp_path / syntax)
    assert Volume.from_sitk(image).grid.is_same(volume.grid)
    assert np.array_equal(sitk.GetArrayFromImage(image), volume.array)
    loaded = ivcplan.io.load(tmp_path / syntax)
    assert loaded.grid.is_same(volume.grid)
    assert np.array_equal(loaded.array, volume.array)


def test_write_case_feet_first_loads_identically(tmp_path, normal_ffs_case):
    paths = write_case(normal_ffs_case, tmp_path / "ffs", transfer_syntax="rle")
    ds = pydicom.dcmread(sorted(paths["dicom"].glob("*.dcm"))[0])
    assert ds.PatientPosition == "FFS"
    loaded = ivcplan.io.load(paths["dicom"])
    ref = Volume.from_sitk(_sitk_read(paths["dicom"]))
    assert loaded.grid.is_same(normal_ffs_case.volume.grid) and ref.grid.is_same(loaded.grid)
    assert np.array_equal(loaded.array, normal_ffs_case.volume.array)
    truth = Volume.from_nifti(nibabel.load(paths["truth_nifti"]))
    assert truth.grid.is_same(loaded.grid)
    assert np.array_equal(truth.array, normal_ffs_case.truth.array)
    info = json.loads(paths["truth_json"].read_text())
    assert info["facts"]["input"]["series_instance_uid"] == ds.SeriesInstanceUID
    assert info["structures"]["liver"]["volume_ml"] == pytest.approx(
        Labelmap(truth.array.astype(np.uint8), truth.grid).volume_ml(4), abs=0.01)


def test_writer_refuses_bad_requests(tmp_path, tumor_case):
    volume = tumor_case.volume.crop((0, 0, 0), (2, 96, 96))
    with pytest.raises(InputError, match="transfer_syntax"):
        write_series(volume, tmp_path / "a", transfer_syntax="jpeg")
    write_series(volume, tmp_path / "b")
    with pytest.raises(InputError, match="already holds 2 DICOM files"):
        write_series(volume, tmp_path / "b")
    assert len(write_series(volume, tmp_path / "b", overwrite=True)) == 2
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        write_series(volume, tmp_path / "file")
    bad = volume.with_array(np.full(volume.shape, np.nan, dtype=np.float32))
    with pytest.raises(InputError, match="NaN"):
        write_series(bad, tmp_path / "c")
