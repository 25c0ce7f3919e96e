"""`ivcplan phantom` on the command line, and the committed sample cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from typer.testing import CliRunner

import ivcplan.io
from ivcplan.cli import app
from ivcplan.labels import Label
from ivcplan.volume import Volume

SAMPLES = Path(__file__).resolve().parents[2] / "sample_dicom"
CASES = ("case_a_renal", "case_b_retrohepatic", "case_c_normal")


def test_cli_writes_a_case(tmp_path):
    out = tmp_path / "cli_case"
    result = CliRunner().invoke(app, [
        "phantom", str(out), "--matrix", "64", "--pixel-mm", "6", "--slice-mm", "8", "--transfer-syntax", "rle",
        "--tumor-from", "renal_veins-30", "--tumor-to", "renal_veins+30", "--tumor-size", "50x40",
        "--invade-renal", "right", "--position", "ffs", "--previews"])
    assert result.exit_code == 0, result.output
    assert "tumor:" in result.output
    info = json.loads((out / "truth.json").read_text())
    assert info["facts"]["tumor"]["present"] and "right" in info["facts"]["tumor"]["renal_veins_involved"]
    assert info["config"]["patient_position"] == "FFS"
    assert len(list((out / "dicom").glob("*.dcm"))) == ivcplan.io.load(out / "dicom").shape[0]
    assert sorted(p.name for p in (out / "preview").glob("*.png")) == [
        "cli_case_axial.png", "cli_case_coronal.png", "cli_case_sagittal.png"]


def test_cli_reports_bad_options(tmp_path):
    result = CliRunner().invoke(app, ["phantom", str(tmp_path / "x"), "--tumor-from", "kidney+3"])
    assert result.exit_code == 2
    assert "tumor.lower" in result.output and "kidney+3" in result.output


def test_samples_are_small(tmp_path):
    files = [p for p in SAMPLES.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 15e6
    assert max(p.stat().st_size for p in files) < 2e6


@pytest.mark.parametrize("name", CASES)
def test_sample_loads_identically_and_truth_aligns(name):
    folder = SAMPLES / name
    volume = ivcplan.io.load(folder / "dicom")
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder / "dicom")))
    image = reader.Execute()
    assert Volume.from_sitk(image).grid.is_same(volume.grid)
    assert np.array_equal(sitk.GetArrayFromImage(image), volume.array)
    import nibabel

    truth = Volume.from_nifti(nibabel.load(folder / "truth.nii.gz"))
    assert truth.grid.is_same(volume.grid)
    for label, (lo, hi) in {Label.LIVER: (90, 130), Label.AORTA: (130, 200), Label.IVC_LUMEN: (110, 180),
                            Label.KIDNEY_LEFT: (140, 220), Label.RIGHT_ATRIUM: (130, 200)}.items():
        assert lo <= float(volume.array[truth.array == int(label)].mean()) <= hi, (name, label.key)
    info = json.loads((folder / "truth.json").read_text())
    lm = info["facts"]["landmarks"]
    assert all(lm[k]["position_mm"] is not None for k in lm)  # iliac confluence to atrium in view
    assert info["facts"]["input"]["contrast_phase"] == "portal_venous"


def test_sample_truth_matches_the_seed_cases():
    facts = {name: json.loads((SAMPLES / name / "truth.json").read_text()) for name in CASES}
    a = facts["case_a_renal"]["facts"]["tumor"]
    assert a["segments"] == ["I", "II"] and a["hepatic_veins_invaded"] == []
    assert "right" in a["renal_veins_involved"] and 80 <= a["max_diameter_mm"] <= 105  # "9 cm"
    b = facts["case_b_retrohepatic"]["facts"]["tumor"]
    assert b["segments"] == ["II", "III"] and b["hepatic_veins_invaded"] == ["right"]
    assert abs(b["distance_upper_pole_to_cavoatrial_junction_mm"]) <= 10  # upper pole at the junction
    assert b["axes_mm"] == pytest.approx([80, 60, 50], abs=10)  # 8 x 6 x 5 cm
    assert facts["case_c_normal"]["facts"]["tumor"]["present"] is False
    plans = {name: (info["expected_plan"] or {}).get("approach") for name, info in facts.items()}
    assert plans == {"case_a_renal": "conventional", "case_b_retrohepatic": "elra", "case_c_normal": "none"}
