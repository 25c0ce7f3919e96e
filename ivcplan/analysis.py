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
    """What the measurement stages found on one segmentation and centerline, with what each part was
    made from: `ivcplan.pipeline.measure_and_plan` uses a part again while its inputs are unchanged
    (a re-plan that changes facts only measures nothing again)."""

    landmarks: Landmarks
    clamp_landmarks: Mapping[str, Landmark]
    tumor: TumorMeasurements
    liver: LiverMeasurements
    #: The landmark corrections in force (the landmarks, clamp sites and tumor measurements depend on them).
    landmark_corrections: tuple[Correction, ...] = ()
    #: The liver's input besides the labelmap: the caudate lobe's LPS heights (`measure.liver_measurements`).
    caudate_levels: tuple[float | None, float | None] = (None, None)
    #: `measure.collaterals.assess` of the CT (None without a tumor) and its input, the renal level's height.
    collaterals: Mapping[str, Any] | None = None
    collaterals_renal_z: float | None = None


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
    #: The landmarks, clamp sites and measurements with what they were made from (None without a centerline).
    measurements: Measurements | None = None

    @property
    def labelmap(self) -> Labelmap:
        return self.segmentation.labelmap
