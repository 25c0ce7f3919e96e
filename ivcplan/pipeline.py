"""The whole analysis, as the CLI, the batch runner and the viewer call it.

``run`` chains the stages, data flowing one way::

    io.load -> anatomy.segment [+ io.load_labels] -> measure.trace_centerline -> measure.find_landmarks
      -> measure.classify_segments -> measure.tumor_measurements / liver_measurements / structure_statistics
      -> plan.suggest
      -> report dict (validated)

and returns an `ivcplan.analysis.Analysis`; `ivcplan.outputs.write_outputs` writes its files.
Everything after the segmentation is `measure_and_plan`, which `ivcplan.replan` calls again after a
correction: one chain of stages for both.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ivcplan import anatomy, io, measure, plan
from ivcplan.analysis import Analysis, Measurements
from ivcplan.anatomy import Seeds, Segmentation
from ivcplan.errors import AnalysisError, InputError
from ivcplan.labels import CLAMP_LANDMARKS, LANDMARKS, Label
from ivcplan.measure import (
    Centerline,
    Landmark,
    Landmarks,
    LiverMeasurements,
    SegmentMap,
    TumorMeasurements,
    clamp_room,
    collaterals,
    ivc_size,
)
from ivcplan.measure.landmarks import place_landmark
from ivcplan.progress import ProgressCallback, no_progress
from ivcplan.report import contract, provenance
from ivcplan.report.corrections import Correction, Overrides, mark_report
from ivcplan.volume import Labelmap, Volume

log = logging.getLogger(__name__)

__all__ = ["STAGE_WEIGHTS", "Analysis", "measure_and_plan", "run"]

#: Share of the progress bar per stage (they add up to 1).
STAGE_WEIGHTS = {"load": 0.15, "segment": 0.55, "centerline": 0.15, "landmarks": 0.05, "measure": 0.05,
                 "plan": 0.05}
#: A landmark a person placed this far (mm) or more from the IVC centerline is reported as suspect:
#: ostia lie on the IVC wall (radius about 10-20 mm, more around a tumor) and levels on the centerline,
#: so a point this far away is most likely a typing or coordinate-convention (RAS for LPS) slip.
PLACED_FAR_MM = 50.0


class _Stages:
    """Maps each stage's local progress into the overall bar and times the stages."""

    def __init__(self, progress: ProgressCallback | None, names: Sequence[str] = tuple(STAGE_WEIGHTS)) -> None:
        self.progress = progress or no_progress
        self.timings: dict[str, float] = {}
        self._done = 0.0
        total = sum(STAGE_WEIGHTS[n] for n in names)
        self._weights = {n: STAGE_WEIGHTS[n] / total for n in names}

    def run(self, name: str, fn: Callable[[ProgressCallback], Any]) -> Any:
        weight = self._weights[name]
        start = self._done

        def local(label: str, fraction: float) -> None:
            self.progress(label, min(1.0, start + weight * float(np.clip(fraction, 0.0, 1.0))))

        local(name, 0.0)
        log.info("stage %s started", name)
        t0 = time.perf_counter()
        try:
            return fn(local)
        finally:
            self.timings[name] = round(time.perf_counter() - t0, 3)
            log.info("stage %s took %.1f s", name, self.timings[name])
            self._done = start + weight
            self.progress(name, min(1.0, self._done))


def run(source: str | os.PathLike | Volume, *, labels: str | os.PathLike | Labelmap | None = None,
        seeds: Seeds | None = None, rules: str | os.PathLike | plan.RuleSet | None = None,
        series: str | int | None = None, clinical: Mapping[str, bool | float | None] | None = None,
        weight_kg: float | None = None, anonymize: bool = False,
        progress: ProgressCallback | None = None, assume_spacing: tuple[float, float, float] | None = None
        ) -> Analysis:
    """Analyse one CT: ``source`` is a path (DICOM folder/file, NIfTI, NRRD, MHA) or a `Volume`.

    ``labels``: a segmentation file imported through ``ivcplan.io.load_labels`` and merged over the
    automatic one, or a `Labelmap` used as the complete segmentation (resampled to the CT grid by
    nearest neighbour if needed). ``rules``: a rules file path or ``ivcplan.plan.RuleSet``.
    ``clinical``: facts CT cannot show (``prior_chemotherapy``, ``liver_fibrosis``: True / False / None),
    reported in the ``clinical`` section and read by the planner (R8's remnant limit).
    ``weight_kg``: the patient's body weight (R8's remnant to body weight ratio); also accepted as
    ``clinical["weight_kg"]``. ``anonymize``: leave the patient ID, study date, accession number and
    the input's local path out of the report (``provenance``).
    ``assume_spacing``: (z, y, x) mm for a NIfTI without a spatial header (refused otherwise).
    """
    clinical = dict(clinical or {})
    if weight_kg is not None:
        clinical["weight_kg"] = weight_kg
    clinical_facts = contract.clinical_section(clinical)  # bad input fails before the slow stages
    ruleset = _rules(rules)
    stages = _Stages(progress)
    volume = stages.run("load", lambda p: _load(source, series, p, assume_spacing))
    segmentation = stages.run("segment", lambda p: _segment(volume, labels, seeds, p))
    return _measure_and_plan(volume, segmentation, stages, centerline=None, measured=None, corrections=(),
                             clinical=clinical_facts, rules=ruleset, anonymize=anonymize, source=source)


def measure_and_plan(volume: Volume, segmentation: Segmentation, *, centerline: Centerline | None = None,
                     measured: Measurements | None = None, corrections: Sequence[Correction] = (),
                     rules: str | os.PathLike | plan.RuleSet | None = None, clinical: Mapping[str, Any] | None = None,
                     anonymize: bool = False,
                     progress: ProgressCallback | None = None) -> Analysis:
    """Everything after the segmentation: centerline -> landmarks -> segments -> measurements -> report -> plan.

    `run` ends with it; `ivcplan.replan` calls it again after a correction. ``centerline``: the one
    already traced from this very segmentation (it is then not traced again). ``measured``: the
    measurements already made on this segmentation and centerline (`Analysis.measurements`): each part
    whose inputs are unchanged is used as it is (landmarks, clamp sites and tumor while the landmark
    corrections are the same, the liver while the caudate levels are, the collateral veins while the
    renal level is), so a correction of facts only measures nothing again.
    ``corrections``: the human changes in force, oldest first (`ivcplan.report.corrections`): placed
    or removed landmarks are kept as given (the others are found again), corrected facts replace the
    measured ones before the planner reads them, and the report marks each. ``clinical``: the facts
    as given to the analysis (corrections of them apply on top). ``anonymize`` as for `run`.
    """
    if measured is not None and centerline is None:
        raise InputError("measurements can only be reused with the centerline they were made on", "measured")
    clinical_facts = contract.clinical_section(clinical)
    same_marks = measured is not None and measured.landmark_corrections == _landmark_corrections(corrections)
    skipped = {"load", "segment", *(("centerline",) if centerline is not None else ()),
               *(("landmarks", "measure") if same_marks else ())}
    return _measure_and_plan(volume, segmentation, _Stages(progress, [n for n in STAGE_WEIGHTS if n not in skipped]),
                             centerline=centerline, measured=measured, corrections=tuple(corrections),
                             clinical=clinical_facts, rules=_rules(rules), anonymize=anonymize, source=volume)


def _measure_and_plan(volume: Volume, segmentation: Segmentation, stages: _Stages, *, centerline: Centerline | None,
                      measured: Measurements | None, corrections: tuple[Correction, ...], clinical: dict[str, Any],
                      rules: plan.RuleSet, anonymize: bool, source: str | os.PathLike | Volume) -> Analysis:
    warnings: list[str] = list(volume.warnings)
    warnings += [w for w in segmentation.warnings if w not in warnings]
    labelmap: Labelmap = segmentation.labelmap

    def _centerline(p: ProgressCallback) -> Centerline | None:
        try:
            return measure.trace_centerline(labelmap, progress=p)
        except AnalysisError as exc:
            warnings.append(f"IVC not found: {exc}")
            return None

    cl = centerline if centerline is not None else stages.run("centerline", _centerline)
    placed = {name: place_landmark(cl, c.new, _edit_detail(c))
              for name, c in Overrides.of(corrections).landmarks.items()}
    warnings += _far_from_the_ivc(placed, cl)
    placed_ivc = {name: mark for name, mark in placed.items() if name in LANDMARKS}
    landmarks: Landmarks | None = None
    segment_map: SegmentMap | None = None
    extra_landmarks: dict[str, Landmark] = {}
    marks_in_force = _landmark_corrections(corrections)
    if cl is None:
        measured = None  # measurements are only ever reused with the centerline they were made on
    if cl is not None and measured is not None and measured.landmark_corrections == marks_in_force:
        landmarks, extra_landmarks, tumor = measured.landmarks, dict(measured.clamp_landmarks), measured.tumor
        segment_map = measure.classify_segments(cl, landmarks)
    elif cl is not None:
        landmarks = stages.run("landmarks", lambda p: measure.find_landmarks(labelmap, cl, placed_ivc))
        extra_landmarks = clamp_room.find(labelmap, cl, landmarks, volume)
        extra_landmarks.update({name: mark for name, mark in placed.items() if name in CLAMP_LANDMARKS})
        landmarks = measure.cross_check_landmarks(landmarks, extra_landmarks.get("caval_hiatus"), cl)
        segment_map = measure.classify_segments(cl, landmarks)
        tumor = stages.run("measure", lambda p: measure.tumor_measurements(labelmap, cl, landmarks, segment_map,
                                                                           volume, extra_landmarks))
    else:
        tumor = TumorMeasurements(present=bool(np.any(labelmap.array == Label.IVC_TUMOR)))
        if tumor.present:
            warnings.append("tumor voxels present but no IVC centerline: tumor not measured")
    caudate_levels = _caudate_levels(landmarks, extra_landmarks)
    if measured is not None and measured.caudate_levels == caudate_levels:
        liver = measured.liver
    else:
        liver = measure.liver_measurements(labelmap, caudate_levels=caudate_levels)
    renal = None if landmarks is None else landmarks["renal_veins"]
    renal_z = float(renal.position_mm[2]) if renal is not None and renal.found else None
    found: Mapping[str, Any] | None = None
    if tumor.present and measured is not None and measured.collaterals is not None \
            and measured.collaterals_renal_z == renal_z:
        found = measured.collaterals
    elif tumor.present:
        found = collaterals.assess(volume, labelmap, renal_z=renal_z, phase=segmentation.phase)
    statistics = measure.structure_statistics(labelmap, volume)
    report = _report(volume, segmentation, cl, landmarks, placed, segment_map, tumor, liver, warnings, extra_landmarks,
                     found)
    report["statistics"] = {name: stats.to_dict() for name, stats in statistics.items()}
    report["clinical"] = dict(clinical)
    mark_report(report, corrections)
    suggestion = stages.run("plan", lambda p: plan.suggest(contract.facts(report), rules))
    report["plan"] = suggestion.to_dict()
    report["provenance"] = provenance.section(volume.meta, rules_name=rules.name, rules_sha256=rules.sha256,
                                              anonymize=anonymize)
    if anonymize:
        report["input"]["source_path"] = None
        warnings = [_without_paths(w, source, volume.meta) for w in warnings]  # the loader names damaged files
        report["input"]["warnings"] = list(warnings)
    report["timings_s"] = dict(stages.timings)
    contract.validate(report)
    made = None if landmarks is None else Measurements(landmarks, extra_landmarks, tumor, liver, marks_in_force,
                                                       caudate_levels, found, renal_z)
    return Analysis(volume, segmentation, cl, landmarks, segment_map, tumor, liver, suggestion, report,
                    dict(stages.timings), tuple(warnings), corrections=corrections, clinical=dict(clinical),
                    rules=rules, measurements=made)


def _landmark_corrections(corrections: Sequence[Correction]) -> tuple[Correction, ...]:
    """The landmark corrections in force (what the landmarks and measurements depend on besides the labels)."""
    return tuple(Overrides.of(corrections).landmarks.values())


def _rules(rules: str | os.PathLike | plan.RuleSet | None) -> plan.RuleSet:
    """The rule set (a bad rules file fails before the slow stages)."""
    if isinstance(rules, plan.RuleSet):
        return rules
    return plan.load_rules(rules)


def _edit_detail(c: Correction) -> str:
    what = "placed" if c.new is not None else "removed"
    return f"{what} by {c.by} ({c.when})" + (f": {c.why}" if c.why else "")


def _far_from_the_ivc(placed: Mapping[str, Landmark], cl: Centerline | None) -> list[str]:
    if cl is None:
        return []
    out = []
    for name, mark in placed.items():
        if mark.found:
            distance = float(cl.distance_to(mark.position_mm)[0])
            if distance >= PLACED_FAR_MM:
                out.append(f"landmark {name} was placed {distance:.0f} mm from the IVC centerline: check its position "
                           "(LPS millimetres)")
    return out


def _without_paths(text: str, source: str | os.PathLike | Volume, meta: Mapping[str, Any]) -> str:
    """``text`` with the input's local folder written as ``<input>`` (an anonymized report names files
    relative to it: folder names often carry the patient's name)."""
    roots = {str(meta.get("source_path") or "")}
    if not isinstance(source, Volume):
        roots |= {str(source), os.path.abspath(source), os.path.realpath(source)}
    for root in sorted((r for r in roots if len(r) > 1), key=len, reverse=True):
        text = text.replace(root, "<input>")
    return text


def _caudate_levels(landmarks: Landmarks | None, extra: Mapping[str, Landmark]) -> tuple[float | None, float | None]:
    """LPS heights between which the caudate lobe lies: the liver's caudal edge and the hepatic vein ostia."""
    edge = extra.get("liver_caudal_edge")
    hv = None if landmarks is None else landmarks["hepatic_veins"]
    low = float(edge.position_mm[2]) if edge is not None and edge.found else None
    high = float(hv.position_mm[2]) if hv is not None and hv.found else None
    return low, high


def _load(source: str | os.PathLike | Volume, series: str | int | None, progress: ProgressCallback,
          assume_spacing: tuple[float, float, float] | None = None) -> Volume:
    if isinstance(source, Volume):
        return source
    return io.load(source, series=series, progress=progress, assume_spacing=assume_spacing)


def _segment(volume: Volume, labels: str | os.PathLike | Labelmap | None, seeds: Seeds | None,
             progress: ProgressCallback) -> Segmentation:
    if isinstance(labels, Labelmap):
        lm = labels if labels.grid.is_same(volume.grid) else labels.resample_to(volume.grid)
        present = {int(v) for v in np.unique(lm.array)}
        confidence = {lab.key: (1.0 if int(lab) in present else 0.0) for lab in Label if lab is not Label.BACKGROUND}
        return Segmentation(lm, confidence, "unknown", ("segmentation supplied by the caller",))
    if labels is None:
        return anatomy.segment(volume, seeds=seeds, progress=progress)
    if not Path(labels).exists():
        raise InputError("segmentation file not found", labels)
    imported = io.load_labels(labels, volume)  # before the slow segmentation: bad files fail fast
    return anatomy.merge(anatomy.segment(volume, seeds=seeds, progress=progress), imported)


def _report(volume: Volume, segmentation: Segmentation, cl: Centerline | None, landmarks: Landmarks | None,
            placed: Mapping[str, Landmark], segment_map: SegmentMap | None, tumor: TumorMeasurements,
            liver: LiverMeasurements, warnings: list[str], extra_landmarks: Mapping[str, Landmark],
            found_collaterals: Mapping[str, Any] | None) -> dict[str, Any]:
    conf = segmentation.confidence
    ivc = {"detected": cl is not None,
           "centerline_length_mm": None if cl is None else round(cl.length_mm, 2),
           "confidence": conf.get(Label.IVC_LUMEN.key),
           "reaches_caudal_border": None if cl is None else cl.reaches_caudal_border,
           "reaches_cranial_border": None if cl is None else cl.reaches_cranial_border}
    if cl is not None and landmarks is not None:
        lms = landmarks.to_dict()
        tumor_range = None if not tumor.present or tumor.lower_pole_s_mm is None else \
            (tumor.lower_pole_s_mm, tumor.upper_pole_s_mm)
        levels = ivc_size.diameters(cl, renal_s=landmarks.s("renal_veins"), caj_s=landmarks.s("cavoatrial_junction"),
                                    tumor_range=tumor_range)
        ivc["diameters_mm"] = {name: level.to_dict() for name, level in levels.items()}
    else:
        lms = {name: placed[name].to_dict() if name in placed else
               {"position_mm": None, "s_mm": None, "confidence": 0.0, "detail": "no IVC centerline",
                "source": "automatic"} for name in LANDMARKS}
        ivc["diameters_mm"] = {name: {"ap": None, "transverse": None, "reason": "no IVC centerline"}
                               for name in ivc_size.LEVELS}
    for name in CLAMP_LANDMARKS:
        mark = extra_landmarks.get(name) or placed.get(name)
        lms[name] = mark.to_dict() if mark is not None else {"position_mm": None, "s_mm": None, "confidence": 0.0,
                                                              "detail": "no IVC centerline", "source": "automatic"}
    tumor_dict = tumor.to_dict()
    tumor_dict["confidence"] = conf.get(Label.IVC_TUMOR.key) if tumor.present else None
    if tumor.present and found_collaterals is not None:
        found = dict(found_collaterals)
        tumor_dict["collateral_return"] = found.pop("collateral_return")
        tumor_dict["collaterals"] = found
        # The segmentation shows contact; invasion of adjacent organs is not assessed from it.
        tumor_dict["organs_invaded"] = None
    return contract.assemble(
        input=contract.input_section(volume.grid.shape, volume.grid.spacing, volume.meta, warnings,
                                     segmentation.phase),
        ivc=ivc, landmarks=lms, segments_in_view=[] if segment_map is None else segment_map.segments_in_view(),
        tumor=tumor_dict, liver=liver.to_dict())

