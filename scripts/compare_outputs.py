"""Compare two `ivcplan analyze` output folders array by array and field by field.

Used to show that a refactor changed no result: report.json field by field (run timings and
provenance excepted), report.csv cell by cell (same exceptions), the NIfTI labelmap, the Slicer
.seg.nrrd (header fields and voxels: pynrrd stamps the writing time in a comment) and the DICOM SEG
voxel by voxel, every PNG pixel by pixel, every mesh vertex by vertex, the HTML text with its
embedded images, and the PDF's text and rasterised pages.

    python scripts/compare_outputs.py BEFORE_DIR AFTER_DIR [BEFORE_DIR2 AFTER_DIR2 ...]

Exit status 0 when every pair is identical, 1 otherwise (each difference is listed).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

#: Report fields that differ from run to run by design (wall-clock timings, creation time, paths).
VOLATILE_KEYS = ("timings_s", "provenance", "created_utc")
#: Files that record the run itself, not its results: the library's log and the output folder's marker
#: (when it was written, from which input path).
RUN_RECORDS = ("ivcplan.log", ".ivcplan-output.json")
_VOLATILE_CSV = re.compile(r"^(timings_s|provenance)\.|created_utc")
#: The report date (provenance.created_utc) as the HTML and the PDF print it, e.g. "2026-12-06 19:59 UTC".
_REPORT_DATE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")
#: The PDF's running header (identity and report date) lies in this top share of each page: its pixels
#: are left out of the page comparison (its text is compared with the date masked).
PDF_HEADER_SHARE = 0.06
#: The report date also appears in the body (identity table, provenance line): when the text with the date
#: masked is the same, up to this many differing pixels per page (at 50 dpi; a date's glyphs) are that date.
PDF_DATE_PIXELS = 120


def _diff_json(a: Any, b: Any, where: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key in VOLATILE_KEYS:
                continue
            if key not in a or key not in b:
                out.append(f"{where}.{key}: only in {'after' if key not in a else 'before'}")
                continue
            _diff_json(a[key], b[key], f"{where}.{key}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} items before, {len(b)} after")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _diff_json(x, y, f"{where}[{i}]", out)
    elif a != b:
        out.append(f"{where}: {a!r} -> {b!r}")


def _compare_csv(a: Path, b: Path, out: list[str]) -> None:
    rows_a = list(csv.DictReader(a.open(encoding="utf-8")))
    rows_b = list(csv.DictReader(b.open(encoding="utf-8")))
    if len(rows_a) != len(rows_b):
        out.append(f"{a.name}: {len(rows_a)} rows before, {len(rows_b)} after")
    for i, (x, y) in enumerate(zip(rows_a, rows_b, strict=False)):
        keys = {k for k in set(x) | set(y) if not _VOLATILE_CSV.search(k)}
        for k in sorted(keys):
            if x.get(k) != y.get(k):
                out.append(f"{a.name} row {i} {k}: {x.get(k)!r} -> {y.get(k)!r}")


def _compare_nifti(a: Path, b: Path, out: list[str]) -> None:
    import nibabel

    ia, ib = nibabel.load(str(a)), nibabel.load(str(b))
    if not np.allclose(ia.affine, ib.affine, atol=1e-6):
        out.append(f"{a.name}: affine differs")
    da, db = np.asanyarray(ia.dataobj), np.asanyarray(ib.dataobj)
    if da.shape != db.shape or da.dtype != db.dtype or not np.array_equal(da, db):
        out.append(f"{a.name}: voxels differ ({int(np.count_nonzero(da != db)) if da.shape == db.shape else 'shape'})")


def _compare_seg(a: Path, b: Path, out: list[str]) -> None:
    import pydicom

    da, db = pydicom.dcmread(a), pydicom.dcmread(b)
    if not np.array_equal(da.pixel_array, db.pixel_array):
        out.append(f"{a.name}: pixel data differs")
    labels = [[(s.SegmentNumber, s.SegmentLabel) for s in d.SegmentSequence] for d in (da, db)]
    if labels[0] != labels[1]:
        out.append(f"{a.name}: segments {labels[0]} -> {labels[1]}")


def _compare_nrrd(a: Path, b: Path, out: list[str]) -> None:
    # pynrrd writes the time of writing as a comment: the header fields and the voxels are compared.
    import nrrd

    (da, ha), (db, hb) = nrrd.read(str(a)), nrrd.read(str(b))
    if not np.array_equal(da, db) or da.dtype != db.dtype:
        out.append(f"{a.name}: voxels differ")
    for key in sorted(set(ha) | set(hb)):
        va, vb = ha.get(key), hb.get(key)
        same = np.array_equal(va, vb) if isinstance(va, np.ndarray) or isinstance(vb, np.ndarray) else va == vb
        if not same:
            out.append(f"{a.name}: header {key} {va!r} -> {vb!r}")


def _compare_png(a: Path, b: Path, out: list[str], skip_top: float = 0.0, tolerate: int = 0) -> None:
    import matplotlib.image as mpimg

    ia, ib = mpimg.imread(str(a)), mpimg.imread(str(b))
    if ia.shape == ib.shape and skip_top:
        top = round(skip_top * ia.shape[0])
        ia, ib = ia[top:], ib[top:]
    if ia.shape != ib.shape:
        out.append(f"{a.name}: size {ia.shape} -> {ib.shape}")
    elif (n := int(np.count_nonzero(np.any(ia != ib, axis=-1)))) > tolerate:
        out.append(f"{a.name}: {n} pixels differ")


def _compare_bytes(a: Path, b: Path, out: list[str]) -> None:
    if a.read_bytes() != b.read_bytes():
        out.append(f"{a.name}: content differs")


def _compare_stl(a: Path, b: Path, out: list[str]) -> None:
    # Binary STL: an 80-byte header, a count, then 50 bytes per triangle.
    ra, rb = a.read_bytes()[80:], b.read_bytes()[80:]
    if ra != rb:
        out.append(f"{a.name}: triangles differ")


def _compare_html(a: Path, b: Path, out: list[str]) -> None:
    ta, tb = (_REPORT_DATE.sub("<date>", re.sub(r"\d+(\.\d+)? s\b", "<t> s", p.read_text(encoding="utf-8")))
              for p in (a, b))
    if ta != tb:
        la, lb = ta.splitlines(), tb.splitlines()
        first = next((i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y), min(len(la), len(lb)))
        out.append(f"{a.name}: differs from line {first + 1}")


def _compare_pdf(a: Path, b: Path, out: list[str]) -> None:
    if not shutil.which("pdftotext") or not shutil.which("pdftoppm"):
        out.append(f"{a.name}: poppler-utils missing, not compared")
        return
    texts = [_REPORT_DATE.sub("<date>", subprocess.run(["pdftotext", "-layout", str(p), "-"], capture_output=True,
                                                       text=True, check=True).stdout) for p in (a, b)]
    same_text = texts[0] == texts[1]
    if not same_text:
        out.append(f"{a.name}: text differs")
    with tempfile.TemporaryDirectory() as tmp:
        for tag, p in (("a", a), ("b", b)):
            subprocess.run(["pdftoppm", "-r", "50", "-png", str(p), str(Path(tmp) / tag)], check=True)
        pages_a, pages_b = sorted(Path(tmp).glob("a*.png")), sorted(Path(tmp).glob("b*.png"))
        if len(pages_a) != len(pages_b):
            out.append(f"{a.name}: {len(pages_a)} pages -> {len(pages_b)}")
        for pa, pb in zip(pages_a, pages_b, strict=False):
            _compare_png(pa, pb, out, skip_top=PDF_HEADER_SHARE,
                         tolerate=PDF_DATE_PIXELS if same_text else 0)


_BY_SUFFIX = {".csv": _compare_csv, ".png": _compare_png, ".stl": _compare_stl, ".obj": _compare_bytes,
              ".mtl": _compare_bytes, ".glb": _compare_bytes, ".html": _compare_html, ".pdf": _compare_pdf}


def compare(before: Path, after: Path) -> list[str]:
    """Every difference between two output folders (empty when identical)."""
    out: list[str] = []
    files_a = {p.relative_to(before) for p in before.rglob("*") if p.is_file() and p.name not in RUN_RECORDS}
    files_b = {p.relative_to(after) for p in after.rglob("*") if p.is_file() and p.name not in RUN_RECORDS}
    for rel in sorted(files_a ^ files_b):
        out.append(f"{rel}: only {'before' if rel in files_a else 'after'}")
    for rel in sorted(files_a & files_b):
        a, b = before / rel, after / rel
        if rel.name == "report.json":
            _diff_json(json.loads(a.read_text()), json.loads(b.read_text()), "report", out)
        elif rel.name.endswith(".nii.gz"):
            _compare_nifti(a, b, out)
        elif rel.name.endswith(".seg.nrrd"):
            _compare_nrrd(a, b, out)
        elif rel.name.endswith(".seg.dcm"):
            _compare_seg(a, b, out)
        elif rel.suffix in _BY_SUFFIX:
            _BY_SUFFIX[rel.suffix](a, b, out)
        else:
            _compare_bytes(a, b, out)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="pairs: BEFORE AFTER [BEFORE AFTER ...]")
    args = parser.parse_args()
    if len(args.folders) % 2:
        parser.error("give folders in pairs: BEFORE AFTER")
    failed = False
    for before, after in zip(args.folders[::2], args.folders[1::2], strict=True):
        diffs = compare(before, after)
        n = sum(1 for p in before.rglob("*") if p.is_file())
        print(f"{before} vs {after}: {'identical' if not diffs else f'{len(diffs)} difference(s)'} ({n} files)")
        for line in diffs:
            print(f"  {line}")
        failed |= bool(diffs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
