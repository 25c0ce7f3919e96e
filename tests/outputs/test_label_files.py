"""Label names and colours other tools read: Slicer colour table, ITK-SNAP label description, Slicer
.seg.nrrd (read back by pynrrd and by ivcplan's own importer) and the DICOM SEG codes (read back by highdicom)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from dicom_series import write_ct_series

from ivcplan.io import load_labels
from ivcplan.labels import LABEL_TABLE, Label
from ivcplan.outputs.export import write_dicom_seg
from ivcplan.outputs.label_files import write_label_sidecars, write_seg_nrrd
from ivcplan.volume import Labelmap, Volume

#: Every label but background, as the sidecars must list it: value -> (key, colour).
EXPECTED = {int(v): (name, color) for v, (name, color) in LABEL_TABLE.items()}


def _parse_slicer(text: str) -> dict[int, tuple[str, tuple[int, int, int], int]]:
    assert text.startswith("# Color table file")
    rows = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        value, name, r, g, b, a = line.split()  # exactly six space-separated fields
        rows[int(value)] = (name, (int(r), int(g), int(b)), int(a))
    return rows


def _parse_itksnap(text: str) -> dict[int, tuple[str, tuple[int, int, int], float]]:
    assert "ITK-SnAP Label Description File" in text.splitlines()[1]
    rows = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.fullmatch(r'\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9.]+)\s+([01])\s+([01])\s+"([^"]*)"', line)
        assert m, line
        rows[int(m[1])] = (m[8], (int(m[2]), int(m[3]), int(m[4])), float(m[5]))
    return rows


def test_sidecars_list_every_label_with_its_name_and_colour(case, tmp_path):
    nifti = tmp_path / "segmentation.nii.gz"
    slicer, snap = write_label_sidecars(case.labelmap, nifti)
    assert (slicer.name, snap.name) == ("segmentation.ctbl", "segmentation_labels.txt")
    ctbl = _parse_slicer(slicer.read_text())
    assert ctbl.pop(0) == ("background", (0, 0, 0), 0)
    assert {v: (n, c) for v, (n, c, _) in ctbl.items()} == EXPECTED
    assert {a for _, _, a in ctbl.values()} == {255}
    labels = _parse_itksnap(snap.read_text())
    assert labels.pop(0) == ("Clear Label", (0, 0, 0), 0.0)
    assert {v: (n, c) for v, (n, c, _) in labels.items()} == EXPECTED
    assert {a for _, _, a in labels.values()} == {1.0}


def test_importer_reads_the_slicer_table_of_a_plain_nifti(case, tmp_path):
    # A NIfTI without ivcplan's header mark is read through the table beside it.
    import nibabel

    image = case.labelmap.to_nifti()
    image.header["descrip"] = b""
    nibabel.save(image, tmp_path / "segmentation.nii.gz")
    write_label_sidecars(case.labelmap, tmp_path / "segmentation.nii.gz")
    imported = load_labels(tmp_path / "segmentation.nii.gz", case.volume, kind="nifti")
    assert np.array_equal(imported.labelmap.array, case.labelmap.array)


def test_seg_nrrd_holds_named_coloured_segments_and_reloads(case, tmp_path):
    import nrrd

    path = write_seg_nrrd(case.labelmap, tmp_path / "segmentation.seg.nrrd")
    data, header = nrrd.read(str(path))
    grid = case.labelmap.grid
    assert header["space"] == "left-posterior-superior"
    assert data.shape == grid.shape[::-1] and data.dtype == np.uint8
    assert np.array_equal(np.transpose(data, (2, 1, 0)), case.labelmap.array)
    assert np.allclose(header["space origin"], grid.origin)
    assert np.allclose(header["space directions"], (grid.direction * grid.spacing).T[::-1])
    present = case.labelmap.present()
    segments = {}
    for key in header:
        m = re.fullmatch(r"Segment(\d+)_Name", key)
        if m:
            segments[int(header[f"Segment{m[1]}_LabelValue"])] = m[1]
    assert sorted(segments) == present
    for value, n in segments.items():
        assert header[f"Segment{n}_Name"] == Label(value).key == header[f"Segment{n}_ID"]
        assert header[f"Segment{n}_Layer"] == "0"
        color = np.array(header[f"Segment{n}_Color"].split(), float) * 255
        assert np.allclose(color, Label(value).color, atol=0.01)
        zz, yy, xx = np.nonzero(case.labelmap.array == value)
        extent = [int(v) for v in header[f"Segment{n}_Extent"].split()]
        assert extent == [xx.min(), xx.max(), yy.min(), yy.max(), zz.min(), zz.max()]
        assert header[f"Segment{n}_Tags"].startswith("TerminologyEntry:")
    right_kidney = header[f"Segment{segments[int(Label.KIDNEY_RIGHT)]}_Tags"]
    assert "SCT^64033007^Kidney~SCT^24028007^Right" in right_kidney
    assert "SCT^273099000" in header[f"Segment{segments[int(Label.HEPATIC_VEIN_MIDDLE)]}_Tags"]
    # ivcplan's importer reads it back voxel for voxel, every segment mapped onto its label.
    imported = load_labels(path, case.volume)
    assert np.array_equal(imported.labelmap.array, case.labelmap.array)
    assert sorted(int(v) for v in imported.imported) == present and imported.ignored == ()


def test_seg_nrrd_follows_an_oblique_grid(tmp_path):
    angle = np.deg2rad(20)
    direction = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    vol = Volume.from_array(np.zeros((12, 14, 16), np.int16), spacing=(2.5, 0.8, 0.9), origin=(5, -7, 30),
                            direction=direction)
    lab = np.zeros(vol.shape, np.uint8)
    lab[3:8, 4:9, 2:12] = Label.LIVER
    lab[9, 10, 14] = Label.AORTA
    path = write_seg_nrrd(Labelmap(lab, vol.grid), tmp_path / "oblique.seg.nrrd")
    assert np.array_equal(load_labels(path, vol).labelmap.array, lab)


#: Laterality each paired structure must carry (SCT 24028007 Right, 7771000 Left) and the specific hepatic veins.
LATERALITY = {Label.KIDNEY_RIGHT: "24028007", Label.KIDNEY_LEFT: "7771000", Label.RENAL_VEIN_RIGHT: "24028007",
              Label.RENAL_VEIN_LEFT: "7771000", Label.ILIAC_VEIN_RIGHT: "24028007", Label.ILIAC_VEIN_LEFT: "7771000"}
TYPES = {Label.KIDNEY_RIGHT: "64033007", Label.KIDNEY_LEFT: "64033007", Label.RENAL_VEIN_RIGHT: "56400007",
         Label.RENAL_VEIN_LEFT: "56400007", Label.ILIAC_VEIN_RIGHT: "46027005", Label.ILIAC_VEIN_LEFT: "46027005",
         Label.HEPATIC_VEIN_RIGHT: "272998002", Label.HEPATIC_VEIN_MIDDLE: "273099000",
         Label.HEPATIC_VEIN_LEFT: "273202007", Label.IVC_LUMEN: "64131007", Label.IVC_TUMOR: "108369006",
         Label.LIVER: "10200004", Label.AORTA: "15825003"}


@pytest.fixture
def with_iliac_veins(case) -> Labelmap:
    """The synthetic case plus both common iliac veins below the IVC."""
    lab = case.labelmap.array.copy()
    lab[0:3, 32:37, 16:21] = Label.ILIAC_VEIN_RIGHT
    lab[0:3, 32:37, 26:31] = Label.ILIAC_VEIN_LEFT
    return case.labelmap.with_array(lab)


def test_dicom_seg_codes_carry_laterality_and_specific_hepatic_veins(case, with_iliac_veins, tmp_path):
    import highdicom as hd

    files = write_ct_series(case.volume, tmp_path / "ct")
    seg = hd.seg.segread(str(write_dicom_seg(with_iliac_veins, files, tmp_path / "seg.dcm")))
    seen = {}
    for number in seg.get_segment_numbers():
        desc = seg.get_segment_description(number)
        value = Label(int(desc.tracking_id))
        kind = desc.SegmentedPropertyTypeCodeSequence[0]
        assert kind.CodingSchemeDesignator == "SCT"
        modifiers = [m.CodeValue for m in kind.get("SegmentedPropertyTypeModifierCodeSequence", [])]
        seen[value] = (kind.CodeValue, modifiers)
    for label, code in TYPES.items():
        assert seen[label][0] == code, label
    for label in seen:
        assert seen[label][1] == ([LATERALITY[label]] if label in LATERALITY else []), label
    # The SEG still reads back as the labelmap it came from.
    imported = load_labels(tmp_path / "seg.dcm", case.volume)
    assert np.array_equal(imported.labelmap.array, with_iliac_veins.array)
