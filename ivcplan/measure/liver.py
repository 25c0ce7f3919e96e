"""Liver volume and future liver remnant (FLR) for a right hepatectomy.

The remnant is the left liver: the liver on the patient-left side of a Cantlie-like plane that
contains the retrohepatic IVC axis and the middle hepatic vein (MHV). The plane is fitted in LPS
millimetres: it passes through the IVC axis (principal axis of the IVC voxels at the liver's
levels) and, around that axis, turns to the direction that best fits the MHV voxels.

Volumes include the hepatic vein labels (they run inside the liver; a segmenter that carves them
out of the liver label must not shrink it).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ivcplan.labels import HEPATIC_VEIN_LABELS, IVC_LABELS, Label
from ivcplan.volume import Labelmap, label_mask

log = logging.getLogger(__name__)

FLR_METHOD = "left_of_ivc_mhv_plane"
#: Labels counted as liver volume (parenchyma + hepatic veins).
LIVER_LABELS: tuple[Label, ...] = (Label.LIVER, *HEPATIC_VEIN_LABELS.values())
#: Fewer voxels than this is "not segmented" (a few stray voxels cannot orient a plane).
MIN_VOXELS = 20
#: The IVC axis comes from PCA only when its first axis clearly dominates; else the patient's
#: superior axis is used (a short IVC stretch has no reliable direction).
AXIS_DOMINANCE = 4.0
#: A plane normal with a smaller left-right component than this cannot be oriented by "left".
MIN_LEFT_COMPONENT = 0.2


def _null(volume_ml: float | None, reason: str) -> dict[str, Any]:
    return {"volume_ml": volume_ml, "flr_ml": None, "flr_ratio": None, "flr_method": None,
            "flr_reason": reason, "flr_plane": None}


def _points(labelmap: Labelmap, mask: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """LPS positions of the voxels of ``mask`` (a crop of the labelmap starting at index ``start``)."""
    index = np.argwhere(mask)
    return labelmap.grid.index_to_lps(index if start is None else index + start)


def liver_volumes(labelmap: Labelmap) -> dict[str, Any]:
    """``volume_ml``, ``flr_ml``, ``flr_ratio``, ``flr_method`` (+ ``flr_reason``, ``flr_plane``).

    FLR fields are ``None`` with ``flr_reason`` saying why when the liver, the middle hepatic vein
    or the IVC at the liver's levels is not segmented.
    """
    grid = labelmap.grid
    voxel_ml = grid.voxel_volume_mm3 / 1000.0
    liver_full = labelmap.mask(*LIVER_LABELS)
    box = _bounding_box(liver_full)
    if box is None:
        return _null(None, "liver not segmented")
    start = np.array([b.start for b in box])
    array, liver = labelmap.array[box], liver_full[box]  # every liver and hepatic vein voxel is in the box
    if np.count_nonzero(array == Label.LIVER) < MIN_VOXELS:
        return _null(None, "liver not segmented")
    volume_ml = float(np.count_nonzero(liver)) * voxel_ml
    mhv = array == Label.HEPATIC_VEIN_MIDDLE
    if np.count_nonzero(mhv) < MIN_VOXELS:
        return _null(volume_ml, "middle hepatic vein not segmented")
    axis = _ivc_axis(labelmap, box)
    if axis is None:
        return _null(volume_ml, "IVC not segmented at the levels of the liver")
    centre, direction = axis
    normal = _plane_normal(_points(labelmap, mhv, start) - centre, direction)
    if normal is None:
        return _null(volume_ml, "middle hepatic vein lies along the IVC axis: plane undefined")
    normal = _orient_left(labelmap, array, start, centre, normal)
    if normal is None:
        return _null(volume_ml, "plane through the IVC and middle hepatic vein is not sagittal enough to tell left "
                                "from right, and the right/left hepatic veins are not segmented")
    flr_ml = _count_positive_side(liver, grid.index_to_lps(start), grid, centre, normal) * voxel_ml
    return {"volume_ml": volume_ml, "flr_ml": flr_ml, "flr_ratio": flr_ml / volume_ml, "flr_method": FLR_METHOD,
            "flr_reason": None, "flr_plane": {"point_mm": centre.tolist(), "normal": normal.tolist()}}


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice, slice] | None:
    box = []
    for axis in range(3):
        hits = np.flatnonzero(np.any(mask, axis=tuple(a for a in range(3) if a != axis)))
        if hits.size == 0:
            return None
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return tuple(box)


def _count_positive_side(mask: np.ndarray, corner_lps: np.ndarray, grid: Any, centre: np.ndarray,
                         normal: np.ndarray) -> int:
    """Voxels of ``mask`` (a crop whose voxel 0 sits at ``corner_lps``) on the ``normal`` side of the plane.

    The signed distance is linear in the voxel index, so each slice needs one 2D comparison.
    """
    coeff = (grid.direction * grid.spacing[None, :]).T @ normal
    offset = float((corner_lps - centre) @ normal)
    rows = np.arange(mask.shape[1])[:, None] * coeff[1] + np.arange(mask.shape[2])[None, :] * coeff[2]
    return sum(int(np.count_nonzero(mask[i] & (rows > -(offset + i * coeff[0])))) for i in range(mask.shape[0]))


def _ivc_axis(labelmap: Labelmap, box: tuple[slice, slice, slice]) -> tuple[np.ndarray, np.ndarray] | None:
    """(centre, unit direction pointing cranially) of the IVC at the craniocaudal levels of the liver box."""
    # Only the slab of the box along the most superior array axis can hold the IVC at the liver's levels.
    slab = [slice(None)] * 3
    slab[labelmap.grid.axis_of(2)] = box[labelmap.grid.axis_of(2)]
    slab_start = np.array([s.start or 0 for s in slab])
    ivc_points = _points(labelmap, label_mask(labelmap.array[tuple(slab)], IVC_LABELS), slab_start)
    if len(ivc_points) < MIN_VOXELS:
        return None
    corners = np.array([[b.start if pick else b.stop - 1 for b, pick in zip(box, bits, strict=True)]
                        for bits in np.ndindex(2, 2, 2)])
    liver_z = labelmap.grid.index_to_lps(corners)[:, 2]
    inside = (ivc_points[:, 2] >= liver_z.min()) & (ivc_points[:, 2] <= liver_z.max())
    points = ivc_points[inside]
    if len(points) < MIN_VOXELS:
        return None
    centre = points.mean(axis=0)
    eigvals, eigvecs = np.linalg.eigh(np.cov((points - centre).T))
    direction = eigvecs[:, -1]
    if eigvals[-1] < AXIS_DOMINANCE * max(eigvals[-2], 1e-9):
        direction = np.array([0.0, 0.0, 1.0])
    if direction[2] < 0:
        direction = -direction
    return centre, direction


def _plane_normal(offsets: np.ndarray, direction: np.ndarray) -> np.ndarray | None:
    """Normal of the plane containing ``direction`` that best fits the offsets (through the origin)."""
    perp = offsets - np.outer(offsets @ direction, direction)
    if np.max(np.linalg.norm(perp, axis=1)) < 1e-6:
        return None
    _, eigvecs = np.linalg.eigh(perp.T @ perp)
    in_plane = eigvecs[:, -1]
    normal = np.cross(direction, in_plane)
    return normal / np.linalg.norm(normal)


def _orient_left(labelmap: Labelmap, array: np.ndarray, start: np.ndarray, centre: np.ndarray,
                 normal: np.ndarray) -> np.ndarray | None:
    """Normal pointing to the left liver: towards the left hepatic vein / away from the right one,
    else towards patient left (+x in LPS). ``array`` is the liver box crop starting at ``start``."""
    votes = 0.0
    for label, sign in ((Label.HEPATIC_VEIN_LEFT, 1.0), (Label.HEPATIC_VEIN_RIGHT, -1.0)):
        mask = array == label
        if np.count_nonzero(mask) >= MIN_VOXELS:
            votes += sign * float(np.mean((_points(labelmap, mask, start) - centre) @ normal))
    if votes != 0.0:
        return normal if votes > 0 else -normal
    if abs(normal[0]) < MIN_LEFT_COMPONENT:
        return None
    return normal if normal[0] > 0 else -normal


# -- the report section ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LiverMeasurements:
    """The report's ``liver`` section: total volume and the FLR estimate (`liver_volumes`)."""

    volume_ml: float | None
    flr_ml: float | None = None
    flr_ratio: float | None = None
    flr_method: str | None = None
    flr_reason: str | None = None
    # Uncertainty and caudate lobe (`ivcplan.measure.remnant`).
    volume_ml_range: list[float] | None = None
    flr_ml_range: list[float] | None = None
    flr_ratio_range: list[float] | None = None
    caudate_ml: float | None = None
    caudate_ml_range: list[float] | None = None
    caudate_method: str | None = None
    caudate_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        def r(v: Any) -> Any:
            if isinstance(v, float):
                return round(v, 3)
            return [round(float(x), 3) for x in v] if isinstance(v, list) else v

        return {k: r(v) for k, v in asdict(self).items()}


def liver_measurements(labelmap: Labelmap, *, caudate_levels: tuple[float | None, float | None] = (None, None)
                       ) -> LiverMeasurements:
    """Liver volume and future liver remnant (`liver_volumes`), their uncertainty and the caudate lobe
    (`ivcplan.measure.remnant`; ``caudate_levels``: LPS heights of the liver's caudal edge at the IVC and of
    the lowest hepatic vein ostium)."""
    from ivcplan.measure import remnant  # remnant reads this module's LIVER_LABELS

    res = liver_volumes(labelmap)
    spread = remnant.uncertainty(labelmap, res)
    lobe = remnant.caudate(labelmap, res, low_z=caudate_levels[0], high_z=caudate_levels[1])
    return LiverMeasurements(volume_ml=res["volume_ml"], flr_ml=res["flr_ml"], flr_ratio=res["flr_ratio"],
                             flr_method=res["flr_method"], flr_reason=res.get("flr_reason"), **spread, **lobe)
