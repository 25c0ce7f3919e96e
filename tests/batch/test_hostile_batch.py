"""Issue 21, the batch: a bad file is a named failure or a listed skip, never the end of the batch; a case
that fails loses its earlier outputs; header text cannot become a formula in summary.csv."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from cases import head_ct, write_corrupt_nifti, write_dicom
from hostile import invoke_within, set_raw, tree_hashes  # tree_hashes skips the pipe (never opened)

from ivcplan.batch import run_batch
from ivcplan.batch.worker import MARKER
from ivcplan.io import save_nifti

#: A batch of three tiny cases must end well before this (s): a named pipe must not block it.
HANG_TIMEOUT_S = 300


def _head_series(folder: Path, **kw) -> list[Path]:
    write_dicom(head_ct(n_slices=6, matrix=24), folder, **kw)
    return sorted(folder.glob("*.dcm"))


def test_bad_files_do_not_stop_discovery_or_the_batch(tmp_path: Path):
    root = tmp_path / "in"
    bad = _head_series(root / "bad_header", description="Head A")
    set_raw(bad[2], "RescaleSlope", b"abc")
    save_nifti(head_ct(n_slices=6, matrix=24), root / "good.nii.gz")
    os.mkfifo(root / "pipe.dcm")
    (root / "cut.dcm").write_bytes(bad[0].read_bytes()[:400])
    before = tree_hashes(root)
    out = tmp_path / "out"
    result = invoke_within(HANG_TIMEOUT_S, "batch", root, "-o", out, "--jobs", "1", "--outputs", "json")
    assert result.exit_code == 4, result.output  # no case succeeded: one failed, the head CT has no IVC
    assert "Traceback" not in result.output
    assert "2 file(s) could not be read" in " ".join(result.output.split())
    doc = json.loads((out / "summary.json").read_text())
    got = {c["source"]: c for c in doc["cases"]}
    assert got["good.nii.gz"]["status"] == "no_ivc"
    failed = got["bad_header"]
    assert failed["status"] == "failed" and failed["error_type"] == "SeriesError"
    assert f"{bad[2]}: RescaleSlope 'abc' is not a finite number" == failed["error"]
    ignored = {i["source"]: i["reason"] for i in doc["ignored"]}
    assert ignored["pipe.dcm"] == "is a named pipe (FIFO), not a regular file: not read"
    assert ignored["cut.dcm"].startswith("damaged DICOM file: it ends inside element")
    assert tree_hashes(root) == before


def test_a_truncated_copy_in_another_folder_does_not_fail_the_series(tmp_path: Path):
    root = tmp_path / "in"
    files = _head_series(root / "b_series")
    (root / "a_copy").mkdir()
    copy = root / "a_copy" / files[3].name
    copy.write_bytes(files[3].read_bytes()[:-500])  # same SOPInstanceUID, pixel data cut short
    result = run_batch(root, tmp_path / "out", jobs=1, outputs=["json"])
    (case,) = result.results
    assert case["status"] == "no_ivc", case["error"]
    assert any("damaged duplicate(s) ignored" in w and str(copy) in w for w in case["warnings"])


def test_a_case_that_fails_on_rerun_loses_its_outputs_and_marker(tmp_path: Path):
    root = tmp_path / "in"
    root.mkdir()
    volume = head_ct(n_slices=6, matrix=24)
    save_nifti(volume, root / "case.nii.gz")
    out = tmp_path / "out"
    first = run_batch(root, out, jobs=1, outputs=["json"])
    folder = out / first.results[0]["output_dir"]
    assert first.results[0]["status"] == "no_ivc" and (folder / MARKER).is_file()
    write_corrupt_nifti(root / "case.nii.gz", volume)  # the input changed and is now unreadable
    second = run_batch(root, out, jobs=1, outputs=["json"])
    (case,) = second.results
    assert case["status"] == "failed" and not case["resumed"] and case["output_dir"] is None
    assert not folder.exists()  # the old report is not presented as the current one
    with second.summary_csv.open(newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["status"] == "failed" and row["output_dir"] == ""
    assert [p.name for p in (out / "cases").iterdir()] == []


def test_summary_csv_cannot_carry_a_formula(tmp_path: Path):
    hostile = '=HYPERLINK("http://evil.invalid","x")'
    root = tmp_path / "in"
    _head_series(root / "ct", description=hostile)
    result = run_batch(root, tmp_path / "out", jobs=1, outputs=["json", "csv"])
    with result.summary_csv.open(newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["series_description"] == "'" + hostile
    assert not any(v.startswith(("=", "+", "@")) for v in row.values())
    assert json.loads(result.summary_json.read_text())["cases"][0]["series_description"] == hostile


def test_an_output_path_under_a_file_is_refused_by_the_command(tmp_path: Path):
    root = tmp_path / "in"
    root.mkdir()
    save_nifti(head_ct(n_slices=6, matrix=24), root / "case.nii.gz")
    (tmp_path / "taken").write_text("x")
    result = invoke_within(HANG_TIMEOUT_S, "batch", root, "-o", tmp_path / "taken" / "batch")
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert f"error: {tmp_path / 'taken' / 'batch'}: cannot write in the output folder (Not a directory" in \
        result.output
