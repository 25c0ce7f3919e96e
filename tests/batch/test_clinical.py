"""Per-case clinical facts and anonymized reports in a batch (issue 19: R8's body weight)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ivcplan.batch import run_batch
from ivcplan.batch.discover import discover
from ivcplan.batch.runner import load_clinical
from ivcplan.errors import InputError


def test_clinical_file_reaches_each_case_and_changes_its_key(phantoms, tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    shutil.copy(phantoms.tumor_nii, root / "tumor.nii.gz")
    name = discover(root).cases[0].name
    facts = tmp_path / "clinical.csv"
    facts.write_text(f"case,weight_kg,prior_chemotherapy,liver_fibrosis\n{name},81.5,yes,\n")
    out = tmp_path / "out"
    result = run_batch(root, out, jobs=1, outputs=["json"], clinical=load_clinical(facts), anonymize=True)
    assert result.n_ok == 1
    report = json.loads((out / "cases" / name / "report.json").read_text())
    assert report["clinical"] == {"prior_chemotherapy": True, "liver_fibrosis": None, "weight_kg": 81.5}
    assert report["provenance"]["anonymized"] is True and report["input"]["source_path"] is None
    # Another weight is another analysis: the case is redone, not resumed.
    again = run_batch(root, out, jobs=1, outputs=["json"], weight_kg=60.0, anonymize=True)
    assert [r["resumed"] for r in again.results] == [False]
    report = json.loads((out / "cases" / name / "report.json").read_text())
    assert report["clinical"]["weight_kg"] == 60.0


@pytest.mark.parametrize(("text", "problem"), [
    ("case,weight\nx,80\n", "needs a 'case' column and only case, weight_kg"),
    ("case,weight_kg\nx,heavy\n", "line 2: weight_kg must be a number"),
    ("case,weight_kg\nx,5\n", "line 2: clinical.weight_kg must be a body weight in kg between 20 and 400"),
    ("case,liver_fibrosis\nx,maybe\n", "line 2: liver_fibrosis must be true or false"),
])
def test_bad_clinical_file_names_the_line(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "clinical.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=problem) as info:
        load_clinical(path)
    assert "clinical.csv" in str(info.value)
