"""External segmentation import: TotalSegmentator (v1/v2, folder), NIfTI + table, .seg.nrrd, DICOM SEG."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel
import nrrd
import numpy as np
import pytest

from ivcplan.errors import InputError
from ivcplan.io.label_import import load_labels
from ivcplan.labels import Label
from ivcplan.volume import Labelmap, Volume


@pytest.fixture()
def reference() -> Volume:
    # Reference CT grid: 1 x 1 x 2 mm, axial head-first.
    return Volume.from_array(np.zeros((10, 20, 24), np.int16), spacing=(2.0, 1.0, 1.0), origin=(-12.0, -10.0, 0.0))


def _source(reference: Volume) -> tuple[np.ndarray, Labelmap]:
    """A labelmap on a flipped, coarser grid covering the same space; returns its truth on the reference."""
    truth = np.zeros(reference.shape, np.uint8)
    truth[2:6, 4:10, 4:12] = 1   # block A
    truth[5:9, 12:18, 14:22] = 2  # block B
    return truth, Labelmap(truth, reference.grid)


def _write_nifti(array_zyx: np.ndarray, grid, path: Path) -> None:
    """A foreign tool's labelmap: its own ids, a plain NIfTI header (not marked as ivcplan's)."""
    nibabel.save(Volume(array_zyx.astype(np.uint8), grid).to_nifti(), str(path))


def _flipped(reference: Volume, array: np.ndarray):
    """Same space with the y axis flipped (as TotalSegmentator's output of a DICOM series)."""
    g = reference.grid
    direction = g.direction.copy()
    direction[:, 1] *= -1
    origin = g.index_to_lps([0, g.shape[1] - 1, 0])
    from ivcplan.volume import Grid

    return Grid(g.shape, g.spacing, origin, direction), array[:, ::-1, :].copy()


def test_totalseg_v2_multilabel_through_physical_space(tmp_path: Path, reference: Volume) -> None:
    truth, _ = _source(reference)
    ids = np.where(truth == 1, 63, np.where(truth == 2, 5, 0))
    ids[0, 0, 0] = 6  # stomach: reported, not imported
    grid, flipped = _flipped(reference, ids)
    _write_nifti(flipped, grid, tmp_path / "seg.nii.gz")
    out = load_labels(tmp_path / "seg.nii.gz", reference)
    assert out.labelmap.grid.is_same(reference.grid)
    assert np.array_equal(out.labelmap.array == Label.IVC_LUMEN, truth == 1)
    assert np.array_equal(out.labelmap.array == Label.LIVER, truth == 2)
    assert set(out.imported) == {Label.IVC_LUMEN, Label.LIVER} and "stomach" in out.ignored


def test_totalseg_v1_ids(tmp_path: Path, reference: Volume) -> None:
    truth, _ = _source(reference)
    ids = np.where(truth == 1, 8, np.where(truth == 2, 7, 0))  # v1: 8 IVC, 7 aorta
    _write_nifti(ids, reference.grid, tmp_path / "v1.nii.gz")
    out = load_labels(tmp_path / "v1.nii.gz", reference, kind="totalseg_v1")
    assert np.array_equal(out.labelmap.array == Label.IVC_LUMEN, truth == 1)
    assert np.array_equal(out.labelmap.array == Label.AORTA, truth == 2)
    auto = load_labels(tmp_path / "v1.nii.gz", reference)  # auto-detects v1 from {7, 8}
    assert np.array_equal(auto.labelmap.array, out.labelmap.array)


def test_totalseg_folder_of_masks(tmp_path: Path, reference: Volume) -> None:
    truth, _ = _source(reference)
    folder = tmp_path / "segs"
    folder.mkdir()
    _write_nifti(truth == 1, reference.grid, folder / "inferior_vena_cava.nii.gz")
    _write_nifti(truth == 2, reference.grid, folder / "kidney_left.nii.gz")
    _write_nifti(np.zeros_like(truth), reference.grid, folder / "colon.nii.gz")
    out = load_labels(folder, reference)
    assert np.array_equal(out.labelmap.array == Label.KIDNEY_LEFT, truth == 2)
    assert out.ignored == ("colon",)


def test_nifti_with_json_and_color_table(tmp_path: Path, reference: Volume) -> None:
    truth, _ = _source(reference)
    _write_nifti(truth, reference.grid, tmp_path / "a.nii.gz")
    (tmp_path / "a.json").write_text(json.dumps({"1": "ivc_tumor", "2": "aorta"}))
    out = load_labels(tmp_path / "a.nii.gz", reference)
    assert np.array_equal(out.labelmap.array == Label.IVC_TUMOR, truth == 1)
    _write_nifti(truth, reference.grid, tmp_path / "b.nii.gz")
    (tmp_path / "b.txt").write_text('# ITK-SNAP\n0 0 0 0 0 0 0 "Clear Label"\n1 255 0 0 1 1 1 "liver"\n'
                                    '2 0 255 0 1 1 1 "unknown thing"\n')
    out = load_labels(tmp_path / "b.nii.gz", reference)
    assert np.array_equal(out.labelmap.array == Label.LIVER, truth == 1)
    assert "unknown thing" in out.ignored
    (tmp_path / "c.json").write_text(json.dumps({"1": "lung", "2": "bone"}))
    _write_nifti(truth, reference.grid, tmp_path / "c.nii.gz")
    with pytest.raises(InputError, match=r"c\.nii\.gz.*unknown: lung, bone"):
        load_labels(tmp_path / "c.nii.gz", reference)


def test_slicer_seg_nrrd(tmp_path: Path, reference: Volume) -> None:
    truth, _ = _source(reference)
    g = reference.grid
    data = np.transpose(truth, (2, 1, 0))  # NRRD (i, j, k) = (x, y, z)
    header = {"space": "left-posterior-superior",
              "space directions": (g.direction * g.spacing)[:, ::-1].T,
              "space origin": g.origin,
              "Segment0_Name": "IVC", "Segment0_LabelValue": "1", "Segment0_Layer": "0",
              "Segment1_Name": "kidney right", "Segment1_LabelValue": "2", "Segment1_Layer": "0"}
    nrrd.write(str(tmp_path / "s.seg.nrrd"), data, header)
    out = load_labels(tmp_path / "s.seg.nrrd", reference)
    assert np.array_equal(out.labelmap.array == Label.IVC_LUMEN, truth == 1)
    assert np.array_equal(out.labelmap.array == Label.KIDNEY_RIGHT, truth == 2)


def test_errors_name_the_file(tmp_path: Path, reference: Volume) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_labels(tmp_path / "missing.nii.gz", reference)
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"hello")
    with pytest.raises(InputError, match=r"x\.bin"):
        load_labels(bad, reference)
    with pytest.raises(InputError, match="kind"):
        load_labels(bad, reference, kind="nope")


def test_ivcplan_segmentation_reads_back_without_a_table(reference, tmp_path):
    # ivcplan's own segmentation.nii.gz carries its label values (right atrium 13 is not
    # TotalSegmentator's id 13): it must come back label for label, nothing ignored.
    from ivcplan.io import save_nifti

    array = np.zeros(reference.shape, np.uint8)
    for k, lab in enumerate((Label.IVC_LUMEN, Label.IVC_TUMOR, Label.RIGHT_ATRIUM, Label.HEPATIC_VEIN_RIGHT)):
        array[2 * k:2 * k + 2, 3:9, 4:10] = lab
    path = save_nifti(Labelmap(array, reference.grid), tmp_path / "segmentation.nii.gz")
    back = load_labels(path, reference)
    assert back.ignored == ()
    assert back.source.startswith("ivcplan labelmap")
    np.testing.assert_array_equal(back.labelmap.array, array)
    # The same values in an unmarked NIfTI are read as TotalSegmentator ids (13 is not an ivcplan label there).
    _write_nifti(array, reference.grid, tmp_path / "foreign.nii.gz")
    assert load_labels(tmp_path / "foreign.nii.gz", reference).ignored
