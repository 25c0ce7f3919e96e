"""The same cases on a Dask cluster (a LocalCluster on loopback started here) give the same results."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cases import write_dicom

from ivcplan.batch import run_batch


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as c:
        yield c


def test_dask_matches_local(cluster, phantoms, tmp_path: Path):
    root = tmp_path / "in"
    root.mkdir()
    shutil.copy(phantoms.thrombus_nii, root / "thrombus.nii.gz")
    (root / "broken.nii.gz").write_bytes(phantoms.thrombus_nii.read_bytes()[:3000])
    write_dicom(phantoms.tumor, root / "mr", modality="MR")
    address = cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    remote = run_batch(root, tmp_path / "dask", outputs=["json"], scheduler=address)
    local = run_batch(root, tmp_path / "local", jobs=2, outputs=["json"])
    for r_dask, r_local in zip(remote.results, local.results, strict=True):
        assert r_dask["case"] == r_local["case"]
        assert (r_dask["status"], r_dask["error_type"], r_dask["error"]) == (
            r_local["status"], r_local["error_type"], r_local["error"])
        assert r_dask["measurements"] == r_local["measurements"]
    assert [r["status"] for r in remote.results] == ["failed", "failed", "ok"]
    assert (tmp_path / "dask" / remote.results[2]["output_dir"] / "report.json").is_file()
    again = run_batch(root, tmp_path / "dask", outputs=["json"], scheduler=address)
    assert [r["resumed"] for r in again.results] == [False, False, True]


def test_unreachable_scheduler(phantoms, tmp_path: Path):
    from ivcplan.errors import InputError

    root = tmp_path / "in"
    root.mkdir()
    shutil.copy(phantoms.thrombus_nii, root / "ct.nii.gz")
    with pytest.raises(InputError, match="Dask scheduler"):
        run_batch(root, tmp_path / "out", outputs=["json"], scheduler="tcp://127.0.0.1:1",
                  scheduler_timeout_s=2.0)
