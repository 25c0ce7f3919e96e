"""Measurement: what the segmentation means along the IVC, in patient millimetres.

The stages, in the order the pipeline runs them (each module owns one):

- `centerline`: the IVC centerline and its perpendicular cross-sections (`trace_centerline`);
- `landmarks`: iliac confluence, renal and hepatic vein ostia, cavoatrial junction (`find_landmarks`);
- `ivc_segments`: the IVC segments I/II/III along the centerline (`classify_segments`);
- `tumor`: the tumor's size, extent, occlusion and vein involvement (`tumor_measurements`);
- `liver`: liver volume and future liver remnant (`liver_measurements`);
- `ivc_size`: the native IVC's AP / transverse size from normal sections, residual lumen and occlusion;
- `clamp_room`: the liver's caudal edge and the diaphragm's caval hiatus (`clamp_room.find`);
- `collaterals`: enlarged collateral veins beside the spine (`collaterals.assess`);
- `remnant`: the future liver remnant's uncertainty and the caudate lobe;
- `statistics`: volume, HU mean and SD, extent of every structure (`structure_statistics`).

May import: `ivcplan.volume`, `ivcplan.labels`, `ivcplan.errors`, `ivcplan.progress` (never
`anatomy`, `plan`, `outputs` or `pipeline`): it reads a labelmap, whoever made it.
"""

from ivcplan.measure import clamp_room, collaterals, ivc_size, remnant
from ivcplan.measure.centerline import Centerline, trace_centerline
from ivcplan.measure.ivc_segments import SegmentMap, classify_segments
from ivcplan.measure.landmarks import Landmark, Landmarks, find_landmarks
from ivcplan.measure.landmarks import cross_check as cross_check_landmarks
from ivcplan.measure.liver import LiverMeasurements, liver_measurements
from ivcplan.measure.statistics import StructureStatistics, structure_statistics
from ivcplan.measure.tumor import TumorMeasurements, tumor_measurements

__all__ = [
    "Centerline",
    "Landmark",
    "Landmarks",
    "LiverMeasurements",
    "SegmentMap",
    "StructureStatistics",
    "TumorMeasurements",
    "clamp_room",
    "classify_segments",
    "collaterals",
    "cross_check_landmarks",
    "find_landmarks",
    "ivc_size",
    "liver_measurements",
    "remnant",
    "structure_statistics",
    "trace_centerline",
    "tumor_measurements",
]
