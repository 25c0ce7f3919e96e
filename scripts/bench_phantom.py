#!/usr/bin/env python
"""Phantom generation speed: a 512x512x300 case, against a peer run in the same process.

The peer is a fixed amount of numpy work on the same number of voxels (building the HU volume's
float32 array, one Gaussian blur and one random field), so the ratio is comparable across machines;
the absolute time is printed too (the requirement: under a minute).
Usage: python scripts/bench_phantom.py [--matrix 512] [--slices 300]

``--random N``: randomized cases (issue 18) instead: each of the first N test seeds against the
template phantom (`generate(PhantomConfig())`, 256 x 256 x 116) timed right before it in the same
process; prints each case's size, time and ratio, and the mean and largest ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage

from ivcplan.phantom import PhantomConfig, TumorSpec, generate


def peer(shape: tuple[int, int, int]) -> float:
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    field = rng.standard_normal(shape, dtype=np.float32)
    ndimage.gaussian_filter(field, 1.0, output=field)
    return time.perf_counter() - start


def bench_random(n: int) -> None:
    from ivcplan.phantom.random_case import generate_random
    from ivcplan.phantom.random_params import TEST_SEEDS

    ratios = []
    for seed in list(TEST_SEEDS)[:n]:
        start = time.perf_counter()
        generate(PhantomConfig())
        template = time.perf_counter() - start
        start = time.perf_counter()
        case = generate_random(seed)
        elapsed = time.perf_counter() - start
        ratios.append(elapsed / template)
        lesion = case.truth_info["lesion"]
        print(f"seed {seed}: {case.volume.shape} ({case.volume.array.size / 1e6:.0f} M voxels), lesion "
              f"{lesion['kind']}: {elapsed:.1f} s; template {template:.1f} s; ratio {ratios[-1]:.2f}", flush=True)
    print(f"random / template over {n} seeds: mean {np.mean(ratios):.2f}, median {np.median(ratios):.2f}, "
          f"max {np.max(ratios):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--random", type=int, metavar="N", help="time N randomized cases against the template")
    args = parser.parse_args()
    if args.random:
        return bench_random(args.random)
    config = PhantomConfig(matrix=args.matrix, pixel_mm=384.0 / args.matrix, n_slices=args.slices,
                           tumor=TumorSpec(lower="cavoatrial_junction-80", upper="cavoatrial_junction+10",
                                           hepatic_veins_invaded=("right",)))
    start = time.perf_counter()
    case = generate(config)
    elapsed = time.perf_counter() - start
    ref = peer(case.volume.shape)
    print(f"shape {case.volume.shape}, spacing {case.volume.spacing.round(3).tolist()} mm")
    print(f"generate: {elapsed:.1f} s; peer (random field + blur, same size): {ref:.2f} s; "
          f"ratio {elapsed / ref:.1f}")


if __name__ == "__main__":
    main()
