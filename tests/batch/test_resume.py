"""Resuming: what counts as finished, what is redone (tampered output, leftovers of a crash, --force)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cases import head_ct

from ivcplan.batch import run_batch
from ivcplan.batch.worker import MARKER
from ivcplan.errors import InputError
from ivcplan.io import save_nifti


@pytest.fixture()
def tiny_root(tmp_path: Path) -> Path:
    """Two quick cases (small head CTs: analysed, no IVC, outputs written)."""
    root = tmp_path / "in"
    root.mkdir()
    save_nifti(head_ct(n_slices=6, matrix=24), root / "one.nii.gz")
    save_nifti(head_ct(n_slices=8, matrix=24), root / "two.nii.gz")
    return root


def _markers(out: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / "cases").glob(f"*/{MARKER}")}


def test_tampered_or_half_written_cases_are_redone(tiny_root: Path, tmp_path: Path):
    out = tmp_path / "out"
    first = run_batch(tiny_root, out, jobs=2, outputs=["json"])
    assert [r["status"] for r in first.results] == ["no_ivc", "no_ivc"]
    one, two = (out / r["output_dir"] for r in first.results)
    stamps = _markers(out)
    # a truncated report (disk trouble, a hand edit) and a temporary folder left by a killed worker
    report = one / "report.json"
    report.write_bytes(report.read_bytes()[:100])
    leftover = out / "cases" / f".tmp-{two.name}-999-deadbeef"
    leftover.mkdir()
    (leftover / "report.json").write_text("{")
    second = run_batch(tiny_root, out, jobs=2, outputs=["json"])
    assert {r["case"]: r["resumed"] for r in second.results} == {one.name: False, two.name: True}
    assert json.loads(report.read_text())["ivc"]["detected"] is False  # rewritten completely
    assert not leftover.exists()
    assert _markers(out)[two.name] == stamps[two.name]
    assert _markers(out)[one.name] != stamps[one.name]


def test_changed_options_or_input_redo_and_force_redoes_all(tiny_root: Path, tmp_path: Path):
    out = tmp_path / "out"
    run_batch(tiny_root, out, jobs=1, outputs=["json"])
    # other outputs requested: the stored cases no longer match
    csv_run = run_batch(tiny_root, out, jobs=2, outputs=["json", "csv"])
    assert not any(r["resumed"] for r in csv_run.results)
    assert all((out / r["output_dir"] / "report.csv").is_file() for r in csv_run.results)
    # an input replaced by another file: only that case is redone
    save_nifti(head_ct(n_slices=7, matrix=24), tiny_root / "two.nii.gz")
    changed = run_batch(tiny_root, out, jobs=2, outputs=["json", "csv"])
    assert {r["source"]: r["resumed"] for r in changed.results} == {"one.nii.gz": True, "two.nii.gz": False}
    forced = run_batch(tiny_root, out, jobs=2, outputs=["json", "csv"], force=True)
    assert not any(r["resumed"] for r in forced.results)
    assert len(list((out / "cases").iterdir())) == 2  # replaced in place, nothing left over


def test_output_folder_is_locked_while_a_batch_runs(tiny_root: Path, tmp_path: Path):
    from ivcplan.batch.runner import _locked

    out = tmp_path / "out"
    out.mkdir()
    with _locked(out), pytest.raises(InputError, match="another batch"):
        run_batch(tiny_root, out, jobs=1, outputs=["json"])


def test_bad_arguments_are_refused(tiny_root: Path, tmp_path: Path):
    with pytest.raises(InputError, match=r"--outputs.*nonsense"):
        run_batch(tiny_root, tmp_path / "o", outputs=["json", "nonsense"])
    with pytest.raises(InputError, match="--memory-limit"):
        run_batch(tiny_root, tmp_path / "o", memory_limit="lots")
    with pytest.raises(InputError, match="--jobs"):
        run_batch(tiny_root, tmp_path / "o", jobs=0)
    with pytest.raises(InputError, match="does not exist"):
        run_batch(tmp_path / "missing", tmp_path / "o")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        run_batch(tiny_root, tmp_path / "file")
