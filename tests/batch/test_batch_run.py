"""A mixed batch of nine cases run once (jobs=2): reports, recorded failures, summary, untouched inputs, rerun."""

from __future__ import annotations

import csv
import json
import re

from ivcplan.batch import EXIT_PARTIAL, run_batch
from ivcplan.batch.summary import csv_columns
from ivcplan.batch.worker import MARKER
from ivcplan.report.contract import validate

SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def _key(result: dict, uids: dict[str, str]) -> str:
    """Expected-case key of a result: its source path, or `folder#X` for the two series sharing a folder."""
    return uids.get(result["series_uid"], result["source"]) if result["source"] == "mixed" else result["source"]


def test_every_case_recorded_once(first_run):
    results = first_run.result.results
    keys = sorted(_key(r, first_run.root.good_uids) for r in results)
    assert keys == sorted([*first_run.root.good, *first_run.root.bad])
    assert first_run.result.exit_code == EXIT_PARTIAL
    assert first_run.result.n_ok == len(first_run.root.good)


def test_every_good_case_gets_its_report(first_run):
    cases_dir = first_run.outdir / "cases"
    for r in first_run.result.results:
        key = _key(r, first_run.root.good_uids)
        if key not in first_run.root.good:
            continue
        assert r["status"] == "ok", (key, r["error"])
        folder = first_run.outdir / r["output_dir"]
        assert folder.parent == cases_dir and folder.name == r["case"]
        report = json.loads((folder / "report.json").read_text())
        validate(report)
        assert report["ivc"]["detected"] is True
        # each series of the shared folder was analysed, not the folder's preferred series twice
        assert report["input"]["series_instance_uid"] == (first_run.root.good[key] or report["input"][
            "series_instance_uid"])
        assert sorted(p.name for p in folder.iterdir()) == sorted(["report.json", "report.csv", "case.log", MARKER])
        assert r["measurements"]["ivc_detected"] is True
        assert r["timings_s"]["segment"] > 0 and r["timings_s"]["total"] >= r["timings_s"]["segment"]
    uids = {r["series_uid"] for r in first_run.result.results if r["source"] == "mixed"}
    assert uids == {first_run.root.good["mixed#A"], first_run.root.good["mixed#B"]}
    assert not [p for p in cases_dir.iterdir() if p.name.startswith(".")], "temporary folders left behind"


def test_bad_cases_have_a_clear_reason(first_run):
    got = {_key(r, first_run.root.good_uids): r for r in first_run.result.results}
    for key, (status, error_type, text) in first_run.root.bad.items():
        r = got[key]
        assert (r["status"], r["error_type"]) == (status, error_type), (key, r["error"])
        assert text in r["error"], (key, r["error"])
        if status == "failed":  # nothing published for a failed case
            assert r["output_dir"] is None
            assert not (first_run.outdir / "cases" / r["case"]).exists()
    # the head CT was analysed: its report says why there is no plan
    head = got["head"]
    report = json.loads((first_run.outdir / head["output_dir"] / "report.json").read_text())
    assert report["ivc"]["detected"] is False and report["plan"]["approach"] == "none"


def test_summary_csv_and_json(first_run):
    results = {r["case"]: r for r in first_run.result.results}
    with first_run.result.summary_csv.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == csv_columns()
    assert {row["case"]: row["status"] for row in rows} == {k: r["status"] for k, r in results.items()}
    for row in rows:
        r = results[row["case"]]
        assert row["error"] == (r["error"] or "")
        if r["status"] == "ok":
            assert row["ivc_detected"] == "true"
            assert float(row["ivc_centerline_length_mm"]) == r["measurements"]["ivc_centerline_length_mm"]
            assert row["plan_approach"] in ("conventional", "elra", "none")
            assert float(row["time_total_s"]) > 0
    doc = json.loads(first_run.result.summary_json.read_text())
    assert doc["complete"] is True and len(doc["cases"]) == len(rows)
    assert [i["modality"] for i in doc["ignored"]] == ["SR"]  # the structured report is listed, not run
    log = first_run.result.log_path.read_text()
    for r in results.values():
        assert r["case"] in log


def test_case_names_are_safe_and_unique(first_run):
    names = [r["case"] for r in first_run.result.results]
    assert len(set(names)) == len(names)
    for name in names:
        assert SAFE_NAME.match(name) and not name.startswith(".")
        assert "passwd" not in name and "Batch" not in name  # never from PatientID / PatientName
    outputs = [p.name for p in (first_run.outdir / "cases").iterdir()]
    assert all(SAFE_NAME.match(n) for n in outputs)


def test_inputs_unchanged(first_run):
    assert first_run.after == first_run.before


def test_progress_events(first_run):
    kinds = [e.kind for e in first_run.events]
    assert kinds[0] == "discovered" and kinds[-1] == "done"
    assert kinds.count("finished") == len(first_run.result.results)
    fractions = [e.fraction for e in first_run.events if e.kind == "finished"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert first_run.events[-1].failed == first_run.result.n_failed
    assert {e.pid for e in first_run.events if e.kind == "started"} - {None}, "workers report their pid"


def test_rerun_skips_finished_cases(first_run):
    markers = {p.parent.name: p.stat().st_mtime_ns for p in (first_run.outdir / "cases").glob(f"*/{MARKER}")}
    again = run_batch(first_run.root.root, first_run.outdir, jobs=2, outputs=["json", "csv"])
    finished = {r["case"] for r in first_run.result.results if r["status"] != "failed"}
    assert {r["case"] for r in again.results if r["resumed"]} == finished
    assert set(markers) == finished
    # the finished cases were not touched; failed ones were tried again and fail the same way
    assert {p.parent.name: p.stat().st_mtime_ns for p in (first_run.outdir / "cases").glob(f"*/{MARKER}")} == markers
    before = {r["case"]: r for r in first_run.result.results}
    for r in again.results:
        assert r["status"] == before[r["case"]]["status"]
        assert r["error"] == before[r["case"]]["error"]
        if r["resumed"]:
            assert r["measurements"] == before[r["case"]]["measurements"]
    assert again.exit_code == EXIT_PARTIAL
