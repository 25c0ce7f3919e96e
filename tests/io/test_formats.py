"""NIfTI / NRRD / MHA loading and NIfTI saving."""

from __future__ import annotations

import nibabel
import numpy as np
import pytest
import SimpleITK as sitk
from io_synth import structured_hu

import ivcplan.io as io
from ivcplan.errors import InputError
from ivcplan.volume import Grid, Labelmap, Volume

# An oblique, anisotropic grid: a swapped or sign-flipped axis anywhere changes the comparison.
_ROT = np.array([[0.0, 0.6, 0.8], [0.0, 0.8, -0.6], [1.0, 0.0, 0.0]])
GRID = Grid((6, 24, 20), (2.5, 0.9, 0.7), (-40.0, 12.5, 300.0), _ROT)


@pytest.fixture
def volume() -> Volume:
    return Volume(structured_hu(GRID.shape), GRID)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_nifti_round_trip(tmp_path, volume, suffix):
    path = io.save_nifti(volume, tmp_path / f"ct{suffix}")
    loaded = io.load(path)
    assert loaded.grid.is_same(volume.grid)
    np.testing.assert_array_equal(loaded.array, volume.array)
    assert loaded.array.dtype == np.int16
    assert loaded.meta["source_files"] == [str(path)]
    from test_dicom_series import META_KEYS

    assert set(loaded.meta) >= META_KEYS


@pytest.mark.parametrize("suffix", [".nrrd", ".mha", ".mhd"])
def test_itk_formats_round_trip(tmp_path, volume, suffix):
    path = tmp_path / f"ct{suffix}"
    sitk.WriteImage(volume.to_sitk(), str(path))
    loaded = io.load(path)
    assert loaded.grid.is_same(volume.grid)
    np.testing.assert_array_equal(loaded.array, volume.array)


def test_nrrd_in_ras_space_is_converted(tmp_path, volume):
    import nrrd

    # A NRRD written by another tool in RAS space: x and y axes negated relative to LPS.
    lps_axes = (volume.grid.direction * volume.grid.spacing).T[::-1]  # rows: i, j, k = x, y, z array axes
    header = {"space": "right-anterior-superior", "space directions": lps_axes * [-1, -1, 1],
              "space origin": volume.grid.origin * [-1, -1, 1], "kinds": ["domain"] * 3}
    path = tmp_path / "ras.nrrd"
    nrrd.write(str(path), np.transpose(volume.array, (2, 1, 0)), header)
    loaded = io.load(path)
    assert loaded.grid.is_same(volume.grid)
    np.testing.assert_array_equal(loaded.array, volume.array)


def test_scaled_nifti_gives_float32_hu(tmp_path, volume):
    image = volume.to_nifti()
    image.header.set_slope_inter(0.5, -550)  # HU from -1000 (air) up
    path = tmp_path / "scaled.nii.gz"
    nibabel.save(image, path)
    loaded = io.load(path)
    assert loaded.array.dtype == np.float32
    np.testing.assert_allclose(loaded.array, volume.array * 0.5 - 550)


def test_real_nifti_ct(totalseg_dir):
    path = totalseg_dir / "example_ct.nii.gz"
    loaded = io.load(path)
    image = nibabel.load(path)
    assert loaded.shape == image.shape[::-1] and loaded.array.dtype == np.int16  # int32 on disk, HU fits int16
    np.testing.assert_array_equal(loaded.array, np.transpose(np.asanyarray(image.dataobj), (2, 1, 0)))
    # voxel (x=i, y=j, z=k) of the NIfTI is array (k, j, i) at the same physical point (RAS -> LPS)
    ijk = np.array([10, 20, 30])
    ras = image.affine @ np.append(ijk, 1)
    np.testing.assert_allclose(loaded.index_to_lps(ijk[::-1]), ras[:3] * [-1, -1, 1], atol=1e-4)


def test_save_labelmap(tmp_path):
    labels = Labelmap((np.arange(int(np.prod(GRID.shape))) % 7).astype(np.uint8).reshape(GRID.shape), GRID)
    path = io.save_nifti(labels, tmp_path / "labels.nii.gz")
    back = nibabel.load(path)
    np.testing.assert_array_equal(np.transpose(np.asanyarray(back.dataobj), (2, 1, 0)), labels.array)


def test_four_d_image_is_refused(tmp_path):
    path = tmp_path / "dwi.nii.gz"
    nibabel.save(nibabel.Nifti1Image(np.zeros((4, 4, 4, 3), np.int16), np.eye(4)), path)
    with pytest.raises(InputError, match="must be 3D") as info:
        io.load(path)
    assert info.value.path == str(path)


def test_damaged_file_is_refused(tmp_path):
    path = tmp_path / "broken.nii.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(InputError, match="cannot read nifti image"):
        io.load(path)


def test_save_nifti_needs_nifti_name(tmp_path, volume):
    with pytest.raises(InputError, match=r"\.nii or \.nii\.gz"):
        io.save_nifti(volume, tmp_path / "ct.nrrd")
