#!/usr/bin/env python
"""Phantom generation speed: a 512x512x300 case, against a peer run in the same process.

The peer is a fixed amount of numpy work on the same number of voxels (building the HU volume's
float32 array, one Gaussian blur and one random field), so the ratio is comparable across machines;
the absolute time is printed too (the requirement: under a minute).
Usage: python scripts/bench_phantom.py [--matrix 512] [--slices 300]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--slices", type=int, default=300)
    args = parser.parse_args()
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
