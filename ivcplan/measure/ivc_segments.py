"""IVC segments I/II/III along the centerline (Kulaylat 1997; conventions in docs/clinical.md).

I: below the I/II boundary (cranial edge of the highest renal vein inflow, landmark ``renal_veins``);
II: from there up to the II/III boundary (lowest hepatic vein ostium, landmark ``hepatic_veins``);
III: above, intracardiac extension included. A boundary that is not found is ``None``; a
segment that cannot be told from its neighbour is then not reported (never guessed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ivcplan.measure.centerline import Centerline
from ivcplan.measure.landmarks import Landmark

SEGMENTS = ("I", "II", "III")
#: A tumor counts in a segment only when it reaches more than this far (mm) into it: voxel-size
#: wobble at a boundary does not add a segment.
SEGMENT_OVERLAP_MM = 1.0
#: A segment is "in view" when at least this much (mm) of centerline lies in it.
MIN_IN_VIEW_MM = 5.0


@dataclass(frozen=True)
class SegmentMap:
    """Segment boundaries on the centerline arc length and the centerline's own range."""

    renal_s: float | None  # I/II boundary
    hepatic_s: float | None  # II/III boundary
    s_min: float
    s_max: float

    def ranges(self) -> dict[str, tuple[float, float]]:
        """Arc-length range of each segment that can be delimited (open ends are +-inf)."""
        inf = float("inf")
        out: dict[str, tuple[float, float]] = {}
        if self.renal_s is not None:
            out["I"] = (-inf, self.renal_s)
            out["II"] = (self.renal_s, self.hepatic_s if self.hepatic_s is not None else inf)
        if self.hepatic_s is not None:
            # Without the renal level, below III is I or II: left undecided.
            out["III"] = (self.hepatic_s, inf)
        return out

    def segment_at(self, s: float) -> str | None:
        """Segment containing arc length ``s`` (``None`` when the boundaries do not decide it)."""
        for name, (lo, hi) in self.ranges().items():
            if lo <= s < hi:
                return name
        return None

    def segments_in_view(self) -> list[str]:
        """Segments with at least `MIN_IN_VIEW_MM` of centerline inside the field of view."""
        return self.overlapping(self.s_min, self.s_max, MIN_IN_VIEW_MM)

    def overlapping(self, s_lo: float, s_hi: float, min_overlap: float = SEGMENT_OVERLAP_MM) -> list[str]:
        """Segments that the arc-length range [s_lo, s_hi] enters by more than ``min_overlap`` mm.

        A range shorter than ``min_overlap`` (a tiny tumor) counts in the segment of its middle.
        """
        ranges = self.ranges()
        if s_hi - s_lo <= min_overlap:
            seg = self.segment_at(0.5 * (s_lo + s_hi))
            return [] if seg is None else [seg]
        return [name for name in SEGMENTS if name in ranges
                and min(s_hi, ranges[name][1]) - max(s_lo, ranges[name][0]) > min_overlap]

    def to_dict(self) -> dict:
        return {"renal_s_mm": self.renal_s, "hepatic_s_mm": self.hepatic_s, "segments_in_view": self.segments_in_view()}


def classify_segments(centerline: Centerline, landmarks: Mapping[str, Landmark]) -> SegmentMap:
    """Segment boundaries from the ``renal_veins`` and ``hepatic_veins`` landmarks."""
    renal = landmarks.get("renal_veins")
    hepatic = landmarks.get("hepatic_veins")
    return SegmentMap(
        renal_s=renal.s_mm if renal is not None and renal.found else None,
        hepatic_s=hepatic.s_mm if hepatic is not None and hepatic.found else None,
        s_min=float(centerline.s[0]),
        s_max=float(centerline.s[-1]),
    )
