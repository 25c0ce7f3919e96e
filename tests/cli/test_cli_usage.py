"""Issue 22, the command line as a person meets it: --version, -h, -q / -v, a usage error without a CT,
options refused before any work, plain-text prose, a progress display through the writing of the outputs,
a tidy CSV and a log with stages, timings and warnings. Run in-process through Typer's runner, or as a
process where the terminal matters."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from hostile import body_hu, ivcplan
from synth_case import build_case
from typer.testing import CliRunner

from ivcplan import __version__
from ivcplan.cli import app
from ivcplan.io import save_nifti
from ivcplan.volume import Volume

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run(*args, env: dict | None = None):
    return runner.invoke(app, [str(a) for a in args], env=env)


@pytest.fixture
def ct(tmp_path: Path) -> Path:
    """A small plausible CT without an IVC (analysed in a few seconds)."""
    return save_nifti(Volume.from_array(body_hu((8, 48, 48)), spacing=(5.0, 6.0, 6.0)), tmp_path / "body.nii.gz")


@pytest.fixture(scope="module")
def tumor_case(tmp_path_factory) -> tuple[Path, Path]:
    """The synthetic case with a tumor as NIfTI files: (CT, labels)."""
    case = build_case()
    folder = tmp_path_factory.mktemp("tumor_case")
    return save_nifti(case.volume, folder / "synthetic.nii.gz"), save_nifti(case.labelmap, folder / "labels.nii.gz")


def test_version_option_and_command():
    for args in (["--version"], ["version"]):
        result = run(*args)
        assert result.exit_code == 0, result.output
    assert run("--version").output == f"ivcplan {__version__}\n"
    assert run("version").output == f"{__version__}\n"


@pytest.mark.parametrize("args", [["-h"], ["--help"], ["analyze", "-h"], ["batch", "-h"], ["data", "-h"],
                                  ["data", "fetch", "-h"], ["info", "-h"]])
def test_short_and_long_help_fit_80_columns_and_name_every_option_whole(args):
    result = run(*args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ivcplan"), result.output[:200]
    assert "-h, --help" in result.output
    long_lines = [line for line in result.output.splitlines() if len(line) > 80]
    assert not long_lines, long_lines
    assert "…" not in result.output and "<bool>" not in result.output and "╭" not in result.output


def test_analyze_help_lists_the_flags_in_full():
    text = run("analyze", "-h", env={"COLUMNS": "80"}).output
    for option in ("--prior-chemotherapy / --no-prior-chemotherapy", "--liver-fibrosis / --no-liver-fibrosis",
                   "-o, --output", "--anonymize", "--force", "Exit status: 0 done"):
        assert option in text, option


def test_root_help_lists_quiet_verbose_version():
    text = run("-h", env={"COLUMNS": "80"}).output
    for option in ("--version", "-q, --quiet", "-v, --verbose", "--debug"):
        assert option in text, option


def test_analyze_without_a_path_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("analyze")
    assert result.exit_code == 2
    assert result.output == ("error: no CT given: ivcplan analyze PATH [-o OUT] (PATH: a DICOM folder or file, "
                             "NIfTI, NRRD or MHA; the bundled demo is `make demo`)\n")
    assert list(tmp_path.iterdir()) == []  # nothing analysed, nothing written
    # the demo is its own make target, with an explicit PATH
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert re.search(r"^demo:.*\n\tivcplan analyze sample_dicom/\S+ -o out/demo$", makefile, re.M)


def test_quiet_and_verbose_exclude_each_other(ct, tmp_path):
    result = run("-q", "-v", "analyze", ct, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "Invalid value for -q / -v: -q/--quiet and -v/--verbose exclude each other" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["--weight-kg", "-70"], "error: --weight-kg: -70 is not a body weight in kg (20-400)"),
    (["--weight-kg", "7000"], "error: --weight-kg: 7000 is not a body weight in kg (20-400)"),
    (["--weight-kg", "12.5"], "error: --weight-kg: 12.5 is not a body weight in kg (20-400)"),
    (["--outputs", ","], "error: --outputs: no output kind given"),
    (["--outputs", "pdf,html,xls"], "error: --outputs: unknown output kind(s) xls; available: json, csv, "
                                    "segmentation, seg_nrrd, state, images, html, pdf, meshes, dicom_seg, all"),
])
def test_bad_options_are_refused_before_the_ct_is_read(tmp_path, extra, message):
    """A truncated NIfTI would fail with status 3 when read: the option is refused first, with status 2."""
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"\x1f\x8b not a nifti")
    result = run("analyze", broken, "-o", tmp_path / "out", *extra)
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [message]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.nii.gz"]


def test_summary_is_plain_words_and_quiet_prints_nothing(tumor_case, tmp_path):
    ct, labels = tumor_case
    result = run("analyze", ct, "--labels", labels, "-o", tmp_path / "out", "--outputs", "json,csv")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert not ANSI.search(text)
    assert "Suggested plan:\n  Approach: Conventional (in-situ) resection of the IVC tumor\n" in text
    assert "  Right renal vein: preserved (inflow free)\n  Left renal vein: preserved (inflow free)\n" in text
    assert "  Liver resection: none suggested\n" in text
    for token in ("conventional\n", "infrahepatic_clamping", "graft_diameter", "[S]", "None"):
        assert token not in text, token
    assert f"Wrote csv: {tmp_path / 'out' / 'report.csv'}" in text
    quiet = run("-q", "analyze", ct, "--labels", labels, "-o", tmp_path / "q", "--outputs", "json,csv")
    assert quiet.exit_code == 0 and quiet.output == ""
    assert (tmp_path / "q" / "report.json").is_file()


def test_csv_is_one_tidy_row_with_case_and_version_first(ct, tmp_path):
    assert run("analyze", ct, "-o", tmp_path / "out", "--outputs", "json,csv").exit_code == 0
    with (tmp_path / "out" / "report.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 2
    header, row = rows
    assert header[:3] == ["case_id", "ivcplan_version", "rules_sha256"]
    assert row[:2] == ["body", __version__] and re.fullmatch(r"[0-9a-f]{64}", row[2])
    assert len(set(header)) == len(header) and all(re.fullmatch(r"[a-z0-9_.]+", h) for h in header)


def test_log_records_the_command_stages_timings_and_warnings(ct, tmp_path):
    result = run("analyze", ct, "-o", tmp_path / "out", "--outputs", "json,csv")
    assert result.exit_code == 0, result.output
    log = (tmp_path / "out" / "ivcplan.log").read_text()
    assert re.search(rf"INFO ivcplan\.cli: ivcplan {re.escape(__version__)} analyze \S*body\.nii\.gz -> ", log)
    for stage in ("load", "segment", "centerline", "plan"):
        assert re.search(rf"stage {stage} started\n.*stage {stage} took \d+\.\d s", log, re.S), stage
    for kind in ("json", "csv"):
        assert re.search(rf"output {kind} written in \d+\.\d s", log), kind
    assert re.search(r"analysis and outputs took \d+\.\d s", log)
    # this CT has no IVC: the plan's points for the board are warnings in the log
    assert re.search(r"WARNING ivcplan\.cli: plan: ", log), log[-2000:]
    assert len(log.splitlines()) >= 12


def test_verbose_prints_the_log_on_stderr(ct, tmp_path):
    result = ivcplan("-v", "analyze", str(ct), "-o", str(tmp_path / "out"), "--outputs", "json")
    assert result.returncode == 0, result.stderr
    assert re.search(r"INFO ivcplan\.pipeline: stage load took \d+\.\d s", result.stderr)
    assert "Suggested plan:" in result.stdout and "stage load" not in result.stdout
    plain = ivcplan("analyze", str(ct), "-o", str(tmp_path / "out2"), "--outputs", "json")
    assert plain.returncode == 0 and "stage load" not in plain.stderr


def test_progress_display_runs_through_the_writing_of_the_outputs(tumor_case, tmp_path):
    """On a terminal (rich told so by TTY_COMPATIBLE / TTY_INTERACTIVE) the bar names the output being
    written and passes the analysis' share of the bar."""
    ct, labels = tumor_case
    result = ivcplan("analyze", str(ct), "--labels", str(labels), "-o", str(tmp_path / "out"), "--outputs",
                     "json,images,pdf", env={"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "COLUMNS": "120"})
    assert result.returncode == 0, result.stderr
    frames = ANSI.sub("", result.stderr)
    assert "writing images" in frames and "writing pdf" in frames, frames[-800:]
    percents = [int(p) for p in re.findall(r"(\d+)%", frames)]
    assert percents and max(percents) == 100
    assert any(55 < p < 100 for p in percents)  # seen while the outputs were written
    quiet = ivcplan("-q", "analyze", str(ct), "--labels", str(labels), "-o", str(tmp_path / "q"), "--outputs",
                    "json", env={"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"})
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""


def test_write_outputs_reports_progress_per_kind(tumor_case, tmp_path):
    from ivcplan import pipeline
    from ivcplan.outputs import write_outputs

    ct, labels = tumor_case
    analysis = pipeline.run(ct, labels=labels)
    calls: list[tuple[str, float]] = []
    write_outputs(analysis, tmp_path / "out", ["json", "csv", "images", "html"],
                  progress=lambda what, f: calls.append((what, f)))
    assert [w for w, _ in calls] == ["writing json", "writing csv", "writing images", "writing html",
                                     "outputs written"]
    fractions = [f for _, f in calls]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    # the images take most of the time: the bar moves most across them
    assert fractions[3] - fractions[2] > 0.8
