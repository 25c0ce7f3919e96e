"""Timings of the measurement stages on a 512x512x300 labelmap, as ratios to an in-process peer.

The labelmap is a bundled phantom's truth (sample_dicom/<case>/truth.nii.gz) resampled by nearest
neighbour onto a 512 x 512 x 300 grid (0.75 x 0.75 mm pixels, 1.1 mm slices over the same field of
view). The peer is one `scipy.ndimage.label` pass over the same labelmap (all non-zero voxels).

    python scripts/bench_measure.py [--case case_a_renal] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import nibabel
import numpy as np
from scipy import ndimage

from ivcplan.measure import classify_segments, find_landmarks, liver_measurements, trace_centerline, tumor_measurements
from ivcplan.volume import Grid, Labelmap, Volume

SAMPLES = Path(__file__).resolve().parents[1] / "sample_dicom"
SHAPE = (300, 512, 512)


def big_labelmap(case: str) -> Labelmap:
    img = Volume.from_nifti(nibabel.load(SAMPLES / case / "truth.nii.gz"))
    small = Labelmap(img.array.astype(np.uint8), img.grid)
    extent = (np.asarray(small.grid.shape) - 1) * small.grid.spacing
    spacing = extent / (np.asarray(SHAPE) - 1)
    grid = Grid(SHAPE, spacing, small.grid.origin, small.grid.direction)
    return small.resample_to(grid)


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="case_a_renal")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    lm = big_labelmap(args.case)
    print(f"labelmap {lm.grid.shape} spacing {np.round(lm.grid.spacing, 3).tolist()} mm, "
          f"tumor {lm.volume_ml(2):.1f} ml")
    peer, _ = best_of(lambda: ndimage.label(lm.array > 0), args.repeats)
    t_cl, cl = best_of(lambda: trace_centerline(lm), args.repeats)
    t_lm, lms = best_of(lambda: find_landmarks(lm, cl), args.repeats)

    def measure_all():
        seg = classify_segments(cl, lms)
        return tumor_measurements(lm, cl, lms, seg)

    t_me, tumor = best_of(measure_all, args.repeats)
    t_li, _ = best_of(lambda: liver_measurements(lm), args.repeats)
    print(f"centerline {len(cl)} points, {cl.length_mm:.0f} mm; tumor segments {tumor.segments}")
    print("| stage | time | ratio to one ndimage.label pass |")
    print("|---|---|---|")
    print(f"| peer: `scipy.ndimage.label(labelmap > 0)` | {peer:.2f} s | 1.0 |")
    for name, t in (("`trace_centerline` (path + cross-sections)", t_cl),
                    ("`find_landmarks`", t_lm), ("`classify_segments` + `tumor_measurements`", t_me),
                    ("`liver_measurements` (volume + FLR)", t_li)):
        print(f"| {name} | {t:.2f} s | {t / peer:.1f} |")
    total = t_cl + t_lm + t_me + t_li
    print(f"| total | {total:.2f} s | {total / peer:.1f} |")


if __name__ == "__main__":
    main()
