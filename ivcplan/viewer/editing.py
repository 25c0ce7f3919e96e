"""What a person changes in the viewer before a re-plan: placed landmarks, painted labels, set facts.

`EditSession` holds the analysis being corrected and the edits not yet re-planned: corrections
(`ivcplan.report.corrections`: landmarks, report facts, clinical facts) and a copy of the labelmap
that the brush paints into, with undo by stroke. `replan()` hands both to `ivcplan.replan.replan`,
the function `ivcplan replan` runs, and `save()` writes through `ivcplan.replan.save_replan`, so
the viewer's corrections.json and outputs are the command line's. No Qt here: the window calls
these from its widgets and runs `replan` / `save` as background jobs.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ivcplan.errors import InputError
from ivcplan.labels import Label
from ivcplan.report import corrections as corr

log = logging.getLogger(__name__)

#: Labels the brush paints (issue 20: the IVC lumen, the tumor, the hepatic and renal veins).
BRUSH_LABELS: tuple[Label, ...] = (Label.IVC_LUMEN, Label.IVC_TUMOR, Label.HEPATIC_VEIN_RIGHT,
                                   Label.HEPATIC_VEIN_MIDDLE, Label.HEPATIC_VEIN_LEFT, Label.RENAL_VEIN_RIGHT,
                                   Label.RENAL_VEIN_LEFT)
#: Brush radius (mm) by default: about a small vein's radius, so one stroke paints a vein's width.
BRUSH_RADIUS_MM = 4.0
#: Hepatic vein sides and their states in the panel (report fields tumor.hepatic_veins_invaded / _abutting).
HEPATIC_SIDES = ("right", "middle", "left")
VEIN_STATES = ("free", "abutting", "invaded")
#: A hepatic vein whose invasion the analysis could not assess (no hepatic vein segmented).
UNKNOWN_STATE = "unknown"
RENAL_SIDES = ("right", "left")


def default_user() -> str:
    """Who edits when nobody says: the login name (as `ivcplan replan` without --by)."""
    try:
        return getpass.getuser() or "viewer"
    except (KeyError, OSError):
        return "viewer"


@dataclass
class _Stroke:
    """One brush stroke: the flat voxel indices it changed and their values before."""

    flat: list[np.ndarray] = field(default_factory=list)
    before: list[np.ndarray] = field(default_factory=list)

    @property
    def voxels(self) -> int:
        return int(sum(len(f) for f in self.flat))


class EditSession:
    """The edits of one analysis since its last re-plan (see the module docstring)."""

    def __init__(self, analysis: Any, folder: str | os.PathLike | None = None, by: str | None = None) -> None:
        self.analysis = analysis
        #: The analysis folder it came from (outputs depending only on the CT and segmentation are reused).
        self.folder = Path(folder) if folder is not None else None
        self.by = by or default_user()
        self.why: str | None = None
        self.pending: list[corr.Correction] = []
        self.labels = analysis.segmentation.labelmap.array.copy()
        self._strokes: list[_Stroke] = []
        self._stroke: _Stroke | None = None

    # -- state ------------------------------------------------------------------------------------
    @property
    def labels_changed(self) -> bool:
        return not np.array_equal(self.labels, self.analysis.segmentation.labelmap.array)

    @property
    def dirty(self) -> bool:
        """Edits not yet re-planned."""
        return bool(self.pending) or self.labels_changed

    def landmark_positions(self) -> dict[str, list[float]]:
        """Every landmark's position (LPS mm) as the analysis has it, with the pending placements on top."""
        out = {name: mark.get("position_mm") for name, mark in (self.analysis.report.get("landmarks") or {}).items()}
        for c in self.pending:
            if c.kind == "landmark":
                out[c.name] = None if c.new is None else list(c.new)
        return {name: pos for name, pos in out.items() if pos is not None}

    def current(self, what: str) -> Any:
        """The value of a report field (``tumor.x``, ``clinical.y``) with the pending edits applied."""
        for c in reversed(self.pending):
            if c.what == what:
                return c.new
        node: Any = self.analysis.report
        for key in what.split("."):
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    # -- edits ------------------------------------------------------------------------------------
    def place_landmark(self, name: str, position_mm: Sequence[float] | None) -> corr.Correction:
        """Place (or, with None, remove) a landmark at LPS mm; checked as `ivcplan replan --landmark` is."""
        c = corr.landmark_correction(name, None if position_mm is None else [round(float(v), 2) for v in position_mm],
                                     by=self.by, why=self.why)
        return self._add(c)

    def set_field(self, name: str, value: Any) -> corr.Correction:
        """Set a report fact (`ivcplan.report.corrections.EDITABLE_FIELDS`), as ``--set`` does."""
        return self._add(corr.field_correction(name, value, by=self.by, why=self.why))

    def set_clinical(self, key: str, value: Any) -> corr.Correction:
        """Set a clinical fact, as ``--clinical`` does."""
        return self._add(corr.clinical_correction(key, value, by=self.by, why=self.why))

    def set_vein(self, side: str, state: str) -> list[corr.Correction]:
        """A hepatic vein's ostium ``invaded``, ``abutting`` or ``free``: sets both report lists. While the
        analysis left invasion unknown (null: no hepatic vein segmented), the first vein set states both
        lists, so the other two veins then read free until set."""
        if side not in HEPATIC_SIDES or state not in VEIN_STATES:
            raise InputError(f"hepatic vein {side!r} state {state!r}: sides {HEPATIC_SIDES}, states {VEIN_STATES}")
        out = []
        for listed, fieldname in (("invaded", "tumor.hepatic_veins_invaded"),
                                  ("abutting", "tumor.hepatic_veins_abutting")):
            current = self.current(fieldname)
            now = list(current or [])
            want = [s for s in HEPATIC_SIDES if (s in now and s != side) or (s == side and state == listed)]
            if want != now or current is None:
                out.append(self.set_field(fieldname, want))
        return out

    def vein_state(self, side: str) -> str:
        """``invaded``, ``abutting``, ``free``, or ``unknown`` while the invasion is unknown (null)."""
        if self.current("tumor.hepatic_veins_invaded") is None:
            return UNKNOWN_STATE
        if side in self.current("tumor.hepatic_veins_invaded"):
            return "invaded"
        if side in (self.current("tumor.hepatic_veins_abutting") or []):
            return "abutting"
        return "free"

    def set_renal(self, side: str, involved: bool) -> list[corr.Correction]:
        """A renal vein involved by the tumor or not (report field tumor.renal_veins_involved)."""
        now = list(self.current("tumor.renal_veins_involved") or [])
        want = [s for s in RENAL_SIDES if (s in now and s != side) or (s == side and involved)]
        return [self.set_field("tumor.renal_veins_involved", want)] if want != now else []

    def _add(self, c: corr.Correction) -> corr.Correction:
        # A field edited again before the re-plan: the latest value replaces the pending one (a drag is
        # one correction, not one per mouse release).
        self.pending = [p for p in self.pending if p.what != c.what]
        self.pending.append(c)
        return c

    # -- the brush --------------------------------------------------------------------------------
    def begin_stroke(self) -> None:
        self.end_stroke()
        self._stroke = _Stroke()

    def paint(self, index: Sequence[float], normal_axis: int, label: int, radius_mm: float = BRUSH_RADIUS_MM) -> int:
        """Paint ``label`` (0 erases to background) in a disc of ``radius_mm`` around array index
        ``index`` (z, y, x) within the slice across ``normal_axis``; returns the voxels changed."""
        if int(label) != 0 and Label(int(label)) not in BRUSH_LABELS:
            raise InputError(f"the brush paints {', '.join(lab.key for lab in BRUSH_LABELS)} (or erases), "
                             f"not label {int(label)}")
        if self._stroke is None:
            self.begin_stroke()
        assert self._stroke is not None
        disc = _disc(self.labels.shape, self.analysis.volume.grid.spacing, index, normal_axis, radius_mm)
        if disc is None:
            return 0
        flat = disc[self.labels.reshape(-1)[disc] != label]
        if not len(flat):
            return 0
        view = self.labels.reshape(-1)
        self._stroke.flat.append(flat)
        self._stroke.before.append(view[flat].copy())
        view[flat] = label
        return len(flat)

    def end_stroke(self) -> int:
        """Close the stroke under way (an undo step); returns its voxel count."""
        stroke, self._stroke = self._stroke, None
        if stroke is None or not stroke.voxels:
            return 0
        self._strokes.append(stroke)
        return stroke.voxels

    @property
    def can_undo(self) -> bool:
        return bool(self._strokes) or bool(self.pending)

    def undo(self) -> str | None:
        """Undo the last stroke or, with no stroke left, the last correction; says what was undone."""
        self.end_stroke()
        if self._strokes:
            stroke = self._strokes.pop()
            view = self.labels.reshape(-1)
            for flat, before in zip(reversed(stroke.flat), reversed(stroke.before), strict=True):
                view[flat] = before
            return f"brush stroke ({stroke.voxels} voxels)"
        if self.pending:
            return self.pending.pop().what
        return None

    # -- re-plan and save -------------------------------------------------------------------------
    def replan(self, progress: Any = None) -> Any:
        """`ivcplan.replan.replan` of the analysis with the pending edits (a pure function of them: the
        session itself changes only in `accept`)."""
        from ivcplan.replan import replan

        self.end_stroke()
        labels = self.analysis.segmentation.labelmap.with_array(self.labels.copy()) if self.labels_changed else None
        return replan(self.analysis, list(self.pending), labels=labels, by=self.by, why=self.why, progress=progress)

    def accept(self, replanned: Any) -> None:
        """The re-plan's analysis becomes the one edited (its corrections recorded in it)."""
        self.analysis = replanned.analysis
        self.pending = []
        self.labels = self.analysis.segmentation.labelmap.array.copy()
        self._strokes, self._stroke = [], None

    def target_contents(self, out: str | os.PathLike) -> str:
        """What a save into ``out`` would replace (`ivcplan.replan.target_contents`; `OptionError` when never)."""
        from ivcplan.replan import target_contents

        return target_contents(out, reuse_from=self.folder)

    def save(self, out: str | os.PathLike, *, force: bool = False, kinds: Iterable[str] | str = "all") -> Path:
        """Every output (or ``kinds``) and corrections.json of the analysis into ``out``, as `ivcplan
        replan` writes them (`ivcplan.replan.save_replan`); edits not yet re-planned are refused."""
        from ivcplan.replan import save_replan

        if self.dirty:
            raise InputError("re-plan before saving: there are edits the plan does not include yet")
        return save_replan(self.analysis, out, reuse_from=self.folder, force=force, kinds=kinds)


def _disc(shape: tuple[int, ...], spacing: Sequence[float], index: Sequence[float], normal_axis: int,
          radius_mm: float) -> np.ndarray | None:
    """Flat indices of the voxels of the slice through ``index`` (across ``normal_axis``) within
    ``radius_mm`` of it, or None when the slice lies outside the array."""
    centre = np.asarray(index, dtype=float)
    k = int(np.rint(centre[normal_axis]))
    if not 0 <= k < shape[normal_axis]:
        return None
    axes = [a for a in range(3) if a != normal_axis]
    ranges = []
    for a in axes:
        reach = int(np.ceil(radius_mm / float(spacing[a])))
        c = int(np.rint(centre[a]))
        ranges.append(np.arange(max(c - reach, 0), min(c + reach, shape[a] - 1) + 1))
    if any(len(r) == 0 for r in ranges):
        return None
    ga, gb = np.meshgrid(*ranges, indexing="ij")
    inside = ((ga - centre[axes[0]]) * spacing[axes[0]]) ** 2 + ((gb - centre[axes[1]]) * spacing[axes[1]]) ** 2 \
        <= radius_mm ** 2
    coords = [None, None, None]
    coords[normal_axis] = np.full(int(inside.sum()), k)
    coords[axes[0]], coords[axes[1]] = ga[inside], gb[inside]
    return np.ravel_multi_index(tuple(coords), shape)

