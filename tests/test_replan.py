"""Correct, then re-plan (issue 20): `ivcplan replan` on real analysis folders, through the real CLI,
and the in-memory `ivcplan.replan` API the viewer calls.

Analysis folders: (1) the bundled case (a) analysed by `ivcplan analyze` (automatic segmentation);
(2) case (b) analysed on its truth labelmap without the hepatic veins, so that the II/III landmark
is missing and R9 withholds the plan; (3) the small synthetic case of tests/helpers written as a DICOM
series, for the bad-input checks.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import nibabel
import numpy as np
import pytest
from blocked_case import without_hepatic_level
from built_once import built_once
from dicom_series import write_ct_series
from synth_case import build_case
from typer.testing import CliRunner

from ivcplan import pipeline
from ivcplan.cli import app
from ivcplan.labels import LANDMARKS, Label
from ivcplan.outputs import write_outputs
from ivcplan.outputs.state import read_centerline, read_state
from ivcplan.plan import DEFAULT_RULES_PATH
from ivcplan.replan import open_analysis, replan
from ivcplan.report import contract
from ivcplan.report.contract import CLINICAL_KEYS
from ivcplan.report.corrections import CORRECTIONS_FILE, field_correction, landmark_correction
from ivcplan.volume import Labelmap, Volume

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_dicom"
runner = CliRunner()
#: The plan fields compared with a case's expected plan (truth.json).
#: (The graft diameter is not among them: measured on the truth labels it differs from the truth's own
#: value for case (b), whose IVC above the tumor the truth does not measure; tests/measure/test_phantom_acceptance.)
PLAN_FIELDS = ("approach", "vascular_control", "ivc_reconstruction", "renal_vein_handling", "liver_resection")
#: Files made from the CT and the segmentation only: copied by a replan that keeps the segmentation.
SEGMENTATION_ONLY = ("segmentation.nii.gz", "segmentation.seg.dcm", "images/scene_anterior.png",
                     "images/scene_right.png", "images/scene_posterior.png", "images/volume_anterior.png",
                     "images/slice_axial.png", "images/slice_coronal.png", "images/slice_sagittal.png",
                     "meshes/anatomy.glb")


def _compare():
    spec = importlib.util.spec_from_file_location("compare_outputs", REPO / "scripts" / "compare_outputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.compare


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _truth(name: str) -> tuple[Labelmap, dict]:
    img = Volume.from_nifti(nibabel.load(SAMPLES / name / "truth.nii.gz"))
    return Labelmap(img.array.astype(np.uint8), img.grid), json.loads((SAMPLES / name / "truth.json").read_text())


def _replan(*args: str) -> tuple[int, str]:
    """Exit code and output (stdout and stderr) of ``ivcplan replan ARGS``, blank lines at the ends removed."""
    result = runner.invoke(app, ["replan", *map(str, args)])
    return result.exit_code, result.output.strip()


def _report(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())


@pytest.fixture(scope="session")
def automatic(tmp_path_factory) -> Path:
    """Case (a) analysed by `ivcplan analyze` (automatic segmentation, every output)."""

    def build(out: Path) -> None:
        result = runner.invoke(app, ["analyze", str(SAMPLES / "case_a_renal" / "dicom"), "-o", str(out)])
        assert result.exit_code == 0, result.output

    return built_once(tmp_path_factory, "replan_automatic", build)


@pytest.fixture(scope="session")
def blocked(tmp_path_factory) -> Path:
    """Case (b) analysed on its truth labels without the hepatic vein level (`blocked_case`)."""

    def build(out: Path) -> None:
        labels, _ = _truth("case_b_retrohepatic")
        arr = without_hepatic_level(labels.array, labels.grid.spacing)
        write_outputs(pipeline.run(SAMPLES / "case_b_retrohepatic" / "dicom", labels=labels.with_array(arr)), out)

    return built_once(tmp_path_factory, "replan_blocked", build)


@pytest.fixture(scope="session")
def small(tmp_path_factory) -> Path:
    """The small synthetic case written as a DICOM series and analysed on its labels (folder holds ct/, analysis/)."""

    def build(root: Path) -> None:
        case = build_case()
        write_ct_series(case.volume, root / "ct")
        write_outputs(pipeline.run(root / "ct", labels=case.labelmap), root / "analysis")

    return built_once(tmp_path_factory, "replan_small", build)


# -- done when (issue 20) ------------------------------------------------------------------------------
def test_a_replan_without_change_reproduces_the_analysis(automatic: Path, tmp_path: Path) -> None:
    before = _digest(automatic)
    code, out = _replan(automatic, "-o", tmp_path / "again")
    assert code == 0, out
    assert "No correction given" in out and "changed: nothing in the report's facts or plan" in out
    # Field by field, array by array, pixel by pixel (timings and provenance excepted).
    assert _compare()(automatic, tmp_path / "again") == []
    assert _report(tmp_path / "again")["corrections"] == []
    assert not (tmp_path / "again" / CORRECTIONS_FILE).exists()
    assert _digest(automatic) == before  # the analysis it starts from is never changed
    # Restored and measured again (landmarks, tumor, liver, plan) from the folder alone: the same report.
    restored = open_analysis(automatic).report
    original = _report(automatic)
    for report in (restored, original):
        report.pop("timings_s")
        report["provenance"].pop("created_utc")
    assert json.dumps(restored, sort_keys=True) == json.dumps(original, sort_keys=True)


def _assert_expected_plan(report: dict, name: str) -> None:
    expected = _truth(name)[1]["expected_plan"]
    plan = report["plan"]
    assert {k: plan[k] for k in PLAN_FIELDS} == {k: expected[k] for k in PLAN_FIELDS}


def test_replanning_with_the_truth_labelmap_gives_the_expected_plan(automatic: Path, tmp_path: Path) -> None:
    truth = SAMPLES / "case_a_renal" / "truth.nii.gz"
    code, out = _replan(automatic, "-o", tmp_path / "truth", "--labels", truth, "--by", "QA", "--reason",
                        "reference segmentation")
    assert code == 0, out
    report = _report(tmp_path / "truth")
    _assert_expected_plan(report, "case_a_renal")
    (seg,) = report["corrections"]
    assert seg["what"] == "segmentation" and seg["by"] == "QA" and seg["why"] == "reference segmentation"
    assert seg["new"]["source"] == str(truth) and seg["new"]["changed_voxels"]["ivc_tumor"] > 0
    assert seg["old"]["sha256"] == read_state(automatic).segmentation_sha256 != seg["new"]["sha256"]
    # New labels: a new centerline, traced on them.
    state = read_state(tmp_path / "truth")
    assert state.segmentation_sha256 == seg["new"]["sha256"]
    assert read_centerline(state.centerline_file, state.segmentation_sha256).length_mm == pytest.approx(
        report["ivc"]["centerline_length_mm"], abs=0.01) != _report(automatic)["ivc"]["centerline_length_mm"]


def test_placing_the_missing_landmark_gives_the_plan_and_the_report_lists_the_edit(blocked: Path,
                                                                                   tmp_path: Path) -> None:
    source = _report(blocked)
    assert source["landmarks"]["hepatic_veins"]["position_mm"] is None
    assert source["plan"]["approach"] == "none"
    # No hepatic vein segmented: their invasion is unknown, not "free".
    assert source["tumor"]["hepatic_veins_invaded"] is None and source["tumor"]["hepatic_veins_abutting"] is None
    assert (blocked / "report.html").read_text().count("unknown: no hepatic vein segmented") == 2
    assert any(flag.startswith("R9: approach not suggested") and "the lowest hepatic vein ostium not found "
               "(outside the field of view or not detected)" in flag for flag in source["plan"]["flags"])
    truth = _truth("case_b_retrohepatic")[1]["facts"]["landmarks"]["hepatic_veins"]["position_mm"]
    before = _digest(blocked)
    code, out = _replan(blocked, "-o", tmp_path / "placed", "--landmark", "hepatic_veins=" + ",".join(map(str, truth)),
                        "--set", "tumor.hepatic_veins_invaded=none",
                        "--by", "Dr Rossi", "--reason", "ostia seen on the MRI")
    assert code == 0, out
    report = _report(tmp_path / "placed")
    mark = report["landmarks"]["hepatic_veins"]
    assert mark["position_mm"] == truth and mark["source"] == "edited" and mark["confidence"] == 1.0
    assert mark["edited"]["by"] == "Dr Rossi" and mark["edited"]["why"] == "ostia seen on the MRI"
    state = read_state(tmp_path / "placed")
    centerline = read_centerline(state.centerline_file, state.segmentation_sha256)
    assert mark["s_mm"] == pytest.approx(float(centerline.project(np.asarray(truth))), abs=0.01)
    assert all(report["landmarks"][n]["source"] == "automatic" for n in LANDMARKS if n != "hepatic_veins")
    # R9 no longer withholds the plan: the tumor reaches segment III, the hepatic vein ostia are free (as
    # the surgeon states), so R5 (conventional resection with total vascular exclusion).
    plan = report["plan"]
    assert plan["approach"] == "conventional" and plan["vascular_control"] == "total_vascular_exclusion"
    assert "R9" not in [r["id"] for r in plan["rules"]] and "R5" in [r["id"] for r in plan["rules"]]
    assert report["tumor"]["segments"] == ["II", "III"]
    assert "changed: plan.approach: none -> conventional" in out
    assert f"correction: landmarks.hepatic_veins.position_mm = {_shown(truth)} (was null) by Dr Rossi" in out
    edit, stated = report["corrections"]
    assert edit["what"] == "landmarks.hepatic_veins.position_mm" and edit["old"] is None and edit["new"] == truth
    assert (stated["what"], stated["old"], stated["new"]) == ("tumor.hepatic_veins_invaded", None, [])
    assert json.loads((tmp_path / "placed" / CORRECTIONS_FILE).read_text())["corrections"] == report["corrections"]
    contract.validate(report)
    assert _digest(blocked) == before
    # The HTML and the PDF mark the placed landmark and list the correction (report/summary's rows);
    # the analysis' own have neither.
    html = (tmp_path / "placed" / "report.html").read_text()
    assert '<span class="mark">edited</span>' in html and 'class="edited"' in html and "Dr Rossi" in html
    pdf = subprocess.run(["pdftotext", "-layout", str(tmp_path / "placed" / "report.pdf"), "-"], check=True,
                         capture_output=True, text=True).stdout
    assert "edited" in pdf and "Dr Rossi" in pdf
    assert 'class="edited"' not in (blocked / "report.html").read_text()


def _shown(values: list[float]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


def test_corrections_accumulate_over_replans_and_are_replayed(blocked: Path, tmp_path: Path) -> None:
    truth = _truth("case_b_retrohepatic")[1]
    hv = truth["facts"]["landmarks"]["hepatic_veins"]["position_mm"]
    lower = [hv[0], hv[1], hv[2] - 12.0]
    first, second = tmp_path / "first", tmp_path / "second"
    code, out = _replan(blocked, "-o", first, "--landmark", "hepatic_veins=" + ",".join(map(str, lower)), "--by", "A")
    assert code == 0, out
    # The level alone does not give the plan: with no hepatic vein segmented their invasion is unknown,
    # and R5 (free ostia) cannot be told from R6 (invaded).
    withheld = _report(first)["plan"]
    assert withheld["approach"] == "none" and any("hepatic vein invasion unknown" in f for f in withheld["flags"])
    code, out = _replan(first, "-o", second, "--set", "tumor.hepatic_veins_invaded=right", "--clinical",
                        "prior_chemotherapy=true", "--landmark", "hepatic_veins=" + ",".join(map(str, hv)),
                        "--by", "B", "--reason", "MRI: right ostium invaded")
    assert code == 0, out
    assert "1 earlier correction(s) of the analysis replayed" in out
    report = _report(second)
    # Every correction, oldest first; the landmark's second edit starts from its first.
    assert [(c["what"], c["by"], c["old"]) for c in report["corrections"]] == [
        ("landmarks.hepatic_veins.position_mm", "A", None), ("landmarks.hepatic_veins.position_mm", "B", lower),
        ("tumor.hepatic_veins_invaded", "B", None), ("clinical.prior_chemotherapy", "B", None)]
    assert json.loads((second / CORRECTIONS_FILE).read_text())["corrections"] == report["corrections"]
    # The latest edit of each field is in force; the earlier ones stay recorded.
    assert report["landmarks"]["hepatic_veins"]["position_mm"] == hv
    assert report["landmarks"]["hepatic_veins"]["edited"]["by"] == "B"
    assert report["tumor"]["hepatic_veins_invaded"] == ["right"]
    assert report["tumor"]["edited"]["hepatic_veins_invaded"] == {
        "by": "B", "when": report["corrections"][2]["when"], "why": "MRI: right ostium invaded", "unedited": None}
    assert report["clinical"]["prior_chemotherapy"] is True
    assert report["clinical"]["edited"]["prior_chemotherapy"]["unedited"] is None
    assert report["tumor"]["distance_upper_pole_to_hepatic_veins_mm"] == pytest.approx(
        _report(first)["tumor"]["distance_upper_pole_to_hepatic_veins_mm"] + 12.0, abs=1.5)
    # Invaded ostium, segment III, upper pole near the junction: ELRA, as the case's expected plan.
    assert report["plan"]["approach"] == truth["expected_plan"]["approach"] == "elra"
    # A replan of this replan without change keeps all four (replayed, none added).
    code, out = _replan(second, "-o", tmp_path / "third")
    assert code == 0, out
    assert "4 earlier correction(s) of the analysis replayed" in out
    assert _report(tmp_path / "third")["corrections"] == report["corrections"]


def test_outputs_that_depend_on_the_segmentation_only_are_reused(blocked: Path, tmp_path: Path) -> None:
    # A copy of the analysis whose 3D view is replaced by another picture: a replan that keeps the
    # segmentation copies it (it does not draw it again); one with new labels draws it.
    source = tmp_path / "source"
    shutil.copytree(blocked, source)
    marker = (source / "images" / "profile.png").read_bytes()
    (source / "images" / "scene_anterior.png").write_bytes(marker)
    landmark = _report(blocked)["landmarks"]["cavoatrial_junction"]["position_mm"]
    moved = [landmark[0], landmark[1], landmark[2] - 15.0]
    code, out = _replan(source, "-o", tmp_path / "kept", "--landmark",
                        "cavoatrial_junction=" + ",".join(map(str, moved)), "--by", "A")
    assert code == 0, out
    kept = tmp_path / "kept"
    assert (kept / "images" / "scene_anterior.png").read_bytes() == marker
    for name in SEGMENTATION_ONLY:
        assert (kept / name).read_bytes() == (source / name).read_bytes(), name
    assert (kept / "images" / "cpr.png").read_bytes() != (source / "images" / "cpr.png").read_bytes()
    assert (kept / "images" / "profile.png").read_bytes() != marker  # drawn again: the landmark moved
    assert "reused from" in out and "images/scene_anterior.png" in out and "meshes" in out
    code, out = _replan(source, "-o", tmp_path / "relabelled", "--labels",
                        SAMPLES / "case_b_retrohepatic" / "truth.nii.gz", "--by", "A")
    assert code == 0, out
    assert (tmp_path / "relabelled" / "images" / "scene_anterior.png").read_bytes() != marker
    assert "reused from" not in out
    # Its own truth labelmap gives case (b) its expected plan (ELRA).
    _assert_expected_plan(_report(tmp_path / "relabelled"), "case_b_retrohepatic")


def test_a_moved_ct_is_found_with_ct(small: Path, tmp_path: Path) -> None:
    root = tmp_path / "case"
    shutil.copytree(small, root)
    # The analysis records where the CT was; copy it as if the folders had moved, then give --ct.
    state = json.loads((root / "analysis" / "analysis_state.json").read_text())
    state["ct"]["source_path"] = state["ct"]["source_path_abs"] = str(tmp_path / "gone")
    (root / "analysis" / "analysis_state.json").write_text(json.dumps(state))
    code, out = _replan(root / "analysis", "-o", tmp_path / "a", "--clinical", "liver_fibrosis=false")
    assert code == 3  # an input that cannot be used, found before any work
    assert out == (f"error: {tmp_path / 'gone'}: the analysis' CT is not there any more; give its new place "
                           "with --ct")
    code, out = _replan(root / "analysis", "-o", tmp_path / "b", "--ct", root / "ct")
    assert code == 0, out
    assert _report(tmp_path / "b")["input"]["source_path"] == str(root / "ct")


# -- bad input: one line, exit 2 (a bad option) or 3 (an analysis that cannot be used), nothing written --
@pytest.mark.parametrize(("args", "message"), [
    (["--landmark", "renal_vien=1,2,3"],
     "--landmark: unknown landmark 'renal_vien'; known: " + ", ".join(LANDMARKS)),
    (["--landmark", "renal_veins=1,2"],
     "--landmark: landmark renal_veins: position must be three finite numbers X,Y,Z (LPS mm) or none, got [1.0, 2.0]"),
    (["--landmark", "renal_veins"], "--landmark: 'renal_veins': expected NAME=X,Y,Z or NAME=none"),
    (["--set", "tumor.hepatic_veins_invaded=top"],
     "--set: tumor.hepatic_veins_invaded: 'top' is not one of ['right', 'middle', 'left'] (allowed: a "
     "comma-separated list of right, middle, left, or none, or null (unknown))"),
    (["--set", "tumor.present=maybe"], "--set: tumor.present: expected true, false, got 'maybe'"),
    (["--set", "plan.approach=elra"], "--set: field 'plan.approach' cannot be set; editable fields: "),
    (["--set", "tumor.present"], "--set: 'tumor.present': expected FIELD=VALUE"),
    (["--clinical", "cirrhosis=true"],
     "--clinical: unknown clinical fact 'cirrhosis'; known: " + ", ".join(CLINICAL_KEYS)),
    (["--clinical", "liver_fibrosis=severe"],
     "--clinical: clinical: clinical.liver_fibrosis must be true, false or null, got 'severe'"),
    (["--by", " ", "--clinical", "liver_fibrosis=true"], "--by: say who makes the correction"),
    (["--labels", "nope.nii.gz"], "--labels: nope.nii.gz: no such file or directory"),
    (["--labels", Path(__file__)], f"--labels: {Path(__file__)}: not a recognised segmentation (NIfTI, .seg.nrrd, "
                                   "DICOM SEG or a folder of masks)"),
    (["--ct", "nowhere"], "--ct: nowhere: no such file or directory"),
    (["--landmark", "renal_veins=15,-3,500"],
     "--landmark: landmark renal_veins at [15.0, -3.0, 500.0] mm lies outside the CT (LPS x -59..57, y -59..57, "
     "z -83..81 mm): positions are LPS millimetres (x to the patient's left, y posterior, z head)"),
])
def test_bad_arguments_get_one_line_before_any_work(small: Path, tmp_path: Path, args: list[str],
                                                    message: str) -> None:
    code, out = _replan(small / "analysis", "-o", tmp_path / "new", *args)
    assert code == 2
    assert out.startswith(f"error: {message}") and "\n" not in out, out
    assert not (tmp_path / "new").exists()


def test_the_analysis_folder_is_never_the_output(small: Path) -> None:
    for target in (small / "analysis", small / "analysis" / "sub", small):
        code, out = _replan(small / "analysis", "-o", target, "--set", "tumor.present=false")
        assert code == 2
        assert out == (f"error: the new folder {target} must lie outside the analysis folder {small / 'analysis'} "
                       "(and not hold it): a correction never changes the analysis it starts from")
    assert not (small / "analysis" / "sub").exists()


def test_the_new_folder_is_published_whole_as_by_analyze(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, text = _replan(small / "analysis", "-o", out, "--clinical", "weight_kg=70")
    assert code == 2
    assert text == (f"error: {out}: output folder: holds files that are not an ivcplan analysis (notes.txt); use "
                    "--force to replace it whole, or choose another output folder")
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and not list(tmp_path.glob(".out*"))
    code, text = _replan(small / "analysis", "-o", out, "--clinical", "weight_kg=70", "--force")
    assert code == 0, text
    assert not (out / "notes.txt").exists() and _report(out)["clinical"]["weight_kg"] == 70.0
    assert json.loads((out / ".ivcplan-output.json").read_text())["source"] == str((small / "analysis").resolve())
    # A replan of the same analysis replaces its own earlier output without --force.
    code, text = _replan(small / "analysis", "-o", out, "--clinical", "weight_kg=80")
    assert code == 0, text
    assert _report(out)["clinical"]["weight_kg"] == 80.0 and "Replaced the output folder's earlier contents" in text
    # ... but the analysis of another folder needs it.
    other = tmp_path / "other"
    shutil.copytree(small / "analysis", other)
    code, text = _replan(other, "-o", out, "--clinical", "weight_kg=90")
    assert code == 2 and "holds the analysis of another input" in text and "use --force" in text
    assert _report(out)["clinical"]["weight_kg"] == 80.0


def _broken(small: Path, tmp_path: Path, how: str) -> Path:
    folder = tmp_path / "analysis"
    shutil.copytree(small / "analysis", folder)
    if how == "no state":
        (folder / "analysis_state.json").unlink()
    elif how == "no centerline":
        (folder / "centerline.npz").unlink()
    elif how == "segmentation edited":
        img = nibabel.load(folder / "segmentation.nii.gz")
        data = np.asanyarray(img.dataobj).copy()
        data[data == Label.IVC_TUMOR] = Label.IVC_LUMEN
        nibabel.save(nibabel.Nifti1Image(data, img.affine, img.header), folder / "segmentation.nii.gz")
    elif how == "other series":
        state = json.loads((folder / "analysis_state.json").read_text())
        state["ct"]["series_instance_uid"] = "1.2.3.4"
        (folder / "analysis_state.json").write_text(json.dumps(state))
    elif how == "rules changed":
        rules = tmp_path / "rules.toml"
        shutil.copy(DEFAULT_RULES_PATH, rules)
        state = json.loads((folder / "analysis_state.json").read_text())
        state["rules"].update(path=str(rules), shipped=False)
        (folder / "analysis_state.json").write_text(json.dumps(state))
        rules.write_text(rules.read_text() + "\n# edited after the analysis\n")
    return folder


@pytest.mark.parametrize(("how", "message"), [
    # found before any work (no log yet: the message is the whole line)
    ("no state", "{folder}: not a complete ivcplan analysis (no analysis_state.json); run ivcplan analyze with all "
                 "outputs"),
    ("no centerline", "{folder}: not a complete ivcplan analysis (centerline.npz missing); run ivcplan analyze "
                      "with all outputs"),
    ("rules changed", "{rules}: the rules changed since the analysis (SHA-256 "),
    # found on reading the segmentation and the CT (the line ends with the kept log's path)
    ("segmentation edited", "{folder}/segmentation.nii.gz: segmentation.nii.gz changed since the analysis; bring a "
                            "corrected segmentation in with --labels instead"),
    ("other series", "{ct}: no series 1.2.3.4 (the analysed one) here"),
])
def test_an_incomplete_or_inconsistent_analysis_is_refused(small: Path, tmp_path: Path, how: str,
                                                           message: str) -> None:
    folder = _broken(small, tmp_path, how)
    code, out = _replan(folder, "-o", tmp_path / "new", "--set", "tumor.collateral_return=true")
    assert code == 3
    expected = message.format(folder=folder, ct=small / "ct", rules=tmp_path / "rules.toml")
    assert out.startswith(f"error: {expected}") and "\n" not in out, out
    assert not (tmp_path / "new").exists() and not list(tmp_path.glob(".new*"))  # no output, no staging left


# -- the in-memory API (what the viewer calls) ---------------------------------------------------------
def test_replan_in_memory_returns_the_new_analysis_and_what_changed(small: Path) -> None:
    analysis = open_analysis(small / "analysis")
    assert analysis.report["plan"] == _report(small / "analysis")["plan"]
    assert analysis.report["plan"]["approach"] == "conventional"
    original = json.dumps(analysis.report, sort_keys=True)
    renal = analysis.report["landmarks"]["renal_veins"]["position_mm"]
    raised = [renal[0], renal[1], renal[2] + 20.0]
    result = replan(analysis, [landmark_correction("renal_veins", raised, by="viewer"),
                               field_correction("tumor.present", False, by="viewer", why="bland thrombus")])
    assert json.dumps(analysis.report, sort_keys=True) == original  # the analysis given is not changed
    assert result.centerline_kept and result.analysis.centerline is analysis.centerline
    assert [c.old for c in result.added] == [renal, True]
    changed = {c.field: (c.before, c.after) for c in result.changes}
    assert changed["landmarks.renal_veins.position_mm"] == (renal, raised)
    assert changed["tumor.present"] == (True, False)
    assert changed["plan.approach"] == ("conventional", "none")
    assert changed["tumor.distance_lower_pole_to_renal_veins_mm"][1] == pytest.approx(
        changed["tumor.distance_lower_pole_to_renal_veins_mm"][0] - 20.0, abs=1.0)
    fields = [c.field for c in result.changes]
    plan_fields = [f for f in fields if f.startswith("plan.")]
    assert fields[:len(plan_fields)] == plan_fields  # the plan's changes first
    assert "R9: no tumor found" in result.analysis.report["plan"]["flags"]


def test_painted_labels_are_a_recorded_correction(small: Path) -> None:
    analysis = open_analysis(small / "analysis")
    painted = analysis.labelmap.array.copy()
    tumor = painted == Label.IVC_TUMOR
    painted[tumor] = Label.IVC_LUMEN  # "this is no tumor": erased with the brush
    result = replan(analysis, labels=analysis.labelmap.with_array(painted), by="viewer", why="flow artefact")
    (seg,) = result.added
    assert seg.new["changed_voxels"] == {"ivc_lumen": int(tumor.sum()), "ivc_tumor": int(tumor.sum())}
    assert not result.centerline_kept
    report = result.analysis.report
    assert report["tumor"]["present"] is False and report["plan"]["approach"] == "none"
    assert "R9: no tumor found" in report["plan"]["flags"]
    same = replan(analysis, labels=analysis.labelmap, by="viewer")
    assert same.added == () and same.centerline_kept and same.changes == ()


def test_a_fact_change_reuses_the_measurements_which_equal_measuring_again(blocked: Path) -> None:
    from ivcplan.replan import replan_folder

    fact = field_correction("tumor.collateral_return", True, by="A", when="2026-12-01T09:30:00Z")
    reused = replan_folder(blocked, [fact])
    assert set(reused.analysis.timings_s) == {"plan"}  # no landmark, no measurement, no centerline stage
    measured_again = open_analysis(blocked)  # landmarks and measurements made again from the segmentation
    assert {"landmarks", "measure"} <= set(measured_again.timings_s)
    again = replan(measured_again, [fact]).analysis.report
    ours = reused.analysis.report
    for report in (ours, again):
        report.pop("timings_s")
        report["provenance"].pop("created_utc")
    assert json.dumps(ours, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert ours["tumor"]["collateral_return"] is True


def test_a_clamp_site_can_be_placed_too(small: Path) -> None:
    analysis = open_analysis(small / "analysis")
    cl = analysis.centerline
    upper = analysis.tumor.upper_pole_s_mm
    hiatus = cl.point_at(upper + 30.0).round(2).tolist()
    result = replan(analysis, [landmark_correction("caval_hiatus", hiatus, by="viewer", why="diaphragm on MRI")])
    report = result.analysis.report
    mark = report["landmarks"]["caval_hiatus"]
    assert mark["position_mm"] == hiatus and mark["source"] == "edited" and mark["edited"]["by"] == "viewer"
    assert report["tumor"]["distance_upper_pole_to_caval_hiatus_mm"] == pytest.approx(30.0, abs=0.1)
    assert result.centerline_kept and result.analysis.centerline is cl


def test_an_anonymized_analysis_keeps_no_ct_path_and_stays_anonymized(small: Path, tmp_path: Path) -> None:
    case = build_case()
    folder = tmp_path / "anonymized"
    write_outputs(pipeline.run(small / "ct", labels=case.labelmap, anonymize=True), folder, ["json", "segmentation",
                                                                                             "state"])
    state = json.loads((folder / "analysis_state.json").read_text())
    assert state["anonymized"] is True and state["ct"]["source_path"] is None is state["ct"]["source_path_abs"]
    code, out = _replan(folder, "-o", tmp_path / "a", "--clinical", "weight_kg=70")
    assert code == 3
    assert out == f"error: {folder}: the analysis does not record where its CT is (anonymized); give it with --ct"
    code, out = _replan(folder, "-o", tmp_path / "b", "--clinical", "weight_kg=70", "--ct", small / "ct")
    assert code == 0, out
    report = _report(tmp_path / "b")
    assert report["provenance"]["anonymized"] is True and report["input"]["source_path"] is None
    assert report["clinical"]["weight_kg"] == 70.0


def test_each_measurement_is_reused_while_its_inputs_are_unchanged(automatic: Path) -> None:
    from ivcplan.pipeline import measure_and_plan

    analysis = open_analysis(automatic)
    before = analysis.measurements
    assert before.collaterals is not None and before.collaterals["reason"]  # case (a): a tumor, portal venous CT
    caj = analysis.report["landmarks"]["cavoatrial_junction"]["position_mm"]
    moved = landmark_correction("cavoatrial_junction", [caj[0], caj[1], caj[2] - 8.0], by="A",
                                when="2026-12-01T09:30:00Z")
    result = replan(analysis, [moved])
    after = result.analysis.measurements
    # The junction is no input of the liver (caudate levels: liver edge, hepatic veins) nor of the
    # collateral veins (renal level): both used as they were; the landmarks and the tumor made again.
    assert after.liver is before.liver and after.collaterals is before.collaterals
    assert after.landmarks is not before.landmarks and after.tumor is not before.tumor
    assert after.landmark_corrections == (result.added[0],)
    # ... and the same report as measuring everything again.
    again = measure_and_plan(analysis.volume, analysis.segmentation, centerline=analysis.centerline,
                             corrections=result.analysis.corrections, rules=analysis.rules, clinical=analysis.clinical)
    ours = result.analysis.report
    for report in (ours, again.report):
        report.pop("timings_s")
        report["provenance"].pop("created_utc")
    assert json.dumps(ours, sort_keys=True) == json.dumps(again.report, sort_keys=True)
    # The renal level is the collateral search's input: moving it assesses them again.
    renal = analysis.report["landmarks"]["renal_veins"]["position_mm"]
    lowered = replan(analysis, [landmark_correction("renal_veins", [renal[0], renal[1], renal[2] - 10.0], by="A")])
    assert lowered.analysis.measurements.collaterals is not before.collaterals
    assert lowered.analysis.measurements.collaterals_renal_z == pytest.approx(renal[2] - 10.0)
