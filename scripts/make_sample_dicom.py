#!/usr/bin/env python
"""Write the bundled synthetic cases into sample_dicom/ and their previews into docs/images/.

Deterministic: running it twice gives the same pixels and truth (UIDs derive from the config).
Usage: python scripts/make_sample_dicom.py [--out sample_dicom] [--images docs/images] [--all]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ivcplan.phantom import generate, sample_config, write_case
from ivcplan.phantom.preview import preview_centre, write_previews
from ivcplan.phantom.samples import COMMITTED, SAMPLE_CASES

REPO = Path(__file__).resolve().parents[1]
TRANSFER_SYNTAX = "jpeg2000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "sample_dicom")
    parser.add_argument("--images", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--all", action="store_true", help="also the cases not committed (thrombus)")
    args = parser.parse_args()
    names = list(SAMPLE_CASES) if args.all else list(COMMITTED)
    for name in names:
        start = time.perf_counter()
        case = generate(sample_config(name))
        paths = write_case(case, args.out / name, transfer_syntax=TRANSFER_SYNTAX, overwrite=True)
        write_previews(case.volume, args.images, name, preview_centre(case.truth_info))
        size = sum(p.stat().st_size for p in paths["dicom"].glob("*.dcm")) / 1e6
        tumor = case.truth_info["facts"]["tumor"]
        lesion = f"{tumor['volume_ml']} ml, segments {'-'.join(tumor['segments'])}" if tumor["present"] else "none"
        print(f"{name}: {case.volume.shape} {size:.1f} MB DICOM, tumor {lesion} "
              f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
