"""Issue 21, the loader: hostile and broken input gives a named problem (file, attribute, value) or a loud
warning, never a traceback from deep inside, never a silent guess. Inputs are hashed before and after."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicomgen import write_series
from hostile import body_hu, delete, headerless_nifti, set_raw, set_us, tree_hashes
from io_synth import structured_hu
from pydicom.uid import generate_uid

import ivcplan.io as io
from ivcplan.errors import InputError, IntensityError, PixelDataError, SeriesError
from ivcplan.io.series import MAX_IMAGE_DIMENSION
from ivcplan.volume import Volume


def _series(folder: Path, hu: np.ndarray | None = None, **kw) -> list[Path]:
    return write_series(folder, structured_hu() if hu is None else hu, **kw)


def _by_instance(paths: list[Path]) -> list[Path]:
    """write_series numbers instances in reverse: the file of the k-th slice from the bottom."""
    return sorted(paths, key=lambda p: -int(pydicom.dcmread(p, stop_before_pixels=True).InstanceNumber))


# -- 1. one unparsable header value --------------------------------------------------------------------
FATAL_VALUES = [
    ("RescaleSlope", b"abc", "RescaleSlope 'abc' is not a finite number"),
    ("RescaleIntercept", b"-1O24", "RescaleIntercept '-1O24' is not a finite number"),
    ("RescaleSlope", b"0", "RescaleSlope '0' is 0: every pixel would have the same value"),
    ("RescaleSlope", b"NaN", "RescaleSlope 'NaN' is not a finite number"),
    ("ImagePositionPatient", b"1\\2", "ImagePositionPatient '1\\2' has 2 values, 3 expected"),
    ("PixelSpacing", b"0.8\\-0.8", "PixelSpacing '0.8\\-0.8' must be greater than 0"),
    ("PixelSpacing", b"0\\0", "PixelSpacing '0\\0' must be greater than 0"),
    ("ImageOrientationPatient", b"1\\0\\0\\1\\0\\0",
     "ImageOrientationPatient '1\\0\\0\\1\\0\\0' has the same row and column direction"),
    ("ImageOrientationPatient", b"0\\0\\0\\0\\1\\0", "has a zero-length row direction"),
    ("ImageOrientationPatient", b"1\\0\\0\\0.5\\0.866\\0", "row and column directions 60.0 deg apart"),
]


@pytest.mark.parametrize(("keyword", "raw", "message"), FATAL_VALUES, ids=[f"{k}={v!r}" for k, v, _ in FATAL_VALUES])
def test_a_bad_value_refuses_the_series_naming_file_tag_and_value(tmp_path, keyword, raw, message):
    paths = _series(tmp_path)
    victim = paths[2]
    set_raw(victim, keyword, raw)
    before = tree_hashes(tmp_path)
    (series,) = io.scan(tmp_path)  # discovery carries on and lists the problem
    assert not series.chosen and any(message in p and victim.name in p for p in series.problems), series.problems
    with pytest.raises(SeriesError) as info:
        io.load(tmp_path)
    assert info.value.path == str(victim)
    assert message in str(info.value)
    assert tree_hashes(tmp_path) == before


NOTE_VALUES = [
    ("SliceThickness", b"thick", "SliceThickness 'thick' is not a finite number"),
    ("SliceThickness", b"3\\3", "SliceThickness '3\\3' has 2 values, 1 expected"),
    ("InstanceNumber", b"1e999", "InstanceNumber '1e999' is not a finite number"),
    ("SeriesNumber", b"1e999", "SeriesNumber '1e999' is not a finite number"),
]


@pytest.mark.parametrize(("keyword", "raw", "message"), NOTE_VALUES, ids=[f"{k}={v!r}" for k, v, _ in NOTE_VALUES])
def test_a_bad_value_the_volume_does_not_need_is_ignored_with_a_warning(tmp_path, keyword, raw, message):
    hu = structured_hu()
    paths = _series(tmp_path, hu)
    set_raw(paths[1], keyword, raw)
    volume = io.load(tmp_path)
    np.testing.assert_array_equal(volume.array, hu)
    assert any(w.startswith(f"{paths[1]}: {message}: ignored") for w in volume.warnings), volume.warnings


def test_declared_size_is_checked_against_the_stored_data_before_allocating(tmp_path):
    paths = _series(tmp_path)
    for p in paths:  # 8000 x 8000 x 16 bits declared, 24 x 20 stored
        set_us(p, "Rows", 8000)
        set_us(p, "Columns", 8000)
    with pytest.raises(PixelDataError, match=r"truncated pixel data: 960 bytes stored, 128000000 expected "
                                             r"\(Rows 8000 x Columns 8000 x 1 frame\(s\) x 16 bits\)") as info:
        io.load(tmp_path)
    assert info.value.path in {str(p) for p in paths}


def test_an_absurd_matrix_is_refused_from_the_header(tmp_path):
    paths = _series(tmp_path)
    for p in paths:
        set_us(p, "Rows", 60000)
    with pytest.raises(SeriesError, match=f"Rows '60000' is out of range \\(at most {MAX_IMAGE_DIMENSION}\\)"):
        io.load(tmp_path)


def test_damaged_headers_are_listed_and_discovery_carries_on(tmp_path):
    hu = structured_hu()
    paths = _series(tmp_path / "good", hu)
    (tmp_path / "broken.dcm").write_bytes(paths[0].read_bytes()[:400])  # DICOM preamble, header cut short
    os.mkfifo(tmp_path / "pipe.dcm")
    _found, skipped = io.scan_all(tmp_path)
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert reasons["broken.dcm"].startswith("damaged DICOM file: it ends inside element (0008,0016)")
    assert reasons["pipe.dcm"] == "is a named pipe (FIFO), not a regular file: not read"
    volume = io.load(tmp_path)
    np.testing.assert_array_equal(volume.array, hu)
    assert any("2 file(s) under" in w and "pipe.dcm" in w and "broken.dcm" in w for w in volume.warnings)


# -- 2. a named pipe never blocks ----------------------------------------------------------------------
def _within(seconds: float, fn):
    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(result=_call(fn)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still blocked after {seconds} s"
    if "error" in box["result"]:
        raise box["result"]["error"]
    return box["result"]["value"]


def _call(fn):
    try:
        return {"value": fn()}
    except Exception as exc:
        return {"error": exc}


def test_a_named_pipe_beside_a_series_is_skipped_not_opened(tmp_path):
    hu = structured_hu()
    _series(tmp_path, hu)
    os.mkfifo(tmp_path / "IM9999.dcm")
    volume = _within(60, lambda: io.load(tmp_path))
    np.testing.assert_array_equal(volume.array, hu)
    assert any("IM9999.dcm: is a named pipe (FIFO)" in w for w in volume.warnings)


def test_a_named_pipe_given_as_input_is_refused(tmp_path):
    os.mkfifo(tmp_path / "ct.nii.gz")
    with pytest.raises(InputError, match=r"input is a named pipe \(FIFO\), not a file or folder"):
        _within(60, lambda: io.load(tmp_path / "ct.nii.gz"))


# -- 4 and 11. duplicates ------------------------------------------------------------------------------
def test_a_different_image_at_an_occupied_position_is_refused_naming_both_files(tmp_path):
    paths = _series(tmp_path)
    real = _by_instance(paths)[3]
    ds = pydicom.dcmread(real)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PixelData = np.zeros((ds.Rows, ds.Columns), np.int16).tobytes()  # a blank copy, sorting first by name
    blank = tmp_path / "AAAA.dcm"
    ds.save_as(blank, enforce_file_format=True)
    before = tree_hashes(tmp_path)
    with pytest.raises(SeriesError, match="two different images at one slice position") as info:
        io.load(tmp_path)
    assert str(blank) in str(info.value) and str(real) in str(info.value)
    assert tree_hashes(tmp_path) == before


@pytest.mark.parametrize("how", ["byte-identical copy", "re-export with a new SOPInstanceUID"])
def test_the_same_image_twice_is_dropped_with_a_note_naming_both(tmp_path, how):
    hu = structured_hu()
    paths = _series(tmp_path / "a", hu)
    (tmp_path / "b").mkdir()
    copy = tmp_path / "b" / "copy.dcm"
    shutil.copy(paths[1], copy)
    if how.startswith("re-export"):
        ds = pydicom.dcmread(copy)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(copy, enforce_file_format=True)
    volume = io.load(tmp_path)
    np.testing.assert_array_equal(volume.array, hu)
    why = "same SOPInstanceUID" if how.startswith("byte") else "identical pixels"
    note = next(w for w in volume.warnings if "1 slice(s) at duplicate positions dropped" in w)
    assert str(copy) in note and str(paths[1]) in note and why in note


def test_an_intact_copy_wins_over_a_truncated_duplicate(tmp_path):
    hu = structured_hu()
    paths = _series(tmp_path / "b_series", hu)
    (tmp_path / "a_copy").mkdir()  # sorts first
    truncated = tmp_path / "a_copy" / paths[2].name
    truncated.write_bytes(paths[2].read_bytes()[:-300])
    volume = io.load(tmp_path)
    np.testing.assert_array_equal(volume.array, hu)
    note = next(w for w in volume.warnings if "damaged duplicate(s) ignored" in w)
    assert f"{truncated} (truncated pixel data: file ends 300 bytes early" in note and str(paths[2]) in note


def test_damaged_copies_without_an_intact_one_are_refused_naming_the_damage(tmp_path):
    paths = _series(tmp_path / "b")
    (tmp_path / "a").mkdir()
    for folder, cut in (("a", 300), ("b", 200)):
        target = tmp_path / folder / paths[2].name
        target.write_bytes(paths[2].read_bytes()[:-cut])
    with pytest.raises(PixelDataError, match="truncated pixel data: file ends 300 bytes early") as info:
        io.load(tmp_path)
    assert info.value.path == str(tmp_path / "a" / paths[2].name)


# -- 5. implausible intensities --------------------------------------------------------------------------
def test_missing_rescale_with_stored_values_that_are_not_hu_is_refused(tmp_path):
    paths = _series(tmp_path, structured_hu(), intercept=-1024.0)  # stored = HU + 1024
    for p in paths:
        delete(p, "RescaleSlope", "RescaleIntercept", "RescaleType")
    with pytest.raises(IntensityError, match=r"intensities do not look like HU: the darkest 0.1 % of voxels are at "
                                             r"1\d\d or above, where air should be about -1000 HU; "
                                             "RescaleSlope/RescaleIntercept are absent"):
        io.load(tmp_path)
    described = io.load(tmp_path, require_ct=False)  # `ivcplan info` still shows it, with the warning
    assert any(w.startswith("intensities do not look like HU") for w in described.warnings)
    assert any("RescaleSlope/RescaleIntercept absent in 6 file(s)" in w for w in described.warnings)


def test_missing_rescale_on_values_that_are_hu_loads_with_a_warning(tmp_path):
    hu = body_hu()
    paths = _series(tmp_path, hu, intercept=0.0)
    for p in paths:
        delete(p, "RescaleSlope", "RescaleIntercept")
    volume = io.load(tmp_path)
    np.testing.assert_array_equal(volume.array, hu)
    assert any("RescaleSlope/RescaleIntercept absent in 6 file(s)" in w and "stored values taken as HU" in w
               for w in volume.warnings)


def test_not_finite_values_are_refused(tmp_path):
    array = body_hu((40, 256, 256)).astype(np.float32)  # large enough to be checked on a subsample...
    array[1, 1, 1] = np.nan  # ...that does not hold this voxel: the finite check looks at every one
    path = tmp_path / "nan.nii.gz"
    io.save_nifti(Volume.from_array(array, spacing=(2.0, 1.0, 1.0)), path)
    with pytest.raises(IntensityError, match=r"1 voxel\(s\) are not finite numbers"):
        io.load(path)


# -- 6. NIfTI without a spatial header -------------------------------------------------------------------
def test_nifti_without_spatial_header_is_refused_unless_spacing_is_given(tmp_path):
    hu = body_hu((10, 32, 32))
    path = headerless_nifti(tmp_path / "ct.nii", hu)
    before = tree_hashes(path)
    with pytest.raises(InputError, match=r"no spatial header: qform_code and sform_code are both 0, so the voxel size "
                                         r"and orientation are unknown \(pixdim says 0 x 0 x 0 mm.*--assume-spacing"):
        io.load(path)
    volume = io.load(path, assume_spacing=(2.5, 0.8, 0.7))
    np.testing.assert_allclose(volume.grid.spacing, (2.5, 0.8, 0.7))
    np.testing.assert_array_equal(volume.array, hu)
    assert volume.grid.voxel_volume_mm3 == pytest.approx(2.5 * 0.8 * 0.7)
    assert any("voxel size 2.5 x 0.8 x 0.7 mm (z, y, x) assumed from --assume-spacing; orientation unknown"
               in w for w in volume.warnings)
    assert tree_hashes(path) == before


def test_assume_spacing_never_overrides_a_real_header(tmp_path):
    path = io.save_nifti(Volume.from_array(body_hu(), spacing=(3.0, 0.9, 0.9)), tmp_path / "ct.nii.gz")
    volume = io.load(path, assume_spacing=(1.0, 1.0, 1.0))
    np.testing.assert_allclose(volume.grid.spacing, (3.0, 0.9, 0.9))
    assert "--assume-spacing ignored: the file has a spatial header" in volume.warnings


# -- issue 17: one ImagePositionPatient for every slice ----------------------------------------------------
def _shared_position_series(folder: Path, hu: np.ndarray, **kw) -> list[Path]:
    paths = write_series(folder, hu, positions=[(10.0, -20.0, 30.0)] * len(hu), **kw)
    return paths  # InstanceNumber runs n..1 from the bottom slice up (write_series reverses it)


def test_slices_sharing_one_position_are_ordered_by_instance_number_with_a_warning(tmp_path):
    hu = structured_hu((7, 16, 16))
    _shared_position_series(tmp_path, hu, thickness=2.5)
    volume = io.load(tmp_path)
    # InstanceNumber 1 is the last slice written: instance order is the reverse of `hu`
    np.testing.assert_array_equal(volume.array, hu[::-1])
    np.testing.assert_allclose(volume.grid.spacing, (2.5, 0.8, 0.8))
    np.testing.assert_allclose(volume.grid.origin, (10.0, -20.0, 30.0))
    assert ("all 7 slices have the same ImagePositionPatient: ordered by InstanceNumber, 2.5 mm apart from "
            "SliceThickness; positions are not real (InstanceNumber taken to grow along the slice normal, towards "
            "the head)") in volume.warnings
    assert volume.meta["positions_synthesized"] is True
    (series,) = io.scan(tmp_path)
    assert series.spacing == (2.5, 0.8, 0.8) and "all 7 slices share one ImagePositionPatient" in series.problems[-1]


def test_spacing_between_slices_is_preferred_to_thickness(tmp_path):
    paths = _shared_position_series(tmp_path, structured_hu((4, 16, 16)), thickness=5.0)
    for p in paths:
        set_raw(p, "SpacingBetweenSlices", b"3.0")
    volume = io.load(tmp_path)
    assert volume.grid.spacing[0] == pytest.approx(3.0)
    assert any("3 mm apart from SpacingBetweenSlices" in w for w in volume.warnings)


def test_slices_sharing_one_position_without_instance_numbers_are_refused(tmp_path):
    paths = _shared_position_series(tmp_path, structured_hu((4, 16, 16)))
    delete(paths[1], "InstanceNumber")
    with pytest.raises(SeriesError, match="all 4 slices have the same ImagePositionPatient and this one has no usable "
                                          "InstanceNumber") as info:
        io.load(tmp_path)
    assert info.value.path == str(paths[1])


def test_slices_sharing_position_and_instance_number_are_refused_as_different_images(tmp_path):
    paths = _shared_position_series(tmp_path, structured_hu((4, 16, 16)))
    set_raw(paths[0], "InstanceNumber", b"2")
    with pytest.raises(SeriesError, match="two different images at one slice position"):
        io.load(tmp_path)


def test_real_ircadb_series_is_ordered_by_position_and_instance_number_alike(shared_dir):
    folder = shared_dir / "data" / "ircadb_17" / "PATIENT_DICOM"
    volume = io.load(folder)
    assert volume.shape == (119, 512, 512)
    np.testing.assert_allclose(volume.grid.spacing, (1.6, 0.743, 0.743), atol=1e-3)
    for k in (0, 60, 118):  # slice k of the volume is image_k (InstanceNumber k, 0 = the most caudal)
        np.testing.assert_array_equal(volume.array[k], pydicom.dcmread(folder / f"image_{k}").pixel_array)
    assert not any("same ImagePositionPatient" in w for w in volume.warnings)  # this copy's positions are real


def test_real_ircadb_series_with_one_position_for_all_slices(shared_dir, tmp_path):
    """The export issue 17 describes (every ImagePositionPatient 0\\0\\0), made from the real series in a
    temporary folder: the same volume, and the warning."""
    folder = shared_dir / "data" / "ircadb_17" / "PATIENT_DICOM"
    reference = io.load(folder)
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        ds.ImagePositionPatient = [0, 0, 0]
        ds.save_as(tmp_path / path.name)
    volume = io.load(tmp_path)
    np.testing.assert_array_equal(volume.array, reference.array)
    np.testing.assert_allclose(volume.grid.spacing, reference.grid.spacing, atol=1e-6)
    assert ("all 119 slices have the same ImagePositionPatient: ordered by InstanceNumber, 1.6 mm apart from "
            "SpacingBetweenSlices; positions are not real (InstanceNumber taken to grow along the slice normal, "
            "towards the head)") in volume.warnings


# -- smaller: which series, and why ------------------------------------------------------------------------
def test_two_ct_series_say_which_was_chosen_and_why_the_other_was_not(tmp_path):
    write_series(tmp_path / "a", structured_hu((6, 16, 16)), series_uid="1.2.3.1", series_number=1,
                 description="Abdomen nativ")
    write_series(tmp_path / "b", structured_hu((8, 16, 16)), series_uid="1.2.3.2", series_number=2,
                 description="Abdomen PV")
    volume = io.load(tmp_path)
    assert volume.meta["series_instance_uid"] == "1.2.3.2"
    assert "not analysed: series 1 (CT 'Abdomen nativ': 6 slices, fewer)" in volume.meta["chosen_reason"]
    assert volume.meta["other_series"] == [{"number": 1, "series_instance_uid": "1.2.3.1", "modality": "CT",
                                            "description": "Abdomen nativ",
                                            "reason": "CT 'Abdomen nativ': 6 slices, fewer"}]


# -- 7. labels that do not belong to the CT ---------------------------------------------------------------
def _ct_volume() -> Volume:
    return Volume.from_array(body_hu((8, 32, 32)), spacing=(5.0, 6.0, 6.0))  # LPS x, y 0..186, z 0..35 mm


def _labels(tmp_path: Path, array: np.ndarray, origin) -> Path:
    return io.save_nifti(Volume.from_array(array, spacing=(5.0, 6.0, 6.0), origin=origin), tmp_path / "seg.nii.gz")


def test_labels_far_from_the_ct_are_refused_saying_how_far(tmp_path):
    liver = np.full((4, 8, 8), 5, np.uint8)  # TotalSegmentator v2 liver, z 1000..1015 mm
    path = _labels(tmp_path, liver, (0.0, 0.0, 1000.0))
    with pytest.raises(InputError, match=r"no labelled voxel lies inside the CT: the labels \(x 0..42; y 0..42; "
                                         r"z 1000..1015 mm, LPS\) are 965 mm from the CT's field of view \(x 0..186; "
                                         r"y 0..186; z 0..35 mm\), centres \d+ mm apart") as info:
        io.load_labels(path, _ct_volume())
    assert info.value.path == str(path)


def test_labels_lying_on_air_are_refused(tmp_path):
    array = np.zeros((8, 32, 32), np.uint8)
    array[:, :4, :4] = 5  # a "liver" in the corner, where this CT holds air (another patient's file)
    with pytest.raises(InputError, match="100 % of the imported organ and vessel voxels lie on air"):
        io.load_labels(_labels(tmp_path, array, (0.0, 0.0, 0.0)), _ct_volume())


def test_labels_mostly_outside_the_ct_carry_a_warning(tmp_path):
    array = np.zeros((8, 32, 32), np.uint8)
    array[:, 12:20, 12:20] = 5  # inside the body
    imported = io.load_labels(_labels(tmp_path, array, (0.0, 0.0, 25.0)), _ct_volume())  # 3 of 8 slices overlap
    assert imported.warnings == (f"only 38 % of the labelled volume of {tmp_path / 'seg.nii.gz'} lies inside the CT; "
                                 "the rest was cut off",)


# -- 9. the CSV helper ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "cell"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+cmd", "'+cmd"), ("-1+2", "'-1+2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("-inf", "'-inf"),
    ("-12.5", "-12.5"), ("+3", "+3"), ("-1e-3", "-1e-3"), ("12", "12"), ("Abdomen", "Abdomen"), ("", ""),
])
def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(text, cell):
    from ivcplan.report.csvsafe import safe_cell

    assert safe_cell(text) == cell


def test_report_and_summary_rows_escape_header_text_but_keep_numbers():
    from ivcplan.batch.summary import csv_row as summary_row
    from ivcplan.report.contract import csv_row

    report = {"input": {"series_description": "=1+1", "spacing_mm": [2.0, 0.8, 0.8], "warnings": ["=x"]},
              "tumor": {"distance_upper_pole_to_hepatic_veins_mm": -12.5, "segments": ["II", "III"]},
              "landmarks": {"renal_veins": {"position_mm": [-10.5, 20.0, -300.0]}}}
    row = csv_row(report)
    assert row["input.series_description"] == "'=1+1"
    assert row["tumor.distance_upper_pole_to_hepatic_veins_mm"] == "-12.5"
    assert row["landmarks.renal_veins.position_mm.x"] == "-10.5" and row["tumor.segments"] == "II;III"
    summary = summary_row({"case": "a", "series_description": "@cmd", "error": "-bad", "warnings": ["=w"],
                           "measurements": {"tumor_volume_ml": -0.0}})
    assert (summary["series_description"], summary["error"], summary["warnings"]) == ("'@cmd", "'-bad", "'=w")
    assert summary["tumor_volume_ml"] == "-0"


def test_a_file_cut_right_after_its_file_meta_is_named_not_taken_for_a_series(tmp_path):
    hu = structured_hu()
    paths = _series(tmp_path / "ct", hu)
    stub = tmp_path / "ct" / "stub.dcm"
    ds = pydicom.dcmread(paths[0])
    ds.save_as(stub, enforce_file_format=True)
    meta_end = 132 + 12 + int(ds.file_meta.FileMetaInformationGroupLength)
    stub.write_bytes(stub.read_bytes()[:meta_end])
    volume = io.load(tmp_path / "ct")
    np.testing.assert_array_equal(volume.array, hu)
    assert any(f"{stub}: damaged DICOM file: nothing follows its file meta information" in w for w in volume.warnings)
