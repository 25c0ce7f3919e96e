"""Segmentation accuracy: Dice and 95 % Hausdorff distance per structure against reference masks.

References: (1) phantom truth (``sample_dicom/*/truth.nii.gz`` and generated variants through
``ivcplan.phantom``), (2) TotalSegmentator masks in ``../shared/data/totalseg_example/``: the
non-contrast ``example_ct.nii.gz`` on the 30 slices ``example_seg_top30.nii.gz`` covers, and the
contrast DICOM series against ``example_seg_dicom.nii.gz`` (both aligned in physical space).

    python scripts/evaluate.py [--json out.json] [--write-benchmarks] [--variants 10] [--organs-only]

Uses ``ivcplan.anatomy.segment`` (the orchestrator); ``--organs-only`` evaluates
``ivcplan.anatomy.organs`` alone (faster, organs only).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ivcplan.labels import IVC_LABELS, Label  # noqa: E402
from ivcplan.metrics import dice, hausdorff95  # noqa: E402
from ivcplan.volume import Labelmap, Volume  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "totalseg_example"
BENCHMARKS = REPO / "BENCHMARKS.md"
#: Structures compared: name -> ivcplan labels (the union is compared).
STRUCTURES: dict[str, tuple[int, ...]] = {
    "ivc": tuple(int(v) for v in IVC_LABELS), "ivc_tumor": (int(Label.IVC_TUMOR),), "aorta": (int(Label.AORTA),),
    "liver": (int(Label.LIVER),), "kidney_right": (int(Label.KIDNEY_RIGHT),),
    "kidney_left": (int(Label.KIDNEY_LEFT),),
    "renal_veins": (int(Label.RENAL_VEIN_RIGHT), int(Label.RENAL_VEIN_LEFT)),
    "hepatic_veins": (int(Label.HEPATIC_VEIN_RIGHT), int(Label.HEPATIC_VEIN_MIDDLE), int(Label.HEPATIC_VEIN_LEFT)),
}
#: Issue 4 targets (Dice) per case kind and structure.
TARGETS = {
    "phantom": {"ivc": 0.90, "ivc_tumor": 0.85, "liver": 0.90, "kidney_right": 0.90, "kidney_left": 0.90},
    "contrast_dicom": {"ivc": 0.80, "liver": 0.90, "aorta": 0.85},
    "noncontrast_nifti": {"ivc": 0.70, "liver": 0.85, "kidney_right": 0.80, "kidney_left": 0.80, "aorta": 0.80},
}


def _segment(volume: Volume, organs_only: bool) -> tuple[np.ndarray, str]:
    if not organs_only:
        from ivcplan.anatomy import segment

        seg = segment(volume)
        return np.asarray(seg.labelmap.array), seg.phase
    from ivcplan.anatomy.organs import segment_organs

    org = segment_organs(volume)
    out = np.zeros(volume.shape, np.uint8)
    out[org.liver.mask] = Label.LIVER
    out[org.kidneys["right"].mask] = Label.KIDNEY_RIGHT
    out[org.kidneys["left"].mask] = Label.KIDNEY_LEFT
    return out, "n/a"


def _compare(pred: np.ndarray, ref: np.ndarray, spacing: np.ndarray, region: np.ndarray | None,
             structures: dict[str, tuple[int, ...]]) -> dict[str, dict[str, float]]:
    out = {}
    for name, labels in structures.items():
        ref_mask = np.isin(ref, labels)
        if not ref_mask.any():
            continue  # not in the reference: nothing to score
        pred_mask = np.isin(pred, labels)
        if region is not None:
            pred_mask &= region
            ref_mask &= region
        out[name] = {"dice": round(dice(pred_mask, ref_mask), 4),
                     "hd95_mm": round(hausdorff95(pred_mask, ref_mask, spacing), 2)}
    return out


def _totalseg_reference(path: Path, volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """TotalSegmentator ids mapped to ivcplan labels on the volume grid, and its coverage mask."""
    import nibabel

    from ivcplan.io.labels import load_labels

    imported = load_labels(path, volume, kind="totalseg_v2")
    src = Volume.from_nifti(nibabel.load(str(path)))
    cover = Labelmap(np.ones(src.shape, np.uint8), src.grid).resample_to(volume.grid).array > 0
    return np.asarray(imported.labelmap.array), cover


def _load_dicom(path: Path) -> Volume:
    try:
        from ivcplan.io import load

        return load(path)
    except ImportError:
        import SimpleITK as sitk

        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(path)))
        return Volume.from_sitk(reader.Execute())


def real_cases(organs_only: bool) -> list[dict]:
    import nibabel

    results = []
    cases = [
        ("example_ct.nii.gz (non-contrast)", "noncontrast_nifti",
         lambda: Volume.from_nifti(nibabel.load(str(SHARED / "example_ct.nii.gz"))), "example_seg_top30.nii.gz"),
        ("example_ct_dicom (contrast)", "contrast_dicom",
         lambda: _load_dicom(SHARED / "example_ct_dicom"), "example_seg_dicom.nii.gz"),
    ]
    for name, kind, loader, ref_name in cases:
        volume = loader()
        ref, cover = _totalseg_reference(SHARED / ref_name, volume)
        t0 = time.perf_counter()
        pred, phase = _segment(volume, organs_only)
        seconds = time.perf_counter() - t0
        results.append({"case": name, "kind": kind, "phase": phase, "seconds": round(seconds, 2),
                        "metrics": _compare(pred, ref, volume.spacing, cover, STRUCTURES)})
    return results


def phantom_cases(n_variants: int, organs_only: bool) -> tuple[list[dict], str]:
    import nibabel

    results = []
    for truth_path in sorted((REPO / "sample_dicom").glob("*/truth.nii.gz")):
        volume = _load_dicom(truth_path.parent)
        truth = Labelmap(np.asarray(Volume.from_nifti(nibabel.load(str(truth_path))).array).astype(np.int16),
                         Volume.from_nifti(nibabel.load(str(truth_path))).grid).resample_to(volume.grid).array
        pred, phase = _segment(volume, organs_only)
        results.append({"case": f"sample {truth_path.parent.name}", "kind": "phantom", "phase": phase,
                        "metrics": _compare(pred, truth, volume.spacing, None, STRUCTURES)})
    from ivcplan.phantom.config import PhantomConfig, ThrombusSpec, TumorSpec
    from ivcplan.phantom.generate import generate

    rng = np.random.default_rng(2026)
    for i in range(n_variants):
        # Different tumors (size, extent, direction), a bland thrombus or none, noise, spacing, position.
        lesion: dict = {}
        if i % 4 != 3:
            lower = float(rng.uniform(-70, -20))
            upper = lower + float(rng.uniform(50, 110))
            lesion["tumor"] = TumorSpec(lower=f"renal_veins{lower:+.0f}", upper=f"renal_veins{upper:+.0f}",
                                        transverse_mm=float(rng.uniform(35, 65)), ap_mm=float(rng.uniform(30, 50)),
                                        direction_deg=float(rng.uniform(0, 360)))
        elif i % 8 == 3:
            lesion["thrombus"] = ThrombusSpec()
        config = PhantomConfig(seed=int(rng.integers(1 << 30)), noise_hu=float(rng.uniform(6, 20)),
                               pixel_mm=float(rng.choice([1.2, 1.5, 2.0])),
                               slice_spacing_mm=float(rng.choice([2.0, 3.0, 5.0])), name=f"variant{i}",
                               patient_position="FFS" if i % 5 == 4 else "HFS", **lesion)
        case = generate(config)
        pred, phase = _segment(case.volume, organs_only)
        desc = ", ".join(f"{k} {v}" for k, v in (("noise", f"{config.noise_hu:.0f} HU"),
                                                    ("voxel", f"{config.pixel_mm}x{config.slice_spacing_mm} mm"),
                                                    ("lesion", next(iter(lesion), "none")),
                                                    ("position", config.patient_position)))
        results.append({"case": f"variant {i} ({desc})", "kind": "phantom", "phase": phase,
                        "metrics": _compare(pred, np.asarray(case.truth.array), case.volume.spacing, None,
                                            STRUCTURES)})
    return results, ""


def markdown(results: list[dict], note: str) -> str:
    lines = ["| case | phase | structure | Dice | HD95 (mm) | target | met |", "|---|---|---|---|---|---|---|"]
    for r in results:
        for name, m in r["metrics"].items():
            target = TARGETS.get(r["kind"], {}).get(name)
            met = "" if target is None else ("yes" if m["dice"] >= target else "**no**")
            lines.append(f"| {r['case']} | {r['phase']} | {name} | {m['dice']:.3f} | {m['hd95_mm']:.1f} | "
                         f"{'' if target is None else f'{target:.2f}'} | {met} |")
    if note:
        lines.append(f"\n{note}")
    return "\n".join(lines)


def summary(results: list[dict]) -> str:
    """One line per case kind and structure: mean and minimum Dice, and how many cases meet the target."""
    rows: dict[tuple[str, str], list[float]] = {}
    for r in results:
        for name, m in r["metrics"].items():
            rows.setdefault((r["kind"], name), []).append(m["dice"])
    lines = ["| kind | structure | cases | mean Dice | min Dice | target | cases meeting it |",
             "|---|---|---|---|---|---|---|"]
    for (kind, name), values in rows.items():
        target = TARGETS.get(kind, {}).get(name)
        met = "" if target is None else f"{sum(v >= target for v in values)}/{len(values)}"
        lines.append(f"| {kind} | {name} | {len(values)} | {np.mean(values):.3f} | {min(values):.3f} | "
                     f"{'' if target is None else f'{target:.2f}'} | {met} |")
    return "\n".join(lines)


def write_benchmarks(table: str) -> None:
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# ivcplan benchmarks and accuracy\n"
    today = datetime.date.today().isoformat()
    section = (f"## accuracy\n\nMeasured by `scripts/evaluate.py` on {today} (2 cores). Dice and 95 % "
               f"Hausdorff distance per structure; real CT against TotalSegmentator v2 masks, compared in "
               f"physical space on the reference's slices.\n\n{table}\n")
    pattern = re.compile(r"^## accuracy\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    BENCHMARKS.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=REPO / "out" / "evaluate.json")
    parser.add_argument("--write-benchmarks", action="store_true")
    parser.add_argument("--variants", type=int, default=10)
    parser.add_argument("--organs-only", action="store_true")
    parser.add_argument("--from-json", type=Path, help="re-render the table of an earlier run (no segmentation)")
    args = parser.parse_args(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        results, note = saved["results"], saved.get("note", "")
    else:
        results = real_cases(args.organs_only)
        phantoms, note = phantom_cases(args.variants, args.organs_only)
        results = phantoms + results
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"date": datetime.date.today().isoformat(), "results": results,
                                         "note": note}, indent=2))
    table = summary(results) + "\n\nPer case:\n\n" + markdown(results, note)
    print(table)
    if args.write_benchmarks:
        write_benchmarks(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
