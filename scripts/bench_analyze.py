"""Benchmark the whole `ivcplan analyze` on a 512x512x300 CT (2 cores, CPU): what a user waits for.

The CT is the phantom's case (b) (full anatomy, retrohepatic tumor) written as an uncompressed DICOM
series by a child process. `ivcplan analyze DIR -o OUT` then runs as its own process, exactly as on
the command line (automatic segmentation, measurements, plan, every output: JSON, CSV, NIfTI, PNG
renderings, meshes, DICOM SEG, HTML, PDF). Reports its wall time, its peak resident memory, the
stage times from report.json, and the ratio of the wall time to a peer run in this process (loading
the same series with SimpleITK's ImageSeriesReader plus a 3D Gaussian smoothing, sigma 1 voxel).

    python scripts/bench_analyze.py [--matrix 512] [--slices 300] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_WRITE = """
import sys
from ivcplan.phantom import generate, sample_config, write_case
matrix, slices, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
case = generate(sample_config("case_b_retrohepatic", matrix=matrix, pixel_mm=384.0 / matrix, n_slices=slices,
                              z_range_mm=(-60.0, 290.0)))
write_case(case, out, transfer_syntax="explicit")
"""


_CLI = """
import resource, sys
from ivcplan.cli import main
sys.argv = ["ivcplan", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    if exc.code not in (0, None):
        raise
finally:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"PEAK_RSS_MB {own:.0f} {kids:.0f}", file=sys.stderr)
"""


def _peer(dicom: Path) -> float:
    import numpy as np
    import SimpleITK as sitk
    from scipy import ndimage

    t0 = time.perf_counter()
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(dicom)))
    arr = sitk.GetArrayFromImage(reader.Execute()).astype(np.float32)
    ndimage.gaussian_filter(arr, 1.0)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ivcplan-bench-analyze-"))
    try:
        subprocess.run([sys.executable, "-c", _WRITE, str(args.matrix), str(args.slices), str(work / "case")],
                       check=True)
        dicom = work / "case" / "dicom"
        # The CLI's own entry point, in a process that reports its own peak memory at exit.
        cli = [sys.executable, "-c", _CLI]
        env = {**os.environ, "VTK_DEFAULT_OPENGL_WINDOW": os.environ.get("VTK_DEFAULT_OPENGL_WINDOW",
                                                                        "vtkEGLRenderWindow")}
        walls, peers, peaks = [], [], []
        for r in range(args.repeats):
            peers.append(_peer(dicom))
            out = work / f"out{r}"
            t0 = time.perf_counter()
            run = subprocess.run([*cli, "analyze", str(dicom), "-o", str(out)], check=True, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            walls.append(time.perf_counter() - t0)
            line = next(ln for ln in run.stderr.splitlines() if ln.startswith("PEAK_RSS_MB"))
            peaks.append(max(float(v) for v in line.split()[1:]))  # the process or any helper it started
        report = json.loads((work / "out0" / "report.json").read_text())
        outputs = sorted(p.name for p in (work / "out0").iterdir())
        wall, peer = min(walls), min(peers)
        print(f"CT {report['input']['size']} spacing {report['input']['spacing_mm']} mm, "
              f"phase {report['input']['contrast_phase']}, plan {report['plan']['approach']}")
        print(f"ivcplan analyze (all outputs): {wall:.1f} s wall (best of {args.repeats}); target < 45 s")
        print(f"peak RSS of the analyze process: {max(peaks):.0f} MB; target < 3072 MB")
        print(f"peer (SimpleITK read + Gaussian sigma 1): {peer:.2f} s; ratio {wall / peer:.1f}")
        print("stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in report["timings_s"].items()))
        print(f"{len(outputs)} outputs: {', '.join(outputs)}")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
