"""Geometry of the core Volume/Grid/Labelmap types against SimpleITK and nibabel references."""

from __future__ import annotations

import nibabel
import numpy as np
import pytest
import SimpleITK as sitk

from ivcplan import Grid, Labelmap, Volume
from ivcplan.errors import GeometryError
from ivcplan.volume import label_mask, values_present


def _oblique_direction() -> np.ndarray:
    # A rotated, right-handed frame (array-axis columns) to exercise every term of the mapping.
    angle = np.deg2rad(17.0)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    base = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # z=S, y=P, x=L
    return rot @ base


def test_index_to_lps_matches_sitk() -> None:
    arr = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    vol = Volume.from_array(arr, spacing=(2.5, 0.7, 0.8), origin=(-10.0, 20.0, 30.0),
                            direction=_oblique_direction())
    image = vol.to_sitk()
    for zyx in [(0, 0, 0), (3, 4, 5), (1, 2, 3)]:
        expected = image.TransformContinuousIndexToPhysicalPoint([float(v) for v in zyx[::-1]])
        np.testing.assert_allclose(vol.index_to_lps(zyx), expected, atol=1e-9)
        np.testing.assert_allclose(vol.lps_to_index(expected), zyx, atol=1e-9)
    assert image.GetPixel(5, 4, 3) == arr[3, 4, 5]
    back = Volume.from_sitk(image)
    assert back.grid.is_same(vol.grid)
    np.testing.assert_array_equal(back.array, arr)


def test_nifti_roundtrip_is_ras_at_boundary(tmp_path) -> None:
    arr = np.random.default_rng(0).integers(-1000, 1000, size=(3, 4, 5)).astype(np.int16)
    vol = Volume.from_array(arr, spacing=(3.0, 0.5, 0.6), origin=(1.0, 2.0, 3.0),
                            direction=_oblique_direction())
    path = tmp_path / "v.nii.gz"
    nibabel.save(vol.to_nifti(), path)
    img = nibabel.load(path)
    # voxel (i, j, k) = (x, y, z) of the NIfTI maps to RAS = LPS with x and y negated
    ras = img.affine @ np.array([4, 3, 2, 1.0])
    lps = vol.index_to_lps([2, 3, 4])
    np.testing.assert_allclose(ras[:3], [-lps[0], -lps[1], lps[2]], atol=1e-4)
    assert np.asarray(img.dataobj)[4, 3, 2] == arr[2, 3, 4]
    back = Volume.from_nifti(img)
    assert back.grid.is_same(vol.grid, tol=1e-4)
    np.testing.assert_array_equal(back.array, arr)
    # SimpleITK reads the same file to the same geometry
    assert Grid.from_sitk(sitk.ReadImage(str(path))).is_same(vol.grid, tol=1e-4)


def test_grid_validation_names_argument() -> None:
    with pytest.raises(GeometryError, match="spacing"):
        Grid((2, 2, 2), (1.0, 0.0, 1.0), (0, 0, 0), np.eye(3))
    with pytest.raises(GeometryError, match="direction"):
        Grid((2, 2, 2), (1.0, 1.0, 1.0), (0, 0, 0), np.ones((3, 3)))
    with pytest.raises(GeometryError, match="shape"):
        Volume(np.zeros((2, 2, 3)), Grid((2, 2, 2), (1, 1, 1), (0, 0, 0), np.eye(3)))


def test_labelmap_resample_nearest_keeps_labels() -> None:
    arr = np.zeros((10, 10, 10), dtype=np.uint8)
    arr[2:8, 3:7, 4:6] = 2
    arr[5, 5, 5] = 7
    lm = Labelmap(arr, Grid(arr.shape, (2.0, 2.0, 2.0), (0, 0, 0), np.eye(3)))
    fine = Grid((20, 20, 20), (1.0, 1.0, 1.0), (-0.5, -0.5, -0.5), np.eye(3))
    out = lm.resample_to(fine)
    assert set(np.unique(out.array)) == {0, 2, 7}
    assert out.array.dtype == arr.dtype
    # volume preserved for a block aligned with the coarse voxels
    assert abs(out.volume_ml(2, 7) - lm.volume_ml(2, 7)) < 1e-9
    assert lm.name(2) == "ivc_tumor" and lm.color(2) == (240, 200, 20)


def test_crop_and_sample() -> None:
    arr = np.zeros((5, 6, 7), dtype=np.float32)
    arr[2, 3, 4] = 100.0
    vol = Volume.from_array(arr, spacing=(2.0, 1.0, 1.0), origin=(5.0, 6.0, 7.0))
    sub = vol.crop((1, 2, 3), (4, 5, 6))
    assert sub.shape == (3, 3, 3)
    np.testing.assert_allclose(sub.index_to_lps([1, 1, 1]), vol.index_to_lps([2, 3, 4]))
    assert sub.array[1, 1, 1] == 100.0
    assert vol.sample(vol.index_to_lps([2, 3, 4])) == pytest.approx(100.0)
    assert vol.sample(vol.index_to_lps([2, 3, 4.5])) == pytest.approx(50.0)
    assert vol.sample(vol.index_to_lps([-5, 0, 0])) == pytest.approx(-1024.0)


@pytest.mark.parametrize("code", ["SPL", "LPS", "IAR", "RAS", "PSL"])
def test_reorientation_keeps_every_voxel_at_its_position(code: str) -> None:
    from ivcplan.volume import ORIENTATION_LETTERS

    arr = np.random.default_rng(1).integers(-1000, 1000, size=(4, 5, 6)).astype(np.int16)
    # Stored feet-first, posterior-to-anterior rows, right-to-left columns, slightly oblique.
    direction = _oblique_direction() @ np.diag([-1.0, -1.0, 1.0])
    vol = Volume.from_array(arr, spacing=(2.5, 0.7, 0.8), origin=(-10.0, 20.0, 30.0), direction=direction)
    out = vol.reoriented(code)
    for k, letter in enumerate(code):  # axis k grows towards its letter
        lps_axis, sign = ORIENTATION_LETTERS[letter]
        assert out.grid.direction[lps_axis, k] * sign > 0.9
    ro = vol.grid.reorientation(code)
    rng = np.random.default_rng(2)
    for _ in range(20):
        src = tuple(int(rng.integers(0, n)) for n in arr.shape)
        tgt = ro.to_target_index(src)
        assert out.array[tuple(int(v) for v in tgt)] == arr[src]
        np.testing.assert_allclose(out.grid.index_to_lps(tgt), vol.grid.index_to_lps(src), atol=1e-9)
        np.testing.assert_allclose(ro.to_source_index(tgt), src)
    np.testing.assert_array_equal(ro.restore(out.array), arr)
    back = out.reoriented("SPL")
    assert back.grid.is_same(vol.reoriented("SPL").grid)


def test_reorientation_rejects_bad_codes_by_name() -> None:
    grid = Grid((2, 2, 2), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
    for bad in ("SP", "SPX", "SIL", "LRP"):
        with pytest.raises(GeometryError, match="orientation code"):
            grid.reorientation(bad)
    assert grid.reorientation("LPS").is_identity
    assert not grid.reorientation("SPL").is_identity


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.int64])
def test_label_mask_is_isin(dtype) -> None:
    # label_mask replaces np.isin on label arrays (a table lookup): the same mask for every integer type,
    # negative values, values absent or out of the type's range, views and empty arrays.
    rng = np.random.default_rng(3)
    arr = rng.integers(0, 40, (9, 11, 13)).astype(dtype)
    if np.issubdtype(dtype, np.signedinteger):
        arr = arr - 5
    for values in ([], [0], [1, 5, 7], [0, 39], [3, 300, -2], np.array([2, 3], np.uint8), [True]):
        for a in (arr, arr.T[::-1, :, ::2], arr[:0]):
            got = label_mask(a, values)
            assert got.dtype == bool and got.shape == a.shape
            np.testing.assert_array_equal(got, np.isin(a, values))


def test_labelmap_mask_and_present() -> None:
    grid = Grid((4, 5, 6), (1.0, 1.0, 1.0), (0, 0, 0), np.eye(3))
    arr = np.zeros(grid.shape, dtype=np.uint8)
    arr[0, 0, :3] = 7
    arr[2, 1, 1] = 200
    lm = Labelmap(arr, grid)
    assert lm.present() == [7, 200]
    assert int(lm.mask(7, 200).sum()) == 4 and not lm.mask(8).any()
    assert Labelmap.empty(grid).present() == []


@pytest.mark.parametrize("order", [0, 1, 3])
def test_sample_of_int16_ct_same_as_float32(order) -> None:
    # Volume.sample reads a 16-bit CT as it is (no float copy of the whole CT): the values must be those
    # of the float32 volume, to the bit.
    rng = np.random.default_rng(5)
    arr = rng.integers(-1024, 3000, (12, 14, 16)).astype(np.int16)
    grid = Grid(arr.shape, (2.0, 0.7, 0.8), (5.0, -3.0, 1.0), _oblique_direction())
    pts = grid.index_to_lps(rng.uniform(-2, 17, (500, 3)))
    got = Volume(arr, grid).sample(pts, order=order)
    want = Volume(arr.astype(np.float32), grid).sample(pts, order=order)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16])
def test_values_present_is_unique(dtype) -> None:
    rng = np.random.default_rng(7)
    big = np.zeros((3, 700, 600), dtype=dtype)  # more than one counting chunk
    big[2, 650, 10] = 13
    big[0, 5, 5] = 250
    small = rng.integers(0, 9, (4, 5, 6)).astype(dtype)
    for arr in (big, small, small[:0], small.T):
        assert values_present(arr) == [int(v) for v in np.unique(arr)]
