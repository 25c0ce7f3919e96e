"""`ivcplan batch` killed with SIGKILL mid-run, then started again: every case completes, nothing is corrupt."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from cases import tree_hashes

from ivcplan.batch.worker import MARKER, verify
from ivcplan.report.contract import validate

#: Generous bound on the time to the first finished case (spawn + imports + one analysis, shared machine).
FIRST_CASE_TIMEOUT_S = 180.0


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out |= {int(t) for t in text}
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_kill_and_restart(phantoms, tmp_path: Path):
    root = tmp_path / "in"
    root.mkdir()
    shutil.copy(phantoms.tumor_nii, root / "a_tumor.nii.gz")
    shutil.copy(phantoms.thrombus_nii, root / "b_thrombus.nii.gz")
    shutil.copy(phantoms.tumor_nii, root / "c_tumor_copy.nii.gz")
    (root / "d_corrupt.nii.gz").write_bytes(phantoms.thrombus_nii.read_bytes()[:5000])
    before = tree_hashes(root)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "ivcplan", "batch", str(root), "-o", str(out), "--jobs", "2", "--outputs", "json"]
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + FIRST_CASE_TIMEOUT_S
    workers: set[int] = set()
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the batch ended before it could be killed"
            if _children(proc.pid):
                workers |= _children(proc.pid)
            done = [p for p in (out / "cases").glob(f"*/{MARKER}")] if (out / "cases").is_dir() else []
            if done:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("no case finished in time")
        workers |= _children(proc.pid)
        proc.send_signal(signal.SIGKILL)  # the batch process only: its workers must not live on
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(1.0)
    assert workers and not [w for w in workers if _alive(w)], "orphan worker processes"
    finished_before = {p.parent.name for p in (out / "cases").glob(f"*/{MARKER}")}
    assert 1 <= len(finished_before) < 4

    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert rerun.returncode == 3, rerun.stderr  # partial: the corrupt file failed
    doc = json.loads((out / "summary.json").read_text())
    assert doc["complete"] is True
    got = {c["source"]: c for c in doc["cases"]}
    assert sorted(got) == ["a_tumor.nii.gz", "b_thrombus.nii.gz", "c_tumor_copy.nii.gz", "d_corrupt.nii.gz"]
    assert got["d_corrupt.nii.gz"]["status"] == "failed" and "d_corrupt.nii.gz" in got["d_corrupt.nii.gz"]["error"]
    for name in ("a_tumor.nii.gz", "b_thrombus.nii.gz", "c_tumor_copy.nii.gz"):
        case = got[name]
        assert case["status"] == "ok", case["error"]
        assert case["resumed"] == (case["case"] in finished_before)
        folder = out / case["output_dir"]
        marker = json.loads((folder / MARKER).read_text())
        assert verify(folder, marker["key"]) is not None  # every file matches its recorded hash
        validate(json.loads((folder / "report.json").read_text()))
    assert got["a_tumor.nii.gz"]["measurements"] == got["c_tumor_copy.nii.gz"]["measurements"]
    assert not [p for p in (out / "cases").iterdir() if p.name.startswith(".")]
    assert tree_hashes(root) == before
