"""Benchmark of the plan area: `suggest` and `liver_volumes`, as ratios against a peer in-process.

Peers: for `liver_volumes`, one pass over the labelmap (`Labelmap.volume_ml` of the liver labels),
so the ratio says how many array passes the remnant costs; for `suggest`, `json.dumps` of the plan
it returns (the report writer does that anyway).

    python scripts/bench_plan.py [--size 512 512 300]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable

import numpy as np

from ivcplan.labels import Label
from ivcplan.measure.liver import LIVER_LABELS, liver_volumes
from ivcplan.plan import suggest
from ivcplan.volume import Grid, Labelmap


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def synthetic_labelmap(shape: tuple[int, int, int], spacing: float = 0.8) -> Labelmap:
    """An ellipsoid liver with a retrohepatic IVC and a middle hepatic vein (abdominal CT scale)."""
    z, y, x = (np.arange(n, dtype=np.float32) * spacing - (n - 1) * spacing / 2 for n in shape)
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij", sparse=True)
    array = np.zeros(shape, dtype=np.uint8)
    array[((xx + 30) / 100) ** 2 + (yy / 80) ** 2 + (zz / 80) ** 2 <= 1] = Label.LIVER
    array[np.broadcast_to((xx + 10) ** 2 + (yy - 70) ** 2 <= 11**2, shape)] = Label.IVC_LUMEN
    vein = (np.abs(xx + 10 - 0.4 * (70 - yy)) <= 4) & (yy < 60) & (yy > 0) & (np.abs(zz - 30) <= 4)
    array[vein & (array == Label.LIVER)] = Label.HEPATIC_VEIN_MIDDLE
    return Labelmap(array, Grid(shape, (spacing,) * 3, (0.0, 0.0, 0.0), np.eye(3)[::-1].T))


FACTS = {
    "ivc": {"detected": True},
    "landmarks": {n: {"position_mm": [0.0, 0.0, 0.0], "confidence": 0.9}
                  for n in ("iliac_confluence", "renal_veins", "hepatic_veins", "cavoatrial_junction")},
    "tumor": {"present": True, "segments": ["II", "III"], "distance_upper_pole_to_hepatic_veins_mm": -28.0,
              "distance_upper_pole_to_cavoatrial_junction_mm": 2.0, "hepatic_veins_invaded": ["right"],
              "renal_veins_involved": [], "intracardiac": False, "max_circumferential_involvement_deg": 360.0,
              "ivc_diameter_above_mm": 27.0},
    "liver": {"volume_ml": 1400.0, "flr_ml": 588.0, "flr_ratio": 0.42},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=3, default=(300, 512, 512), metavar=("Z", "Y", "X"))
    args = parser.parse_args()
    labelmap = synthetic_labelmap(tuple(args.size))
    result = liver_volumes(labelmap)
    t_flr = best_of(lambda: liver_volumes(labelmap), 3)
    t_pass = best_of(lambda: labelmap.volume_ml(*LIVER_LABELS), 3)
    plan = suggest(FACTS)
    t_plan = best_of(lambda: suggest(FACTS), 200)
    t_json = best_of(lambda: json.dumps(plan.to_dict()), 200)
    print(f"labelmap {tuple(args.size)}: liver {result['volume_ml']:.0f} ml, FLR {result['flr_ratio']:.3f}")
    print(f"liver_volumes {t_flr * 1e3:.0f} ms = {t_flr / t_pass:.1f} x one labelmap pass ({t_pass * 1e3:.0f} ms)")
    print(f"suggest {t_plan * 1e6:.0f} us = {t_plan / t_json:.1f} x json.dumps of the plan ({t_json * 1e6:.0f} us)")
    assert plan.approach == "elra" and not math.isnan(result["flr_ratio"])


if __name__ == "__main__":
    main()
