"""Batch throughput: --jobs 1 against --jobs 2, and a Dask LocalCluster (2 worker processes) against local.

Usage: python scripts/bench_batch.py [--cases 8] [--workdir DIR]
Cases are small phantoms (16 by default) (96 x 96 at 3.5 mm, 8 mm slices, JSON output), copies of two generated ones.
Times include worker start-up, as a user sees them. Ratios are against the peer run in the same process.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "batch"))


def _timed(label: str, **kw) -> float:
    from ivcplan.batch import run_batch

    t0 = time.perf_counter()
    result = run_batch(force=True, outputs=["json"], **kw)
    seconds = time.perf_counter() - t0
    assert result.n_ok == len(result.results), [r["error"] for r in result.results if r["status"] != "ok"]
    print(f"{label:>24}: {len(result.results)} cases in {seconds:6.1f} s = {len(result.results) / seconds:.3f} "
          "cases/s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=16)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    from cases import make_phantoms

    from ivcplan.io import save_nifti

    work = args.workdir or Path(tempfile.mkdtemp(prefix="ivcplan-bench-batch-"))
    root = work / "in"
    root.mkdir(parents=True, exist_ok=True)
    volumes = make_phantoms([(1, "tumor"), (2, "thrombus")])
    for i, vol in enumerate(volumes):
        save_nifti(vol, work / f"p{i}.nii.gz")
    for i in range(args.cases):
        shutil.copy(work / f"p{i % 2}.nii.gz", root / f"case{i:02d}.nii.gz")
    t1 = _timed("local --jobs 1", root=root, outdir=work / "j1", jobs=1)
    t2 = _timed("local --jobs 2", root=root, outdir=work / "j2", jobs=2)
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        cold = _timed("dask, fresh workers", root=root, outdir=work / "dask1", scheduler=cluster.scheduler_address)
        warm = _timed("dask, warm workers", root=root, outdir=work / "dask2", scheduler=cluster.scheduler_address)
        t2b = _timed("local --jobs 2 (again)", root=root, outdir=work / "j2b", jobs=2)
    local = min(t2, t2b)
    print(f"speed-up jobs=2 / jobs=1: {t1 / t2:.2f}x (target >= 1.7)")
    print(f"dask / local (jobs=2) time: fresh cluster {cold / local:.2f}, warm cluster {warm / local:.2f} "
          "(target within 15 %)")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
