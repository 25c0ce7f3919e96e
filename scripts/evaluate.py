"""Segmentation accuracy: Dice and 95 % Hausdorff distance per structure against reference masks.

References: (1) phantom truth (``sample_dicom/*/truth.nii.gz`` and generated variants through
``ivcplan.phantom``), (2) TotalSegmentator masks in ``../shared/data/totalseg_example/``: the
non-contrast ``example_ct.nii.gz`` on the 30 slices ``example_seg_top30.nii.gz`` covers, and the
contrast DICOM series against ``example_seg_dicom.nii.gz`` (both aligned in physical space),
(3) the expert masks of 3D-IRCADb patient 17 (``../shared/data/ircadb_17``, portal-venous CT): the
union of our venous labels against ``venoussystem``, the aorta against ``artery`` (Dice, and the
share of our aorta inside it), liver, portal vein; and from the whole pipeline the kidneys' volumes,
the renal vein ostia, the iliac confluence (not in view there) and the tumor (none).

    python scripts/evaluate.py [--json out.json] [--write-benchmarks] [--variants 10] [--organs-only]
                               [--real-only] [--overlays DIR]
    python scripts/evaluate.py --random [N] [--seeds A-B] [--jobs 2] [--write-benchmarks]

Overlays (axial and coronal: our labels filled, the reference's outlines) of each real case are
written to ``--overlays`` (default ``out/overlays``).

Uses ``ivcplan.anatomy.segment`` (the orchestrator); ``--organs-only`` evaluates
``ivcplan.anatomy.organs`` alone (faster, organs only).

``--random N`` (default 60) is issue 18's benchmark on randomized phantoms (scripts/evaluate_random.py):
the first N seeds of the TEST range 100000-100059, which no method may be tuned on, or of ``--seeds``
(develop on the TUNE range 0-199, e.g. ``--seeds 0-39``). ``--matrix`` / ``--slice-mm`` coarsen the
drawn imaging for quick checks only (never for figures in BENCHMARKS.md).
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
IRCADB = REPO.parent / "shared" / "data" / "ircadb_17"
sys.path.insert(0, str(REPO / "tests" / "anatomy"))  # realdata: the references, read as the tests read them
BENCHMARKS = REPO / "BENCHMARKS.md"
#: Structures compared: name -> ivcplan labels (the union is compared).
STRUCTURES: dict[str, tuple[int, ...]] = {
    "ivc": tuple(int(v) for v in IVC_LABELS), "ivc_tumor": (int(Label.IVC_TUMOR),), "aorta": (int(Label.AORTA),),
    "liver": (int(Label.LIVER),), "kidney_right": (int(Label.KIDNEY_RIGHT),),
    "kidney_left": (int(Label.KIDNEY_LEFT),),
    "renal_veins": (int(Label.RENAL_VEIN_RIGHT), int(Label.RENAL_VEIN_LEFT)),
    "hepatic_veins": (int(Label.HEPATIC_VEIN_RIGHT), int(Label.HEPATIC_VEIN_MIDDLE), int(Label.HEPATIC_VEIN_LEFT)),
    "right_atrium": (int(Label.RIGHT_ATRIUM),),
}
#: Issue 4 targets (Dice) per case kind and structure.
TARGETS = {
    "phantom": {"ivc": 0.90, "ivc_tumor": 0.85, "liver": 0.90, "kidney_right": 0.90, "kidney_left": 0.90},
    "contrast_dicom": {"ivc": 0.80, "liver": 0.90, "aorta": 0.85},
    "noncontrast_nifti": {"ivc": 0.80, "liver": 0.88, "kidney_right": 0.80, "kidney_left": 0.80, "aorta": 0.80},
    # Issue 17 (real portal-venous CT, expert masks): "aorta_in_artery" is the share of our aorta
    # inside the expert artery mask, not a Dice.
    "ircadb": {"venous": 0.75, "liver": 0.92, "aorta_in_artery": 0.95},
}
#: Issue 17: each kidney's volume (ml) on a real scan with both in view (no reference mask).
MIN_KIDNEY_ML = 60.0


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


def _load_dicom(path: Path) -> Volume:
    try:
        from ivcplan.io import load

        return load(path)
    except ImportError:
        import SimpleITK as sitk

        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(path)))
        return Volume.from_sitk(reader.Execute())


def real_cases(organs_only: bool, overlays: Path | None) -> list[dict]:
    import nibabel
    from realdata import totalseg_reference

    results = []
    cases = [
        ("example_ct.nii.gz (non-contrast)", "noncontrast_nifti",
         lambda: Volume.from_nifti(nibabel.load(str(SHARED / "example_ct.nii.gz"))), "example_seg_top30.nii.gz"),
        ("example_ct_dicom (contrast)", "contrast_dicom",
         lambda: _load_dicom(SHARED / "example_ct_dicom"), "example_seg_dicom.nii.gz"),
    ]
    for name, kind, loader, ref_name in cases:
        volume = loader()
        ref, cover = totalseg_reference(SHARED / ref_name, volume)
        t0 = time.perf_counter()
        pred, phase = _segment(volume, organs_only)
        seconds = time.perf_counter() - t0
        results.append({"case": name, "kind": kind, "phase": phase, "seconds": round(seconds, 2),
                        "metrics": _compare(pred, ref, volume.spacing, cover, STRUCTURES)})
        if overlays is not None:
            refs = {key: (ref == lab) & cover for key, lab in (("ivc", Label.IVC_LUMEN), ("aorta", Label.AORTA),
                                                              ("liver", Label.LIVER),
                                                              ("kidney_right", Label.KIDNEY_RIGHT),
                                                              ("kidney_left", Label.KIDNEY_LEFT))}
            save_overlays(overlays / kind, volume, pred, refs, focus=refs["ivc"])
    if not organs_only:
        results.append(ircadb_case(overlays))
    return results


def ircadb_case(overlays: Path | None) -> dict:
    """3D-IRCADb patient 17 through the whole pipeline against its expert masks (issue 17's targets)."""
    from realdata import ircadb_reference

    from ivcplan import pipeline
    from ivcplan.io import load

    volume = load(IRCADB / "PATIENT_DICOM")
    ref = ircadb_reference(IRCADB, volume)
    t0 = time.perf_counter()
    analysis = pipeline.run(volume)
    seconds = time.perf_counter() - t0
    pred = np.asarray(analysis.segmentation.labelmap.array)
    metrics, facts = score_ircadb(analysis.report, pred, ref, volume.spacing, list(analysis.warnings))
    if overlays is not None:
        ours = pred.copy()
        refs = {"venous": ref["venoussystem"], "aorta": ref["artery"], "liver": ref["liver"],
                "portal_vein": ref["portalvein"]}
        save_overlays(overlays / "ircadb", volume, ours, refs, focus=ref["venoussystem"])
    return {"case": "ircadb_17 (portal venous)", "kind": "ircadb", "phase": analysis.segmentation.phase,
            "seconds": round(seconds, 2), "metrics": metrics, "facts": facts}


def score_ircadb(report: dict, pred: np.ndarray, ref: dict[str, np.ndarray], spacing: np.ndarray,
                 warnings: list[str] | None = None) -> tuple[dict, dict]:
    """Metrics (Dice, HD95 per structure; aorta voxels inside the expert artery mask) and facts (kidney
    volumes, renal ostia, tumor, landmarks outside the scan) of an analysis of 3D-IRCADb patient 17, or of
    a copy of it made another way (``evaluate_perturbed``), against its expert masks on the same grid."""
    from realdata import VENOUS_LABELS

    pairs = {"venous": (np.isin(pred, VENOUS_LABELS), ref["venoussystem"]),
             "aorta": (pred == Label.AORTA, ref["artery"]), "liver": (pred == Label.LIVER, ref["liver"]),
             "portal_vein": (pred == Label.PORTAL_VEIN, ref["portalvein"])}
    metrics = {name: {"dice": round(dice(a, b), 4), "hd95_mm": round(hausdorff95(a, b, spacing), 2)}
               for name, (a, b) in pairs.items()}
    aorta = pred == Label.AORTA
    inside = float(np.count_nonzero(aorta & ref["artery"])) / max(int(np.count_nonzero(aorta)), 1)
    metrics["aorta_in_artery"] = {"dice": round(inside, 4), "hd95_mm": float("nan")}
    voxel_ml = float(np.prod(spacing)) / 1000.0
    facts = {"kidney_right_ml": round(float(np.count_nonzero(pred == Label.KIDNEY_RIGHT)) * voxel_ml, 1),
             "kidney_left_ml": round(float(np.count_nonzero(pred == Label.KIDNEY_LEFT)) * voxel_ml, 1),
             "tumor_reported": bool(report["tumor"]["present"]),
             "warnings": list(warnings or [])}
    for key in ("renal_vein_right", "renal_vein_left", "iliac_confluence", "cavoatrial_junction", "hepatic_veins"):
        facts[key] = report["landmarks"][key]["position_mm"]
    facts["met"] = {"kidneys": min(facts["kidney_right_ml"], facts["kidney_left_ml"]) >= MIN_KIDNEY_ML,
                    "renal_ostia": facts["renal_vein_right"] is not None and facts["renal_vein_left"] is not None,
                    "no_tumor": not facts["tumor_reported"],
                    "no_iliac_confluence": facts["iliac_confluence"] is None}
    return metrics, facts


#: Overlay outline colours of the reference structures (matplotlib names).
REF_COLOURS = {"ivc": "yellow", "venous": "yellow", "aorta": "orange", "liver": "lime", "portal_vein": "magenta",
               "kidney_right": "cyan", "kidney_left": "deepskyblue"}
#: CT window of the overlays (HU).
OVERLAY_WINDOW_HU = (-160.0, 240.0)


def save_overlays(folder: Path, volume: Volume, pred: np.ndarray, refs: dict[str, np.ndarray],
                  focus: np.ndarray, levels: list[int] | None = None, coronal: int | None = None) -> list[Path]:
    """Axial slices (4 levels over ``focus``'s extent, else the volume's) and a coronal plane through
    ``focus``'s centre: CT, our labels filled (label colours), the references' outlines. Shown in
    radiological convention (the patient's right on the left, anterior up, cranial up)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ivcplan.labels import COLORS

    folder.mkdir(parents=True, exist_ok=True)
    turn = volume.grid.reorientation("SPL")
    ct = turn.apply(volume.array)
    ours = turn.apply(pred)
    ref_c = {k: turn.apply(v) for k, v in refs.items()}
    foc = turn.apply(focus)
    zs = np.nonzero(foc.any(axis=(1, 2)))[0]
    lo, hi = (int(zs.min()), int(zs.max())) if zs.size else (0, ct.shape[0] - 1)
    if levels is None:
        levels = np.linspace(lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo), 4).round().astype(int).tolist()
    lut = np.zeros((256, 4))
    for lab, rgb in COLORS.items():
        if lab in (Label.BACKGROUND, Label.BODY, Label.SPINE):
            continue
        lut[int(lab)] = (*(c / 255 for c in rgb), 0.45)
    sp = turn.grid.spacing
    if coronal is not None:
        cy = coronal
    elif zs.size:
        cy = int(np.round(np.nonzero(foc)[1].mean()))
    else:
        cy = ct.shape[1] // 2
    # Cropped to the body (soft tissue) so that the anatomy fills the picture.
    body = ct > -400
    ys, xs = np.nonzero(body.any(axis=0)) if body.any() else (np.arange(ct.shape[1]), np.arange(ct.shape[2]))
    yc, xc = slice(int(ys.min()), int(ys.max()) + 1), slice(int(xs.min()), int(xs.max()) + 1)
    panels = [("axial", z, ct[z, yc, xc], ours[z, yc, xc], {k: v[z, yc, xc] for k, v in ref_c.items()},
               sp[1] / sp[2]) for z in levels]
    panels.append(("coronal", cy, ct[::-1, cy, xc], ours[::-1, cy, xc],
                   {k: v[::-1, cy, xc] for k, v in ref_c.items()}, sp[0] / sp[2]))
    paths = []
    for kind, index, img, lab, outline, aspect in panels:
        fig, ax = plt.subplots(figsize=(8, 8 * min(aspect * img.shape[0] / img.shape[1], 1.6)), dpi=100)
        ax.imshow(img, cmap="gray", vmin=OVERLAY_WINDOW_HU[0], vmax=OVERLAY_WINDOW_HU[1], aspect=aspect,
                  interpolation="nearest")
        ax.imshow(lut[np.clip(lab, 0, 255).astype(np.uint8)], aspect=aspect, interpolation="nearest")
        for key, m in outline.items():
            if m.any():
                ax.contour(m.astype(float), levels=[0.5], colors=REF_COLOURS.get(key, "white"), linewidths=0.8)
        ax.set_title(f"{folder.name} {kind} {index} (fill: ours; lines: reference "
                     + ", ".join(f"{k}={REF_COLOURS.get(k, 'white')}" for k in outline) + ")", fontsize=6)
        ax.axis("off")
        path = folder / f"{kind}_{index:03d}.png"
        fig.savefig(path, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    return paths


def _variant_configs(n_variants: int) -> list:
    from ivcplan.phantom.config import PhantomConfig, ThrombusSpec, TumorSpec

    rng = np.random.default_rng(2026)
    configs = []
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
        desc = ", ".join(f"{k} {v}" for k, v in (("noise", f"{config.noise_hu:.0f} HU"),
                                                    ("voxel", f"{config.pixel_mm}x{config.slice_spacing_mm} mm"),
                                                    ("lesion", next(iter(lesion), "none")),
                                                    ("position", config.patient_position)))
        configs.append((f"variant {i} ({desc})", config))
    return configs


def _phantom_case(spec: tuple) -> dict:
    """One phantom: (name, sample folder or PhantomConfig, organs_only) -> Dice per structure and, from the
    whole pipeline, the end-to-end errors against the truth JSON."""
    import nibabel

    name, source, organs_only = spec
    if isinstance(source, Path):
        volume = _load_dicom(source)
        img = Volume.from_nifti(nibabel.load(str(source / "truth.nii.gz")))
        truth = Labelmap(np.asarray(img.array).astype(np.int16), img.grid).resample_to(volume.grid).array
        info = json.loads((source / "truth.json").read_text())
    else:
        from ivcplan.phantom.generate import generate

        case = generate(source)
        volume, truth, info = case.volume, np.asarray(case.truth.array), case.truth_info
    t0 = time.perf_counter()
    end_to_end = None
    if organs_only:
        pred, phase = _segment(volume, organs_only)
    else:
        from ivcplan import pipeline

        analysis = pipeline.run(volume)
        pred, phase = np.asarray(analysis.segmentation.labelmap.array), analysis.segmentation.phase
        end_to_end = _end_to_end(analysis.report, info)
    return {"case": name, "kind": "phantom", "phase": phase, "seconds": round(time.perf_counter() - t0, 2),
            "metrics": _compare(pred, truth, volume.spacing, None, STRUCTURES), "end_to_end": end_to_end}


#: Issue 5's tolerances for the end-to-end comparison (automatic segmentation -> report vs truth).
E2E_TOLERANCES = {"volume_pct": 5.0, "diameter_mm": 3.0, "pole_mm": 3.0, "landmark_z_mm": 10.0}


def _end_to_end(report: dict, info: dict) -> dict:
    """The report's clinical facts against the phantom's truth: errors in mm / %, and exact matches."""
    facts, expected = info["facts"], info.get("expected_plan") or {}
    out: dict = {}
    for key in ("iliac_confluence", "renal_veins", "hepatic_veins", "cavoatrial_junction"):
        ours, ref = report["landmarks"][key]["position_mm"], facts["landmarks"][key]["position_mm"]
        out[f"dz_{key}"] = None if ours is None or ref is None else round(ours[2] - ref[2], 1)
        if (ours is None) != (ref is None):
            out[f"dz_{key}"] = "missing" if ours is None else "invented"
    tumor, ref_t = report["tumor"], facts["tumor"]
    out["tumor_present"] = tumor["present"] == ref_t["present"]
    if tumor["present"] and ref_t["present"]:
        out["volume_pct"] = round(100 * (tumor["volume_ml"] - ref_t["volume_ml"]) / ref_t["volume_ml"], 1)
        out["max_diameter_mm"] = round(tumor["max_diameter_mm"] - ref_t["max_diameter_mm"], 1)
        for pole in ("upper_pole_mm", "lower_pole_mm"):
            out[pole] = round(float(np.linalg.norm(np.subtract(tumor[pole], ref_t[pole]))), 1)
        out["segments"] = tumor["segments"] == ref_t["segments"]
        out["hepatic_veins_invaded"] = sorted(tumor["hepatic_veins_invaded"]) == sorted(ref_t["hepatic_veins_invaded"])
        out["intracardiac"] = tumor["intracardiac"] == ref_t["intracardiac"]
    plan = report["plan"]
    out["plan_approach"] = plan["approach"] == (expected.get("approach") or "none")
    out["plan_all"] = out["plan_approach"] and all(
        plan.get(k) == expected.get(k) for k in ("vascular_control", "ivc_reconstruction", "renal_vein_handling",
                                                 "liver_resection") if expected)
    return out


def phantom_cases(n_variants: int, organs_only: bool, jobs: int = 1) -> tuple[list[dict], str]:
    specs = [(f"sample {p.parent.name}", p.parent, organs_only)
             for p in sorted((REPO / "sample_dicom").glob("*/truth.nii.gz"))]
    specs += [(name, config, organs_only) for name, config in _variant_configs(n_variants)]
    if jobs <= 1:
        return [_phantom_case(s) for s in specs], ""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(_phantom_case, specs)), ""


def end_to_end_table(results: list[dict]) -> str:
    """Per phantom: the automatic pipeline's facts against the truth (issue 5's tolerances)."""
    rows = [r for r in results if r.get("end_to_end")]
    if not rows:
        return ""
    cols = ["dz_iliac_confluence", "dz_renal_veins", "dz_hepatic_veins", "dz_cavoatrial_junction", "tumor_present",
            "volume_pct", "max_diameter_mm", "upper_pole_mm", "lower_pole_mm", "segments", "hepatic_veins_invaded",
            "intracardiac", "plan_approach", "plan_all"]
    heads = ["iliac dz", "renal dz", "hepatic dz", "junction dz", "tumor found", "volume %", "Feret mm",
             "upper pole mm", "lower pole mm", "segments", "invaded HV", "intracardiac", "approach", "whole plan"]
    lines = ["| case | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]

    def cell(key: str, v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "yes" if v else "**no**"
        if isinstance(v, str):
            return f"**{v}**"
        limit = {"volume_pct": E2E_TOLERANCES["volume_pct"], "max_diameter_mm": E2E_TOLERANCES["diameter_mm"],
                 "upper_pole_mm": E2E_TOLERANCES["pole_mm"], "lower_pole_mm": E2E_TOLERANCES["pole_mm"]}.get(
            key, E2E_TOLERANCES["landmark_z_mm"])
        return f"{v}" if abs(float(v)) <= limit else f"**{v}**"

    for r in rows:
        e = r["end_to_end"]
        lines.append(f"| {r['case'].split(' (')[0]} | " + " | ".join(cell(k, e.get(k)) for k in cols) + " |")
    shown = {k: [cell(k, r["end_to_end"].get(k)) for r in rows if r["end_to_end"].get(k) is not None] for k in cols}
    ok = {k: sum("**" not in c for c in shown[k]) for k in cols}  # bold marks a miss
    n = {k: len(shown[k]) for k in cols}
    lines.append("| within tolerance | " + " | ".join(f"{ok[k]}/{n[k]}" for k in cols) + " |")
    return "\n".join(lines)


def real_facts(results: list[dict]) -> str:
    """The checks on real scans that are not overlaps (issue 17): kidney volumes, ostia, tumor, iliac."""
    rows = [r for r in results if r.get("facts")]
    if not rows:
        return ""
    lines = ["| case | kidney right ml | kidney left ml | right renal ostium | left renal ostium | tumor reported | "
             "iliac confluence | cavoatrial junction | hepatic veins (II/III) |", "|---" * 9 + "|"]

    def where(v: object) -> str:
        return "not in view / not found" if v is None else "z " + f"{v[2]:.0f} mm"

    for r in rows:
        f = r["facts"]
        cells = [f["kidney_right_ml"], f["kidney_left_ml"], where(f["renal_vein_right"]), where(f["renal_vein_left"]),
                 "**yes**" if f["tumor_reported"] else "no", where(f["iliac_confluence"]),
                 where(f["cavoatrial_junction"]), where(f["hepatic_veins"])]
        lines.append(f"| {r['case']} | " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


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
               f"physical space on the reference's slices.\n\n{table}\n\n")
    pattern = re.compile(r"^## accuracy\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    BENCHMARKS.write_text(text)


def _plain(value: object) -> object:
    """JSON for numpy values in the facts."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=REPO / "out" / "evaluate.json")
    parser.add_argument("--write-benchmarks", action="store_true")
    parser.add_argument("--variants", type=int, default=10)
    parser.add_argument("--organs-only", action="store_true")
    parser.add_argument("--jobs", type=int, default=1, help="phantom cases analysed in parallel processes")
    parser.add_argument("--phantoms-only", action="store_true", help="skip the real CT")
    parser.add_argument("--real-only", action="store_true", help="only the real CT (no phantoms)")
    parser.add_argument("--overlays", type=Path, default=REPO / "out" / "overlays",
                        help="folder for the real cases' overlay PNGs")
    parser.add_argument("--from-json", type=Path, help="re-render the table of an earlier run (no segmentation)")
    parser.add_argument("--random", type=int, nargs="?", const=60, default=None, metavar="N",
                        help="randomized-phantom benchmark on N seeds (default 60) of the test range or --seeds")
    parser.add_argument("--seeds", help="seeds for --random: A-B or a comma-separated list (default: the test range)")
    parser.add_argument("--matrix", type=int, help="--random: override the drawn matrix (quick checks only)")
    parser.add_argument("--slice-mm", type=float, help="--random: override the drawn slice spacing (quick checks only)")
    parser.add_argument("--cache", type=Path, help="--random: folder keeping the generated cases for later runs "
                        "(reused while the generator's code is unchanged)")
    parser.add_argument("--perturbed", action="store_true",
                        help="ircadb_17 made thicker, cropped and noisier (scripts/evaluate_perturbed.py)")
    args = parser.parse_args(argv)
    if args.random is not None or args.seeds:
        return random_main(args)
    if args.perturbed:
        return perturbed_main(args)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        results, note = saved["results"], saved.get("note", "")
    else:
        results = [] if args.phantoms_only else real_cases(args.organs_only, args.overlays)
        phantoms, note = ([], "") if args.real_only else phantom_cases(args.variants, args.organs_only, args.jobs)
        results = phantoms + results
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"date": datetime.date.today().isoformat(), "results": results,
                                         "note": note}, indent=2, default=_plain))
    e2e = end_to_end_table(results)
    table = summary(results) + "\n\nPer case:\n\n" + markdown(results, note)
    facts = real_facts(results)
    if facts:
        table += "\n\nReal scans, checks without a reference mask (issue 17):\n\n" + facts
    if e2e:
        table += ("\n\nEnd to end (automatic segmentation -> report, against the truth JSON; landmark dz in mm "
                  "along z, poles as 3D distance; bold: outside issue 5's tolerance or wrong):\n\n" + e2e)
    print(table)
    if args.write_benchmarks:
        write_benchmarks(table)
    return 0


def perturbed_main(args: argparse.Namespace) -> int:
    """``--perturbed``: the real case under other slice thickness, field of view and noise."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import evaluate_perturbed as ep

    if args.from_json:
        rows = json.loads(args.from_json.read_text())["rows"]
    else:
        rows = ep.run(IRCADB)
        default = args.json == REPO / "out" / "evaluate.json"
        json_path = REPO / "out" / "evaluate_perturbed.json" if default else args.json
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"date": datetime.date.today().isoformat(), "rows": rows}, indent=1))
    print(ep.table(rows))
    return 0


def random_main(args: argparse.Namespace) -> int:
    """``--random``: issue 18's benchmark on randomized phantoms (see scripts/evaluate_random.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import evaluate_random as er

    from ivcplan.phantom.random_params import TEST_SEEDS

    n = 60 if args.random is None else args.random
    seeds = er.parse_seeds(args.seeds) if args.seeds else list(TEST_SEEDS)
    if n < 1:
        raise SystemExit(f"--random needs at least one case, got {n}")
    seeds = seeds[:n]
    seeds_text = f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else \
        ",".join(map(str, seeds))
    json_path = args.json if args.json != REPO / "out" / "evaluate.json" else REPO / "out" / "evaluate_random.json"
    overrides = {k: v for k, v in (("matrix", args.matrix), ("slice_mm", args.slice_mm)) if v is not None}
    jobs, commit, note = max(1, args.jobs), er.code_version(), ""
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        rows, seeds_text, minutes = saved["rows"], saved["seeds"], saved.get("minutes", 0.0)
        jobs, commit, note = saved.get("jobs", jobs), saved.get("commit", "unknown"), saved.get("note", "")
    else:
        start = time.perf_counter()

        def progress(row: dict) -> None:
            state = row.get("error") or (f"{row.get('generate_s', 0):.0f}{' (cached)' if row.get('cached') else ''}"
                                         f"+{row.get('analyse_s', 0):.0f} s")
            print(f"seed {row['seed']}: {state}", file=sys.stderr, flush=True)

        rows = er.run_all(seeds, max(1, args.jobs), overrides, progress, args.cache)
        minutes = (time.perf_counter() - start) / 60.0
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"date": datetime.date.today().isoformat(), "seeds": seeds_text,
                                         "overrides": overrides, "minutes": round(minutes, 1), "jobs": jobs,
                                         "commit": commit, "rows": rows}, indent=1, default=str))
    table = er.tables(rows, seeds_text)
    print(table)
    if args.write_benchmarks:
        if overrides:
            raise SystemExit("--write-benchmarks: figures made with --matrix/--slice-mm overrides "
                             "do not go to BENCHMARKS.md")
        er.write_benchmarks(BENCHMARKS, table, seeds_text, jobs, minutes, commit, note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
