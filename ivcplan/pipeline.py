"""The whole analysis, as the CLI, the batch runner and the viewer call it.

``run`` chains the stages (load -> segment [+ imported labels] -> centerline -> landmarks ->
segments -> measurements -> plan -> report dict); ``write_outputs`` writes the files.

Output writers live in a registry, ``kind -> writer(analysis, outdir) -> Path``. The built-in
kinds are ``json`` (report.json, validated), ``csv`` (report.csv, one row) and ``segmentation``
(segmentation.nii.gz). Other areas add theirs with `register_writer` in one of the modules listed
in `WRITER_MODULES` (imported on demand by `write_outputs`), e.g. in ``ivcplan/report/html.py``::

    from ivcplan.pipeline import register_writer
    register_writer("html", write_html)   # write_html(analysis, outdir) -> Path
"""

from __future__ import annotations

import csv
import importlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ivcplan.errors import AnalysisError, InputError, NotApplicableError
from ivcplan.labels import Label
from ivcplan.progress import ProgressCallback, no_progress
from ivcplan.volume import Labelmap, Volume

log = logging.getLogger(__name__)

#: Share of the progress bar per stage (they add up to 1).
STAGE_WEIGHTS = {"load": 0.15, "segment": 0.55, "centerline": 0.15, "landmarks": 0.05, "measure": 0.05,
                 "plan": 0.05}
#: Modules that register more output writers when imported (missing ones are skipped).
WRITER_MODULES = ("ivcplan.report.html", "ivcplan.report.pdf", "ivcplan.render", "ivcplan.io.export")

Writer = Callable[["Analysis", Path], Path]


@dataclass(frozen=True)
class Analysis:
    """Everything one run produced (stage results may be None when a stage could not run)."""

    volume: Volume
    segmentation: Any  # ivcplan.anatomy.Segmentation
    centerline: Any | None  # ivcplan.vessel.Centerline
    landmarks: Any | None  # ivcplan.anatomy.landmarks.Landmarks
    segment_map: Any | None  # ivcplan.classify.SegmentMap
    tumor: Any  # ivcplan.measure.TumorMeasurements
    liver: Any  # ivcplan.measure.LiverMeasurements
    plan: Any | None  # ivcplan.plan.Plan
    report: dict[str, Any]
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def labelmap(self) -> Labelmap:
        return self.segmentation.labelmap


class _Stages:
    """Maps each stage's local progress into the overall bar and times the stages."""

    def __init__(self, progress: ProgressCallback | None) -> None:
        self.progress = progress or no_progress
        self.timings: dict[str, float] = {}
        self._done = 0.0

    def run(self, name: str, fn: Callable[[ProgressCallback], Any]) -> Any:
        weight = STAGE_WEIGHTS[name]
        start = self._done

        def local(label: str, fraction: float) -> None:
            self.progress(label, min(1.0, start + weight * float(np.clip(fraction, 0.0, 1.0))))

        local(name, 0.0)
        t0 = time.perf_counter()
        try:
            return fn(local)
        finally:
            self.timings[name] = round(time.perf_counter() - t0, 3)
            self._done = start + weight
            self.progress(name, min(1.0, self._done))


def run(source: str | os.PathLike | Volume, *, labels: str | os.PathLike | Labelmap | None = None,
        seeds: Any = None, rules: Any = None, series: str | int | None = None,
        clinical: Mapping[str, bool | None] | None = None, progress: ProgressCallback | None = None) -> Analysis:
    """Analyse one CT: ``source`` is a path (DICOM folder/file, NIfTI, NRRD, MHA) or a `Volume`.

    ``labels``: a segmentation file imported through ``ivcplan.io.load_labels`` and merged over the
    automatic one, or a `Labelmap` used as the complete segmentation (resampled to the CT grid by
    nearest neighbour if needed). ``rules``: a rules file path or ``ivcplan.plan.RuleSet``.
    ``clinical``: facts CT cannot show (``prior_chemotherapy``, ``liver_fibrosis``: True / False / None),
    reported in the ``clinical`` section and read by the planner (R8's remnant limit).
    """
    from ivcplan.report.contract import clinical_section

    clinical_facts = clinical_section(clinical)  # bad input fails before the slow stages
    stages = _Stages(progress)
    warnings: list[str] = []
    volume = stages.run("load", lambda p: _load(source, series, p))
    warnings += list(volume.warnings)
    segmentation = stages.run("segment", lambda p: _segment(volume, labels, seeds, p))
    warnings += [w for w in segmentation.warnings if w not in warnings]
    labelmap: Labelmap = segmentation.labelmap

    from ivcplan import classify, measure, vessel
    from ivcplan.anatomy.landmarks import find_landmarks

    def _centerline(p: ProgressCallback) -> Any:
        try:
            return vessel.centerline(labelmap, progress=p)
        except AnalysisError as exc:
            warnings.append(f"IVC not found: {exc}")
            return None

    cl = stages.run("centerline", _centerline)
    landmarks = segment_map = None
    if cl is not None:
        landmarks = stages.run("landmarks", lambda p: find_landmarks(labelmap, cl))
        segment_map = classify.segments(cl, landmarks)
        tumor = stages.run("measure", lambda p: measure.tumor(labelmap, cl, landmarks, segment_map, volume))
    else:
        tumor = measure.TumorMeasurements(present=bool(np.any(labelmap.array == Label.IVC_TUMOR)))
        if tumor.present:
            warnings.append("tumor voxels present but no IVC centerline: tumor not measured")
    liver = measure.liver(labelmap)
    report = _report(volume, segmentation, cl, landmarks, segment_map, tumor, liver, warnings)
    report["clinical"] = clinical_facts
    plan = stages.run("plan", lambda p: _plan(report, rules))
    report["plan"] = plan.to_dict()
    report["timings_s"] = dict(stages.timings)
    from ivcplan.report.contract import validate

    validate(report)
    return Analysis(volume, segmentation, cl, landmarks, segment_map, tumor, liver, plan, report,
                    dict(stages.timings), tuple(warnings))


def _load(source: str | os.PathLike | Volume, series: str | int | None, progress: ProgressCallback) -> Volume:
    if isinstance(source, Volume):
        return source
    from ivcplan import io

    return io.load(source, series=series, progress=progress)


def _segment(volume: Volume, labels: str | os.PathLike | Labelmap | None, seeds: Any,
             progress: ProgressCallback) -> Any:
    from ivcplan import anatomy

    if isinstance(labels, Labelmap):
        lm = labels if labels.grid.is_same(volume.grid) else labels.resample_to(volume.grid)
        present = {int(v) for v in np.unique(lm.array)}
        confidence = {lab.key: (1.0 if int(lab) in present else 0.0) for lab in Label if lab is not Label.BACKGROUND}
        return anatomy.Segmentation(lm, confidence, "unknown", ("segmentation supplied by the caller",))
    if labels is None:
        return anatomy.segment(volume, seeds=seeds, progress=progress)
    from ivcplan import io

    if not Path(labels).exists():
        raise InputError("segmentation file not found", labels)
    imported = io.load_labels(labels, volume)  # before the slow segmentation: bad files fail fast
    return anatomy.merge(anatomy.segment(volume, seeds=seeds, progress=progress), imported)


def _report(volume: Volume, segmentation: Any, cl: Any, landmarks: Any, segment_map: Any, tumor: Any, liver: Any,
            warnings: list[str]) -> dict[str, Any]:
    from ivcplan.anatomy.landmarks import NAMES
    from ivcplan.report import contract

    conf = segmentation.confidence
    ivc = {"detected": cl is not None,
           "centerline_length_mm": None if cl is None else round(cl.length_mm, 2),
           "confidence": conf.get(Label.IVC_LUMEN.key),
           "reaches_caudal_border": None if cl is None else cl.reaches_caudal_border,
           "reaches_cranial_border": None if cl is None else cl.reaches_cranial_border}
    if landmarks is not None:
        lms = landmarks.to_dict()
    else:
        lms = {name: {"position_mm": None, "s_mm": None, "confidence": 0.0, "detail": "no IVC centerline"}
               for name in NAMES}
    tumor_dict = tumor.to_dict()
    tumor_dict["confidence"] = conf.get(Label.IVC_TUMOR.key) if tumor.present else None
    return contract.assemble(
        input=contract.input_section(volume.grid.shape, volume.grid.spacing, volume.meta, warnings,
                                     getattr(segmentation, "phase", "unknown")),
        ivc=ivc, landmarks=lms, segments_in_view=[] if segment_map is None else segment_map.segments_in_view(),
        tumor=tumor_dict, liver=liver.to_dict())


def _plan(report: Mapping[str, Any], rules: Any) -> Any:
    from ivcplan import plan
    from ivcplan.report.contract import facts

    ruleset = plan.load_rules(rules) if isinstance(rules, str | os.PathLike) else rules
    return plan.suggest(facts(report), ruleset)


# -- outputs ----------------------------------------------------------------------------------------
def _write_json(analysis: Analysis, outdir: Path) -> Path:
    from ivcplan.report.contract import validate

    validate(analysis.report)
    path = outdir / "report.json"
    path.write_text(json.dumps(analysis.report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def _write_csv(analysis: Analysis, outdir: Path) -> Path:
    from ivcplan.report.contract import csv_row

    row = csv_row(analysis.report)
    path = outdir / "report.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    return path


def _write_segmentation(analysis: Analysis, outdir: Path) -> Path:
    from ivcplan.io import save_nifti

    lm = analysis.labelmap
    return save_nifti(lm.with_array(lm.array.astype(np.uint8, copy=False)), outdir / "segmentation.nii.gz")


WRITERS: dict[str, Writer] = {"json": _write_json, "csv": _write_csv, "segmentation": _write_segmentation}


def register_writer(kind: str, writer: Writer) -> None:
    """Add (or replace) the writer of output ``kind``."""
    WRITERS[str(kind)] = writer


def available_kinds() -> tuple[str, ...]:
    """Every output kind a writer is registered for (after importing `WRITER_MODULES`)."""
    for name in WRITER_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but one of its imports is missing: a real error
                raise
    return tuple(WRITERS)


ALL = "all"


#: Output kinds every run writes; with ``kinds="all"`` a failure of any other kind is logged and skipped.
CORE_KINDS = ("json", "csv", "segmentation")


def write_outputs(analysis: Analysis, outdir: str | os.PathLike, kinds: Iterable[str] | str = ALL, *,
                  skipped: dict[str, str] | None = None) -> dict[str, Path]:
    """Write the requested output kinds into ``outdir`` (created); returns kind -> path.

    A kind that does not apply to this analysis (a DICOM SEG of a NIfTI CT, meshes of an empty
    segmentation: the writer raises `NotApplicableError`) is left out, asked for or not. Other kinds
    asked for by name must succeed; with ``kinds="all"`` an optional kind that fails is left out too.
    Every kind left out is logged, with its reason put in ``skipped`` when a dict is given.
    """
    known = available_kinds()
    everything = kinds == ALL
    wanted = list(known) if everything else [kinds] if isinstance(kinds, str) else list(kinds)
    unknown = [k for k in wanted if k not in WRITERS]
    if unknown:
        raise InputError(f"unknown output kind(s) {unknown}; available: {', '.join(known)}", "kinds")
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise InputError("output path exists and is not a directory", out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for kind in wanted:
        try:
            path = WRITERS[kind](analysis, out)
        except NotApplicableError as exc:
            log.warning("output %s not written: %s", kind, exc)
            if skipped is not None:
                skipped[kind] = str(exc)
            continue
        except Exception as exc:
            if not everything or kind in CORE_KINDS:
                raise
            log.warning("output %s not written: %s", kind, exc)
            if skipped is not None:
                skipped[kind] = str(exc)
            continue
        written[kind] = Path(path)
    return written
