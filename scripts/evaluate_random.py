"""The randomized-phantom benchmark of issue 18 (``scripts/evaluate.py --random N``).

Each case ``ivcplan.phantom.random_case.generate_random(seed)`` is analysed by ``ivcplan.pipeline.run``
and its report compared with the truth. Seeds: the TEST range (``random_params.TEST_SEEDS``,
100000-100059) is the benchmark no method may be tuned on; develop on the TUNE range (0-199).

Scores (tolerances from issue 18):
- Landmarks: the level landmarks (iliac confluence, renal veins, hepatic veins, cavoatrial junction)
  by their craniocaudal error |dz|; the ostia (each renal and hepatic vein) by 3D distance, a renal
  ostium against the nearest true ostium of its side (a duplicated vein has two). A landmark in the
  truth but not in the report is a failure ("missing", error infinite); one in the report but not in
  the truth (outside the field of view) is "invented" and listed apart.
- Renal veins found: the side's ostium reported within 10 mm of a true one.
- Kidneys: Dice and volume (ml, ours and the truth's) per side; a kidney within tolerance has Dice >=
  0.80 (a missed or wrong kidney is the main reason a renal vein is missed).
- Tumor (truth tumor cases): found, Dice, volume error, both poles within 3 mm, segments exact,
  invaded hepatic veins exact, intracardiac exact. Plan exact (every case): approach, vascular control,
  IVC reconstruction, renal vein handling and liver resection as the truth's expected plan.
- Reliability: per landmark (and the tumor, the IVC) the reported confidence in bins with the share
  within tolerance (10 mm; tumor Dice >= 0.85; IVC Dice >= 0.90) - item 4 of the issue.
A crash (generation or analysis) is a row with its reason; nothing is skipped.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import multiprocessing
import os
import pickle
import platform
import re
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

LEVELS = ("iliac_confluence", "renal_veins", "hepatic_veins", "cavoatrial_junction", "liver_caudal_edge",
          "caval_hiatus")
OSTIA = ("renal_vein_right", "renal_vein_left", "hepatic_vein_right", "hepatic_vein_middle", "hepatic_vein_left")
LANDMARKS = LEVELS + OSTIA
#: Issue 18's tolerances.
LANDMARK_MM = 10.0
POLE_MM = 3.0
VOLUME_PCT = 5.0
TUMOR_DICE = 0.85
#: A kidney is found when its Dice with the truth is at least this.
KIDNEY_DICE = 0.80
IVC_DICE = 0.90
#: Confidence bins of the reliability table (lower edges; the last bin includes 1.0).
CONF_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9)
#: Issue 18's calibration target: a landmark at this confidence or above lies within tolerance in >= 95 %.
TRUSTED = 0.8
PLAN_KEYS = ("approach", "vascular_control", "ivc_reconstruction", "renal_vein_handling", "liver_resection")
#: Accessory ostia of a side (truth.json "accessory_ostia") that also count as that side's renal vein.
ACCESSORY_SIDE = {"rv_right_2": "renal_vein_right", "rv_left_2": "renal_vein_left"}
SECTION = "## random phantom (issue 18)"


def parse_seeds(text: str) -> list[int]:
    """``"100000-100059"`` or ``"3,5,9"`` or ``"7"`` -> seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        if match:
            a, b = int(match[1]), int(match[2])
            if b < a:
                raise ValueError(f"seed range {part!r} runs backwards")
            seeds += list(range(a, b + 1))
        elif part.isdigit():
            seeds.append(int(part))
        else:
            raise ValueError(f"bad seed list {text!r}: expected A-B or comma-separated integers")
    return seeds


# -- one case ----------------------------------------------------------------------------------------
def run_case(spec: tuple[int, dict[str, Any], int, Path | None]) -> dict[str, Any]:
    """Generate (or load from ``cache``), analyse and score one seed (in a worker process). Never raises:
    a failure is a row."""
    seed, overrides, threads, cache = spec
    row: dict[str, Any] = {"seed": seed}
    stage, case = "generate", None
    try:
        from ivcplan import parallel, pipeline

        parallel.set_threads(threads)
        t0 = time.perf_counter()
        case, row["cached"] = _case(seed, overrides, cache)
        row["generate_s"] = round(time.perf_counter() - t0, 1)
        row["truth"] = _truth_summary(case.truth_info, case.volume)
        stage = "analyse"
        t0 = time.perf_counter()
        analysis = pipeline.run(case.volume)
        row["analyse_s"] = round(time.perf_counter() - t0, 1)
        stage = "score"
        row.update(score(analysis.report, case.truth_info, np.asarray(analysis.labelmap.array),
                         np.asarray(case.truth.array), float(np.prod(case.volume.spacing)) / 1000.0))
    except Exception as exc:  # every failure is recorded as the case's row
        last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f" at {Path(last.filename).name}:{last.lineno}" if last else ""
        row["error"] = f"{stage}: {type(exc).__name__}: {exc}{where}"
        if case is not None and stage == "analyse":  # nothing was reported: every truth fact is missed
            row.update(score_nothing(case.truth_info))
    return row


def generator_version() -> str:
    """Hash of the phantom generator's source (ivcplan/phantom/*.py): a cached case is reused only while
    the code that drew it is unchanged."""
    import ivcplan.phantom

    digest = hashlib.sha256()
    for path in sorted(Path(ivcplan.phantom.__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _case(seed: int, overrides: dict[str, Any], cache: Path | None) -> tuple[Any, bool]:
    """The random case of ``seed`` and whether it came from ``cache`` (generating a large case takes
    longer than analysing it; the benchmark is re-run on the same seeds after every method change)."""
    from ivcplan.phantom.random_case import generate_random

    if cache is None:
        return generate_random(seed, **overrides), False
    tag = "-".join(f"{k}{v}" for k, v in sorted(overrides.items()))
    path = Path(cache) / f"seed{seed}{'-' + tag if tag else ''}-{generator_version()}.pkl"
    if path.is_file():
        with path.open("rb") as f:
            return pickle.load(f), True
    case = generate_random(seed, **overrides)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.part")
    with partial.open("wb") as f:
        pickle.dump(case, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, path)  # never a half-written case for another run to load
    return case, False


def score_nothing(info: dict) -> dict[str, Any]:
    """The scores of a case whose analysis crashed: nothing found, nothing right."""
    facts = info["facts"]
    lms = {name: {"status": "missing" if facts["landmarks"][name]["position_mm"] is not None else "absent",
                  "error_mm": None, "confidence": 0.0, "detail": "analysis crashed"} for name in LANDMARKS}
    tumor: dict[str, Any] = {"truth": bool(facts["tumor"]["present"]), "found": False, "confidence": None}
    if tumor["truth"]:
        tumor.update(dice=0.0, segments_exact=False, hv_invaded_truth=sorted(facts["tumor"]["hepatic_veins_invaded"]),
                     hv_invaded_exact=False, intracardiac_exact=False)
    expected = (info.get("expected_plan") or {}).get("approach")
    return {"landmarks": lms, "warnings": [], "ivc": {"dice": 0.0, "confidence": None}, "tumor": tumor,
            "kidneys": {side: {"dice": 0.0, "ml": 0.0, "truth_ml": None} for side in ("right", "left")},
            "plan": {"expected": expected, "got": None, "approach_exact": False, "exact": False}}


def _truth_summary(info: dict, volume: Any) -> dict[str, Any]:
    p = info["random_parameters"]
    tumor = info["facts"]["tumor"]
    return {"crop": info["field_of_view"]["crop"], "lesion": info["lesion"]["kind"],
            "segments": tumor.get("segments") or [], "shape": list(volume.shape),
            "spacing_mm": [round(float(v), 2) for v in volume.spacing],
            "left_course": p["renal"]["left_course"], "right_duplicated": p["renal"]["right_duplicated"],
            "common_trunk": p["hepatic"]["common_trunk"], "inferior_right": p["hepatic"]["inferior_right"],
            "noise_hu": p["imaging"]["noise_hu"], "position": p["imaging"]["patient_position"]}


def _dist(a: Iterable[float] | None, b: Iterable[float] | None) -> float | None:
    if a is None or b is None:
        return None
    return float(np.linalg.norm(np.subtract(a, b)))


def score(report: dict, info: dict, pred: np.ndarray, truth: np.ndarray, voxel_ml: float = 0.0) -> dict[str, Any]:
    """One case's report against its truth (see the module docstring); ``voxel_ml`` sizes the kidneys."""
    from ivcplan.labels import IVC_LABELS, Label
    from ivcplan.metrics import dice

    facts = info["facts"]
    lms: dict[str, Any] = {}
    for name in LANDMARKS:
        ref = facts["landmarks"][name]["position_mm"]
        got = report["landmarks"].get(name, {})
        pos, conf = got.get("position_mm"), float(got.get("confidence") or 0.0)
        refs = [ref] if ref is not None else []
        for acc, side in ACCESSORY_SIDE.items():
            extra = info.get("accessory_ostia", {}).get(acc, {}).get("position_mm")
            if side == name and extra is not None:
                refs.append(extra)
        if not refs:
            status, err = ("absent" if pos is None else "invented"), None
        elif pos is None:
            status, err = "missing", None
        else:
            status = "ok"
            err = abs(float(pos[2]) - float(ref[2])) if name in LEVELS else min(_dist(pos, r) for r in refs)
        lms[name] = {"status": status, "error_mm": None if err is None else round(err, 1), "confidence": conf,
                     "detail": got.get("detail")}
    # Why things failed, for the per-case JSON (the tables do not show them).
    out: dict[str, Any] = {"landmarks": lms, "warnings": list(report["input"].get("warnings") or [])}
    ivc_labels = [int(v) for v in IVC_LABELS]
    out["ivc"] = {"dice": round(dice(np.isin(pred, ivc_labels), np.isin(truth, ivc_labels)), 4),
                  "confidence": report["ivc"].get("confidence")}
    out["kidneys"] = {side: {"dice": round(dice(pred == int(lab), truth == int(lab)), 4),
                             "ml": round(float(np.count_nonzero(pred == int(lab))) * voxel_ml, 1),
                             "truth_ml": round(float(np.count_nonzero(truth == int(lab))) * voxel_ml, 1)}
                      for side, lab in (("right", Label.KIDNEY_RIGHT), ("left", Label.KIDNEY_LEFT))}
    ref_t, got_t = facts["tumor"], report["tumor"]
    tumor: dict[str, Any] = {"truth": bool(ref_t["present"]), "found": bool(got_t.get("present")),
                             "confidence": got_t.get("confidence")}
    if ref_t["present"]:
        t_mask, p_mask = truth == int(Label.IVC_TUMOR), pred == int(Label.IVC_TUMOR)
        tumor["dice"] = round(dice(p_mask, t_mask), 4)
        tumor["segments_exact"] = list(got_t.get("segments") or []) == list(ref_t["segments"])
        tumor["hv_invaded_truth"] = sorted(ref_t["hepatic_veins_invaded"])
        tumor["hv_invaded_exact"] = sorted(got_t.get("hepatic_veins_invaded") or []) == tumor["hv_invaded_truth"]
        tumor["intracardiac_exact"] = bool(got_t.get("intracardiac")) == bool(ref_t["intracardiac"])
        if got_t.get("present"):
            tumor["volume_pct"] = round(100.0 * (got_t["volume_ml"] - ref_t["volume_ml"]) / ref_t["volume_ml"], 1)
            tumor["upper_pole_mm"] = round(_dist(got_t["upper_pole_mm"], ref_t["upper_pole_mm"]), 1)
            tumor["lower_pole_mm"] = round(_dist(got_t["lower_pole_mm"], ref_t["lower_pole_mm"]), 1)
    out["tumor"] = tumor
    expected, plan = info.get("expected_plan") or {}, report.get("plan") or {}
    out["plan"] = {"expected": expected.get("approach"), "got": plan.get("approach"),
                   "approach_exact": plan.get("approach") == expected.get("approach"),
                   "exact": all(plan.get(k) == expected.get(k) for k in PLAN_KEYS),
                   # which decisions differ, as (got, expected): the tables count them per decision
                   "wrong": {k: [plan.get(k), expected.get(k)] for k in PLAN_KEYS if plan.get(k) != expected.get(k)}}
    return out


# -- many cases --------------------------------------------------------------------------------------
def run_all(seeds: list[int], jobs: int, overrides: dict[str, Any],
            progress: Callable[[dict], None] = lambda row: None, cache: Path | None = None) -> list[dict[str, Any]]:
    """Rows for every seed (in seed order). Cases run in fresh worker processes (one case each, so a
    crash or a leak cannot spill into the next); a worker that dies is retried once alone, then
    recorded as a crash."""
    threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
    if jobs <= 1:
        rows = []
        for seed in seeds:
            rows.append(run_case((seed, overrides, threads, cache)))
            progress(rows[-1])
        return rows
    results: dict[int, dict[str, Any]] = {}
    retry: list[int] = []
    ctx = multiprocessing.get_context("spawn")
    pending = list(seeds)
    with ProcessPoolExecutor(jobs, mp_context=ctx, max_tasks_per_child=1) as pool:
        running: dict[Future, int] = {}
        broken = False
        while (pending or running) and not broken:
            while pending and len(running) < jobs:
                seed = pending.pop(0)
                running[pool.submit(run_case, (seed, overrides, threads, cache))] = seed
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                seed = running.pop(fut)
                try:
                    results[seed] = fut.result()
                    progress(results[seed])
                except BrokenProcessPool:
                    broken = True
                    retry.append(seed)
        if broken:  # the pool is unusable: every case in flight goes to the serial retry
            retry += list(running.values())
    for seed in retry + pending:
        with ProcessPoolExecutor(1, mp_context=ctx, max_tasks_per_child=1) as pool:
            try:
                results[seed] = pool.submit(run_case, (seed, overrides, threads, cache)).result()
            except BrokenProcessPool as exc:
                results[seed] = {"seed": seed, "error": f"worker process died: {exc}"}
        progress(results[seed])
    return [results[s] for s in seeds]


# -- tables ------------------------------------------------------------------------------------------
def _pct(k: int, n: int) -> str:
    return f"{k}/{n} ({100.0 * k / n:.0f} %)" if n else "0/0"


def landmark_table(rows: list[dict]) -> str:
    ok_rows = [r for r in rows if "landmarks" in r]
    lines = ["| landmark | in truth | reported | missing | invented | median error (mm) | 90th pct (mm) | "
             f"within {LANDMARK_MM:.0f} mm |", "|---|---|---|---|---|---|---|---|"]
    for name in LANDMARKS:
        items = [r["landmarks"][name] for r in ok_rows]
        truth_n = [i for i in items if i["status"] in ("ok", "missing")]
        errors = np.array([i["error_mm"] if i["status"] == "ok" else np.inf for i in truth_n], float)
        within = int(np.sum(errors <= LANDMARK_MM))
        med, p90 = _quantile(errors, 0.5), _quantile(errors, 0.9)
        kind = "dz" if name in LEVELS else "3D"
        lines.append(f"| {name} ({kind}) | {len(truth_n)} | {sum(i['status'] == 'ok' for i in truth_n)} | "
                     f"{sum(i['status'] == 'missing' for i in truth_n)} | "
                     f"{sum(i['status'] == 'invented' for i in items)} | {_num(med)} | {_num(p90)} | "
                     f"{_pct(within, len(truth_n))} |")
    all_within = sum(all(r["landmarks"][k]["status"] == "ok" and r["landmarks"][k]["error_mm"] <= LANDMARK_MM
                         for k in LEVELS if r["landmarks"][k]["status"] != "absent") for r in ok_rows)
    lines.append(f"\nAll level landmarks in view within {LANDMARK_MM:.0f} mm: {_pct(all_within, len(ok_rows))}.")
    return "\n".join(lines)


def _quantile(values: np.ndarray, q: float) -> float:
    """Linear-interpolated quantile that is infinite when it reaches the failures (inf values)."""
    if values.size == 0:
        return np.nan
    v = np.sort(values)
    pos = q * (len(v) - 1)
    lo, hi = int(np.floor(pos)), int(np.ceil(pos))
    if np.isinf(v[hi]):
        return np.inf
    return float(v[lo] + (pos - lo) * (v[hi] - v[lo]))


def _num(v: float) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return "inf" if np.isinf(v) else f"{v:.1f}"


def _found(r: dict, name: str) -> bool:
    item = r["landmarks"][name]
    return item["status"] == "ok" and item["error_mm"] <= LANDMARK_MM


def summary_table(rows: list[dict]) -> str:
    ok_rows = [r for r in rows if "landmarks" in r]
    n = len(ok_rows)
    lines = ["| measure | result | target |", "|---|---|---|"]
    for side in ("right", "left"):
        name = f"renal_vein_{side}"
        have = [r for r in ok_rows if r["landmarks"][name]["status"] in ("ok", "missing")]
        lines.append(f"| {side} renal vein found (within {LANDMARK_MM:.0f} mm) | "
                     f"{_pct(sum(_found(r, name) for r in have), len(have))} | |")
    have = [r for r in ok_rows if all(r["landmarks"][f"renal_vein_{s}"]["status"] in ("ok", "missing")
                                      for s in ("right", "left"))]
    both = sum(_found(r, "renal_vein_right") and _found(r, "renal_vein_left") for r in have)
    lines.append(f"| both renal veins found | {_pct(both, len(have))} | >= 95 % |")
    for side in ("right", "left"):
        have = [r["kidneys"][side] for r in ok_rows if "kidneys" in r and r["kidneys"][side]["truth_ml"]]
        dices = np.array([k["dice"] for k in have], float)
        lines.append(f"| {side} kidney Dice >= {KIDNEY_DICE} | {_pct(int(np.sum(dices >= KIDNEY_DICE)), len(have))} "
                     f"(median {_num(float(np.median(dices))) if dices.size else ''}) | |")
    tum = [r for r in ok_rows if r["tumor"]["truth"]]
    free = [r for r in ok_rows if not r["tumor"]["truth"]]
    found = [r for r in tum if r["tumor"]["found"]]
    lines.append(f"| tumor found (tumor cases) | {_pct(len(found), len(tum))} | |")
    false_tumor = sum(r["tumor"]["found"] for r in free)
    lines.append(f"| tumor reported on tumor-free cases | {_pct(false_tumor, len(free))} | |")
    dices = np.array([r["tumor"]["dice"] for r in tum], float)
    lines.append(f"| tumor Dice >= {TUMOR_DICE} | {_pct(int(np.sum(dices >= TUMOR_DICE)), len(tum))} "
                 f"(median {_num(float(np.median(dices))) if dices.size else ''}) | >= 90 % |")
    vol = [abs(r["tumor"]["volume_pct"]) for r in found]
    lines.append(f"| tumor volume within {VOLUME_PCT:.0f} % | "
                 f"{_pct(sum(v <= VOLUME_PCT for v in vol), len(tum))} (median |error| "
                 f"{_num(float(np.median(vol))) if vol else ''} %) | >= 90 % |")
    poles = sum(max(r["tumor"].get("upper_pole_mm", np.inf), r["tumor"].get("lower_pole_mm", np.inf)) <= POLE_MM
                for r in tum)
    lines.append(f"| both poles within {POLE_MM:.0f} mm | {_pct(poles, len(tum))} | >= 90 % |")
    lines.append(f"| segments exact | {_pct(sum(r['tumor']['segments_exact'] for r in tum), len(tum))} | >= 95 % |")
    invaded = [r for r in tum if r["tumor"]["hv_invaded_truth"]]
    lines.append(f"| hepatic vein invasion exact | {_pct(sum(r['tumor']['hv_invaded_exact'] for r in tum), len(tum))} "
                 f"(cases with invasion: {_pct(sum(r['tumor']['hv_invaded_exact'] for r in invaded), len(invaded))}) "
                 f"| >= 90 % |")
    lines.append(f"| intracardiac exact | {_pct(sum(r['tumor']['intracardiac_exact'] for r in tum), len(tum))} "
                 f"| |")
    lines.append(f"| plan approach exact | {_pct(sum(r['plan']['approach_exact'] for r in ok_rows), n)} | |")
    lines.append(f"| plan exact (approach, control, reconstruction, renal veins, liver) | "
                 f"{_pct(sum(r['plan']['exact'] for r in ok_rows), n)} | >= 95 % |")
    for key in PLAN_KEYS[1:]:
        right = [r for r in ok_rows if r["plan"]["approach_exact"] and "wrong" in r["plan"]]
        lines.append(f"| {key.replace('_', ' ')} exact when the approach is | "
                     f"{_pct(sum(key not in r['plan']['wrong'] for r in right), len(right))} | |")
    return "\n".join(lines)


def _within(r: dict, what: str) -> tuple[float, bool] | None:
    """(confidence, within tolerance) of one landmark / the tumor / the IVC in one case (None: not scored)."""
    if what == "tumor":
        t = r["tumor"]
        if not t["truth"] and not t["found"]:
            return None
        return float(t["confidence"] or 0.0), bool(t["truth"] and t["found"] and t.get("dice", 0) >= TUMOR_DICE)
    if what == "ivc":
        return float(r["ivc"]["confidence"] or 0.0), r["ivc"]["dice"] >= IVC_DICE
    item = r["landmarks"][what]
    if item["status"] == "absent":
        return None
    return item["confidence"], item["status"] == "ok" and item["error_mm"] <= LANDMARK_MM


def reliability_table(rows: list[dict]) -> str:
    ok_rows = [r for r in rows if "landmarks" in r]
    edges = [*CONF_BINS, 1.0000001]
    heads = [f"{a:.1f}-{b:.1f}" for a, b in zip(edges[:-1], [*CONF_BINS[1:], 1.0], strict=True)]
    lines = ["| structure | " + " | ".join(f"conf {h}" for h in heads) + f" | conf >= {TRUSTED} |",
             "|---" * (len(heads) + 2) + "|"]
    pooled: list[bool] = []
    for what in (*LANDMARKS, "tumor", "ivc"):
        pairs = [p for p in (_within(r, what) for r in ok_rows) if p is not None]
        cells = []
        for a, b in itertools.pairwise(edges):
            inbin = [ok for c, ok in pairs if a <= c < b]
            cells.append(f"{sum(inbin)}/{len(inbin)}" if inbin else "")
        trusted = [ok for c, ok in pairs if c >= TRUSTED]
        if what in LANDMARKS:
            pooled += trusted
        cells.append(_pct(sum(trusted), len(trusted)) if trusted else "")
        lines.append(f"| {what} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"All landmarks with confidence >= {TRUSTED}: {_pct(sum(pooled), len(pooled))} within "
                 f"{LANDMARK_MM:g} mm (target >= 95 %).")
    return "\n".join(lines)


def case_table(rows: list[dict]) -> str:
    heads = ["seed", "FOV", "lesion", "iliac dz", "renal dz", "hepatic dz", "junction dz", "liver edge dz",
             "hiatus dz", "RRV", "LRV", "RHV", "MHV", "LHV", "kidney R", "kidney L",
             "tumor Dice", "vol %", "poles mm", "segments", "HV inv.",
             "plan", "s"]
    lines = ["| " + " | ".join(heads) + " |", "|---" * len(heads) + "|"]
    for r in rows:
        if "landmarks" not in r:
            truth = r.get("truth", {})
            lines.append(f"| {r['seed']} | {truth.get('crop', '')} | {truth.get('lesion', '')} | "
                         f"**crash: {r['error']}** |" + " |" * (len(heads) - 4))
            continue
        t = r["truth"]

        def cell(name: str, lm: dict = r["landmarks"]) -> str:
            item = lm[name]
            if item["status"] == "absent":
                return "-"
            if item["status"] in ("missing", "invented"):
                return f"**{item['status']}**"
            return f"{item['error_mm']:.0f}" if item["error_mm"] <= LANDMARK_MM else f"**{item['error_mm']:.0f}**"

        tu = r["tumor"]
        lesion = t["lesion"] + (f" {'-'.join(t['segments'])}" if t["segments"] else "")
        tumor_cells = ["", "", "", "", ""]
        if tu["truth"]:
            poles = max(tu.get("upper_pole_mm", np.inf), tu.get("lower_pole_mm", np.inf))
            tumor_cells = [f"{tu['dice']:.2f}", _num(tu.get("volume_pct", np.nan)), _num(poles),
                           "yes" if tu["segments_exact"] else "**no**", "yes" if tu["hv_invaded_exact"] else "**no**"]
        elif tu["found"]:
            tumor_cells = ["**false tumor**", "", "", "", ""]
        plan = "yes" if r["plan"]["exact"] else f"**{r['plan']['got']} vs {r['plan']['expected']}**"
        if "error" in r:
            plan += " (**crash**)"
        kidneys = [_kidney_cell(r.get("kidneys", {}).get(side)) for side in ("right", "left")]
        lines.append(f"| {r['seed']} | {t['crop']} | {lesion} | " + " | ".join(cell(k) for k in LANDMARKS) + " | "
                     + " | ".join(kidneys + tumor_cells)
                     + f" | {plan} | {r.get('generate_s', 0) + r.get('analyse_s', 0):.0f} |")
    return "\n".join(lines)


def _kidney_cell(k: dict | None) -> str:
    """Dice (ours / truth ml) of one kidney; "-" when the truth has none in view."""
    if not k or not k["truth_ml"]:
        return "-" if not k or not k["ml"] else f"**{k['ml']:.0f} ml invented**"
    text = f"{k['dice']:.2f} ({k['ml']:.0f}/{k['truth_ml']:.0f} ml)"
    return text if k["dice"] >= KIDNEY_DICE else f"**{text}**"


def crash_list(rows: list[dict]) -> str:
    crashed = [r for r in rows if "error" in r]
    if not crashed:
        return "No case crashed."
    return "Crashed cases (a crash in the analysis counts as finding nothing):\n\n" + "\n".join(
        f"- seed {r['seed']}: {r['error']}" for r in crashed)


def tables(rows: list[dict], seeds_text: str) -> str:
    n_crash = sum("error" in r for r in rows)
    unscored = sum("landmarks" not in r for r in rows)
    head = (f"{len(rows)} cases (seeds {seeds_text}), {len(rows) - unscored} scored, {n_crash} crashed"
            f"{f' ({n_crash - unscored} in the analysis: scored as finding nothing)' if n_crash - unscored else ''}"
            f"{f', {unscored} without truth (generation failed)' if unscored else ''}. Level landmarks by |dz|, "
            f"ostia by 3D distance (a renal ostium against the nearest true ostium of its side); missing = in the "
            f"truth, not reported (counted as failures).")
    return "\n\n".join([head, "Landmarks:", landmark_table(rows), "Veins, tumor and plan:", summary_table(rows),
                        "Reliability (per confidence bin: within tolerance / cases; landmarks 10 mm, tumor Dice "
                        f">= {TUMOR_DICE}, IVC Dice >= {IVC_DICE}; invented landmarks count as outside):",
                        reliability_table(rows), crash_list(rows), "Per case:", case_table(rows)])


def machine() -> str:
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), platform.processor())
    except OSError:
        cpu = platform.processor()
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"


def code_version() -> str:
    """The evaluated code: the checkout's commit (and whether it had local changes)."""
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "ivcplan"], cwd=repo, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with local changes" if dirty else "")


def write_benchmarks(path: Path, table: str, seeds_text: str, jobs: int, minutes: float, commit: str,
                     note: str = "") -> None:
    text = path.read_text() if path.exists() else "# ivcplan benchmarks and accuracy\n"
    today = datetime.date.today().isoformat()
    section = (f"{SECTION}\n\nMeasured by `scripts/evaluate.py --random {len(parse_seeds(seeds_text))} --seeds "
               f"{seeds_text} --jobs {jobs}` on {today} ({machine()}; {minutes:.0f} min; code {commit}). Seeds "
               f"100000-100059 are the test range no method is tuned on (tune on 0-199); each case is drawn by "
               f"`ivcplan phantom --random SEED` (docs/phantom.md) and analysed by `ivcplan.pipeline.run`."
               f"{' ' + note if note else ''}\n\n{table}\n\n")
    pattern = re.compile(r"^## random phantom \(issue 18\)\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    path.write_text(text)
