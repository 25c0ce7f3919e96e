"""Bad DICOM input: each case gets a specific exception naming the file and the problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicomgen import ct_slice, write_series
from io_synth import structured_hu
from pydicom.uid import SegmentationStorage, generate_uid

import ivcplan.io as io
from ivcplan.errors import InputError, NotCTError, NotDicomError, PixelDataError, SeriesError


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such file or directory") as info:
        io.load(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(info.value)


def test_not_dicom_file(tmp_path):
    path = tmp_path / "notes.dcm"
    path.write_text("patient notes, not an image\n" * 20)
    with pytest.raises(NotDicomError, match="not a DICOM file") as info:
        io.load(path)
    assert info.value.path == str(path)


def test_folder_without_dicom(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.bin").write_bytes(bytes(300))
    with pytest.raises(NotDicomError, match=r"no DICOM image files found \(2 file\(s\) examined\)"):
        io.load(tmp_path)


def test_non_dicom_files_beside_a_series_are_ignored(tmp_path, hu_small):
    write_series(tmp_path, hu_small)
    (tmp_path / "README.txt").write_text("exported by PACS")
    np.testing.assert_array_equal(io.load(tmp_path).array, hu_small)


def test_ct_without_pixel_data(tmp_path):
    ds = ct_slice(np.zeros((8, 8)), ipp=(0, 0, 0), series_uid=generate_uid(), study_uid=generate_uid(),
                  frame_uid=generate_uid())
    del ds.PixelData
    path = tmp_path / "empty.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(PixelDataError, match="no image data") as info:
        io.load(path)
    assert info.value.path == str(path)


def test_structured_report_is_not_ct(tmp_path):
    ds = ct_slice(np.zeros((8, 8)), ipp=(0, 0, 0), series_uid=generate_uid(), study_uid=generate_uid(),
                  frame_uid=generate_uid(), modality="SR")
    del ds.PixelData
    path = tmp_path / "report.dcm"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(NotCTError, match="modality is SR"):
        io.load(path)


@pytest.mark.parametrize("modality", ["MR", "SEG"])
def test_non_ct_series_refused_unless_asked(tmp_path, hu_small, modality):
    paths = write_series(tmp_path, hu_small, modality=modality, description=f"{modality} series")
    if modality == "SEG":
        for p in paths:
            ds = pydicom.dcmread(p)
            ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = SegmentationStorage
            ds.save_as(p, enforce_file_format=True)
    with pytest.raises(NotCTError, match=f"modality is {modality}") as info:
        io.load(tmp_path)
    assert info.value.path in {str(p) for p in paths}
    np.testing.assert_array_equal(io.load(tmp_path, require_ct=False).array, hu_small)


def test_single_slice(tmp_path, hu_small):
    paths = write_series(tmp_path, hu_small[:1])
    with pytest.raises(SeriesError, match="single slice") as info:
        io.load(tmp_path)
    assert info.value.path == str(paths[0])


def test_truncated_pixel_data(tmp_path, hu_small):
    paths = write_series(tmp_path, hu_small)
    victim = paths[3]
    data = victim.read_bytes()
    victim.write_bytes(data[:-100])
    with pytest.raises(PixelDataError, match="truncated pixel data") as info:
        io.load(tmp_path)
    assert info.value.path == str(victim)


def test_truncated_compressed_pixel_data(tmp_path):
    from pydicom.uid import RLELossless

    paths = write_series(tmp_path, structured_hu((3, 16, 16)), transfer_syntax=RLELossless)
    data = paths[1].read_bytes()
    paths[1].write_bytes(data[: len(data) - 200])
    with pytest.raises(PixelDataError) as info:
        io.load(tmp_path)
    assert info.value.path == str(paths[1])


def test_inconsistent_rows_columns(tmp_path, hu_small):
    uids = {"series_uid": "1.2.3.9", "study_uid": "1.2.3", "frame_uid": "1.2.3.4"}
    write_series(tmp_path / "a", hu_small, **uids)
    odd = write_series(tmp_path / "b", structured_hu((1, 30, 30)), origin=(-100.0, -120.0, 20.0), seed=3, **uids)
    info = io.scan(tmp_path)[0]
    assert any("inconsistent rows/columns" in p for p in info.problems) and not info.chosen
    with pytest.raises(SeriesError, match="inconsistent rows/columns") as err:
        io.load(tmp_path)
    assert err.value.path == str(odd[0])


def test_series_without_position_is_refused(tmp_path, hu_small):
    paths = write_series(tmp_path, hu_small)
    ds = pydicom.dcmread(paths[2])
    del ds.ImagePositionPatient
    ds.save_as(paths[2], enforce_file_format=True)
    with pytest.raises(SeriesError, match="no ImagePositionPatient") as info:
        io.load(tmp_path)
    assert info.value.path == str(paths[2])


def test_unknown_series_selection(tmp_path, hu_small):
    write_series(tmp_path, hu_small)
    with pytest.raises(SeriesError, match="no series '7'; available: 1"):
        io.load(tmp_path, series=7)


def test_input_is_not_modified_even_when_refused(tmp_path, hu_small):
    src = tmp_path / "src"
    paths = write_series(src, hu_small[:1])
    copy = tmp_path / "copy.dcm"
    shutil.copy(paths[0], copy)
    with pytest.raises(SeriesError):
        io.load(src)
    assert Path(paths[0]).read_bytes() == copy.read_bytes()
