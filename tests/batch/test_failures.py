"""Cases that take their worker down or run out of memory: recorded, and the batch goes on."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import nibabel
import numpy as np
import pytest
from cases import head_ct

from ivcplan.batch import EXIT_PARTIAL, run_batch
from ivcplan.io import save_nifti

#: Address-space limit of the memory test: about 1 GiB above what a worker needs to run a small case.
MEMORY_LIMIT = "1.5GB"


@pytest.fixture()
def three_cases(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    root.mkdir()
    for i in range(3):
        save_nifti(head_ct(n_slices=5 + i, matrix=24), root / f"case{i}.nii.gz")
    return root


def _killer(victim: str, times: int):
    """on_event hook that SIGKILLs the worker running ``victim`` (as the system's OOM killer would)."""
    kills = []

    def on_event(event):
        if event.kind == "started" and event.case and event.case.startswith(victim) and len(kills) < times:
            kills.append(event.pid)
            os.kill(event.pid, signal.SIGKILL)

    return on_event, kills


def test_worker_killed_once_is_retried(three_cases: Path, tmp_path: Path):
    on_event, kills = _killer("case1", times=1)
    result = run_batch(three_cases, tmp_path / "out", jobs=2, outputs=["json"], on_event=on_event)
    assert len(kills) == 1
    statuses = {r["source"]: (r["status"], r["attempts"]) for r in result.results}
    assert statuses["case1.nii.gz"] == ("no_ivc", 2)  # ran again alone and finished
    assert {s for s, _ in statuses.values()} == {"no_ivc"}
    assert not [p for p in (tmp_path / "out" / "cases").iterdir() if p.name.startswith(".")]


def test_case_that_always_kills_its_worker_is_recorded(three_cases: Path, tmp_path: Path):
    on_event, kills = _killer("case0", times=99)
    result = run_batch(three_cases, tmp_path / "out", jobs=2, outputs=["json"], on_event=on_event)
    assert len(kills) == 2  # once among the others, once alone
    got = {r["source"]: r for r in result.results}
    assert got["case0.nii.gz"]["status"] == "failed"
    assert got["case0.nii.gz"]["error_type"] == "WorkerDied"
    assert "retried alone" in got["case0.nii.gz"]["error"]
    assert [got[f"case{i}.nii.gz"]["status"] for i in (1, 2)] == ["no_ivc", "no_ivc"]
    assert result.exit_code == 4  # nothing succeeded: the others had no IVC


def test_out_of_memory_is_recorded_and_the_batch_goes_on(tmp_path: Path):
    root = tmp_path / "in"
    root.mkdir()
    save_nifti(head_ct(n_slices=6, matrix=24), root / "small.nii.gz")
    # 300 x 512 x 512 int16 (150 MB of voxels, stored sparse): its analysis needs several GB
    header = nibabel.Nifti1Header()
    header.set_data_shape((512, 512, 300))
    header.set_data_dtype(np.int16)
    header.set_sform(np.diag([0.8, 0.8, 1.0, 1.0]), code=1)
    with open(root / "big.nii", "wb") as fh:
        fh.write(header.binaryblock + b"\0" * 4)
        fh.write(np.full(512 * 512, -1000, "<i2").tobytes())  # one slice of air: plausible HU (water elsewhere)
        fh.truncate(352 + 512 * 512 * 300 * 2)
    result = run_batch(root, tmp_path / "out", jobs=1, outputs=["json"], memory_limit=MEMORY_LIMIT)
    got = {r["source"]: r for r in result.results}
    big = got["big.nii"]
    assert (big["status"], big["error_type"]) == ("failed", "MemoryError")
    assert "out of memory" in big["error"] and "limit 1.50 GiB" in big["error"]
    assert got["small.nii.gz"]["status"] == "no_ivc"  # analysed within the limit
    assert result.exit_code == 4
    assert result.exit_code != EXIT_PARTIAL
