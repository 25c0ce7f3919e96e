"""Issue 21, the commands: a demanding user meets no traceback, no hang, no confident wrong report and no
mixed outputs. Each test builds the hostile input (pydicom, nibabel, real files), runs `ivcplan` as a user
would (in-process through Typer, or as a process where signals, limits or hangs are involved) and checks
the exit status, the message (file and problem), what was written where, and that the inputs are unchanged."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicomgen import write_series
from hostile import CODE, body_hu, delete, headerless_nifti, invoke_within, ivcplan, set_raw, set_us, tree_hashes
from typer.testing import CliRunner

from ivcplan.cli import app
from ivcplan.cli._errors import describe, exit_code
from ivcplan.io import save_nifti
from ivcplan.outputs.publish import MARKER
from ivcplan.volume import Volume

runner = CliRunner()
#: A run that has to end well before this (s) is considered hung.
HANG_TIMEOUT_S = 120


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_clean_failure(result, status: int, *fragments: str) -> None:
    """Exit ``status``, one ``error:`` line holding every fragment, no traceback."""
    output = result.output if hasattr(result, "output") else result.stdout + result.stderr
    code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    assert code == status, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])


@pytest.fixture
def ct(tmp_path: Path) -> Path:
    """A small plausible CT (NIfTI, HU with air around a body): analysed in a few seconds."""
    return save_nifti(Volume.from_array(body_hu((8, 48, 48)), spacing=(5.0, 6.0, 6.0)), tmp_path / "body.nii.gz")


@pytest.fixture
def other_ct(tmp_path: Path) -> Path:
    return save_nifti(Volume.from_array(body_hu((6, 40, 40), seed=3), spacing=(5.0, 7.0, 7.0)),
                      tmp_path / "other.nii.gz")


def _series(folder: Path, **kw) -> list[Path]:
    return write_series(folder, body_hu(), **kw)


# -- exit statuses ---------------------------------------------------------------------------------------
def test_help_documents_the_exit_statuses():
    result = run("--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for fragment in ("2 bad option or argument", "3 input that cannot be used", "4 no usable series",
                     "5 outputs could not be written", "130 interrupted", "1 internal error"):
        assert fragment in text, fragment
    batch_help = " ".join(run("batch", "--help").output.split())
    assert "3 some cases failed" in batch_help and "4 no case succeeded" in batch_help


def test_statuses_of_exceptions():
    from ivcplan.errors import IntensityError, NotCTError, OptionError, OutputError, SeriesError

    assert [exit_code(e) for e in (OptionError("x"), SeriesError("x"), IntensityError("x"), NotCTError("x"),
                                   OutputError("x"), RuntimeError("x"), KeyboardInterrupt(),
                                   PermissionError(13, "Permission denied", "/x"))] == [2, 3, 3, 4, 5, 1, 130, 3]
    assert describe(RuntimeError("boom")).startswith("internal error (RuntimeError: boom); this is a bug")


@pytest.mark.parametrize(("keyword", "raw", "message"), [
    ("RescaleSlope", b"abc", "RescaleSlope 'abc' is not a finite number"),
    ("SliceThickness", b"3\\3", None),  # not needed for the volume: a warning, the analysis goes on
    ("InstanceNumber", b"1e999", None),
])
def test_info_on_unparsable_header_values(tmp_path, keyword, raw, message):
    paths = _series(tmp_path / "ct")
    set_raw(paths[2], keyword, raw)
    before = tree_hashes(tmp_path / "ct")
    result = run("info", tmp_path / "ct")
    if message:
        assert_clean_failure(result, 3, str(paths[2]), message)
    else:
        assert result.exit_code == 0, result.output
        assert f"warning: {paths[2]}: {keyword} '{raw.decode()}'" in result.output
    assert tree_hashes(tmp_path / "ct") == before


def test_analyze_refuses_unparsable_rescale_without_writing_anything(tmp_path):
    paths = _series(tmp_path / "ct")
    set_raw(paths[0], "RescaleSlope", b"abc")
    out = tmp_path / "out"
    result = run("analyze", tmp_path / "ct", "-o", out, "--outputs", "json")
    assert_clean_failure(result, 3, str(paths[0]), "RescaleSlope 'abc' is not a finite number", "[log: ")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["ct"]


def test_an_absurd_declared_size_fails_fast_within_a_small_memory_limit(tmp_path):
    """Rows = Columns = 8000 over 1 KB of pixels: refused from the header, in a process allowed 3 GiB
    (the old loader allocated the whole declared volume first)."""
    paths = _series(tmp_path / "ct")
    for p in paths:
        set_us(p, "Rows", 8000)
        set_us(p, "Columns", 8000)
    limit = 3 << 30
    result = ivcplan("info", str(tmp_path / "ct"), timeout=HANG_TIMEOUT_S,
                     preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    assert_clean_failure(result, 3, "truncated pixel data",
                         "expected (Rows 8000 x Columns 8000 x 1 frame(s) x 16 bits)")


def test_no_usable_series_and_mr(tmp_path, dcm_qa_dir):
    (tmp_path / "notes.txt").write_text("not an image")
    assert_clean_failure(run("analyze", tmp_path, "-o", tmp_path / "o"), 4, "no DICOM image files found")
    mr = dcm_qa_dir / "In" / "1.dcm"
    assert_clean_failure(run("analyze", mr, "-o", tmp_path / "o2"), 4, str(mr), "modality is MR")
    assert run("info", mr).exit_code == 0  # described, not analysed
    assert not (tmp_path / "o").exists() and not (tmp_path / "o2").exists()


def test_debug_shows_the_traceback(tmp_path):
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\0" * 50)
    quiet = run("info", junk)
    loud = run("--debug", "info", junk)
    assert quiet.exit_code == loud.exit_code == 4
    assert "Traceback" not in quiet.output and "Traceback (most recent call last)" in loud.output


# -- 2. named pipes ----------------------------------------------------------------------------------------
def test_a_named_pipe_in_the_input_folder_does_not_hang_info_or_analyze(tmp_path):
    _series(tmp_path / "ct")
    os.mkfifo(tmp_path / "ct" / "IM_pipe.dcm")
    info = invoke_within(HANG_TIMEOUT_S, "info", tmp_path / "ct")
    assert info.exit_code == 0, info.output
    assert "IM_pipe.dcm: is a named pipe (FIFO), not a regular file: not read" in " ".join(info.output.split())
    out = tmp_path / "out"
    result = invoke_within(HANG_TIMEOUT_S, "analyze", tmp_path / "ct", "-o", out, "--outputs", "json")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert any("IM_pipe.dcm: is a named pipe" in w for w in report["input"]["warnings"])


@pytest.mark.parametrize("option", ["PATH", "--labels", "--rules"])
def test_a_named_pipe_as_an_argument_is_refused_at_once(tmp_path, ct, option):
    pipe = tmp_path / ("pipe.toml" if option == "--rules" else "pipe.nii.gz")
    os.mkfifo(pipe)
    args = [str(pipe)] if option == "PATH" else [str(ct), option, str(pipe)]
    result = invoke_within(HANG_TIMEOUT_S, "analyze", *args, "-o", tmp_path / "out")
    assert_clean_failure(result, 2, str(pipe), "named pipe (FIFO)")
    assert not (tmp_path / "out").exists()


# -- 3 and 8. the output folder ------------------------------------------------------------------------------
def test_options_and_output_folder_are_checked_before_the_input_is_read(tmp_path):
    """A damaged input would fail with status 3 once read: each bad option wins with status 2, naming it,
    and nothing is created."""
    paths = _series(tmp_path / "ct")
    paths[0].write_bytes(paths[0].read_bytes()[:-100])  # truncated: status 3 if it were loaded
    (tmp_path / "a_file").write_text("x")
    cases = [
        (["--outputs", "json,bogus"], ["--outputs", "unknown output kind(s) bogus"]),
        (["--rules", str(tmp_path / "missing.toml")], ["--rules", "missing.toml", "no such file"]),
        (["--assume-spacing", "1,x,2"], ["--assume-spacing", "'1,x,2'"]),
        (["-o", str(tmp_path / "a_file")], [str(tmp_path / "a_file"), "exists and is not a folder"]),
        (["-o", str(tmp_path / "a_file" / "sub")], ["cannot be created", "is not a folder"]),
        (["--labels", str(tmp_path / "none.nii.gz")], ["--labels", "none.nii.gz", "no such file"]),
    ]
    for extra, fragments in cases:
        args = ["analyze", tmp_path / "ct", *extra]
        if "-o" not in extra:
            args += ["-o", tmp_path / "out"]
        assert_clean_failure(run(*args), 2, *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "ct"]


def test_a_missing_input_creates_nothing(tmp_path):
    result = run("analyze", tmp_path / "nope.nii.gz", "-o", tmp_path / "out")
    assert_clean_failure(result, 2, "nope.nii.gz", "no such file or directory")
    assert list(tmp_path.iterdir()) == []


def _make_read_only(folder: Path) -> None:
    if os.geteuid() == 0:  # root ignores permission bits: use the immutable attribute
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
    with pytest.raises(OSError):
        (folder / "probe").mkdir()


def _make_writable(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o755)


def test_an_unwritable_output_location_is_refused_cleanly(tmp_path, ct):
    locked = tmp_path / "locked"
    locked.mkdir()
    _make_read_only(locked)
    try:
        result = run("analyze", ct, "-o", locked / "out", "--outputs", "json")
        assert_clean_failure(result, 2, str(locked), "cannot write in")
        batch = run("batch", ct, "-o", locked / "batch", "--outputs", "json")
        assert_clean_failure(batch, 2, str(locked / "batch"), "cannot write")
        assert list(locked.iterdir()) == []
    finally:
        _make_writable(locked)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_an_output_folder_holding_another_analysis_is_refused_unless_forced(tmp_path, ct, other_ct):
    out = tmp_path / "out"
    assert run("analyze", other_ct, "-o", out, "--outputs", "json,csv,segmentation").exit_code == 0
    before = _hashes(out)
    refused = run("analyze", ct, "-o", out, "--outputs", "json")
    assert_clean_failure(refused, 2, str(out), "holds the analysis of another input", str(other_ct), "--force")
    assert _hashes(out) == before
    forced = run("analyze", ct, "-o", out, "--outputs", "json", "--force")
    assert forced.exit_code == 0, forced.output
    # replaced whole: nothing of the other patient's analysis is left beside the new report
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, "ivcplan.log", "report.json"])
    assert json.loads((out / "report.json").read_text())["input"]["source_path"] == str(ct)


def test_rerunning_the_same_analysis_replaces_it_whole(tmp_path, ct):
    out = tmp_path / "out"
    assert run("analyze", ct, "-o", out, "--outputs", "json,csv").exit_code == 0
    again = run("analyze", ct, "-o", out, "--outputs", "json")
    assert again.exit_code == 0, again.output
    assert "Replaced the output folder's earlier contents (same input)" in again.output
    assert not (out / "report.csv").exists()


def test_a_folder_of_other_files_is_refused_and_never_the_input_or_current_folder(tmp_path, ct):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.docx").write_text("mine")
    assert_clean_failure(run("analyze", ct, "-o", out), 2, "files that are not an ivcplan analysis (thesis.docx)")
    assert (out / "thesis.docx").read_text() == "mine"
    # the input inside OUT: never replaced, even with --force
    assert_clean_failure(run("analyze", ct, "-o", tmp_path, "--force"), 2, "the input", "lies inside it")
    assert ct.is_file()
    cwd = os.getcwd()
    (tmp_path / "work").mkdir()
    os.chdir(tmp_path / "work")
    try:
        assert_clean_failure(run("analyze", ct, "-o", ".", "--force"), 2, "the current, home or root folder")
    finally:
        os.chdir(cwd)


def test_a_failing_run_leaves_the_previous_output_untouched_and_keeps_its_log_aside(tmp_path, ct):
    out = tmp_path / "out"
    assert run("analyze", ct, "-o", out, "--outputs", "json").exit_code == 0
    before = _hashes(out)
    labels = tmp_path / "far.nii.gz"  # labels 1 m away from the CT: refused after loading it
    liver = np.full((4, 8, 8), 5, np.uint8)  # TotalSegmentator's liver
    far = Volume.from_array(liver, spacing=(5.0, 6.0, 6.0), origin=(0.0, 0.0, 1000.0))
    save_nifti(far, labels)
    result = run("analyze", ct, "-o", out, "--outputs", "json", "--labels", labels)
    assert_clean_failure(result, 3, str(labels), "no labelled voxel lies inside the CT",
                         "mm from the CT's field of view", "[log: ")
    kept = Path(result.output.split("[log: ")[1].split("]")[0])
    kept_text = kept.read_text()
    assert kept.parent != tmp_path and "Traceback" not in kept_text
    kept.unlink()
    assert _hashes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["body.nii.gz", "far.nii.gz", "out"])
    assert f"{tmp_path / 'far.nii.gz'}: no labelled voxel" in kept_text


def _staging(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if ".ivcplan-staging-" in p.name]


def _start_and_wait_for_writing(ct: Path, out: Path) -> subprocess.Popen:
    """Start `ivcplan analyze --outputs all` and return once it is writing (report.json staged)."""
    env = {**os.environ, "PYTHONPATH": str(CODE), "VTK_DEFAULT_OPENGL_WINDOW": "vtkEGLRenderWindow"}
    proc = subprocess.Popen([sys.executable, "-m", "ivcplan", "analyze", str(ct), "-o", str(out), "--outputs", "all"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + HANG_TIMEOUT_S
    while time.monotonic() < deadline:
        if any((p / "report.json").exists() for p in _staging(out.parent)):
            return proc
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.005)
    proc.kill()
    raise AssertionError("the run never started writing")


def _limit_file_size(limit_bytes: int):
    """A child process that may not write a file larger than ``limit_bytes`` (RLIMIT_FSIZE): its writes
    fail with EFBIG, as on a full disk or quota (CPython ignores SIGXFSZ)."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))


def test_outputs_that_cannot_be_written_end_with_status_5_and_publish_nothing(tmp_path, ct):
    out = tmp_path / "out"
    # The report (~14 kB) fits, the multi-label NIfTI of the same run does not: writing fails half-way.
    result = ivcplan("analyze", str(ct), "-o", str(out), "--outputs", "json,segmentation,images",
                     env={"VTK_DEFAULT_OPENGL_WINDOW": "vtkEGLRenderWindow"},
                     preexec_fn=_limit_file_size(20_000))
    assert_clean_failure(result, 5, str(out), "cannot write the outputs", "File too large")
    assert not out.exists()  # nothing published under the name asked for
    assert _staging(tmp_path) == []  # and no half-written set left behind
    log = next(part for part in result.stderr.split("[log: ")[1:]).split("]")[0]
    assert Path(log).is_file() and "File too large" in Path(log).read_text()  # the failure's log is kept aside
    Path(log).unlink()


def test_ctrl_c_while_writing_stops_with_130_and_publishes_nothing(tmp_path, ct):
    out = tmp_path / "out"
    assert run("analyze", ct, "-o", out, "--outputs", "json").exit_code == 0
    before = _hashes(out)
    proc = _start_and_wait_for_writing(ct, out)
    proc.send_signal(signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=HANG_TIMEOUT_S)
    assert proc.returncode == 130, stderr
    assert "stopped: interrupted: nothing was published" in stderr and "Traceback" not in stderr
    assert _hashes(out) == before
    assert _staging(tmp_path) == []


def test_sigkill_while_writing_never_leaves_a_set_that_looks_finished(tmp_path, ct):
    out = tmp_path / "out"
    proc = _start_and_wait_for_writing(ct, out)
    proc.kill()
    proc.communicate()
    assert not out.exists()  # nothing published: no partial set under the name the user asked for
    assert len(_staging(tmp_path)) == 1  # hidden leftovers, removed by the next run
    result = run("analyze", ct, "-o", out, "--outputs", "json")
    assert result.exit_code == 0, result.output
    assert _staging(tmp_path) == []
    marker = json.loads((out / MARKER).read_text())
    assert sorted(marker["files"]) == sorted(p.name for p in out.iterdir() if p.name != MARKER)


# -- 5, 6, 7: refusing instead of guessing -------------------------------------------------------------------
def test_missing_rescale_on_stored_values_is_refused_and_described(tmp_path):
    paths = write_series(tmp_path / "ct", body_hu(), intercept=-1024.0)
    for p in paths:
        delete(p, "RescaleSlope", "RescaleIntercept")
    result = run("analyze", tmp_path / "ct", "-o", tmp_path / "out")
    assert_clean_failure(result, 3, "intensities do not look like HU", "air should be about -1000 HU",
                         "RescaleSlope/RescaleIntercept are absent")
    described = run("info", tmp_path / "ct")
    assert described.exit_code == 0 and "warning: intensities do not look like HU" in described.output


def test_nifti_without_spatial_header_needs_assume_spacing(tmp_path):
    path = headerless_nifti(tmp_path / "ct.nii", body_hu((8, 48, 48)))
    result = run("analyze", path, "-o", tmp_path / "out", "--outputs", "json")
    assert_clean_failure(result, 3, str(path), "no spatial header", "--assume-spacing")
    assert run("info", path).exit_code == 3
    described = run("info", path, "--assume-spacing", "5,6,6")
    assert described.exit_code == 0 and "spacing 5 x 6 x 6 mm" in described.output
    ok = run("analyze", path, "-o", tmp_path / "out", "--outputs", "json", "--assume-spacing", "5,6,6")
    assert ok.exit_code == 0, ok.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["input"]["spacing_mm"] == [5.0, 6.0, 6.0]
    assert any("assumed from --assume-spacing" in w for w in report["input"]["warnings"])


# -- 9. formula injection ------------------------------------------------------------------------------------
def test_header_text_cannot_become_a_spreadsheet_formula(tmp_path):
    hostile = '=HYPERLINK("http://evil.invalid","click")'
    write_series(tmp_path / "ct", body_hu(), description=hostile)
    result = run("analyze", tmp_path / "ct", "-o", tmp_path / "out", "--outputs", "json,csv")
    assert result.exit_code == 0, result.output
    with (tmp_path / "out" / "report.csv").open(newline="") as fh:
        row = next(csv.DictReader(fh))
    assert row["input.series_description"] == "'" + hostile
    assert not any(v.startswith(("=", "+", "@")) for v in row.values())
    numbers = [v for k, v in row.items() if k.startswith("input.spacing_mm")]
    assert numbers and all(float(v) > 0 for v in numbers)  # numbers stay numbers
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["input"]["series_description"] == hostile  # the data itself is kept as it was


# -- 10. DICOM SEG without type 2 attributes -------------------------------------------------------------------
def test_dicom_seg_is_written_for_a_series_lacking_type2_attributes(tmp_path):
    import highdicom as hd

    paths = write_series(tmp_path / "ct", body_hu())
    absent = ("PatientBirthDate", "PatientSex", "StudyID", "AccessionNumber", "ReferringPhysicianName", "StudyDate",
              "StudyTime", "PatientName")
    for p in paths:
        delete(p, *absent)
    before = tree_hashes(tmp_path / "ct")
    out = tmp_path / "out"
    result = run("analyze", tmp_path / "ct", "-o", out, "--outputs", "json,dicom_seg")
    assert result.exit_code == 0, result.output
    assert "Skipped dicom_seg" not in result.output and "Wrote dicom_seg" in result.output
    seg = hd.seg.segread(str(out / "segmentation.seg.dcm"))
    raw = pydicom.dcmread(out / "segmentation.seg.dcm")
    for keyword in absent:
        assert keyword in raw and str(raw.get(keyword)) == "", keyword
    assert {str(ds.SOPInstanceUID) for ds in map(pydicom.dcmread, paths)} >= {
        str(item.ReferencedSOPInstanceUID) for item in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert seg.number_of_segments >= 1
    assert tree_hashes(tmp_path / "ct") == before


# -- smaller: two CT series ----------------------------------------------------------------------------------------
def test_analyze_says_which_series_it_chose_and_which_it_ignored(tmp_path):
    write_series(tmp_path / "ct" / "a", body_hu((6, 32, 32)), series_uid="1.2.3.1", series_number=1,
                 description="Abdomen nativ")
    write_series(tmp_path / "ct" / "b", body_hu((8, 32, 32)), series_uid="1.2.3.2", series_number=2,
                 description="Abdomen PV", contrast="Iomeron")
    result = run("analyze", tmp_path / "ct", "-o", tmp_path / "out", "--outputs", "json")
    assert result.exit_code == 0, result.output
    assert "not analysed: series 1 (CT 'Abdomen nativ': 6 slices, fewer)" in " ".join(result.output.split())
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["input"]["series_instance_uid"] == "1.2.3.2"
    assert "series 2, chosen among 2 usable CT series" in report["input"]["chosen_reason"]
    assert report["input"]["other_series"] == [{"number": 1, "series_instance_uid": "1.2.3.1", "modality": "CT",
                                                "description": "Abdomen nativ",
                                                "reason": "CT 'Abdomen nativ': 6 slices, fewer"}]


def test_library_warnings_do_not_reach_the_console(tmp_path):
    """nibabel's header fix ("pixdim[1,2,3] should be non-zero") goes to the log only."""
    path = headerless_nifti(tmp_path / "ct.nii", body_hu((8, 48, 48)))
    result = ivcplan("analyze", str(path), "-o", str(tmp_path / "out"), "--outputs", "json", "--assume-spacing",
                     "5,6,6")
    assert result.returncode == 0, result.stderr
    assert "pixdim" not in result.stderr and "Warning" not in result.stderr, result.stderr
    assert "pixdim[1,2,3] should be non-zero" in (tmp_path / "out" / "ivcplan.log").read_text()


def test_anonymized_reports_name_damaged_files_without_the_local_folder(tmp_path):
    """The loader's warnings name files; with --anonymize the input's folder (often the patient's name)
    becomes <input>."""
    root = tmp_path / "Doe_John_1950"
    paths = write_series(root / "ct", body_hu())
    shutil.copy(paths[1], root / "copy.dcm")  # the same image twice: a note naming both files
    out = tmp_path / "out"
    result = run("analyze", root, "-o", out, "--outputs", "json,csv", "--anonymize")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    note = next(w for w in report["input"]["warnings"] if "duplicate positions dropped" in w)
    assert f"<input>/ct/{paths[1].name} = <input>/copy.dcm" in note
    for name in ("report.json", "report.csv"):
        assert "Doe_John" not in (out / name).read_text(), name


def test_the_console_script_keeps_click_usage_errors_at_status_2():
    """`python -m ivcplan` (the console script's main) lets typer/click report their own usage errors."""
    result = ivcplan("analyze", "--bogus")
    assert result.returncode == 2 and "No such option: --bogus" in result.stderr and "Traceback" not in result.stderr
