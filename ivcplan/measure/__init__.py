"""Measurement: what the segmentation means along the IVC, in patient millimetres.

The stages, in the order the pipeline runs them (each module owns one):

- `centerline`: the IVC centerline and its perpendicular cross-sections (`trace_centerline`);
- `landmarks`: iliac confluence, renal and hepatic vein ostia, cavoatrial junction (`find_landmarks`);
- `ivc_segments`: the IVC segments I/II/III along the centerline (`classify_segments`);
- `tumor`: the tumor's size, extent, occlusion and vein involvement (`tumor_measurements`);
- `liver`: liver volume and future liver remnant (`liver_measurements`).

May import: `ivcplan.volume`, `ivcplan.labels`, `ivcplan.errors`, `ivcplan.progress` (never
`anatomy`, `plan`, `outputs` or `pipeline`): it reads a labelmap, whoever made it.
"""

from ivcplan.measure.centerline import Centerline, trace_centerline
from ivcplan.measure.ivc_segments import SegmentMap, classify_segments
from ivcplan.measure.landmarks import Landmark, Landmarks, find_landmarks
from ivcplan.measure.liver import LiverMeasurements, liver_measurements
from ivcplan.measure.tumor import TumorMeasurements, tumor_measurements

__all__ = [
    "Centerline",
    "Landmark",
    "Landmarks",
    "LiverMeasurements",
    "SegmentMap",
    "TumorMeasurements",
    "classify_segments",
    "find_landmarks",
    "liver_measurements",
    "trace_centerline",
    "tumor_measurements",
]
