"""DICOM SEG import round trip: CT slices written with pydicom, a SEG written with highdicom."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from ivcplan.errors import InputError
from ivcplan.io.label_import import load_labels
from ivcplan.labels import Label
from ivcplan.volume import Grid, Volume


def _ct(grid: Grid) -> Volume:
    return Volume(np.full(grid.shape, 40, np.int16), grid)


def _write_ct(volume: Volume, outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    g = volume.grid
    paths = []
    for k in range(g.shape[0]):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "CT", "Seg^Test", "X", "", "O"
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.ReferringPhysicianName = "20261122", "120000", "", ""
        ds.StudyID, ds.SeriesNumber, ds.InstanceNumber, ds.Manufacturer = "1", 2, k + 1, "test"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = [float(v) for v in g.index_to_lps([k, 0, 0])]
        ds.ImageOrientationPatient = [float(v) for v in np.r_[g.direction[:, 2], g.direction[:, 1]]]
        ds.PixelSpacing = [float(g.spacing[1]), float(g.spacing[2])]
        ds.SliceThickness = float(g.spacing[0])
        ds.Rows, ds.Columns = g.shape[1], g.shape[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = np.ascontiguousarray(volume.array[k]).tobytes()
        path = outdir / f"ct_{k:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _segment(number: int, label: str, prop) -> hd.seg.SegmentDescription:
    return hd.seg.SegmentDescription(
        segment_number=number, segment_label=label, segmented_property_category=codes.cid7150.Tissue,
        segmented_property_type=prop, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)


def _write_seg(ct_paths: list[Path], labelmap: np.ndarray, segments: list, path: Path) -> Path:
    sources = [pydicom.dcmread(p) for p in ct_paths]
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=labelmap.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=segments,
        series_instance_uid=hd.UID(), series_number=10, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer="ivcplan-test", manufacturer_model_name="test", software_versions="1",
        device_serial_number="1")
    seg.save_as(path)
    return path


@pytest.fixture()
def case(tmp_path: Path):
    # Slices run caudally (as in a feet-first scan), so the SEG's frames are not in head-first order.
    direction = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    grid = Grid((8, 24, 20), (2.5, 1.0, 1.0), (10.0, -12.0, 40.0), direction)
    ct = _ct(grid)
    paths = _write_ct(ct, tmp_path / "ct")
    truth = np.zeros(grid.shape, np.uint8)
    truth[1:5, 3:12, 2:9] = 1     # liver
    truth[3:7, 14:20, 10:17] = 2  # IVC
    truth[0:2, 18:22, 2:6] = 3    # spleen: no ivcplan label
    segments = [_segment(1, "Liver", codes.SCT.Liver), _segment(2, "Inferior vena cava", codes.SCT.InferiorVenaCava),
                _segment(3, "Spleen", codes.SCT.Spleen)]
    return ct, truth, _write_seg(paths, truth, segments, tmp_path / "seg.dcm")


def test_dicom_seg_round_trip_on_the_source_grid(case) -> None:
    ct, truth, seg_path = case
    imported = load_labels(seg_path, ct)
    assert imported.labelmap.grid.is_same(ct.grid)
    out = imported.labelmap.array
    assert np.array_equal(out == Label.LIVER, truth == 1)
    assert np.array_equal(out == Label.IVC_LUMEN, truth == 2)
    assert set(imported.imported) == {Label.LIVER, Label.IVC_LUMEN}
    assert imported.ignored == ("Spleen",) and "DICOM SEG" in imported.source
    assert not np.isin(out, [0, Label.LIVER, Label.IVC_LUMEN], invert=True).any()


def test_dicom_seg_onto_another_grid_through_physical_space(case) -> None:
    ct, truth, seg_path = case
    # Head-first, 2x coarser in-plane, same physical space: voxel centres land on source voxels.
    g = ct.grid
    corner = g.index_to_lps([g.shape[0] - 1, 0, 0])  # most inferior slice, first row and column
    target = Grid((8, 12, 10), (2.5, 2.0, 2.0), corner + np.array([0.25, 0.25, 0.0]),
                  np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    imported = load_labels(seg_path, _ct(target))
    out = imported.labelmap.array
    # Every target voxel carries the truth of the source voxel its centre falls in.
    idx = np.indices(target.shape).reshape(3, -1).T
    src = np.rint(g.lps_to_index(target.index_to_lps(idx))).astype(int)
    expected = {0: 0, 1: Label.LIVER, 2: Label.IVC_LUMEN, 3: 0}
    want = np.vectorize(expected.get)(truth[tuple(src.T)]).reshape(target.shape)
    assert np.array_equal(out, want)
    assert (out == Label.LIVER).sum() > 0 and (out == Label.IVC_LUMEN).sum() > 0


def test_dicom_seg_errors_name_the_file(tmp_path: Path, case) -> None:
    ct, _, seg_path = case
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(seg_path.read_bytes()[:600])
    with pytest.raises(InputError, match=r"broken\.dcm"):
        load_labels(bad, ct, kind="dicom_seg")
