"""The whole pipeline: report contract, output files, the CLI, and the real CT acceptance checks."""

from __future__ import annotations

import csv
import json
import re
import threading
from pathlib import Path

import nibabel
import numpy as np
import pytest
from measure_synth import Tumor, abdomen
from typer.testing import CliRunner

from ivcplan import pipeline
from ivcplan.cli import app
from ivcplan.errors import AnalysisError, InputError
from ivcplan.labels import CONTRACT_LANDMARKS
from ivcplan.outputs import kind_names, write_outputs
from ivcplan.report import contract
from ivcplan.volume import Labelmap, Volume

#: Acceptance (issue 5): renal vein landmark within 15 mm of the level of the largest kidney masks.
RENAL_LEVEL_TOL_MM = 15.0


@pytest.fixture(scope="module")
def synthetic_analysis():
    case = abdomen(tumor=Tumor((33.0, 35.0, 172.0), (10.0, 10.0, 24.0)))
    ct = Volume(np.where(case.labelmap.array > 0, 150, -50).astype(np.int16), case.labelmap.grid,
                meta={"series_instance_uid": "1.2.3"})
    before = case.labelmap.array.copy()
    analysis = pipeline.run(ct, labels=case.labelmap, progress=lambda stage, f: None)
    assert np.array_equal(case.labelmap.array, before)  # inputs are never modified
    return case, analysis

SAMPLES = Path(__file__).resolve().parents[1] / "sample_dicom"


def test_report_follows_the_contract(synthetic_analysis):
    _, a = synthetic_analysis
    r = a.report
    contract.validate(r)
    assert r["schema"] == "ivcplan.report/1"
    assert r["input"]["series_instance_uid"] == "1.2.3" and r["input"]["size"] == [110, 48, 64]
    assert r["ivc"]["detected"] and r["ivc"]["centerline_length_mm"] > 150
    assert set(CONTRACT_LANDMARKS) <= set(r["landmarks"])
    assert r["segments_in_view"] == ["I", "II", "III"]
    assert r["tumor"]["present"] and r["tumor"]["segments"] == ["II", "III"]
    assert r["tumor"]["hepatic_veins_invaded"] == ["right"] and r["tumor"]["intracardiac"] is True
    # The planner ran on the measured facts: invaded ostium + segment III + intracardiac -> ELRA, R7.
    assert r["plan"]["approach"] == "elra" and {"R6", "R7"} <= {rule["id"] for rule in r["plan"]["rules"]}
    assert set(a.timings_s) == set(pipeline.STAGE_WEIGHTS)


def test_validation_names_the_broken_field(synthetic_analysis):
    _, a = synthetic_analysis
    broken = json.loads(json.dumps(a.report))
    del broken["tumor"]["present"]
    with pytest.raises(AnalysisError, match=r"tumor.*present"):
        contract.validate(broken)
    broken = json.loads(json.dumps(a.report))
    broken["landmarks"]["renal_veins"]["position_mm"] = [1.0, 2.0]
    with pytest.raises(AnalysisError, match=r"landmarks\.renal_veins\.position_mm"):
        contract.validate(broken)


def test_write_outputs(synthetic_analysis, tmp_path):
    case, a = synthetic_analysis
    written = write_outputs(a, tmp_path / "out", ["json", "csv", "segmentation"])
    report = json.loads(written["json"].read_text())
    assert report["tumor"]["volume_ml"] == a.report["tumor"]["volume_ml"]
    rows = list(csv.DictReader(written["csv"].open()))
    assert len(rows) == 1
    assert float(rows[0]["tumor.volume_ml"]) == pytest.approx(report["tumor"]["volume_ml"])
    assert rows[0]["tumor.segments"] == "II;III"
    assert rows[0]["landmarks.renal_veins.position_mm.z"] != ""
    seg = Volume.from_nifti(nibabel.load(written["segmentation"]))
    assert seg.grid.is_same(a.volume.grid)
    assert np.array_equal(seg.array, case.labelmap.array)
    with pytest.raises(InputError, match="unknown output kind"):
        write_outputs(a, tmp_path / "out", ["nonsense"])
    assert {"json", "csv", "segmentation"} <= set(kind_names())


def test_no_ivc_gives_a_valid_report_without_measurements():
    grid = abdomen().labelmap.grid
    ct = Volume(np.zeros(grid.shape, np.int16), grid)
    a = pipeline.run(ct, labels=Labelmap.empty(grid))
    assert a.report["ivc"]["detected"] is False and a.centerline is None
    assert a.report["tumor"]["present"] is False
    assert all(v["position_mm"] is None for v in a.report["landmarks"].values())
    assert a.report["plan"]["approach"] == "none"
    assert any("IVC not found" in w for w in a.warnings)


def _kidney_peak_z(seg_path) -> float:
    """LPS z of the axial slice where TotalSegmentator's kidney masks (ids 2, 3) are largest."""
    img = nibabel.load(seg_path)
    data = np.asanyarray(img.dataobj)
    counts = np.isin(data, [2, 3]).sum(axis=(0, 1))
    k = int(np.argmax(counts))
    return float((img.affine @ [0, 0, k, 1])[2])  # RAS z == LPS z


@pytest.fixture(scope="module")
def real_ct_with_totalseg(totalseg_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("real_ts")
    result = CliRunner().invoke(app, ["analyze", str(totalseg_dir / "example_ct.nii.gz"), "-o", str(out),
                                      "--labels", str(totalseg_dir / "example_seg_top30.nii.gz"),
                                      "--outputs", "json,csv,segmentation"])
    assert result.exit_code == 0, result.output
    return json.loads((out / "report.json").read_text()), result.output


def test_real_ct_with_totalsegmentator_labels(real_ct_with_totalseg, totalseg_dir):
    report, output = real_ct_with_totalseg
    assert "Wrote json" in output and "Approach: No suggestion: multidisciplinary review" in output
    assert report["ivc"]["detected"] is True and report["ivc"]["centerline_length_mm"] > 60
    assert report["tumor"]["present"] is False
    lms = report["landmarks"]
    for name in ("hepatic_veins", "cavoatrial_junction"):
        assert lms[name]["position_mm"] is None and lms[name]["confidence"] == 0.0, name
    renal = lms["renal_veins"]["position_mm"]
    assert renal is not None
    peak = _kidney_peak_z(totalseg_dir / "example_seg_top30.nii.gz")
    assert abs(renal[2] - peak) <= RENAL_LEVEL_TOL_MM
    assert report["segments_in_view"] == ["I", "II"]


def test_real_ct_automatic_segmentation(totalseg_dir):
    a = pipeline.run(totalseg_dir / "example_ct.nii.gz")
    r = a.report
    assert r["ivc"]["detected"] is True
    assert r["tumor"]["present"] is False
    for name in ("hepatic_veins", "cavoatrial_junction"):
        assert r["landmarks"][name]["position_mm"] is None, name
    assert r["input"]["contrast_phase"] == "non_contrast"
    # No renal vein is visible without contrast: the level comes from the kidney hila (12 mm from the
    # slice where TotalSegmentator's kidneys are largest on 2026-12-02).
    renal = r["landmarks"]["renal_veins"]["position_mm"]
    assert renal is not None
    assert abs(renal[2] - _kidney_peak_z(totalseg_dir / "example_seg_top30.nii.gz")) <= RENAL_LEVEL_TOL_MM


def test_cli_reports_bad_input_clearly(tmp_path):
    missing = tmp_path / "nope.nii.gz"
    result = CliRunner().invoke(app, ["analyze", str(missing), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "nope.nii.gz" in result.output


def test_cli_is_quiet_logs_to_file_and_passes_clinical_facts(totalseg_dir, tmp_path):
    out = tmp_path / "o"
    result = CliRunner().invoke(app, ["analyze", str(totalseg_dir / "example_ct.nii.gz"), "-o", str(out),
                                      "--labels", str(totalseg_dir / "example_seg_top30.nii.gz"),
                                      "--outputs", "json", "--prior-chemotherapy", "--no-liver-fibrosis",
                                      "--weight-kg", "72.5"])
    assert result.exit_code == 0, result.output
    # The importer's list of ignored TotalSegmentator structures goes to the log file, not the console.
    assert "ignored structures" not in result.output
    assert "ignored structures" in (out / "ivcplan.log").read_text()
    report = json.loads((out / "report.json").read_text())
    assert report["clinical"] == {"prior_chemotherapy": True, "liver_fibrosis": False, "weight_kg": 72.5}
    assert contract.facts(report)["clinical"] == report["clinical"]


def test_all_outputs_skip_kinds_that_fail(synthetic_analysis, tmp_path, monkeypatch):
    # An optional kind that fails is left out of "all" with its reason, but fails a run that named it.
    from ivcplan import outputs

    _, a = synthetic_analysis
    skipped: dict[str, str] = {}

    def broken(analysis, outdir, shared):
        raise InputError("not applicable to this input", "x")

    broken_kind = outputs.OutputKind("broken_test_kind", "always fails", broken)
    monkeypatch.setattr(outputs, "_BY_NAME", {**outputs._BY_NAME, broken_kind.name: broken_kind})
    written = write_outputs(a, tmp_path / "all", "all", skipped=skipped)
    assert "broken_test_kind" in skipped and "broken_test_kind" not in written
    assert {"json", "csv", "segmentation"} <= set(written)
    with pytest.raises(InputError, match="not applicable"):
        write_outputs(a, tmp_path / "named", ["broken_test_kind"])


def test_segmentation_files_are_written_beside_the_rendered_kinds(synthetic_analysis, tmp_path, monkeypatch):
    # The segmentation files need no scene: with two threads they are written while the images render
    # (sample case b at 512 x 512 x 300: analyze 35-36 s instead of 37-40 s). Here the "beside" kind waits
    # for the rendering kind, which comes after it in the table: written one after the other, it would wait
    # in vain.
    from ivcplan import outputs, parallel

    _, a = synthetic_analysis
    rendered = threading.Event()
    ran_in: dict[str, int] = {}

    def segmentation_like(analysis, outdir, shared):
        ran_in["beside"] = threading.get_ident()
        if not rendered.wait(timeout=30):
            raise RuntimeError("written before the rendering, not beside it")
        return outdir / "beside.txt"

    def rendering_like(analysis, outdir, shared):
        ran_in["rendering"] = threading.get_ident()
        rendered.set()
        return outdir / "rendered.txt"

    kinds = {"beside_test": outputs.OutputKind("beside_test", "waits for the rendering", segmentation_like,
                                               core=True, beside=True),
             "render_test": outputs.OutputKind("render_test", "renders", rendering_like)}
    monkeypatch.setattr(outputs, "_BY_NAME", {**outputs._BY_NAME, **kinds})
    try:
        parallel.set_threads(2)
        written = write_outputs(a, tmp_path / "two", ["beside_test", "render_test"])
        assert list(written) == ["beside_test", "render_test"]  # in the table's order all the same
        assert ran_in["rendering"] == threading.get_ident() != ran_in["beside"]
        # One thread (a batch's share): one after the other, in the caller's thread.
        parallel.set_threads(1)
        written = write_outputs(a, tmp_path / "one", ["beside_test", "render_test"])
        assert list(written) == ["beside_test", "render_test"]
        assert ran_in["beside"] == ran_in["rendering"] == threading.get_ident()
        # A core kind that fails beside fails the run; an optional one is left out of "all", with its reason.
        parallel.set_threads(2)

        def broken(analysis, outdir, shared):
            raise RuntimeError("disk full")

        for core in (True, False):
            kind = outputs.OutputKind("broken_beside", "fails", broken, core=core, beside=True)
            monkeypatch.setattr(outputs, "_BY_NAME", {**outputs._BY_NAME, kind.name: kind})
            if core:
                with pytest.raises(RuntimeError, match="disk full"):
                    write_outputs(a, tmp_path / "core", ["broken_beside", "render_test"])
            else:
                skipped: dict[str, str] = {}
                written = write_outputs(a, tmp_path / "all", "all", skipped=skipped)
                assert skipped.get("broken_beside") == "disk full" and "broken_beside" not in written
                assert {"json", "segmentation", "render_test", "beside_test"} <= set(written)
    finally:
        parallel.set_threads(None)


def test_anonymize_drops_the_study_identifiers_and_paths(tmp_path):
    """--anonymize: no patient ID, study date, accession number or local path in report.json / report.csv."""
    from ivcplan import io as ivc_io

    sample = SAMPLES / "case_c_normal"
    volume = ivc_io.load(sample / "dicom")
    labels = ivc_io.load_labels(sample / "truth.nii.gz", volume).labelmap
    plain = pipeline.run(sample / "dicom", labels=labels).report
    assert plain["provenance"]["patient_id"] == "PHANTOM-case_c_normal" and plain["input"]["source_path"]
    anon = pipeline.run(sample / "dicom", labels=labels, anonymize=True)
    prov = anon.report["provenance"]
    assert prov["anonymized"] is True
    assert prov["patient_id"] is None and prov["study_date"] is None and prov["accession_number"] is None
    assert anon.report["input"]["source_path"] is None
    written = write_outputs(anon, tmp_path, ["json", "csv"])
    for path in written.values():
        text = path.read_text()
        assert "PHANTOM-case_c_normal" not in text and str(sample) not in text
    assert "/" not in prov["rules_file"] and len(prov["rules_sha256"]) == 64
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", prov["created_utc"])
