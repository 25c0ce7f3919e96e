"""Real anatomy under other imaging: 3D-IRCADb patient 17 made thicker, cropped and noisier
(``scripts/evaluate.py --perturbed``).

The held-out real scans differ from ircadb_17 in slice thickness, field of view and noise, not only in
anatomy. Each variant below is made from the same scan and its expert masks, the same way for both, so
the expert masks stay the reference; the pipeline runs on each as on a new patient. A method fitted to
the one scan shows here: its figures fall on the variants.

Variants (issue 17: "real scans differ ... partial fields of view, ... noise"):
- ``thick2`` / ``thick3``: 2 and 3 adjacent slices averaged (3.2 and 4.8 mm slices), masks by majority;
- ``crop_low25``: the lowest quarter of the slices removed (a view starting at the kidneys);
- ``crop_high20``: the highest fifth removed (the liver dome and the hepatic vein confluence cut);
- ``noise15``: Gaussian noise of 15 HU SD added (a low-dose scan; fixed seed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: Noise (HU, SD) of the low-dose variant, and its generator's seed (the same noise on every run).
NOISE_HU = 15.0
NOISE_SEED = 17
VARIANTS = ("thick2", "thick3", "crop_low25", "crop_high20", "noise15")


def _thick(volume: Any, refs: dict[str, np.ndarray], k: int) -> tuple[Any, dict[str, np.ndarray]]:
    from ivcplan.volume import Grid, Volume

    n = volume.shape[0] // k * k
    arr = volume.array[:n].astype(np.float32).reshape(-1, k, *volume.shape[1:]).mean(axis=1)
    affine = volume.affine.copy()
    affine[:3, 0] *= k  # index axis 0 is the slice axis
    affine[:3, 3] = volume.grid.index_to_lps([[(k - 1) / 2.0, 0.0, 0.0]])[0]
    meta = {key: v for key, v in volume.meta.items() if key != "source_files"}
    thick = Volume(np.round(arr).astype(np.int16), Grid.from_affine(arr.shape, affine), meta)
    masks = {key: m[:n].reshape(-1, k, *volume.shape[1:]).mean(axis=1) >= 0.5 for key, m in refs.items()}
    return thick, masks


def _crop(volume: Any, refs: dict[str, np.ndarray], drop: float, low: bool) -> tuple[Any, dict[str, np.ndarray]]:
    n = volume.shape[0]
    step = volume.grid.index_to_lps([[1, 0, 0]])[0][2] - volume.grid.index_to_lps([[0, 0, 0]])[0][2]
    cut = round(drop * n)
    # Slice 0 is the lowest when z (LPS superior) grows with the index.
    from_start = low == (step > 0)
    lo, hi = (cut, n) if from_start else (0, n - cut)
    return volume.crop([lo, 0, 0], [hi, *volume.shape[1:]]), {key: m[lo:hi] for key, m in refs.items()}


def _noisy(volume: Any, refs: dict[str, np.ndarray]) -> tuple[Any, dict[str, np.ndarray]]:
    rng = np.random.default_rng(NOISE_SEED)
    noisy = volume.array.astype(np.float32) + rng.normal(0.0, NOISE_HU, volume.shape)
    return volume.with_array(np.round(noisy).astype(np.int16)), refs


MAKERS: dict[str, Callable[[Any, dict[str, np.ndarray]], tuple[Any, dict[str, np.ndarray]]]] = {
    "thick2": lambda v, r: _thick(v, r, 2),
    "thick3": lambda v, r: _thick(v, r, 3),
    "crop_low25": lambda v, r: _crop(v, r, 0.25, low=True),
    "crop_high20": lambda v, r: _crop(v, r, 0.20, low=False),
    "noise15": _noisy,
}


def run(case_dir: Path, names: tuple[str, ...] = VARIANTS) -> list[dict[str, Any]]:
    """One row per variant (the unperturbed scan first), scored as ircadb_17 itself
    (``evaluate.score_ircadb``), plus the share of our IVC lumen inside the expert venous mask and the
    hepatic veins labelled."""
    from evaluate import score_ircadb
    from realdata import ircadb_reference

    from ivcplan import pipeline
    from ivcplan.io import load
    from ivcplan.labels import HEPATIC_VEIN_LABELS, Label

    volume = load(case_dir / "PATIENT_DICOM")
    refs = ircadb_reference(case_dir, volume)
    rows = []
    for name in ("original", *names):
        vol, ref = (volume, refs) if name == "original" else MAKERS[name](volume, refs)
        t0 = time.perf_counter()
        try:
            analysis = pipeline.run(vol)
        except Exception as exc:  # a crash is a row, never a stop
            rows.append({"variant": name, "error": f"{type(exc).__name__}: {exc}"})
            continue
        pred = np.asarray(analysis.labelmap.array)
        metrics, facts = score_ircadb(analysis.report, pred, ref, vol.spacing)
        lumen = pred == Label.IVC_LUMEN
        rows.append({
            "variant": name, "slices": int(vol.shape[0]), "slice_mm": round(float(vol.spacing[0]), 2),
            "seconds": round(time.perf_counter() - t0, 1),
            "venous": round(metrics["venous"]["dice"], 3),
            "ivc_lumen_in_venous": round(float(np.count_nonzero(lumen & ref["venoussystem"]))
                                         / max(int(np.count_nonzero(lumen)), 1), 3),
            "liver": round(metrics["liver"]["dice"], 3),
            "aorta_in_artery": round(metrics["aorta_in_artery"]["dice"], 3),
            "kidney_right_ml": round(facts["kidney_right_ml"]), "kidney_left_ml": round(facts["kidney_left_ml"]),
            "renal_ostia": sum(facts[f"renal_vein_{s}"] is not None for s in ("right", "left")),
            "hepatic_veins": sum(bool(np.any(pred == int(lab))) for lab in HEPATIC_VEIN_LABELS.values()),
            "tumor_reported": facts["tumor_reported"],
            "iliac_confluence_invented": not facts["met"]["no_iliac_confluence"],
        })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| variant | slices x mm | venous Dice | IVC lumen inside venous | liver Dice | aorta in artery "
            "| kidneys R/L ml | renal ostia | hepatic veins | IVC tumor reported | confluence invented | s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['variant']} | **crash: {r['error']}** |" + " |" * 10)
            continue
        lines.append(f"| {r['variant']} | {r['slices']} x {r['slice_mm']} | {r['venous']:.3f} | "
                     f"{r['ivc_lumen_in_venous']:.3f} | {r['liver']:.3f} | {r['aorta_in_artery']:.3f} | "
                     f"{r['kidney_right_ml']}/{r['kidney_left_ml']} | {r['renal_ostia']}/2 | {r['hepatic_veins']}/3 | "
                     f"{'**yes**' if r['tumor_reported'] else 'no'} | "
                     f"{'**yes**' if r['iliac_confluence_invented'] else 'no'} | {r['seconds']} |")
    return "\n".join(lines)
