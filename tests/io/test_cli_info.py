"""`ivcplan info` through the real Typer app."""

from __future__ import annotations

from dicomgen import write_series
from io_synth import structured_hu
from typer.testing import CliRunner

from ivcplan.cli import app

runner = CliRunner()


def test_info_on_a_study(tmp_path):
    write_series(tmp_path / "a", structured_hu((6, 16, 16)), series_uid="1.2.3.1", series_number=1,
                 description="Abdomen nativ")
    write_series(tmp_path / "b", structured_hu((8, 16, 16)), series_uid="1.2.3.2", series_number=2,
                 description="Abdomen PV", positions=[(0.0, 0.0, z) for z in (0, 2, 4, 6, 10, 12, 14, 16)])
    result = runner.invoke(app, ["info", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Abdomen nativ" in out and "Abdomen PV" in out
    assert "Chosen: series 2 (1.2.3.2)" in out and "8 slices (most)" in out
    assert "9 x 16 x 16 voxels" in out  # one missing slice interpolated
    assert "warning: 1 missing slice(s)" in out
    other = runner.invoke(app, ["info", str(tmp_path), "--series", "1"])
    assert other.exit_code == 0 and "6 x 16 x 16 voxels" in other.output


def test_info_describes_mr(dcm_qa_dir):
    result = runner.invoke(app, ["info", str(dcm_qa_dir / "In" / "9.dcm")])
    assert result.exit_code == 0, result.output
    assert "MR" in result.output and "not CT" in result.output
    assert "35 x 64 x 64 voxels" in result.output


def test_info_on_nifti(totalseg_dir):
    result = runner.invoke(app, ["info", str(totalseg_dir / "example_ct.nii.gz")])
    assert result.exit_code == 0, result.output
    assert "112 x 101 x 122 voxels" in result.output


def test_info_on_bad_input_fails_cleanly(tmp_path):
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\x00" * 50)
    for target, status in ((junk, 4), (tmp_path / "missing", 2)):  # no usable series; bad argument
        result = runner.invoke(app, ["info", str(target)])
        assert result.exit_code == status
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "error:" in result.output and str(target) in result.output
