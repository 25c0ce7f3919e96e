"""Loading DICOM series written by pydicom: geometry, ordering, rescale, irregular stacks."""

from __future__ import annotations

import numpy as np
import pytest
from dicomgen import AXIAL_IOP, write_enhanced, write_series
from io_synth import assert_pixels_at_positions, digest, plane_points, smooth_field, structured_hu
from pydicom.uid import JPEG2000Lossless, RLELossless

import ivcplan.io as io
from ivcplan.errors import SeriesError

SPACING = (2.0, 0.8, 0.7)
ORIGIN = (-100.0, -120.0, -50.0)
META_KEYS = {"source_path", "series_instance_uid", "study_instance_uid", "modality", "series_description",
             "patient_position", "transfer_syntax", "contrast_agent", "series_number", "patient_id",
             "chosen_reason", "source_files"}
# Linear interpolation of `smooth_field` (sigma 6 mm) on a <= 2 mm grid stays within this (HU).
INTERP_ATOL_HU = 40.0


def positions_for(n, iop=AXIAL_IOP, step=SPACING[0], origin=ORIGIN):
    normal = np.cross(iop[:3], iop[3:])
    return [np.asarray(origin) + k * step * normal for k in range(n)]


def test_axial_series_round_trip_exact(tmp_path, hu_small):
    paths = write_series(tmp_path, hu_small, spacing_zyx=SPACING, origin=ORIGIN, description="Abd", contrast="Iomeron")
    before = digest(paths)
    calls = []
    volume = io.load(tmp_path, progress=lambda stage, f: calls.append((stage, f)))
    assert volume.array.dtype == np.int16
    np.testing.assert_array_equal(volume.array, hu_small)
    np.testing.assert_allclose(volume.spacing, SPACING)
    np.testing.assert_allclose(volume.origin, ORIGIN)
    np.testing.assert_allclose(volume.direction, [[0, 0, 1], [0, 1, 0], [1, 0, 0]], atol=1e-12)
    assert volume.warnings == ()
    assert set(volume.meta) >= META_KEYS
    assert volume.meta["modality"] == "CT" and volume.meta["contrast_agent"] == "Iomeron"
    # source files sorted along the normal: their z positions increase (file names and InstanceNumber do not)
    order = {str(p): k for k, p in enumerate(paths)}
    assert [order[f] for f in volume.meta["source_files"]] == list(range(len(paths)))
    assert "contrast-enhanced" in volume.meta["chosen_reason"]
    assert calls and calls[-1][1] == pytest.approx(1.0)
    assert digest(paths) == before, "input files were modified"


@pytest.mark.parametrize("iop, position", [
    ((-1.0, 0.0, 0.0, 0.0, 1.0, 0.0), "FFS"),  # feet first: normal points to the feet
    ((1.0, 0.0, 0.0, 0.0, 1.0, 0.0), "HFS"),
    ((1.0, 0.0, 0.0, 0.0, 0.0, -1.0), "HFS"),  # coronal
    ((0.0, 0.8, 0.6, 0.0, -0.6, 0.8), "HFS"),  # oblique
])
def test_orientations_put_pixels_at_their_lps_position(tmp_path, hu_small, iop, position):
    positions = positions_for(len(hu_small), iop)
    write_series(tmp_path, hu_small, spacing_zyx=SPACING, iop=iop, positions=positions, patient_position=position)
    volume = io.load(tmp_path)
    assert volume.meta["patient_position"] == position
    np.testing.assert_allclose(volume.grid.slice_normal, np.cross(iop[:3], iop[3:]), atol=1e-9)
    assert_pixels_at_positions(volume, hu_small, positions, iop, SPACING[1:])


def test_slices_given_in_reverse_order_are_sorted_by_position(tmp_path, hu_small):
    positions = positions_for(len(hu_small))[::-1]  # slice 0 written at the top
    write_series(tmp_path, hu_small, spacing_zyx=SPACING, positions=positions)
    volume = io.load(tmp_path)
    np.testing.assert_array_equal(volume.array, hu_small[::-1])
    assert_pixels_at_positions(volume, hu_small, positions, AXIAL_IOP, SPACING[1:])


def test_unsigned_storage_with_intercept_gives_int16_hu(tmp_path, hu_small):
    write_series(tmp_path, hu_small, signed=False, intercept=-1024.0)
    volume = io.load(tmp_path)
    assert volume.array.dtype == np.int16
    np.testing.assert_array_equal(volume.array, hu_small)


def test_fractional_slope_gives_float32(tmp_path):
    hu = structured_hu().astype(np.float32) / 2 - 550  # exact multiples of 0.5, air at -1000 HU
    write_series(tmp_path, hu, slope=0.5, intercept=-1024.0)
    volume = io.load(tmp_path)
    assert volume.array.dtype == np.float32
    np.testing.assert_array_equal(volume.array, hu)


def test_values_beyond_int16_fall_back_to_float32(tmp_path):
    hu = structured_hu().astype(np.int32)
    hu[:, :3, :4] += 41000  # metal on an extended HU scale
    write_series(tmp_path, hu, signed=False, intercept=-1024.0)
    volume = io.load(tmp_path)
    assert volume.array.dtype == np.float32
    np.testing.assert_array_equal(volume.array, hu)


def _field_series(tmp_path, positions, iop=AXIAL_IOP, rows=40, cols=36, spacing=(1.0, 1.0)):
    hu = np.stack([np.round(smooth_field(plane_points(p, iop, rows, cols, spacing))) for p in positions])
    write_series(tmp_path, hu.astype(np.int16), spacing_zyx=(1.0, *spacing), iop=iop, positions=positions)
    return hu


def _assert_matches_field(volume):
    grid_pts = volume.index_to_lps(np.indices(volume.shape).reshape(3, -1).T)
    expected = smooth_field(grid_pts).reshape(volume.shape)
    covered = volume.array > -1024  # voxels left of the field of view after a shift are air
    assert covered.mean() > 0.8
    np.testing.assert_allclose(volume.array[covered], expected[covered], atol=INTERP_ATOL_HU)


def test_gantry_tilt_is_resampled_onto_orthogonal_grid(tmp_path):
    step, shear = 2.0, 0.35  # 0.35 mm posterior drift per 2 mm slice: atan(0.175) = 9.93 deg
    positions = [np.array([-18.0, -20.0 + k * shear, -10.0 + k * step]) for k in range(10)]
    _field_series(tmp_path, positions)
    volume = io.load(tmp_path)
    assert any("gantry tilt of 9.93 deg" in w for w in volume.warnings), volume.warnings
    np.testing.assert_allclose(volume.direction, [[0, 0, 1], [0, 1, 0], [1, 0, 0]], atol=1e-9)
    np.testing.assert_allclose(volume.spacing, (2.0, 1.0, 1.0))
    _assert_matches_field(volume)
    # without the resampling the sheared stack would misplace the blob by up to 3 mm
    naive = volume.with_array(np.stack([np.round(smooth_field(plane_points(p, AXIAL_IOP, 40, 36, (1, 1))))
                                        for p in positions]).astype(np.int16))
    with pytest.raises(AssertionError):
        _assert_matches_field(naive)


def test_scanner_style_tilt_tilted_planes_stepped_along_the_table(tmp_path):
    tilt = np.radians(12.0)  # image planes tilted about x; the table moves along z
    iop = (1.0, 0.0, 0.0, 0.0, np.cos(tilt), -np.sin(tilt))
    positions = [np.array([-18.0, -20.0, -9.0 + 2.0 * k]) for k in range(10)]
    _field_series(tmp_path, positions, iop=iop)
    volume = io.load(tmp_path)
    assert any("gantry tilt of 12.00 deg" in w for w in volume.warnings), volume.warnings
    assert volume.spacing[0] == pytest.approx(2.0 * np.cos(tilt))  # planes are closer than the table step
    np.testing.assert_allclose(volume.grid.slice_normal, np.cross(iop[:3], iop[3:]), atol=1e-9)
    _assert_matches_field(volume)


def test_missing_slice_is_interpolated_with_warning(tmp_path):
    positions = [np.array([-18.0, -20.0, -8.0 + 2.0 * k]) for k in range(9) if k != 4]
    _field_series(tmp_path, positions)
    volume = io.load(tmp_path)
    assert volume.shape[0] == 9
    assert any("1 missing slice" in w for w in volume.warnings), volume.warnings
    _assert_matches_field(volume)


def test_non_uniform_spacing_is_resampled_to_smallest_step(tmp_path):
    z = [-8.0, -6.0, -4.0, -2.5, -0.5, 1.5]  # steps 2, 2, 1.5, 2, 2
    _field_series(tmp_path, [np.array([-18.0, -20.0, v]) for v in z])
    volume = io.load(tmp_path)
    assert any("non-uniform slice spacing" in w for w in volume.warnings), volume.warnings
    assert volume.spacing[0] == pytest.approx(1.5)
    assert volume.shape[0] == 7  # 9.5 mm / 1.5 mm
    _assert_matches_field(volume)


def test_too_irregular_spacing_is_refused(tmp_path, hu_small):
    z = [0.0, 1.0, 2.0, 3.0, 4.0, 15.0]
    write_series(tmp_path, hu_small, positions=[(0.0, 0.0, v) for v in z])
    with pytest.raises(SeriesError, match="too irregular"):
        io.load(tmp_path)


def test_duplicate_positions_dropped(tmp_path, hu_small):
    write_series(tmp_path / "a", hu_small, series_uid="1.2.3.4", study_uid="1.2.3", frame_uid="1.2.3.5")
    write_series(tmp_path / "b", hu_small[2:4], positions=positions_for(6)[2:4], series_uid="1.2.3.4",
                 study_uid="1.2.3", frame_uid="1.2.3.5", seed=5)
    volume = io.load(tmp_path)
    assert volume.shape == hu_small.shape
    assert any("2 slice(s) at duplicate positions dropped" in w for w in volume.warnings)
    np.testing.assert_array_equal(volume.array, hu_small)


def test_localizers_mixed_in_are_skipped(tmp_path, hu_small):
    uids = {"series_uid": "1.2.3.40", "study_uid": "1.2.3", "frame_uid": "1.2.3.5"}
    write_series(tmp_path / "axial", hu_small, spacing_zyx=SPACING, origin=ORIGIN, **uids)
    scout = structured_hu((1, 30, 30), seed=3)
    write_series(tmp_path / "scout", scout, iop=(1, 0, 0, 0, 0, -1), image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
                 **uids)
    write_series(tmp_path / "reformat", scout, iop=(0, 1, 0, 0, 0, -1), seed=9, **uids)  # sagittal, no flag
    volume = io.load(tmp_path)
    np.testing.assert_array_equal(volume.array, hu_small)
    assert any("1 localizer/scout image(s) skipped" in w for w in volume.warnings)
    assert any("1 image(s) in another orientation skipped" in w for w in volume.warnings)


def test_enhanced_multiframe_ct(tmp_path, hu_small):
    order = [3, 0, 5, 1, 4, 2]  # frames stored out of spatial order
    write_enhanced(tmp_path / "enh.dcm", hu_small, spacing_zyx=SPACING, origin=ORIGIN, frame_order=order)
    volume = io.load(tmp_path / "enh.dcm")
    np.testing.assert_array_equal(volume.array, hu_small)
    np.testing.assert_allclose(volume.spacing, SPACING)
    np.testing.assert_allclose(volume.origin, ORIGIN)


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless])
def test_compressed_series_decode_exactly(tmp_path, syntax):
    hu = structured_hu((9, 64, 60), seed=4)  # 9 slices: enough to use the decoding process pool
    write_series(tmp_path, hu, transfer_syntax=syntax)
    volume = io.load(tmp_path)
    assert volume.meta["transfer_syntax"] == syntax
    np.testing.assert_array_equal(volume.array, hu)


def test_dicomdir(tmp_path, hu_small):
    from pydicom import dcmread
    from pydicom.fileset import FileSet

    paths = write_series(tmp_path / "src", hu_small, spacing_zyx=SPACING, origin=ORIGIN)
    fileset = FileSet()
    for p in paths:
        fileset.add(dcmread(p))
    fileset.write(tmp_path / "media")
    volume = io.load(tmp_path / "media" / "DICOMDIR")
    np.testing.assert_array_equal(volume.array, hu_small)
    # the DICOMDIR itself is not an image: scanning the folder finds the same single series
    assert [s.n_slices for s in io.scan(tmp_path / "media")] == [len(hu_small)]


def test_series_written_by_the_project_writer_loads_back(tmp_path):
    """Round trip through ivcplan.io.dicom_write (the phantom's writer): every voxel at the same LPS point."""
    from ivcplan.io.dicom_write import write_series as project_write
    from ivcplan.volume import Grid, Volume

    hu = structured_hu((5, 20, 18))
    tilted = np.array([[0.0, 0.0, 1.0], [0.6, 0.8, 0.0], [0.8, -0.6, 0.0]])  # oblique planes, right-handed
    source = Volume(hu, Grid(hu.shape, (2.5, 0.8, 0.9), (10.0, -20.0, 300.0), tilted), {"patient_position": "HFS"})
    project_write(source, tmp_path)
    loaded = io.load(tmp_path)
    assert loaded.grid.is_same(source.grid)
    np.testing.assert_array_equal(loaded.array, hu)


def test_unguarded_script_is_not_rerun_by_decoder_workers(tmp_path):
    """A user script without ``if __name__ == "__main__"`` loads a compressed series: the decoding
    worker processes must not run the script again (forkserver/spawn children import ``__main__``)."""
    import subprocess
    import sys
    import textwrap

    hu = structured_hu((9, 64, 60), seed=5)
    write_series(tmp_path / "ct", hu, transfer_syntax=JPEG2000Lossless)
    np.save(tmp_path / "expected.npy", hu)
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(f"""
        import os
        import numpy as np
        with open({str(tmp_path / "runs.txt")!r}, "a") as fh:
            fh.write(f"{{os.getpid()}}\\n")
        from ivcplan.io import dicom
        from ivcplan import io
        assert dicom.DECODE_IN_PROCESSES and os.cpu_count() > 1  # 9 frames: decoded in worker processes
        volume = io.load({str(tmp_path / "ct")!r})
        assert np.array_equal(volume.array, np.load({str(tmp_path / "expected.npy")!r}))
        print("LOADED", volume.shape)
    """))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "process pool unavailable" not in run.stderr  # the workers did start
    assert run.stdout.count("LOADED") == 1
    assert len((tmp_path / "runs.txt").read_text().split()) == 1


def _load_in_forked_child(path: str, queue) -> None:
    from ivcplan import io

    try:
        queue.put(("ok", io.load(path).array.sum()))
    except Exception as exc:  # reported to the parent, which fails the test with it
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def test_compressed_series_loads_in_a_process_forked_after_a_load(tmp_path):
    """A script loads a compressed series (the decoder forkserver starts), then forks workers that load
    others (e.g. a multiprocessing Pool): the children must not reuse the parent's forkserver handle."""
    import multiprocessing

    from ivcplan import io

    hu = structured_hu((9, 64, 60), seed=6)
    write_series(tmp_path / "ct", hu, transfer_syntax=JPEG2000Lossless)
    assert np.array_equal(io.load(tmp_path / "ct").array, hu)  # the parent decodes in processes first
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_load_in_forked_child, args=(str(tmp_path / "ct"), queue))
    child.start()
    status, value = queue.get(timeout=120)
    child.join(timeout=60)
    assert status == "ok", value
    assert value == hu.sum()
