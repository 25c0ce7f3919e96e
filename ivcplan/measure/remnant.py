"""What the future liver remnant estimate is worth: its uncertainty and the caudate lobe's share.

``ivcplan.liver.liver_volumes`` splits the liver by a plane through the IVC axis and the middle
hepatic vein (the left liver is the remnant of a right hepatectomy). Two things it cannot say:

* **Uncertainty** (`uncertainty`): the volumes move with the segmentation's boundary (half a voxel
  over the whole surface, in or out) and the remnant with the plane (shifted `PLANE_SHIFT_MM` either
  way along its normal: the middle hepatic vein's course fixes it to a few millimetres). The ranges
  combine both, so a remnant near a limit is shown as such.
* **Caudate lobe** (`caudate`): drained by short veins straight into the retrohepatic IVC, it is lost
  when that IVC is resected (ELRA). It is estimated as the liver parenchyma on the remnant side of
  the plane within `CAUDATE_REACH_MM` of the IVC, between the liver's caudal edge at the IVC (or the
  portal hilum, if higher) and the lowest hepatic vein ostium, and behind the portal vein when that
  is segmented. A geometric
  approximation (no Couinaud segmentation), given with a wide uncertainty (`CAUDATE_REL_UNCERTAINTY`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from ivcplan.labels import IVC_LABELS, Label
from ivcplan.measure.liver import LIVER_LABELS
from ivcplan.volume import Labelmap, label_mask

#: The plane through the IVC and the middle hepatic vein is placed to within about this (mm).
PLANE_SHIFT_MM = 5.0
#: Caudate lobe: liver within this distance (mm) of the retrohepatic IVC, on the remnant side (the
#: lobe is 2-3 cm thick in front of the IVC).
CAUDATE_REACH_MM = 20.0
#: The portal vein's hilum: this low percentile of the heights of portal vein voxels touching the liver
#: (the caudate lobe lies above and behind it).
HILUM_PERCENTILE = 10.0
#: Relative uncertainty of that geometric estimate (it has no anatomical boundary to follow).
CAUDATE_REL_UNCERTAINTY = 0.5


def _bounds(mask: np.ndarray, pad: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """Index bounds [lo, hi) of the True voxels of ``mask``, widened by ``pad`` and clipped to ``shape``."""
    nz = np.nonzero(mask)
    lo = np.maximum(np.array([int(v.min()) for v in nz]) - pad, 0)
    hi = np.minimum(np.array([int(v.max()) + 1 for v in nz]) + pad, np.asarray(shape))
    return lo, hi


def _signed_distance(labelmap: Labelmap, idx: np.ndarray, plane: dict[str, Any]) -> np.ndarray:
    pts = labelmap.grid.index_to_lps(idx)
    return (pts - np.asarray(plane["point_mm"])) @ np.asarray(plane["normal"])


def uncertainty(labelmap: Labelmap, volumes: dict[str, Any]) -> dict[str, Any]:
    """``volume_ml_range``, ``flr_ml_range``, ``flr_ratio_range`` (None where the volumes are None)."""
    out: dict[str, Any] = {"volume_ml_range": None, "flr_ml_range": None, "flr_ratio_range": None}
    total = volumes.get("volume_ml")
    if total is None:
        return out
    grid = labelmap.grid
    liver = labelmap.mask(*LIVER_LABELS)
    surface = np.count_nonzero(liver & ~ndimage.binary_erosion(liver, border_value=0))
    # Half a voxel in or out over the surface: about the surface voxels' count times half a voxel.
    boundary_ml = 0.5 * surface * grid.voxel_volume_mm3 / 1000.0
    out["volume_ml_range"] = [max(0.0, total - boundary_ml), total + boundary_ml]
    plane = volumes.get("flr_plane")
    if plane is None or volumes.get("flr_ml") is None:
        return out
    idx = np.argwhere(liver)
    dist = _signed_distance(labelmap, idx, plane)
    voxel_ml = grid.voxel_volume_mm3 / 1000.0
    flr_lo = float(np.count_nonzero(dist > PLANE_SHIFT_MM)) * voxel_ml
    flr_hi = float(np.count_nonzero(dist > -PLANE_SHIFT_MM)) * voxel_ml
    share = volumes["flr_ml"] / total
    flr_lo, flr_hi = max(0.0, flr_lo - share * boundary_ml), flr_hi + share * boundary_ml
    out["flr_ml_range"] = [flr_lo, flr_hi]
    # The smallest ratio pairs the smallest remnant with the largest total, and the reverse.
    out["flr_ratio_range"] = [flr_lo / (total + boundary_ml * (1 - share)),
                              min(1.0, flr_hi / max(total - boundary_ml * (1 - share), 1e-9))]
    return out


def caudate(labelmap: Labelmap, volumes: dict[str, Any], *, low_z: float | None, high_z: float | None
            ) -> dict[str, Any]:
    """``caudate_ml`` (+ ``caudate_ml_range``, ``caudate_method``, ``caudate_reason``).

    ``low_z`` / ``high_z``: LPS heights of the liver's caudal edge at the IVC and of the lowest
    hepatic vein ostium (the caudate lobe lies between them).
    """
    method = (f"liver on the remnant side within {CAUDATE_REACH_MM:g} mm of the retrohepatic IVC, between the "
              "liver's caudal edge or the portal hilum and the lowest hepatic vein ostium, behind the portal vein "
              "(geometric estimate)")

    def none(reason: str) -> dict[str, Any]:
        return {"caudate_ml": None, "caudate_ml_range": None, "caudate_method": None, "caudate_reason": reason}

    plane = volumes.get("flr_plane")
    if plane is None:
        return none(volumes.get("flr_reason") or "no remnant plane")
    if low_z is None or high_z is None or high_z <= low_z:
        return none("liver caudal edge or hepatic vein ostia not located")
    grid = labelmap.grid
    ivc = label_mask(labelmap.array, [int(v) for v in IVC_LABELS])
    liver = labelmap.array == Label.LIVER
    if not ivc.any() or not liver.any():
        return none("IVC or liver not segmented")
    # Work in the box of the liver, padded by the reach; the distance to the IVC only where it can be
    # within reach: around the IVC voxels of that box (every one of them is inside it, so the
    # distances there are the same as over the whole box, for a fraction of the work).
    pad = np.ceil(CAUDATE_REACH_MM / grid.spacing).astype(int) + 1
    lo, hi = _bounds(liver, pad, grid.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    if not ivc[box].any():
        return none("no liver near the IVC")
    near_lo, near_hi = _bounds(ivc[box], pad, hi - lo)
    near_box = tuple(slice(a, b) for a, b in zip(near_lo, near_hi, strict=True))
    near = ndimage.distance_transform_edt(~ivc[box][near_box], sampling=grid.spacing) <= CAUDATE_REACH_MM
    cand = liver[box][near_box] & near
    idx = np.argwhere(cand) + lo + near_lo
    if not len(idx):
        return none("no liver near the IVC")
    pts = grid.index_to_lps(idx)
    keep = (pts[:, 2] >= low_z) & (pts[:, 2] <= high_z) & (_signed_distance(labelmap, idx, plane) > 0)
    # The hilar / intrahepatic portal vein: portal voxels within two voxels of the liver (dilated only
    # around the portal vein itself).
    portal_all = labelmap.array[box] == Label.PORTAL_VEIN
    portal = np.zeros((0, 3), dtype=np.intp)
    if portal_all.any():
        p_lo, p_hi = _bounds(portal_all, np.zeros(3, dtype=int), hi - lo)
        a_lo, a_hi = np.maximum(p_lo - 2, 0), np.minimum(p_hi + 2, hi - lo)  # two dilation steps around it
        around = tuple(slice(a, b) for a, b in zip(a_lo, a_hi, strict=True))
        dilated = ndimage.binary_dilation(liver[box][around], iterations=2)
        inner = tuple(slice(a, b) for a, b in zip(p_lo - a_lo, p_hi - a_lo, strict=True))
        p_box = tuple(slice(a, b) for a, b in zip(p_lo, p_hi, strict=True))
        portal = np.argwhere(portal_all[p_box] & dilated[inner]) + lo + p_lo
    if len(portal):
        ppts = grid.index_to_lps(portal)
        hilum = float(np.percentile(ppts[:, 2], HILUM_PERCENTILE))
        keep &= pts[:, 2] >= hilum
        # Behind (posterior to, larger LPS y than) the portal vein at those levels.
        level = (ppts[:, 2] >= low_z) & (ppts[:, 2] <= high_z)
        if level.any():
            keep &= pts[:, 1] > float(np.median(ppts[level, 1]))
    ml = float(np.count_nonzero(keep)) * grid.voxel_volume_mm3 / 1000.0
    spread = [ml * (1 - CAUDATE_REL_UNCERTAINTY), ml * (1 + CAUDATE_REL_UNCERTAINTY)]
    return {"caudate_ml": ml, "caudate_ml_range": spread, "caudate_method": method, "caudate_reason": None}
