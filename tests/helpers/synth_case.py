"""A small synthetic case for the render/export tests: CT volume, labelmap, centerline, landmarks.

Geometry (LPS, axial head-first): 72 x 64 x 64 voxels at 2.0 x 1.5 x 1.5 mm. The IVC is a tube on
the patient's right of the midline (low x index), the aorta on the left, a tumor expands the IVC in
its upper half, the liver is a box to the right and in front of the upper IVC, the kidneys sit low
with their renal veins (the left one crossing in front of the aorta), three hepatic veins join the
IVC below the right atrium, the spine lies behind. Everything is built from analytic shapes, so the truth is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ivcplan.labels import Label
from ivcplan.volume import Labelmap, Volume

SHAPE = (72, 64, 64)
SPACING = (2.0, 1.5, 1.5)
ORIGIN = (-48.0, -48.0, -72.0)
IVC_XY = (22.0, 34.0)  # (x, y) voxel index of the IVC axis
AORTA_XY = (40.0, 34.0)
IVC_RADIUS_VOX = 5.0
TUMOR_CENTRE_ZYX = (44.0, 34.0, 22.0)
TUMOR_RADII_VOX = (7.0, 8.0, 8.0)


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance (voxels) from each (z, y, x) point to the segment ab."""
    ab = b - a
    t = np.clip(((points - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[..., None] * ab), axis=-1)


@dataclass(frozen=True)
class SyntheticCase:
    volume: Volume
    labelmap: Labelmap
    centerline_points: np.ndarray
    s: np.ndarray
    landmarks_s: dict[str, float]


def build_case(direction: np.ndarray | None = None, refine: int = 1) -> SyntheticCase:
    """The case on the base grid, or drawn on a grid ``refine`` times finer along each axis (the
    same shapes, in base-voxel units, sampled at the finer voxel centres: smoother masks)."""
    shape = tuple(n * refine for n in SHAPE)
    z, y, x = ((np.indices(shape, dtype=float) + 0.5) / refine - 0.5)
    lab = np.zeros(shape, dtype=np.uint8)
    body = ((x - 32) / 30) ** 2 + ((y - 32) / 28) ** 2 <= 1
    lab[body] = Label.BODY
    lab[(np.abs(x - 32) <= 5) & (y >= 48) & (y <= 58)] = Label.SPINE
    liver = (x >= 4) & (x <= 27) & (y >= 8) & (y <= 30) & (z >= 50) & (z <= 68)
    lab[liver] = Label.LIVER
    kidney = ((x - 10) / 5) ** 2 + ((y - 42) / 5) ** 2 + ((z - 18) / 8) ** 2 <= 1
    lab[kidney] = Label.KIDNEY_RIGHT
    lab[((x - 54) / 5) ** 2 + ((y - 42) / 5) ** 2 + ((z - 21) / 8) ** 2 <= 1] = Label.KIDNEY_LEFT
    points = np.stack([z, y, x], axis=-1)
    for label, a, b, radius in (
            (Label.RENAL_VEIN_RIGHT, (17, 42, 11), (17, 34, 22), 2.0),
            (Label.RENAL_VEIN_LEFT, (21, 40, 53), (21, 27, 40), 2.0),
            (Label.RENAL_VEIN_LEFT, (21, 27, 40), (21, 34, 22), 2.0),
            (Label.HEPATIC_VEIN_RIGHT, (63, 20, 7), (59, 34, 22), 2.0),
            (Label.HEPATIC_VEIN_MIDDLE, (64, 12, 18), (60, 34, 22), 2.0),
            (Label.HEPATIC_VEIN_LEFT, (64, 16, 34), (61, 34, 22), 2.0)):
        lab[_segment_distance(points, np.array(a, float), np.array(b, float)) <= radius] = label
    lab[((x - AORTA_XY[0]) ** 2 + (y - AORTA_XY[1]) ** 2 <= 4.0**2) & (z >= 4) & (z <= 66)] = Label.AORTA
    ivc = ((x - IVC_XY[0]) ** 2 + (y - IVC_XY[1]) ** 2 <= IVC_RADIUS_VOX**2) & (z >= 4) & (z <= 66)
    lab[ivc] = Label.IVC_LUMEN
    lab[(z >= 67) & (z <= 70) & ((x - IVC_XY[0]) ** 2 + (y - IVC_XY[1]) ** 2 <= 7.0**2)] = Label.RIGHT_ATRIUM
    cz, cy, cx = TUMOR_CENTRE_ZYX
    rz, ry, rx = TUMOR_RADII_VOX
    tumor = ((z - cz) / rz) ** 2 + ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1
    lab[tumor] = Label.IVC_TUMOR
    hu = np.full(shape, -1000.0, dtype=np.float32)
    values = {Label.BODY: 40, Label.SPINE: 600, Label.LIVER: 100, Label.KIDNEY_RIGHT: 170, Label.KIDNEY_LEFT: 170,
              Label.AORTA: 220, Label.IVC_LUMEN: 170, Label.RIGHT_ATRIUM: 170, Label.IVC_TUMOR: 60,
              Label.RENAL_VEIN_RIGHT: 160, Label.RENAL_VEIN_LEFT: 160, Label.HEPATIC_VEIN_RIGHT: 160,
              Label.HEPATIC_VEIN_MIDDLE: 160, Label.HEPATIC_VEIN_LEFT: 160}
    for label, value in values.items():
        hu[lab == label] = value
    rng = np.random.default_rng(7)
    hu = (hu + rng.normal(0, 8, shape)).astype(np.int16)
    base = Volume.from_array(np.zeros((1, 1, 1), np.int16), spacing=SPACING, origin=ORIGIN, direction=direction)
    origin = base.grid.index_to_lps(np.full(3, 0.5 / refine - 0.5))
    volume = Volume.from_array(hu, spacing=np.asarray(SPACING) / refine, origin=origin, direction=direction,
                               meta={"series_instance_uid": "1.2.3", "series_description": "synthetic"})
    labelmap = Labelmap(lab, volume.grid)
    zs = np.arange(4, 67, dtype=float)
    idx = np.c_[zs, np.full_like(zs, IVC_XY[1]), np.full_like(zs, IVC_XY[0])]
    points = base.grid.index_to_lps(idx)
    s = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))]
    landmarks_s = {"iliac_confluence": 0.0, "renal_veins": 30.0, "hepatic_veins": 96.0,
                   "cavoatrial_junction": float(s[-1])}
    return SyntheticCase(volume, labelmap, points, s, landmarks_s)
