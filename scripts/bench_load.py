#!/usr/bin/env python3
"""Loader benchmark: ivcplan.io.load against SimpleITK's ImageSeriesReader in the same run.

Builds (in a temporary folder) a 512x512x300 uncompressed int16 CT series and a 512x512x60
JPEG 2000 lossless series, then reports

* wall time of each loader (best of N, runs interleaved so both see the same machine load) and
  the ratio ivcplan / SimpleITK (target <= 0.7 on the uncompressed series);
* peak memory above the process's resident size before loading, measured in a fresh child process
  per loader (target: volume size + 200 MB);
* JPEG 2000: serial decoding vs the parallel decoder pool (processes), and threads for comparison.

Usage: python scripts/bench_load.py [--slices 300] [--j2k-slices 60] [--repeats 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "helpers"))  # dicomgen: the same writer the tests use

import dicomgen  # noqa: E402
from pydicom.uid import JPEG2000Lossless  # noqa: E402


def phantom(n: int, size: int = 512, seed: int = 0) -> np.ndarray:
    """Body-like int16 HU slices: an ellipse of soft tissue with structures and noise, air around."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[-1:1:size * 1j, -1:1:size * 1j]
    body = (x / 0.85) ** 2 + (y / 0.65) ** 2 < 1
    out = np.empty((n, size, size), np.int16)
    for k in range(n):
        organ = ((x - 0.3 + 0.001 * k) ** 2 + (y + 0.1) ** 2 < 0.08) * 60
        vessel = ((x + 0.05) ** 2 + (y - 0.1) ** 2 < 0.004) * 150
        plane = np.where(body, 40 + organ + vessel, -1000) + rng.normal(0, 12, body.shape)
        out[k] = np.clip(np.round(plane), -1024, 3071)
    return out


def load_ivcplan(folder: str, workers: int | None = None, processes: bool = True):
    import ivcplan.io as io
    from ivcplan.io import dicom

    dicom.DECODE_IN_PROCESSES = processes
    if workers is None:
        return io.load(folder).array
    (info,) = [s for s in io.scan(folder) if s.chosen]
    return dicom.load_series(info, workers=workers).array


def load_sitk(folder: str):
    """The SimpleITK image (a numpy view would not keep the image alive; a copy would bill SimpleITK)."""
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(folder))
    return reader.Execute()


def sitk_array(folder: str) -> np.ndarray:
    import SimpleITK as sitk

    return sitk.GetArrayFromImage(load_sitk(folder))


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(which: str, folder: str) -> None:
    """Run one loader in this fresh process and print its peak memory above the pre-load baseline."""
    import SimpleITK  # noqa: F401

    import ivcplan.io  # noqa: F401  (import cost is not loading cost)

    before = _rss_kb("VmRSS")
    t0 = time.perf_counter()
    if which == "ivcplan":
        array = load_ivcplan(folder)
        nbytes, dtype = array.nbytes, str(array.dtype)
    else:
        image = load_sitk(folder)
        nbytes = image.GetNumberOfPixels() * image.GetSizeOfPixelComponent()
        dtype = image.GetPixelIDTypeAsString()
    seconds = time.perf_counter() - t0
    print(json.dumps({"which": which, "seconds": seconds, "peak_mb": (_rss_kb("VmHWM") - before) / 1024,
                      "array_mb": nbytes / 2**20, "dtype": dtype}))


def peak_memory(which: str, folder: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", which, folder], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def interleaved(fns: dict, repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """Best wall time and best CPU time (this process only) of each function, runs interleaved."""
    wall = {name: np.inf for name in fns}
    cpu = {name: np.inf for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[name] = min(wall[name], time.perf_counter() - t0)
            cpu[name] = min(cpu[name], time.process_time() - c0)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--j2k-slices", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the series here and keep them")
    parser.add_argument("--child", nargs=2, metavar=("LOADER", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_load_"))
    raw, j2k = root / "raw", root / "j2k"
    if not raw.exists():
        t0 = time.perf_counter()
        dicomgen.write_series(raw, phantom(args.slices), spacing_zyx=(1.0, 0.7, 0.7))
        print(f"wrote {args.slices} uncompressed slices in {time.perf_counter() - t0:.1f} s")
    if not j2k.exists():
        t0 = time.perf_counter()
        dicomgen.write_series(j2k, phantom(args.j2k_slices, seed=1), spacing_zyx=(1.0, 0.7, 0.7),
                              transfer_syntax=JPEG2000Lossless)
        print(f"wrote {args.j2k_slices} JPEG 2000 slices in {time.perf_counter() - t0:.1f} s")

    assert np.array_equal(load_ivcplan(str(raw)), sitk_array(str(raw))), "loaders disagree on the pixels"
    times, cpu = interleaved({"ivcplan": lambda: load_ivcplan(str(raw)), "sitk": lambda: load_sitk(str(raw))},
                             args.repeats)
    print(f"\nuncompressed 512x512x{args.slices} int16 (best of {args.repeats}, interleaved):")
    print(f"  wall: ivcplan {times['ivcplan']:.3f} s   SimpleITK {times['sitk']:.3f} s   "
          f"ratio {times['ivcplan'] / times['sitk']:.2f} (target <= 0.70)")
    print(f"  CPU:  ivcplan {cpu['ivcplan']:.3f} s   SimpleITK {cpu['sitk']:.3f} s   "
          f"ratio {cpu['ivcplan'] / cpu['sitk']:.2f} (less sensitive to other load on the machine)")
    print(f"  load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for which in ("ivcplan", "sitk"):
        m = peak_memory(which, str(raw))
        print(f"  peak memory {which}: {m['peak_mb']:.0f} MB above baseline for a {m['array_mb']:.0f} MB "
              f"{m['dtype']} volume (+{m['peak_mb'] - m['array_mb']:.0f} MB; target +200 MB)")

    folder = str(j2k)
    assert np.array_equal(load_ivcplan(folder), sitk_array(folder)), "loaders disagree on the JPEG 2000 pixels"
    t, _ = interleaved({"serial": lambda: load_ivcplan(folder, workers=1),
                        "threads2": lambda: load_ivcplan(folder, workers=2, processes=False),
                        "processes2": lambda: load_ivcplan(folder, workers=2, processes=True),
                        "sitk": lambda: load_sitk(folder)}, args.repeats)
    print(f"\nJPEG 2000 lossless 512x512x{args.j2k_slices} (best of {args.repeats}, interleaved):")
    print(f"  serial {t['serial']:.3f} s   2 threads {t['threads2']:.3f} s   2 processes {t['processes2']:.3f} s   "
          f"SimpleITK {t['sitk']:.3f} s")
    print(f"  parallel speed-up: processes {t['serial'] / t['processes2']:.2f}x, threads "
          f"{t['serial'] / t['threads2']:.2f}x; ivcplan (processes) / SimpleITK {t['processes2'] / t['sitk']:.2f}")
    print(f"  load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if not args.keep:
        import shutil

        shutil.rmtree(root)


if __name__ == "__main__":
    main()
