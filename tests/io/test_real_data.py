"""Acceptance on real data: the nine dcm_qa_ts transfer syntaxes and the TotalSegmentator JPEG 2000 CT."""

from __future__ import annotations

import nibabel
import numpy as np
import pytest
import SimpleITK as sitk

import ivcplan.io as io
from ivcplan.errors import NotCTError
from ivcplan.volume import Labelmap, Volume

#: dcm2niix writes positions with float32 precision: geometry agrees within this (mm).
DCM2NIIX_GEOMETRY_TOLERANCE_MM = 1e-3
# TotalSegmentator label ids in example_seg_dicom.nii.gz
TS_LIVER, TS_IVC, TS_AORTA = 5, 63, 52
# Typical (median) HU of the contrast-enhanced series (shared/README.md): liver 93, IVC 95, aorta 150.
HU_TOLERANCE = 15.0


@pytest.mark.parametrize("n", range(1, 10))
def test_dcm_qa_ts_decodes_exactly_like_dcm2niix(dcm_qa_dir, n):
    path = dcm_qa_dir / "In" / f"{n}.dcm"
    volume = io.load(path, require_ct=False)
    ref = Volume.from_nifti(nibabel.load(dcm_qa_dir / "Ref" / f"{n}.nii"))
    assert volume.shape == ref.shape == (35, 64, 64)  # the mosaic is split into its 35 tiles
    # dcm2niix stores rows bottom-up: the same voxels, y reversed
    np.testing.assert_array_equal(volume.array, ref.array[:, ::-1, :])
    corners = np.array([[0, 0, 0], [34, 63, 0], [0, 0, 63], [34, 63, 63]])
    flipped = corners * [1, -1, 1] + [0, 63, 0]
    np.testing.assert_allclose(volume.index_to_lps(corners), ref.index_to_lps(flipped),
                               atol=DCM2NIIX_GEOMETRY_TOLERANCE_MM)


def test_dcm_qa_ts_mr_is_refused_by_default(dcm_qa_dir):
    path = dcm_qa_dir / "In" / "1.dcm"
    with pytest.raises(NotCTError, match="modality is MR") as info:
        io.load(path)
    assert info.value.path == str(path)
    (series,) = io.scan(path)
    assert series.modality == "MR" and series.n_slices == 35 and not series.chosen


def test_dcm_qa_ts_folder_holds_one_series_of_nine_copies(dcm_qa_dir):
    (series,) = io.scan(dcm_qa_dir / "In")
    assert series.n_files == 9
    volume = io.load(dcm_qa_dir / "In", require_ct=False)
    assert volume.shape == (35, 64, 64)
    assert any("280 slice(s) at duplicate positions dropped" in w for w in volume.warnings)


@pytest.fixture(scope="module")
def real_ct(totalseg_dir):
    return io.load(totalseg_dir / "example_ct_dicom")


def test_jpeg2000_series_matches_simpleitk(real_ct, totalseg_dir):
    folder = str(totalseg_dir / "example_ct_dicom")
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(folder))
    reference = Volume.from_sitk(reader.Execute())
    assert real_ct.grid.is_same(reference.grid)
    np.testing.assert_array_equal(real_ct.array, reference.array)
    assert real_ct.array.dtype == np.int16
    assert real_ct.meta["transfer_syntax"] == "1.2.840.10008.1.2.4.90"
    assert real_ct.spacing[0] == pytest.approx(2.0)  # from positions, not SliceThickness (3 mm)
    assert real_ct.meta["slice_thickness_mm"] == pytest.approx(3.0)
    assert "contrast-enhanced" in real_ct.meta["chosen_reason"]


def _overlay_png(volume: Volume, labels: np.ndarray, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = int(np.argmax((labels == TS_IVC).sum(axis=(1, 2))))
    fig, ax = plt.subplots(figsize=(6, 6), dpi=80)
    ax.imshow(volume.array[k], cmap="gray", vmin=-200, vmax=300)
    for value, colour in ((TS_LIVER, "tab:orange"), (TS_IVC, "tab:blue"), (TS_AORTA, "tab:red")):
        ax.contour(labels[k] == value, levels=[0.5], colors=[colour], linewidths=1)
    ax.set_title(f"slice {k}: liver orange, IVC blue, aorta red")
    ax.axis("off")
    fig.savefig(path)
    plt.close(fig)


def test_flipped_segmentation_lands_on_the_right_anatomy(real_ct, totalseg_dir, tmp_path_factory):
    seg = Volume.from_nifti(nibabel.load(totalseg_dir / "example_seg_dicom.nii.gz"))
    labelmap = Labelmap(seg.array.astype(np.uint8), seg.grid).resample_to(real_ct.grid)
    labels = labelmap.array
    hu = real_ct.array.astype(float)
    assert np.median(hu[labels == TS_LIVER]) == pytest.approx(93, abs=HU_TOLERANCE)
    assert np.median(hu[labels == TS_IVC]) == pytest.approx(95, abs=HU_TOLERANCE)
    assert np.median(hu[labels == TS_AORTA]) == pytest.approx(150, abs=HU_TOLERANCE)
    border = np.zeros(labels.shape, bool)
    border[:, :40, :] = border[:, -40:, :] = True
    assert hu[border & (labels == 0)].mean() < -500  # outside the body
    # Negative control: copying the label array index for index (ignoring the y flip) misses the aorta
    # and puts part of the "liver" in air.
    naive = seg.array.astype(np.uint8)
    assert abs(np.median(hu[naive == TS_AORTA]) - 150) > HU_TOLERANCE
    assert np.percentile(hu[naive == TS_LIVER], 10) < -500 < np.percentile(hu[labels == TS_LIVER], 10)
    png = tmp_path_factory.mktemp("overlay") / "seg_on_ct.png"  # looked at: contours on liver, IVC, aorta
    _overlay_png(real_ct, labels, png)
    image = __import__("matplotlib.image", fromlist=["imread"]).imread(png)
    assert image.shape[0] >= 400 and image[..., :3].std() > 0.1
