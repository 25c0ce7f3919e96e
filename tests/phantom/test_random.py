"""Randomized phantom cases (issue 18): documented draws, determinism, truth against the labelmap,
cropped fields of view, the CLI and the benchmark script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel
import numpy as np
import pytest
from typer.testing import CliRunner

import ivcplan.io
from ivcplan.cli import app
from ivcplan.labels import IVC_LABELS, Label
from ivcplan.phantom import varied
from ivcplan.phantom.random_case import generate_random
from ivcplan.phantom.random_params import (
    BOUNDARY_CLEARANCE_MM,
    CHOICES,
    HEPATIC_BELOW_CAJ_MM,
    RANGES,
    draw,
    ranges_markdown,
)

REPO = Path(__file__).resolve().parents[2]
#: Coarse imaging for the tests (the anatomy and field of view stay those of the seed).
COARSE = {"matrix": 96, "slice_mm": 5.0}
#: A tumor-free case with every vein variant at once: duplicated right and circumaortic left renal
#: veins, a common middle/left hepatic trunk and an inferior right hepatic vein (found with draw()).
VARIANTS_SEED = 46
IVC = [int(v) for v in IVC_LABELS]


def test_every_draw_is_documented_and_within_its_range():
    seen: set[str] = set()
    for seed in range(400):
        p = draw(seed)
        for key, values in p.draws.items():
            seen.add(key)
            if key in RANGES:
                r = RANGES[key]
                assert all(r.lo <= v <= r.hi for v in values), (seed, key, values)
            else:
                options = [value for value, _ in CHOICES[key][0]]
                assert all(v in options for v in values), (seed, key, values)
        # Derived values keep the documented relations.
        assert p.ivc.ap_mm <= p.ivc.transverse_mm - 2.0
        dz = (p.hepatic.right_dz_mm, p.hepatic.middle_dz_mm, p.hepatic.left_dz_mm)
        assert min(dz) == 0.0 and max(dz) <= max(0.0, p.levels.caj_gap_mm - HEPATIC_BELOW_CAJ_MM) + 1e-9
        assert 0.5 <= p.imaging.slice_spacing_mm <= p.imaging.slice_thickness_mm
        if p.imaging.slice_thickness_mm < 1.5:
            assert p.imaging.matrix == 256
        le = p.lesion
        if le.kind != "none":
            for name, _ in (le.lower, le.upper):
                assert name in ("renal_veins", "hepatic_veins", "cavoatrial_junction")
        if le.kind == "tumor":
            assert le.segments in [value for value, _ in CHOICES["lesion.segments"][0]]
            assert set(le.hepatic_veins_invaded) <= {"right", "middle", "left"}
            if le.intracardiac_mm is not None:
                assert le.upper[0] == "cavoatrial_junction"
                assert le.upper[1] == pytest.approx(le.intracardiac_mm, abs=0.06)
        if p.renal.accessory_dz_mm is not None:
            gap = p.renal.right_radius_mm + p.renal.accessory_radius_mm
            assert abs(p.renal.accessory_dz_mm) >= gap + 4.0 - 1e-3
    # Every documented range is drawn somewhere, and nothing undocumented is.
    assert seen == set(RANGES) | set(CHOICES)


def test_docs_show_the_ranges_the_code_draws():
    assert ranges_markdown() in (REPO / "docs" / "phantom.md").read_text()


def test_same_seed_same_case_everywhere_other_seed_other_case():
    # PCG64 is the same on every platform: a seed's parameters are pinned (the benchmark's meaning).
    p = draw(100000)
    assert (p.levels.renal_right_z, p.imaging.crop, p.lesion.kind, p.renal.left_course) == \
        (101.649, "full", "none", "preaortic")
    assert draw(100000) == p
    a, b = generate_random(11, matrix=48, slice_mm=10.0), generate_random(11, matrix=48, slice_mm=10.0)
    assert np.array_equal(a.volume.array, b.volume.array)
    assert np.array_equal(a.truth.array, b.truth.array)
    assert a.truth_info == b.truth_info
    c = generate_random(12, matrix=48, slice_mm=10.0)
    assert c.truth_info["random_parameters"] != a.truth_info["random_parameters"]
    assert a.volume.shape != c.volume.shape or not np.array_equal(a.volume.array, c.volume.array)


@pytest.fixture(scope="module")
def variants_case():
    return generate_random(VARIANTS_SEED, matrix=192, slice_mm=2.5)


def _labels_near(case, position, radius_vox: int = 1) -> set[int]:
    idx = np.rint(case.truth.grid.lps_to_index(np.asarray(position, float))).astype(int)
    lo = np.maximum(idx - radius_vox, 0)
    hi = np.minimum(idx + radius_vox + 1, case.truth.array.shape)
    return {int(v) for v in np.unique(case.truth.array[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]])}


def test_truth_ostia_lie_on_their_vein_at_the_ivc_wall(variants_case):
    info = variants_case.truth_info
    params = info["random_parameters"]
    assert params["renal"]["right_duplicated"] and params["renal"]["left_course"] == "circumaortic"
    assert params["hepatic"]["common_trunk"] and params["hepatic"]["inferior_right"]
    lm = info["facts"]["landmarks"]
    vein_label = {"renal_vein_right": {Label.RENAL_VEIN_RIGHT}, "renal_vein_left": {Label.RENAL_VEIN_LEFT},
                  "hepatic_vein_right": {Label.HEPATIC_VEIN_RIGHT},
                  # the common trunk carries one of the two labels
                  "hepatic_vein_middle": {Label.HEPATIC_VEIN_MIDDLE, Label.HEPATIC_VEIN_LEFT},
                  "hepatic_vein_left": {Label.HEPATIC_VEIN_MIDDLE, Label.HEPATIC_VEIN_LEFT}}
    for name, labels in vein_label.items():
        near = _labels_near(variants_case, lm[name]["position_mm"])
        assert near & set(IVC), (name, near)
        assert near & {int(v) for v in labels}, (name, near)
    # Accessory ostia: on their own veins, at the IVC wall, apart from the main ones.
    acc = info["accessory_ostia"]
    assert set(acc) == {"rv_right_2", "rv_left_2", "hv_inferior_right"}
    for name, label in (("rv_right_2", Label.RENAL_VEIN_RIGHT), ("rv_left_2", Label.RENAL_VEIN_LEFT),
                        ("hv_inferior_right", Label.BODY)):
        near = _labels_near(variants_case, acc[name]["position_mm"])
        assert near & set(IVC) and int(label) in near, (name, near)
    gap = np.linalg.norm(np.subtract(acc["rv_right_2"]["position_mm"], lm["renal_vein_right"]["position_mm"]))
    assert gap > 8.0
    # Levels: the renal level is the cranial edge of the highest inflow, accessory veins included;
    # the hepatic level is the lowest major ostium (the inferior right hepatic vein lies below it).
    renal_s = [lm["renal_vein_right"]["s_mm"], lm["renal_vein_left"]["s_mm"], acc["rv_right_2"]["s_mm"],
               acc["rv_left_2"]["s_mm"]]
    assert max(renal_s) < lm["renal_veins"]["s_mm"] <= max(renal_s) + 8.0
    hep_s = [lm[f"hepatic_vein_{k}"]["s_mm"] for k in ("right", "middle", "left")]
    assert lm["hepatic_veins"]["s_mm"] == min(hep_s)
    assert acc["hv_inferior_right"]["s_mm"] < min(hep_s) - 10.0
    # Common trunk: the middle and left ostia are one ostium.
    assert np.linalg.norm(np.subtract(lm["hepatic_vein_middle"]["position_mm"],
                                      lm["hepatic_vein_left"]["position_mm"])) < 4.0
    assert _labels_near(variants_case, lm["cavoatrial_junction"]["position_mm"], 3) >= {
        int(Label.RIGHT_ATRIUM), int(Label.IVC_LUMEN)}
    assert _labels_near(variants_case, lm["iliac_confluence"]["position_mm"], 4) & {
        int(Label.ILIAC_VEIN_RIGHT), int(Label.ILIAC_VEIN_LEFT)}
    assert info["facts"]["tumor"]["present"] is False and info["expected_plan"] is not None


def _z_extent(case) -> tuple[float, float]:
    grid = case.volume.grid
    corners = grid.index_to_lps(np.array([[0, 0, 0], np.asarray(grid.shape) - 1]))
    return float(corners[:, 2].min()), float(corners[:, 2].max())


@pytest.mark.parametrize("seed, crop", [(74, "kidneys_up"), (21, "crest_to_dome")])
def test_cropped_views_have_null_landmarks_outside(seed, crop):
    params = draw(seed)
    assert params.imaging.crop == crop
    case = generate_random(seed, **COARSE)
    lm = case.truth_info["facts"]["landmarks"]
    z0, z1 = _z_extent(case)
    lay = varied.layout(params, np.random.default_rng([seed, 18, 1]))
    nominal = {"iliac_confluence": 0.0, "cavoatrial_junction": lay.levels["caj_nominal_z"],
               "renal_vein_right": params.levels.renal_right_z}
    for name, z in nominal.items():
        inside = z0 + BOUNDARY_CLEARANCE_MM < z < z1 - BOUNDARY_CLEARANCE_MM
        assert (lm[name]["position_mm"] is not None) == inside, (name, z, z0, z1)
    # The crop leaves out the iliac confluence (the scan starts above it): no iliac vein in view.
    assert lm["iliac_confluence"]["position_mm"] is None and lm["iliac_confluence"]["s_mm"] is None
    assert not np.isin(case.truth.array, [int(Label.ILIAC_VEIN_RIGHT), int(Label.ILIAC_VEIN_LEFT)]).any()
    for name, item in lm.items():
        if item["position_mm"] is not None:
            assert z0 <= item["position_mm"][2] <= z1, name
    if lm["cavoatrial_junction"]["position_mm"] is None:
        assert not (case.truth.array == int(Label.RIGHT_ATRIUM)).any()


def test_cli_random_writes_a_readable_case(tmp_path):
    out = tmp_path / "random7"
    result = CliRunner().invoke(app, ["phantom", str(out), "--random", "7", "--matrix", "64", "--slice-mm", "8"])
    assert result.exit_code == 0, result.output
    assert "random case 7: field of view" in result.output
    volume = ivcplan.io.load(out / "dicom")
    truth = nibabel.load(out / "truth.nii.gz")
    assert tuple(truth.shape) == tuple(reversed(volume.shape)) or tuple(truth.shape) == volume.shape
    info = json.loads((out / "truth.json").read_text())
    assert info["generator"] == "random" and info["seed"] == 7 and info["random_parameters"]["seed"] == 7
    assert info["random_parameters"]["draws"]["levels.renal_right_z"] == [draw(7).levels.renal_right_z]
    assert set(info["facts"]["landmarks"]) >= {"iliac_confluence", "renal_veins", "hepatic_veins",
                                                "cavoatrial_junction", "renal_vein_left", "hepatic_vein_right"}
    assert info["expected_plan"]["approach"] and info["field_of_view"]["crop"] == draw(7).imaging.crop


def test_cli_random_refuses_options_it_draws(tmp_path):
    result = CliRunner().invoke(app, ["phantom", str(tmp_path / "x"), "--random", "3", "--seed", "4",
                                      "--noise-hu", "5"])
    assert result.exit_code == 2
    assert "--random draws the whole case; it does not combine with --seed, --noise-hu" in result.output
    assert not (tmp_path / "x").exists()


def _evaluate(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "evaluate.py"), "--json", str(tmp_path / "ev.json"),
                           *extra], capture_output=True, text=True, timeout=900, cwd=REPO)


def test_evaluate_random_on_two_seeds_makes_the_tables(tmp_path):
    run = _evaluate(tmp_path, "--random", "2", "--seeds", "14-15", "--jobs", "2", "--matrix", "96",
                    "--slice-mm", "5")
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert "2 cases (seeds 14-15), 2 scored, 0 crashed" in out
    for name in ("iliac_confluence (dz)", "renal_veins (dz)", "hepatic_veins (dz)", "cavoatrial_junction (dz)",
                 "renal_vein_right (3D)", "hepatic_vein_left (3D)"):
        assert f"| {name} | 2 |" in out, name
    assert "| both renal veins found |" in out and "| plan exact (approach" in out
    assert "| right kidney Dice >= 0.8 |" in out and "| left kidney Dice >= 0.8 |" in out
    assert "| structure | conf 0.0-0.2 |" in out and "| tumor |" in out and "| ivc |" in out
    assert "\n| 14 | full | none |" in out and "\n| 15 | full | none |" in out
    saved = json.loads((tmp_path / "ev.json").read_text())
    assert [r["seed"] for r in saved["rows"]] == [14, 15] and all("landmarks" in r for r in saved["rows"])
    for row in saved["rows"]:  # both kidneys are in every full view: sized from the truth, scored
        for side in ("right", "left"):
            kidney = row["kidneys"][side]
            assert kidney["truth_ml"] > 30.0 and 0.0 <= kidney["dice"] <= 1.0, (row["seed"], side, kidney)


def test_evaluate_random_records_crashes_as_rows(tmp_path):
    run = _evaluate(tmp_path, "--random", "2", "--seeds", "3,5", "--jobs", "2", "--matrix", "8")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "2 cases (seeds 3,5), 0 scored, 2 crashed" in run.stdout
    assert "- seed 3: generate: InputError: matrix must be between 16 and 512 for a random case, got 8" in run.stdout
    assert "**crash: generate: InputError" in run.stdout


def test_evaluate_random_cache_gives_back_the_same_case_and_follows_the_generator(tmp_path, monkeypatch):
    sys.path.insert(0, str(REPO / "scripts"))
    import evaluate_random as er

    small = {"matrix": 24, "slice_mm": 6.0}
    first, cached = er._case(14, small, tmp_path)
    assert not cached and len(list(tmp_path.glob("seed14-*.pkl"))) == 1
    again, cached = er._case(14, small, tmp_path)
    assert cached
    assert np.array_equal(again.volume.array, first.volume.array)
    assert np.allclose(again.volume.affine, first.volume.affine)
    assert np.array_equal(again.truth.array, first.truth.array) and again.truth_info == first.truth_info
    # Another override, or another generator code, is another case: generated, never the cached one.
    assert not er._case(14, {"matrix": 20, "slice_mm": 6.0}, tmp_path)[1]
    monkeypatch.setattr(er, "generator_version", lambda: "0" * 16)
    assert not er._case(14, small, tmp_path)[1]
    assert len(list(tmp_path.glob("seed14-*.pkl"))) == 3 and not list(tmp_path.glob("*.part"))
