"""Batch throughput: --jobs 1 against --jobs 2, and a Dask LocalCluster (2 worker processes) against local.

Usage: python scripts/bench_batch.py [--cases 8] [--workdir DIR]
Cases are small phantoms (16 by default) (96 x 96 at 3.5 mm, 8 mm slices, JSON output), copies of two generated ones.
Times include worker start-up, as a user sees them. Ratios are against the peer run in the same process.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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


_CLUSTER = """
import sys
from distributed import LocalCluster
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        print(cluster.scheduler_address, flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin
"""


@contextlib.contextmanager
def _cluster() -> Iterator[str]:
    """A Dask cluster (scheduler + 2 worker processes) in a process of its own, as a user would run one:
    nothing of it shares the benchmark's process, so the local runs are not slowed by its event loop."""
    script = Path(tempfile.mkdtemp(prefix="ivcplan-dask-")) / "cluster.py"
    script.write_text(_CLUSTER)
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        address = proc.stdout.readline().strip()
        if not address.startswith("tcp://"):
            raise RuntimeError(f"the Dask cluster did not start (got {address!r})")
        yield address
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(script.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=16)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of each run")
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
    # The machine's speed drifts over a run (shared host): peers are interleaved, A B A B ..., and the
    # best of each is compared, so that no side gets the fast or the slow minutes.
    j1, j2, cold, warm = [], [], [], []
    with _cluster() as address:
        cold.append(_timed("dask, fresh workers", root=root, outdir=work / "dask0", scheduler=address))
        for r in range(args.rounds):
            j1.append(_timed(f"local --jobs 1 #{r + 1}", root=root, outdir=work / f"j1-{r}", jobs=1))
            j2.append(_timed(f"local --jobs 2 #{r + 1}", root=root, outdir=work / f"j2-{r}", jobs=2))
            warm.append(_timed(f"dask (2 workers) #{r + 1}", root=root, outdir=work / f"dask-{r}",
                               scheduler=address))
    print(f"speed-up jobs=2 / jobs=1 (best of {args.rounds}): {min(j1) / min(j2):.2f}x (target >= 1.7); "
          f"per round {', '.join(f'{a / b:.2f}' for a, b in zip(j1, j2, strict=True))}")
    print(f"dask / local jobs=2 time (best of {args.rounds}): {min(warm) / min(j2):.2f} (target <= 1.15); "
          f"per round {', '.join(f'{a / b:.2f}' for a, b in zip(warm, j2, strict=True))}; first run on fresh workers "
          f"{cold[0] / min(j2):.2f}")
    import os

    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
