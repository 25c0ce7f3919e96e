"""What `ivcplan replan` needs from an analysis folder besides its CT and segmentation.nii.gz.

``analysis_state.json``: where the CT is (path, series UID, grid), the state that cannot be
recomputed without segmenting again (the segmentation's confidences, contrast phase and warnings;
the loader's warnings), the clinical facts as given, the rules file and its SHA-256, the
segmentation's digest, and the landmarks and measurements at full precision with the landmark
corrections they were made with (a replan that changes facts only reuses them). ``centerline.npz``:
the IVC centerline's arrays, so that an unchanged segmentation needs no new centerline.
``corrections.json``: the human changes in force (`ivcplan.report.corrections`). The state names the
files it goes with; stale ones are removed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ivcplan.analysis import Analysis, Measurements
from ivcplan.errors import InputError
from ivcplan.measure import Centerline, Landmark, Landmarks, LiverMeasurements, TumorMeasurements
from ivcplan.report.corrections import CORRECTIONS_FILE, Correction, read_corrections, write_corrections
from ivcplan.volume import Grid, Labelmap

log = logging.getLogger(__name__)

STATE_SCHEMA = "ivcplan.analysis-state/1"
STATE_FILE = "analysis_state.json"
CENTERLINE_FILE = "centerline.npz"
SEGMENTATION_FILE = "segmentation.nii.gz"
#: How `ivcplan.plan.load_rules` names the rules shipped with the package.
SHIPPED = "(shipped with ivcplan)"
_CENTERLINE_FIELDS = tuple(f.name for f in dataclasses.fields(Centerline) if not f.name.startswith("_"))


def segmentation_digest(labelmap: Labelmap) -> str:
    """SHA-256 of the label values (as written to segmentation.nii.gz, uint8) and the grid's shape.

    The geometry is compared separately (`Grid.is_same`): NIfTI stores it in single precision.
    """
    digest = hashlib.sha256(np.asarray(labelmap.grid.shape, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(labelmap.array.astype(np.uint8, copy=False)).tobytes())
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def write_state(analysis: Analysis, outdir: Path) -> Path:
    """analysis_state.json, centerline.npz (when there is a centerline), corrections.json (when any)."""
    outdir = Path(outdir)
    grid, meta = analysis.volume.grid, analysis.volume.meta
    seg = analysis.segmentation
    rules = analysis.rules
    digest = segmentation_digest(analysis.labelmap)
    anonymized = bool(analysis.report.get("provenance", {}).get("anonymized"))
    # As reported; the absolute path finds it from anywhere. An anonymized analysis keeps no local path.
    source = "" if anonymized else str(meta.get("source_path") or "")
    centerline = _write_centerline(analysis.centerline, outdir, digest)
    corrections = _write_corrections(analysis.corrections, outdir)
    state = {
        "schema": STATE_SCHEMA,
        "ct": {"source_path": source or None, "source_path_abs": os.path.abspath(source) if source else None,
               "series_instance_uid": str(meta.get("series_instance_uid") or "") or None,
               "grid": _grid_dict(grid)},
        "anonymized": anonymized,
        "volume_warnings": list(analysis.volume.warnings),
        "segmentation": {"file": SEGMENTATION_FILE, "sha256": digest, "confidence": dict(seg.confidence),
                         "phase": seg.phase, "warnings": list(seg.warnings)},
        "centerline": centerline,
        "corrections": corrections,
        "clinical": dict(analysis.clinical),
        "rules": {"path": str(rules.path) if rules is not None else None,
                  "sha256": (rules.sha256 or file_sha256(rules.path)) if rules is not None else None,
                  "shipped": rules is not None and rules.name.endswith(SHIPPED)},
        "measurements": _measurements_dict(analysis),
    }
    path = outdir / STATE_FILE
    path.write_text(json.dumps(state, indent=2, default=_plain) + "\n", encoding="utf-8")
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _measurements_dict(analysis: Analysis) -> dict[str, Any] | None:
    """The measurements at full precision with what they were made from, and the field names of their
    types (a later ivcplan with other fields measures again)."""
    measured = analysis.measurements
    if measured is None:
        return None
    return {
        "fields": _current_fields(),
        "landmark_corrections": [c.to_dict() for c in measured.landmark_corrections],
        "landmarks": {name: dataclasses.asdict(mark) for name, mark in measured.landmarks.items()},
        "clamp_landmarks": {name: dataclasses.asdict(mark) for name, mark in measured.clamp_landmarks.items()},
        "tumor": dataclasses.asdict(measured.tumor),
        "liver": dataclasses.asdict(measured.liver),
        "caudate_levels": list(measured.caudate_levels),
        "collaterals": measured.collaterals,
        "collaterals_renal_z": measured.collaterals_renal_z,
    }


def _current_fields() -> dict[str, list[str]]:
    return {"landmark": _fields(Landmark), "tumor": _fields(TumorMeasurements), "liver": _fields(LiverMeasurements),
            "measurements": _fields(Measurements)}


def _grid_dict(grid: Grid) -> dict[str, Any]:
    return {"shape": list(grid.shape), "spacing_mm": grid.spacing.tolist(), "origin_mm": grid.origin.tolist(),
            "direction": grid.direction.tolist()}


def _write_centerline(centerline: Centerline | None, outdir: Path, digest: str) -> str | None:
    path = outdir / CENTERLINE_FILE
    if centerline is None:
        path.unlink(missing_ok=True)  # a stale one from an earlier analysis in this folder
        return None
    arrays = {name: np.asarray(getattr(centerline, name)) for name in _CENTERLINE_FIELDS}
    with path.open("wb") as fh:
        np.savez_compressed(fh, segmentation_sha256=np.asarray(digest), **arrays)
    return CENTERLINE_FILE


def _write_corrections(corrections: tuple[Correction, ...], outdir: Path) -> str | None:
    path = outdir / CORRECTIONS_FILE
    if not corrections:
        path.unlink(missing_ok=True)
        return None
    write_corrections(corrections, path)
    return CORRECTIONS_FILE


# -- reading back ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnalysisState:
    """analysis_state.json read back and checked (paths resolved in ``folder``)."""

    folder: Path
    source_path: str | None
    source_path_abs: str | None
    series_instance_uid: str | None
    grid: Grid
    volume_warnings: tuple[str, ...]
    segmentation_sha256: str
    confidence: Mapping[str, float]
    phase: str
    segmentation_warnings: tuple[str, ...]
    centerline_file: Path | None
    corrections: tuple[Correction, ...]
    clinical: Mapping[str, Any]
    rules_path: str | None
    rules_sha256: str | None
    #: The rules shipped with ivcplan (found in the installed package whatever its path then was).
    rules_shipped: bool
    #: Whether the report leaves the study identifiers and the CT's local path out.
    anonymized: bool = False
    #: The measurements with what they were made from (None: measure again).
    measurements: Measurements | None = None

    @property
    def segmentation_file(self) -> Path:
        return self.folder / SEGMENTATION_FILE


def incomplete(folder: Path, why: str) -> InputError:
    return InputError(f"not a complete ivcplan analysis ({why}); run ivcplan analyze with all outputs", folder)


def read_state(folder: str | Path) -> AnalysisState:
    """The state of the analysis in ``folder``; `InputError` naming the folder when something is missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("analysis folder not found", folder)
    path = folder / STATE_FILE
    if not path.is_file():
        raise incomplete(folder, f"no {STATE_FILE}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the analysis state: {exc}", path) from None
    if not isinstance(data, dict) or data.get("schema") != STATE_SCHEMA:
        raise InputError(f"not an ivcplan analysis state (expected schema {STATE_SCHEMA!r})", path)
    try:
        ct, seg = data["ct"], data["segmentation"]
        g = ct["grid"]
        grid = Grid(tuple(g["shape"]), np.asarray(g["spacing_mm"], float), np.asarray(g["origin_mm"], float),
                    np.asarray(g["direction"], float))
        state = AnalysisState(
            folder=folder, source_path=ct["source_path"], source_path_abs=ct["source_path_abs"],
            series_instance_uid=ct["series_instance_uid"], grid=grid,
            volume_warnings=tuple(data["volume_warnings"]), segmentation_sha256=str(seg["sha256"]),
            confidence={str(k): float(v) for k, v in seg["confidence"].items()}, phase=str(seg["phase"]),
            segmentation_warnings=tuple(seg["warnings"]),
            centerline_file=None if data["centerline"] is None else folder / str(data["centerline"]),
            corrections=() if data["corrections"] is None else read_corrections(folder / str(data["corrections"])),
            clinical=dict(data["clinical"]), rules_path=data["rules"]["path"], rules_sha256=data["rules"]["sha256"],
            rules_shipped=bool(data["rules"]["shipped"]),
            anonymized=bool(data["anonymized"]), measurements=_read_measurements(data.get("measurements"), path))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"damaged analysis state ({type(exc).__name__}: {exc})", path) from None
    if data["corrections"] is not None and not (folder / str(data["corrections"])).is_file():
        raise incomplete(folder, f"{data['corrections']} missing")
    for needed in (state.segmentation_file, state.centerline_file):
        if needed is not None and not needed.is_file():
            raise incomplete(folder, f"{needed.name} missing")
    return state


def _read_measurements(data: Any, path: Path) -> Measurements | None:
    """The saved measurements, or None (logged) when there are none or they do not fit this ivcplan."""
    if data is None:
        return None
    try:
        if data["fields"] != _current_fields():
            log.info("%s: measurements saved by another version of ivcplan: measured again", path)
            return None
        return Measurements(
            landmarks=Landmarks({name: _landmark(mark) for name, mark in data["landmarks"].items()}),
            clamp_landmarks={name: _landmark(mark) for name, mark in data["clamp_landmarks"].items()},
            tumor=TumorMeasurements(**data["tumor"]), liver=LiverMeasurements(**data["liver"]),
            landmark_corrections=tuple(Correction.from_dict(c, f"{path}: measurements")
                                       for c in data["landmark_corrections"]),
            caudate_levels=tuple(data["caudate_levels"]), collaterals=data["collaterals"],
            collaterals_renal_z=data["collaterals_renal_z"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        log.info("%s: saved measurements not usable (%s): measured again", path, exc)
        return None


def _landmark(data: Mapping[str, Any]) -> Landmark:
    position = data["position_mm"]
    return Landmark(**{**data, "position_mm": None if position is None else np.asarray(position, dtype=float)})


def read_centerline(path: Path, digest: str) -> Centerline:
    """The centerline saved with the segmentation of ``digest``; `InputError` when it belongs to another one."""
    try:
        with np.load(path, allow_pickle=False) as data:
            saved_for = str(data["segmentation_sha256"])
            values = {name: data[name] for name in _CENTERLINE_FIELDS if name in data}
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"cannot read the centerline: {exc}", path) from None
    if saved_for != digest:
        raise InputError("the centerline was traced on another segmentation than segmentation.nii.gz", path)
    for flag in ("reaches_caudal_border", "reaches_cranial_border"):
        values[flag] = bool(values[flag])
    return Centerline(**values)


def same_segmentation(folder: Path, analysis: Analysis) -> bool:
    """Whether ``folder`` holds an analysis of the same CT (series, grid) with the same segmentation:
    then its files that depend on nothing else can be reused."""
    try:
        state = read_state(folder)
    except InputError as exc:
        log.info("outputs of %s not reused: %s", folder, exc)
        return False
    uid = str(analysis.volume.meta.get("series_instance_uid") or "") or None
    return (state.series_instance_uid == uid and state.grid.is_same(analysis.volume.grid)
            and state.segmentation_sha256 == segmentation_digest(analysis.labelmap))
