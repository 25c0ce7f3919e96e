"""Where a clamp can go on the IVC: the liver's caudal edge and the diaphragm's caval hiatus.

Both are found in the measurement layer from the labelmap (liver, hepatic veins, IVC) and, for the
hiatus, the CT itself (the segmentation has no diaphragm or lung label). Heights are LPS z; the
landmarks are the IVC centerline points at those heights.

**Liver caudal edge** (``liver_caudal_edge``): the lowest level of the retrohepatic IVC, i.e. of the
longest stretch along which liver lies within `LIVER_RING_MM` of the IVC outline over at least
`LIVER_WRAP_MIN` of that ring (short gaps bridged). Below it the IVC can be clamped without
mobilising the liver. The confidence drops when the hepatic vein ostia lie off that stretch or a
second stretch of similar length competes (liver grown into the heart wraps the atrium).

**Caval hiatus** (``caval_hiatus``): where the IVC passes through the diaphragm, taken at the
diaphragm's under-surface: the top of the liver's bare area beside the IVC. In every axial column
of a ring `HIATUS_RING_MM` around the IVC at the level of the hepatic vein ostia (the top of the
retrohepatic stretch when they are missing or lie off it) that holds liver,
the liver is followed upwards (IVC and tumor voxels are crossed); the hiatus height is the median
of the columns' liver tops, its spread (interquartile range) the uncertainty. With the CT, the
columns are checked for thoracic content (lung air, mediastinal/pericardial fat, the right atrium)
within `THORAX_CHECK_MM` above the liver top: the diaphragm lies between. Null when the liver
reaches the top of the scan beside the IVC (diaphragm not in view). Without a segmented liver but
with the cavoatrial junction, it is estimated `HIATUS_BELOW_CAJ_MM` below the junction at low
confidence (the junction lies 1-2 cm above the hiatus, docs/clinical.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ivcplan.labels import CLAMP_LANDMARKS, HEPATIC_VEIN_LABELS, IVC_LABELS, Label
from ivcplan.measure.centerline import Centerline
from ivcplan.measure.landmarks import Landmark, Landmarks
from ivcplan.volume import Labelmap, Volume, label_mask

log = logging.getLogger(__name__)

#: Liver within this distance (mm) of the IVC outline lies against the IVC.
LIVER_RING_MM = 10.0
#: ... over at least this share of that ring (about 90 degrees of the circumference): retrohepatic.
LIVER_WRAP_MIN = 0.25
#: Gaps (mm) in the liver wrap shorter than this do not end the retrohepatic stretch.
LIVER_GAP_MM = 6.0
#: Ring (mm from the IVC outline) whose columns give the liver top beside the IVC.
HIATUS_RING_MM = (3.0, 20.0)
#: Thoracic content is looked for this far (mm) above the liver top.
THORAX_CHECK_MM = 15.0
#: HU of lung air, and of fat (mediastinal / pericardial fat lies on the central tendon).
LUNG_MAX_HU = -300.0
FAT_HU = (-200.0, -30.0)
#: Columns with thoracic content above the liver top needed to confirm the diaphragm.
THORAX_CONFIRM_SHARE = 0.3
#: Spread (mm, interquartile range of the column tops) up to which the hiatus is sharp.
SHARP_IQR_MM = 8.0
#: Typical distance (mm) from the hiatus up to the cavoatrial junction (1-2 cm, docs/clinical.md).
HIATUS_BELOW_CAJ_MM = 15.0
#: Columns needed for a liver-top estimate.
MIN_COLUMNS = 20
CONFIDENCE_CONFIRMED = 0.85
CONFIDENCE_SPREAD = 0.6
CONFIDENCE_LIVER_ONLY = 0.55
CONFIDENCE_FROM_CAJ = 0.3
CONFIDENCE_EDGE = 0.8
CONFIDENCE_EDGE_AT_FOV = 0.4
#: The edge when its stretch is in doubt (ostia elsewhere, or a rival stretch).
CONFIDENCE_EDGE_DOUBT = 0.5
#: A second stretch of liver against the IVC at least this share of the longest one's length is a rival.
RIVAL_STRETCH_SHARE = 0.5

_IVC = tuple(int(v) for v in IVC_LABELS)
_LIVER = (int(Label.LIVER), *(int(v) for v in HEPATIC_VEIN_LABELS.values()))

NAMES = CLAMP_LANDMARKS


def _missing(detail: str) -> Landmark:
    return Landmark(None, None, 0.0, detail)


@dataclass
class _Frame:
    """The labelmap (and CT) in SPL order: axis 0 runs up, axis 1 back, axis 2 to the left."""

    labels: np.ndarray
    hu: np.ndarray | None
    heights: np.ndarray  # LPS z of each axial slice
    pixel: np.ndarray  # (row, column) spacing, mm
    dz: float

    @classmethod
    def of(cls, labelmap: Labelmap, volume: Volume | None) -> _Frame:
        re = labelmap.grid.reorientation("SPL")
        labels = re.apply(labelmap.array)
        hu = None
        if volume is not None and volume.grid.is_same(labelmap.grid):
            hu = re.apply(volume.array)
        grid = re.grid
        heights = grid.index_to_lps(np.stack([np.arange(grid.shape[0]), np.zeros(grid.shape[0]),
                                              np.zeros(grid.shape[0])], axis=1))[:, 2]
        return cls(labels, hu, heights, np.asarray(grid.spacing[1:], dtype=float), float(grid.spacing[0]))

    def slice_at(self, z: float) -> int:
        return int(np.clip(np.argmin(np.abs(self.heights - z)), 0, len(self.heights) - 1))


def _ring(ivc2d: np.ndarray, pixel: np.ndarray, r_in: float, r_out: float) -> np.ndarray:
    dist = ndimage.distance_transform_edt(~ivc2d, sampling=pixel)
    return (dist > r_in) & (dist <= r_out)


def _landmark_at(cl: Centerline, z: float, confidence: float, detail: str) -> Landmark:
    s = cl.s_at_height(z)
    if s is None:
        # Beyond the centerline's end: continue along its end tangent (not beyond 20 mm).
        end, t = (cl.points[-1], cl.tangents[-1]) if z > cl.points[-1, 2] else (cl.points[0], cl.tangents[0])
        if abs(t[2]) < 0.3 or abs(z - end[2]) > 20.0:
            return _missing(f"{detail}; the IVC centerline does not reach that height")
        s = (cl.s[-1] if z > cl.points[-1, 2] else cl.s[0]) + (z - end[2]) / t[2]
    return Landmark(cl.point_at(s), float(s), float(confidence), detail)


def find(labelmap: Labelmap, centerline: Centerline, landmarks: Landmarks,
         volume: Volume | None = None) -> dict[str, Landmark]:
    """``liver_caudal_edge`` and ``caval_hiatus`` (missing ones with ``position_mm`` None and why)."""
    frame = _Frame.of(labelmap, volume)
    ivc = label_mask(frame.labels, _IVC)
    liver = label_mask(frame.labels, _LIVER)
    wrap = _wrap_profile(frame, ivc, liver) if liver.any() else np.full(len(frame.heights), np.nan)
    out = {"liver_caudal_edge": _liver_edge(frame, wrap, liver, centerline, landmarks),
           "caval_hiatus": _hiatus(frame, wrap, ivc, liver, centerline, landmarks)}
    return out


def _wrap_profile(frame: _Frame, ivc: np.ndarray, liver: np.ndarray) -> np.ndarray:
    """Per axial slice: share of the ring within `LIVER_RING_MM` of the IVC outline that is liver."""
    out = np.full(len(frame.heights), np.nan)
    has_ivc = np.flatnonzero(ivc.any(axis=(1, 2)))
    if not len(has_ivc):
        return out
    rows = np.flatnonzero(ivc.any(axis=(0, 2)))
    cols = np.flatnonzero(ivc.any(axis=(0, 1)))
    pad = np.ceil(LIVER_RING_MM / frame.pixel).astype(int) + 2
    r0, r1 = max(rows[0] - pad[0], 0), min(rows[-1] + pad[0] + 1, ivc.shape[1])
    c0, c1 = max(cols[0] - pad[1], 0), min(cols[-1] + pad[1] + 1, ivc.shape[2])
    for k in has_ivc:
        ivc2d = ivc[k, r0:r1, c0:c1]
        ring = _ring(ivc2d, frame.pixel, 0.0, LIVER_RING_MM)
        n = np.count_nonzero(ring)
        if n:
            out[k] = np.count_nonzero(ring & liver[k, r0:r1, c0:c1]) / n
    return out


def _liver_edge(frame: _Frame, wrap: np.ndarray, liver: np.ndarray, cl: Centerline,
                landmarks: Landmarks) -> Landmark:
    if not liver.any():
        return _missing("liver not segmented")
    wrapped = np.nan_to_num(wrap, nan=0.0) >= LIVER_WRAP_MIN
    if not wrapped.any():
        return _missing(f"no level where the liver lies against the IVC (within {LIVER_RING_MM:g} mm over "
                        f"{LIVER_WRAP_MIN:.0%} of its outline)")
    stretch, ostia_off, rivals = _retrohepatic_stretch(frame, wrapped, landmarks["hepatic_veins"])
    lowest = stretch[0]
    doubts = []
    if ostia_off:
        doubts.append("the hepatic vein ostia lie outside that stretch")
    if rivals > 1:
        doubts.append(f"{rivals} separate stretches of liver against the IVC of similar length")
    doubt = "; ".join(doubts)
    z = frame.heights[lowest] - 0.5 * frame.dz  # the lower surface of that slice
    at_fov = lowest == 0 or np.isnan(wrap[max(lowest - 1, 0)])
    detail = (f"lowest level of the retrohepatic IVC: liver within {LIVER_RING_MM:g} mm of the IVC over at least "
              f"{LIVER_WRAP_MIN:.0%} of its outline (axial slices; the longest such stretch)")
    if at_fov:
        return _landmark_at(cl, z, CONFIDENCE_EDGE_AT_FOV, detail + "; the liver lies against the IVC down to the "
                                                                    "lowest slice with IVC: the edge may be lower")
    if doubt:
        return _landmark_at(cl, z, CONFIDENCE_EDGE_DOUBT, f"{detail}; {doubt}")
    return _landmark_at(cl, z, CONFIDENCE_EDGE, detail)


def _stretches(flags: np.ndarray, gap_slices: int) -> list[tuple[int, int]]:
    """(first, last) slice of every run of ``flags``, runs closer than ``gap_slices`` merged."""
    idx = np.flatnonzero(flags)
    if not len(idx):
        return []
    cuts = np.flatnonzero(np.diff(idx) > gap_slices + 1)
    starts = np.r_[idx[0], idx[cuts + 1]]
    ends = np.r_[idx[cuts], idx[-1]]
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def _retrohepatic_stretch(frame: _Frame, wrapped: np.ndarray, hv: Landmark) -> tuple[tuple[int, int], bool, int]:
    """The retrohepatic IVC: the longest stretch (first, last slice) with liver against the IVC (gaps up
    to `LIVER_GAP_MM` bridged); whether the hepatic vein ostia (when found) lie off it; and how many
    stretches are at least `RIVAL_STRETCH_SHARE` as long (itself included). Not simply the stretch at
    the ostia: liver wrongly grown into the heart wraps the atrium above the dome, and the ostia may be
    placed there; the retrohepatic IVC is the long stretch, several centimetres."""
    gap = max(1, round(LIVER_GAP_MM / frame.dz))
    runs = _stretches(wrapped, gap)
    lengths = np.array([b - a + 1 for a, b in runs])
    best = runs[int(np.argmax(lengths))]
    off = False
    if hv.found:
        k = frame.slice_at(hv.position_mm[2])
        off = not best[0] - gap <= k <= best[1] + gap
    return best, off, int(np.count_nonzero(lengths >= RIVAL_STRETCH_SHARE * lengths.max()))


def _hiatus(frame: _Frame, wrap: np.ndarray, ivc: np.ndarray, liver: np.ndarray, cl: Centerline,
            landmarks: Landmarks) -> Landmark:
    caj = landmarks["cavoatrial_junction"]
    hv = landmarks["hepatic_veins"]

    def from_caj(why: str) -> Landmark:
        if not caj.found:
            return _missing(f"{why}; cavoatrial junction not found either")
        return _landmark_at(cl, float(caj.position_mm[2]) - HIATUS_BELOW_CAJ_MM, CONFIDENCE_FROM_CAJ,
                            f"{why}: estimated {HIATUS_BELOW_CAJ_MM:g} mm below the cavoatrial junction "
                            "(typical distance, not measured)")

    if not liver.any():
        return from_caj("liver not segmented")
    wrapped = np.nan_to_num(wrap, nan=0.0) >= LIVER_WRAP_MIN
    stretch, ostia_off, _ = _retrohepatic_stretch(frame, wrapped, hv) if wrapped.any() else (None, False, 0)
    if hv.found and not ostia_off:
        ref = frame.slice_at(hv.position_mm[2])
    elif stretch is not None:
        # The top of the retrohepatic stretch (the ostia are missing, or lie off that stretch).
        ref = stretch[1]
    else:
        return from_caj("hepatic vein ostia not found and no liver against the IVC")
    if not ivc[ref].any():
        return from_caj("no IVC at the level of the hepatic vein ostia")
    ring = _ring(ivc[ref], frame.pixel, *HIATUS_RING_MM)
    columns = np.argwhere(ring & liver[ref])
    if len(columns) < MIN_COLUMNS:
        return from_caj("too little liver beside the IVC at the level of the hepatic vein ostia")
    n_slices = len(frame.heights)
    passable = liver | ivc
    tops = np.full(len(columns), ref)
    alive = np.ones(len(columns), dtype=bool)
    rows, cols = columns[:, 0], columns[:, 1]
    for k in range(ref + 1, n_slices):
        here = passable[k, rows, cols] & alive
        is_liver = liver[k, rows, cols] & here
        tops[is_liver] = k
        alive = here
        if not alive.any():
            break
    at_top = np.mean(tops >= n_slices - 1)
    if at_top >= 0.5:
        return _missing("diaphragm not in view: the liver beside the IVC reaches the top of the scan")
    top_z = frame.heights[tops] + 0.5 * frame.dz  # upper surface of the highest liver voxel
    z = float(np.median(top_z))
    q1, q3 = np.percentile(top_z, [25, 75])
    spread = float(q3 - q1)
    confirmed = None
    if frame.hu is not None:
        reach = max(1, round(THORAX_CHECK_MM / frame.dz))
        hits = np.zeros(len(columns), dtype=bool)
        for j, (kt, r, c) in enumerate(zip(tops, rows, cols, strict=True)):
            above = slice(kt + 1, min(kt + 1 + reach, n_slices))
            hu = frame.hu[above, r, c].astype(float)
            lab = frame.labels[above, r, c]
            hits[j] = bool(np.any(hu < LUNG_MAX_HU) or np.any((hu >= FAT_HU[0]) & (hu <= FAT_HU[1]))
                           or np.any(lab == Label.RIGHT_ATRIUM))
        confirmed = float(np.mean(hits)) >= THORAX_CONFIRM_SHARE
    detail = (f"diaphragm's under-surface at the IVC: median top of the liver in {len(columns)} columns "
              f"{HIATUS_RING_MM[0]:g}-{HIATUS_RING_MM[1]:g} mm around the IVC (interquartile range {spread:.1f} mm)")
    if confirmed is None:
        confidence = CONFIDENCE_LIVER_ONLY
        detail += "; no CT: thoracic content above not checked"
    elif confirmed:
        confidence = CONFIDENCE_CONFIRMED if spread <= SHARP_IQR_MM else CONFIDENCE_SPREAD
        detail += "; lung, mediastinal fat or the atrium lies above it"
    else:
        confidence = CONFIDENCE_LIVER_ONLY * 0.8
        detail += "; no lung, fat or atrium found above it (diaphragm not confirmed)"
    if caj.found and z > float(caj.position_mm[2]) + frame.dz:
        confidence = min(confidence, CONFIDENCE_FROM_CAJ)
        detail += "; above the cavoatrial junction (inconsistent)"
    return _landmark_at(cl, z, confidence, detail)
