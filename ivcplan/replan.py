"""Correct, then re-plan: a finished analysis plus a person's corrections gives a new analysis and
what changed in it.

The automatic segmentation is never run again. A replan takes the analysis' CT, segmentation and
centerline as they are, merges imported or painted labels when given (then traces a new
centerline), and calls `ivcplan.pipeline.measure_and_plan` with every correction in force (the
analysis' own, replayed, then the new ones): the landmarks nobody placed are found again, the
measurements, the report and the plan follow.

    open_analysis(folder, ct=None) -> Analysis                      # an `ivcplan analyze` folder, in memory
    replan(analysis, corrections, labels=None, by=...) -> Replanned # in memory (the viewer)
    replan_folder(folder, corrections, labels=None, ct=None, by=...) -> Replanned   # `ivcplan replan`
    write_replan(analysis, folder, reuse_from=None) -> {kind: path}  # every output, corrections.json too
    save_replan(analysis, out, reuse_from=None, force=False) -> Path # the same, published whole (the viewer)

`Replanned.changes` lists the report fields whose value changed (the plan's first).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ivcplan import anatomy, io, plan
from ivcplan.analysis import Analysis, Measurements
from ivcplan.anatomy import Segmentation
from ivcplan.errors import InputError, OptionError, OutputError, SeriesError
from ivcplan.labels import Label
from ivcplan.measure import Centerline
from ivcplan.outputs import ALL, write_outputs
from ivcplan.outputs.publish import Staging
from ivcplan.outputs.state import (
    SEGMENTATION_FILE,
    AnalysisState,
    read_centerline,
    read_state,
    segmentation_digest,
)
from ivcplan.pipeline import measure_and_plan
from ivcplan.progress import ProgressCallback
from ivcplan.report.corrections import SEGMENTATION, Correction, segmentation_correction
from ivcplan.volume import Grid, Labelmap, Volume

log = logging.getLogger(__name__)

__all__ = ["Change", "Replanned", "check_folder", "open_analysis", "replan", "replan_folder", "save_replan",
           "target_contents", "write_replan"]

REPORT_FILE = "report.json"
#: A placed landmark must lie within the CT's field of view, widened by this margin (mm): a point
#: farther out is a typing or coordinate-convention slip, not a position on this scan.
LANDMARK_FOV_MARGIN_MM = 10.0
#: Report keys left out of `Replanned.changes`: run facts, the record of the edits themselves, texts.
_NOT_COMPARED = ("timings_s", "provenance", "corrections", "edited", "detail", "disclaimer", "rules_not_fired",
                 "rules_file", "rules_sha256")


@dataclass(frozen=True)
class Change:
    """One report field whose value differs after the replan (``field`` as ``section.key[.key]``)."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Replanned:
    """The analysis after the corrections and what changed in its report (the plan's fields first)."""

    analysis: Analysis
    changes: tuple[Change, ...]
    #: The corrections this replan added (stamped, their ``old`` values filled in).
    added: tuple[Correction, ...]
    #: Whether the centerline was kept (the segmentation did not change).
    centerline_kept: bool


@dataclass(frozen=True)
class _Source:
    """What a replan starts from."""

    volume: Volume
    segmentation: Segmentation
    centerline: Centerline | None
    corrections: tuple[Correction, ...]
    clinical: Mapping[str, Any]
    rules: plan.RuleSet
    report: Mapping[str, Any]
    #: The measurements made on this segmentation and centerline.
    measured: Measurements | None = None
    anonymize: bool = False


# -- the in-memory API --------------------------------------------------------------------------------
def replan(analysis: Analysis, corrections: Sequence[Correction] = (), *,
           labels: str | os.PathLike | Labelmap | None = None, by: str | None = None, why: str | None = None,
           progress: ProgressCallback | None = None) -> Replanned:
    """Apply ``corrections`` (and ``labels``) to ``analysis``; the analysis itself is not changed.

    ``labels``: a segmentation file merged over the analysis' segmentation (as ``ivcplan analyze
    --labels`` does) or a `Labelmap` on the CT grid that replaces it (painted in the viewer); a
    changed segmentation is recorded as a correction by ``by`` (needed then), with ``why``.
    """
    if analysis.rules is None:
        raise InputError("the analysis does not say which rules made its plan (Analysis.rules)", "analysis")
    source = _Source(analysis.volume, analysis.segmentation, analysis.centerline, analysis.corrections,
                     analysis.clinical, analysis.rules, analysis.report, analysis.measurements,
                     bool(analysis.report.get("provenance", {}).get("anonymized")))
    return _replan(source, corrections, labels, by, why, progress)


def open_analysis(folder: str | os.PathLike, *, ct: str | os.PathLike | None = None,
                  progress: ProgressCallback | None = None) -> Analysis:
    """The analysis an `ivcplan analyze` (or `ivcplan replan`) folder holds, measured again from its
    segmentation and centerline with its corrections (the folder is only read)."""
    source = _restore(Path(folder), ct)
    return measure_and_plan(source.volume, source.segmentation, centerline=source.centerline,
                            corrections=source.corrections, rules=source.rules, clinical=source.clinical,
                            anonymize=source.anonymize, progress=progress)


def replan_folder(folder: str | os.PathLike, corrections: Sequence[Correction] = (), *,
                  labels: str | os.PathLike | Labelmap | None = None, ct: str | os.PathLike | None = None,
                  by: str | None = None, why: str | None = None, progress: ProgressCallback | None = None) -> Replanned:
    """`replan` of the analysis in ``folder`` (``ct``: where its CT is now, when it moved).

    The changes are against the folder's report.json; the folder is only read.
    """
    return _replan(_restore(Path(folder), ct), corrections, labels, by, why, progress)


def check_folder(folder: str | os.PathLike, corrections: Sequence[Correction] = (), *,
                 ct: str | os.PathLike | None = None) -> AnalysisState:
    """What can be checked of a replan before any work (no CT, no segmentation read): the folder is a
    complete analysis, its rules are the ones it was planned with, its CT is where it says (or at
    ``ct``), and every placed landmark lies in the CT's field of view (`InputError` naming the file or
    the value; `OptionError` for a landmark, a bad value given)."""
    state = read_state(folder)
    _rules(state)
    _ct_path(state, ct)
    try:
        _check_inside(corrections, state.grid)
    except InputError as exc:
        raise OptionError(f"--landmark: {exc}") from None
    return state


def write_replan(analysis: Analysis, folder: str | os.PathLike, *, reuse_from: str | os.PathLike | None = None,
                 kinds: Iterable[str] | str = ALL, skipped: dict[str, str] | None = None,
                 reused: list[str] | None = None) -> dict[str, Path]:
    """Every output of a replanned analysis into ``folder`` (corrections.json with the state files):
    what `ivcplan replan` writes into its staging folder and the viewer's Save publishes. Files that
    depend only on the CT and the segmentation are copied from ``reuse_from`` (the analysis folder the
    replan started from) when it holds the same CT and segmentation."""
    try:
        return write_outputs(analysis, folder, kinds, skipped=skipped, reuse_from=reuse_from, reused=reused)
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"cannot write the outputs ({exc.strerror or exc})", exc.filename or folder) from None


def target_contents(out: str | os.PathLike, *, reuse_from: str | os.PathLike | None = None) -> str:
    """What ``out`` holds that a save would replace whole: "" (nothing), "same input" (an earlier save of
    this analysis folder), "other input" or "other files" (only with ``force``). `OptionError` when ``out``
    can never take a replan's outputs: it lies in or holds the analysis folder, is a file, or a protected
    folder (`ivcplan.outputs.publish.Staging.check`)."""
    source = Path(reuse_from) if reuse_from is not None else None
    if source is not None:
        a, b = source.resolve(), Path(out).resolve()
        if a == b or a in b.parents or b in a.parents:
            raise OptionError(f"the new folder {out} must lie outside the analysis folder {source} (and not hold "
                              "it): a correction never changes the analysis it starts from")
    stage = Staging(Path(out), source=source, force=True)
    stage.check()
    return stage.replaced


def save_replan(analysis: Analysis, out: str | os.PathLike, *, reuse_from: str | os.PathLike | None = None,
                force: bool = False, kinds: Iterable[str] | str = ALL, skipped: dict[str, str] | None = None,
                reused: list[str] | None = None) -> Path:
    """`write_replan` into a staging folder beside ``out``, published whole in its place (as
    `ivcplan replan` does): ``out`` keeps what it held if anything fails. ``out`` may hold an earlier
    save of the same analysis folder, anything else needs ``force`` (`ivcplan.outputs.publish.Staging`)."""
    source = Path(reuse_from) if reuse_from is not None else None
    target_contents(out, reuse_from=source)
    with Staging(Path(out), source=source, force=force) as stage:
        write_replan(analysis, stage.path, reuse_from=source, kinds=kinds, skipped=skipped, reused=reused)
        return stage.publish({"series_instance_uid": analysis.report["input"].get("series_instance_uid"),
                              "replan_of": None if source is None else str(source.resolve())})


# -- restoring an analysis folder ----------------------------------------------------------------------
def _restore(folder: Path, ct: str | os.PathLike | None) -> _Source:
    state = read_state(folder)
    report = _read_report(folder)
    rules = _rules(state)
    volume = _load_ct(state, ct)
    labelmap = _read_segmentation(state, volume.grid)
    centerline = None if state.centerline_file is None else read_centerline(state.centerline_file,
                                                                               state.segmentation_sha256)
    segmentation = Segmentation(labelmap, dict(state.confidence), state.phase, state.segmentation_warnings)
    return _Source(volume, segmentation, centerline, state.corrections, state.clinical, rules, report,
                   state.measurements, state.anonymized)


def _read_report(folder: Path) -> dict[str, Any]:
    path = folder / REPORT_FILE
    if not path.is_file():
        raise InputError(f"not a complete ivcplan analysis (no {REPORT_FILE})", folder)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the report: {exc}", path) from None


def _rules(state: AnalysisState) -> plan.RuleSet:
    """The analysis' own rules, unchanged since (else the plan would change for another reason): the
    shipped rules of this ivcplan, or the rules file the analysis named."""
    if state.rules_shipped:
        rules = plan.load_rules()
        where: object = rules.path
    elif state.rules_path:
        where = state.rules_path
        if not Path(where).is_file():
            raise InputError("the analysis' rules file is not there any more", where)
        rules = plan.load_rules(where)
    else:
        raise InputError("the analysis does not record its rules file", state.folder)
    if state.rules_sha256 is not None and rules.sha256 != state.rules_sha256:
        raise InputError(f"the rules changed since the analysis (SHA-256 {state.rules_sha256[:12]}... now "
                         f"{rules.sha256[:12]}...): the new plan would mix the corrections with other rules; analyse "
                         "the CT again with these rules", where)
    return rules


def _load_ct(state: AnalysisState, ct: str | os.PathLike | None) -> Volume:
    """The analysis' CT (from where it was, or ``ct``), checked against the analysis' series and grid."""
    where = _ct_path(state, ct)
    try:
        volume = io.load(where, series=state.series_instance_uid)
    except SeriesError:
        raise InputError(f"no series {state.series_instance_uid} (the analysed one) here", where) from None
    uid = str(volume.meta.get("series_instance_uid") or "") or None
    if state.series_instance_uid is not None and uid != state.series_instance_uid:
        raise InputError(f"series {uid} is not the analysed one ({state.series_instance_uid})", where)
    if not volume.grid.is_same(state.grid):
        raise InputError(f"CT grid {_describe(volume.grid)} does not match the analysis' {_describe(state.grid)}",
                         where)
    meta = dict(volume.meta)
    if ct is None:
        meta["source_path"] = state.source_path  # as the analysis reported it
    # The analysis' own loader warnings (the report keeps saying what it said of this CT).
    return Volume(volume.array, volume.grid, meta, state.volume_warnings)


def _ct_path(state: AnalysisState, ct: str | os.PathLike | None) -> Path:
    """Where the analysis' CT is (``ct`` when given), checked to exist."""
    where = Path(ct) if ct is not None else Path(state.source_path_abs or state.source_path or "")
    if ct is None and not (state.source_path_abs or state.source_path):
        raise InputError("the analysis does not record where its CT is" + (" (anonymized)" if state.anonymized else "")
                         + "; give it with --ct", state.folder)
    if not where.exists():
        raise InputError("the analysis' CT is not there any more" + ("" if ct is not None else
                         "; give its new place with --ct"), where)
    return where


def _describe(grid: Grid) -> str:
    return f"{list(grid.shape)} x {np.round(grid.spacing, 3).tolist()} mm at {np.round(grid.origin, 2).tolist()}"


def _read_segmentation(state: AnalysisState, grid: Grid) -> Labelmap:
    import nibabel

    path = state.segmentation_file
    try:
        image = Volume.from_nifti(nibabel.load(str(path)))
    except Exception as exc:  # nibabel raises many types for a damaged file
        raise InputError(f"cannot read the segmentation ({type(exc).__name__}: {exc})", path) from None
    if not image.grid.is_same(grid):
        raise InputError(f"segmentation grid {_describe(image.grid)} does not match the CT's {_describe(grid)}", path)
    labelmap = Labelmap(np.asarray(image.array).astype(np.uint8), grid)
    if segmentation_digest(labelmap) != state.segmentation_sha256:
        raise InputError(f"{SEGMENTATION_FILE} changed since the analysis; bring a corrected segmentation in "
                         "with --labels instead", path)
    return labelmap


# -- the replan ----------------------------------------------------------------------------------------
def _replan(source: _Source, corrections: Sequence[Correction], labels: str | os.PathLike | Labelmap | None,
            by: str | None, why: str | None, progress: ProgressCallback | None) -> Replanned:
    new = list(corrections)
    if any(not isinstance(c, Correction) or c.kind == "segmentation" for c in new):
        raise InputError("corrections must be ivcplan.report.corrections.Correction of landmarks, fields or "
                         "clinical facts (a new segmentation is given as labels)", "corrections")
    _check_inside(new, source.volume.grid)
    segmentation, centerline = source.segmentation, source.centerline
    if labels is not None:
        segmentation, label_change = _new_segmentation(source.segmentation, source.volume, labels, by, why)
        if label_change is not None:
            new.insert(0, label_change)
            centerline = None  # traced again on the new labels
    new = _with_old_values(new, source.report)
    everything = (*source.corrections, *new)
    # Same segmentation and centerline: measure_and_plan reuses each measurement whose inputs did not change.
    measured = source.measured if centerline is not None else None
    analysis = measure_and_plan(source.volume, segmentation, centerline=centerline, measured=measured,
                                corrections=everything,
                                rules=source.rules, clinical=source.clinical, anonymize=source.anonymize,
                                progress=progress)
    return Replanned(analysis, diff(source.report, analysis.report), tuple(new), centerline is not None)


def _check_inside(corrections: Sequence[Correction], grid: Grid) -> None:
    """A placed landmark lies in the CT's field of view (LPS mm), or it is a slip."""
    corners = grid.index_to_lps(np.array([[i, j, k] for i in (-0.5, grid.shape[0] - 0.5)
                                          for j in (-0.5, grid.shape[1] - 0.5) for k in (-0.5, grid.shape[2] - 0.5)]))
    lo, hi = corners.min(axis=0) - LANDMARK_FOV_MARGIN_MM, corners.max(axis=0) + LANDMARK_FOV_MARGIN_MM
    for c in corrections:
        if c.kind == "landmark" and c.new is not None:
            pos = np.asarray(c.new, dtype=float)
            if np.any(pos < lo) or np.any(pos > hi):
                box = ", ".join(f"{axis} {a:.0f}..{b:.0f}" for axis, a, b in zip("xyz", lo, hi, strict=True))
                raise InputError(f"landmark {c.name} at {[round(v, 1) for v in c.new]} mm lies outside the CT "
                                 f"(LPS {box} mm): positions are LPS millimetres (x to the patient's left, "
                                 "y posterior, z head)")


def _new_segmentation(segmentation: Segmentation, volume: Volume, labels: str | os.PathLike | Labelmap,
                      by: str | None, why: str | None) -> tuple[Segmentation, Correction | None]:
    """The segmentation with ``labels`` merged in (a file) or in its place (a Labelmap), and the
    correction recording it (None when nothing changed)."""
    if isinstance(labels, Labelmap):
        if not labels.grid.is_same(volume.grid):
            raise InputError(f"labelmap grid {_describe(labels.grid)} is not the CT's {_describe(volume.grid)}",
                             "labels")
        before = segmentation.labelmap.array
        changed = [lab for lab in Label if lab is not Label.BACKGROUND
                   and not np.array_equal(before == lab, labels.array == lab)]
        confidence = {**segmentation.confidence, **{lab.key: 1.0 if np.any(labels.array == lab) else 0.0
                                                    for lab in changed}}
        what = "labels edited by hand"
        merged = Segmentation(labels.with_array(labels.array.astype(np.uint8, copy=False)), confidence,
                              segmentation.phase,
                              (*segmentation.warnings, f"{what}: {', '.join(lab.key for lab in changed)}")
                              if changed else segmentation.warnings)
    else:
        path = Path(labels)
        if not path.exists():
            raise InputError("segmentation file not found", path)
        merged = anatomy.merge(segmentation, io.load_labels(path, volume))
        what = str(path)
    old_digest, new_digest = segmentation_digest(segmentation.labelmap), segmentation_digest(merged.labelmap)
    if old_digest == new_digest:
        log.info("the labels from %s change no voxel: segmentation kept", what)
        return segmentation, None
    if by is None:
        raise InputError("say who changed the segmentation (by)", "by")
    a, b = segmentation.labelmap.array, merged.labelmap.array
    changed_voxels = {lab.key: int(np.count_nonzero((a == lab) != (b == lab))) for lab in Label
                      if lab is not Label.BACKGROUND}
    correction = segmentation_correction(
        {"sha256": old_digest},
        {"sha256": new_digest, "source": what, "changed_voxels": {k: v for k, v in changed_voxels.items() if v}},
        by=by, why=why)
    return merged, correction


def _with_old_values(corrections: list[Correction], report: Mapping[str, Any]) -> list[Correction]:
    """Each correction with ``old`` = the value in ``report`` (or the previous correction of the same field)."""
    current: dict[str, Any] = {}
    out = []
    for c in corrections:
        if c.what == SEGMENTATION:
            out.append(c)
            continue
        old = current[c.what] if c.what in current else _value_at(report, c.what)
        out.append(replace(c, old=old))
        current[c.what] = c.new
    return out


def _value_at(report: Mapping[str, Any], what: str) -> Any:
    node: Any = report
    for key in what.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


# -- what changed --------------------------------------------------------------------------------------
def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[Change, ...]:
    """The fields whose value differs between two reports (plan first; run facts and edit records left out)."""
    a, b = _leaves(before), _leaves(after)
    changes = [Change(k, a.get(k), b.get(k)) for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
    return tuple(sorted(changes, key=lambda c: not c.field.startswith("plan.")))


def _leaves(report: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in report.items():
        if key in _NOT_COMPARED:
            continue
        name = f"{prefix}{key}"
        if name == "plan.rules":
            out[name] = [rule.get("id") for rule in value]
        elif isinstance(value, Mapping):
            out.update(_leaves(value, f"{name}."))
        else:
            out[name] = value
    return out
