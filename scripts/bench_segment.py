"""Benchmark `ivcplan.anatomy.segment` on a 512x512x300 synthetic contrast CT (2 cores, CPU).

Reports wall time, peak resident memory of the process and the ratio of the segmentation time to
a peer run in the same process (a 3D Gaussian smoothing of the same volume, sigma 1 voxel).

The CT is, by default, the phantom's case (b) (full anatomy: kidneys, renal and hepatic veins,
atrium, a retrohepatic tumor), generated in a child process and read back from NIfTI so that the
peak memory is the segmentation's; ``--toy`` uses the older slice-by-slice trunk (no kidneys).

    python scripts/bench_segment.py [--slices 300] [--matrix 512] [--toy]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from scipy import ndimage

from ivcplan import parallel
from ivcplan.anatomy import segment
from ivcplan.labels import Label
from ivcplan.volume import Volume


def synthetic_abdomen(matrix: int, slices: int, pixel_mm: float, slice_mm: float, seed: int = 0) -> Volume:
    """Trunk with fat, muscle, liver, vertebra, aorta, IVC and an expanding IVC tumor (built slice by slice)."""
    rng = np.random.default_rng(seed)
    c = (matrix - 1) * pixel_mm / 2
    yy, xx = np.mgrid[0:matrix, 0:matrix] * pixel_mm
    out = np.empty((slices, matrix, matrix), dtype=np.int16)
    z_mid = slices * slice_mm / 2
    for k in range(slices):
        z = k * slice_mm
        hu = np.full((matrix, matrix), -1000.0, dtype=np.float32)
        def ell(cx, cy, rx, ry):
            return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
        hu[ell(c, c, 170, 125)] = -100
        hu[ell(c, c, 160, 115)] = 45
        hu[ell(c - 5, c + 50, 80, 45)] = -95
        hu[ell(c - 70, c - 30, 70, 50)] = 105
        hu[ell(c, c + 70, 20, 17)] = 700
        hu[ell(c, c + 70, 16, 13)] = 230
        hu[ell(c + 15, c + 35, 11, 11)] = 160
        ivc_x, ivc_y = c - 20, c + 32
        prof = max(0.0, 1 - ((z - z_mid) / 40.0) ** 2)
        ivc = ell(ivc_x - 4 * prof, ivc_y - 3 * prof, 12 + 12 * prof, 8.5 + 10 * prof)
        hu[ivc] = 150
        if prof > 0:
            hu[ivc & ~ell(ivc_x, ivc_y, 4, 3)] = 65
        hu = ndimage.gaussian_filter(hu, 0.8) + rng.normal(0, 12, hu.shape).astype(np.float32)
        out[k] = np.clip(hu, -1024, 3000).astype(np.int16)
    return Volume.from_array(out, spacing=(slice_mm, pixel_mm, pixel_mm))


_GENERATE = """
import sys
from ivcplan.io import save_nifti
from ivcplan.phantom import generate, sample_config
matrix, slices, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
case = generate(sample_config("case_b_retrohepatic", matrix=matrix, pixel_mm=384.0 / matrix, n_slices=slices,
                              z_range_mm=(-60.0, 290.0)))
save_nifti(case.volume, out)
"""


def phantom_ct(matrix: int, slices: int) -> Volume:
    """Case (b) at ``matrix`` x ``matrix`` x ``slices`` (384 mm field of view), made in a child process."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from ivcplan.io import load

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ct.nii.gz"
        subprocess.run([sys.executable, "-c", _GENERATE, str(matrix), str(slices), str(path)], check=True)
        return load(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--pixel-mm", type=float, default=0.78)
    parser.add_argument("--slice-mm", type=float, default=1.0)
    parser.add_argument("--toy", action="store_true", help="the slice-by-slice toy trunk instead of the phantom")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads of the segmentation (default: the cores available; 1: serial)")
    args = parser.parse_args()
    if args.threads is not None:
        parallel.set_threads(args.threads)
    vol = synthetic_abdomen(args.matrix, args.slices, args.pixel_mm, args.slice_mm) if args.toy else \
        phantom_ct(args.matrix, args.slices)
    rss_input = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    ndimage.gaussian_filter(vol.array.astype(np.float32), 1.0)
    peer = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    seg = segment(vol)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"volume {vol.shape} spacing {vol.spacing.tolist()}")
    print(f"segment ({parallel.available_threads()} threads): {elapsed:.1f} s wall, {cpu:.1f} s CPU; "
          f"peer (gaussian sigma=1): {peer:.2f} s; "
          f"ratio {elapsed / peer:.1f}")
    print(f"peak RSS {rss_peak:.0f} MB (after building the input: {rss_input:.0f} MB)")
    print(f"phase {seg.phase}; found: " + ", ".join(lab.key for lab in Label if lab and seg.found(lab)))


if __name__ == "__main__":
    main()
