"""`Analysis`: everything one run of the pipeline produced, handed to the outputs, the batch and the viewer.

It lives apart from `ivcplan.pipeline` so that the outputs can take it without importing the
pipeline that calls them (data flows one way: pipeline -> outputs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ivcplan.anatomy import Segmentation
from ivcplan.measure import Centerline, Landmark, Landmarks, LiverMeasurements, SegmentMap, TumorMeasurements
from ivcplan.plan import Plan, RuleSet
from ivcplan.report.corrections import Correction
from ivcplan.volume import Labelmap, Volume


@dataclass(frozen=True)
class Measurements:
    """What the measurement stages found on one segmentation and centerline, with the landmark
    corrections then in force: a re-plan that changes none of these uses them as they are."""

    landmarks: Landmarks
    clamp_landmarks: Mapping[str, Landmark]
    tumor: TumorMeasurements
    liver: LiverMeasurements


@dataclass(frozen=True)
class Analysis:
    """The stage results of one run; those after the centerline are None when no IVC was found."""

    volume: Volume
    segmentation: Segmentation
    centerline: Centerline | None
    landmarks: Landmarks | None
    segment_map: SegmentMap | None
    tumor: TumorMeasurements
    liver: LiverMeasurements
    plan: Plan
    report: dict[str, Any]  # report.json, validated against ivcplan/report/schema.json
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    #: The human changes in force, oldest first (replayed by `ivcplan.replan`; corrections.json).
    corrections: tuple[Correction, ...] = ()
    #: The clinical facts as given to the analysis, before any correction.
    clinical: Mapping[str, Any] = field(default_factory=dict)
    #: The decision rules the plan was made with.
    rules: RuleSet | None = None
    #: Where a clamp can go (`ivcplan.labels.CLAMP_LANDMARKS`, `ivcplan.measure.clamp_room`).
    clamp_landmarks: Mapping[str, Landmark] = field(default_factory=dict)

    @property
    def labelmap(self) -> Labelmap:
        return self.segmentation.labelmap

    @property
    def measurements(self) -> Measurements | None:
        """Its landmarks and measurements (None without an IVC centerline)."""
        return None if self.landmarks is None else Measurements(self.landmarks, self.clamp_landmarks, self.tumor,
                                                                self.liver)
