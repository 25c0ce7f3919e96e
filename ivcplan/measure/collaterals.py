"""Collateral venous return around an occluded IVC: enlarged paravertebral veins where the CT shows them.

When the IVC is blocked slowly, the lower body drains through the ascending lumbar veins into the
azygos (right) and hemiazygos (left) veins, and through the gonadal veins. Rule R2 may accept IVC
ligation only with such collateral return, so it must be looked for, not assumed.

What is measured (the segmentation has no labels for these veins; the CT is read directly):

* **azygos / hemiazygos**: unlabeled blood-pool-bright tubes within `PARAVERTEBRAL_MM` of the front
  half of the vertebral bodies, no more than `AHEAD_OF_SPINE_MM` in front of them and off the midline
  strip (where the prevertebral aorta, IVC and iliac arteries run) and off the IVC's and the aorta's
  footprint over `TRUNK_GAP_MM` above and below (a gap in their segmentation), right / left of the midline, from
  the renal veins upwards (the retrocrural and posterior mediastinal course);
* **ascending lumbar**: the same beside the vertebral bodies below the renal veins.

Only slices where the IVC itself is segmented within `TRUNK_GAP_MM` are read (its own lumen would
otherwise pass for a collateral), and the lumbar group only when both kidneys are labelled. A
candidate is a 2D blob per axial slice (HU at least `BLOOD_FRACTION` of the way from muscle to the
IVC lumen's own median HU, not inside any labelled structure, equivalent diameter at least
`MIN_DIAMETER_MM`), followed over at least `MIN_RUN_MM` of consecutive slices (a vein runs along the
spine; lumbar arteries and bowel loops do not). A group is *enlarged* when the median diameter of its
longest run reaches `ENLARGED_MM`. ``gonadal`` veins are not assessed (they run among bowel loops of
the same attenuation): null with that reason. Not assessed at all on a non-contrast CT or without a
segmented spine and IVC lumen.

``collateral_return``: true when an enlarged group is found; false when both paravertebral groups
were in view and neither is enlarged; null (with the reason) otherwise. The thresholds are expert
consensus (normal azygos up to about 7-10 mm, ascending lumbar veins a few millimetres).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from scipy import ndimage

from ivcplan.labels import Label
from ivcplan.volume import Labelmap, Volume, label_mask

log = logging.getLogger(__name__)

#: Search band (mm) around the vertebral bodies ...
PARAVERTEBRAL_MM = 15.0
#: ... no further than this (mm) in front of the bodies' front edge (the prevertebral aorta, IVC and
#: iliac arteries lie further forward; the azygos system and the lumbar veins hug the spine) ...
AHEAD_OF_SPINE_MM = 8.0
#: ... and off the midline strip of this half-width (mm) in front of the bodies, where unlabelled
#: arteries (a partly segmented aorta, the common iliac arteries) run.
MIDLINE_MM = 8.0
#: Blobs wider than this (mm) are an unlabelled trunk (aorta, iliac vessels, a kidney), not a collateral.
MAX_DIAMETER_MM = 20.0
#: Where the IVC or the aorta is labelled within this height (mm) above or below a slice, widened by
#: `TRUNK_MARGIN_MM`, a blob is that trunk across a gap in its segmentation, not a collateral.
TRUNK_GAP_MM = 20.0
TRUNK_MARGIN_MM = 3.0
#: A collateral is at least this bright: this fraction of the way from muscle HU to the IVC lumen's HU.
BLOOD_FRACTION = 0.6
MUSCLE_HU = 50.0
#: ... and no brighter than the brighter of the IVC lumen and the aorta by this (HU): bone (ribs, the
#: vertebral cortex outside the spine label) is brighter still.
BLOOD_MAX_ABOVE_HU = 60.0
#: Blobs smaller than this (mm, equivalent diameter) are not followed (lumbar arteries, noise).
MIN_DIAMETER_MM = 3.0
#: A vein is followed over at least this length (mm) of consecutive axial slices.
MIN_RUN_MM = 15.0
#: Enlarged when the median diameter (mm) of the longest run reaches this (expert consensus).
ENLARGED_MM = {"azygos_hemiazygos": 8.0, "ascending_lumbar": 6.0}
#: Phases without venous contrast: veins are not told from muscle.
NO_VENOUS_CONTRAST = ("non_contrast", "arterial")

GROUPS = ("azygos_hemiazygos", "ascending_lumbar", "gonadal")


def _none(reason: str) -> dict[str, Any]:
    return {"enlarged": None, "diameter_mm": None, "run_mm": None, "reason": reason}


def assess(volume: Volume | None, labelmap: Labelmap, *, renal_z: float | None, phase: str | None) -> dict[str, Any]:
    """The report's ``tumor.collaterals`` (per group) and ``collateral_return`` with its reason."""
    gonadal = _none("not assessed: the gonadal veins run among bowel loops of the same attenuation")
    out: dict[str, Any] = {"gonadal": gonadal}
    why = None
    if volume is None or not volume.grid.is_same(labelmap.grid):
        why = "no CT on the labelmap's grid"
    elif phase in NO_VENOUS_CONTRAST:
        why = f"{phase.replace('_', '-')} CT: veins cannot be told from muscle"
    elif not np.any(labelmap.array == Label.SPINE):
        why = "spine not segmented (the paravertebral veins are found beside it)"
    elif not np.any(labelmap.array == Label.IVC_LUMEN):
        why = "no IVC lumen to calibrate the blood-pool attenuation"
    if why is not None:
        out.update(azygos_hemiazygos=_none(f"not assessed: {why}"), ascending_lumbar=_none(f"not assessed: {why}"))
        return {**out, "collateral_return": None, "reason": f"not assessed: {why}"}
    out.update(_paravertebral(volume, labelmap, renal_z))
    groups = [out["azygos_hemiazygos"], out["ascending_lumbar"]]
    if any(g["enlarged"] for g in groups):
        names = [n for n in ("azygos_hemiazygos", "ascending_lumbar") if out[n]["enlarged"]]
        return {**out, "collateral_return": True, "reason": f"enlarged {', '.join(names).replace('_', ' ')} vein(s)"}
    if all(g["enlarged"] is False for g in groups):
        return {**out, "collateral_return": False,
                "reason": "azygos/hemiazygos and ascending lumbar veins in view, none enlarged (gonadal veins not "
                          "assessed)"}
    missing = [n.replace("_", " ") for n in ("azygos_hemiazygos", "ascending_lumbar") if out[n]["enlarged"] is None]
    return {**out, "collateral_return": None, "reason": f"{', '.join(missing)} not assessed; none enlarged where seen"}


def _maximum_in_box(mask: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """``ndimage.maximum_filter(mask, size).astype(bool)`` computed on the mask's bounding box grown by
    half the filter (the same result: beyond that box every window holds zeros only)."""
    box = ndimage.find_objects(mask.astype(np.uint8, copy=False), max_label=1)[0]
    out = np.zeros(mask.shape, dtype=bool)
    if box is None:
        return out
    grown = tuple(slice(max(0, sl.start - n // 2), min(dim, sl.stop + n // 2))
                  for sl, n, dim in zip(box, size, mask.shape, strict=True))
    out[grown] = ndimage.maximum_filter(mask[grown], size=size).astype(bool)
    return out


def _band(spine: np.ndarray, rows_cols: np.ndarray, pixel: np.ndarray) -> np.ndarray:
    """Pixels of one slice within `PARAVERTEBRAL_MM` of the spine (the spine excluded): the distance
    transform runs on the spine's box grown by that distance, which holds every pixel that near."""
    margin = np.ceil(PARAVERTEBRAL_MM / pixel).astype(int) + 1
    lo = np.maximum(rows_cols.min(axis=0) - margin, 0)
    hi = np.minimum(rows_cols.max(axis=0) + 1 + margin, spine.shape)
    box = (slice(lo[0], hi[0]), slice(lo[1], hi[1]))
    dist = ndimage.distance_transform_edt(~spine[box], sampling=pixel)
    band = np.zeros(spine.shape, dtype=bool)
    band[box] = (dist > 0) & (dist <= PARAVERTEBRAL_MM)
    return band


def _paravertebral(volume: Volume, labelmap: Labelmap, renal_z: float | None) -> dict[str, Any]:
    re = labelmap.grid.reorientation("SPL")
    labels = re.apply(labelmap.array)
    hu = re.apply(volume.array)
    grid = re.grid
    heights = grid.index_to_lps(np.stack([np.arange(grid.shape[0]), np.zeros(grid.shape[0]),
                                          np.zeros(grid.shape[0])], axis=1))[:, 2]
    pixel = np.asarray(grid.spacing[1:], dtype=float)
    dz = float(grid.spacing[0])
    lumen_hu = float(np.median(volume.array[labelmap.array == Label.IVC_LUMEN]))
    threshold = MUSCLE_HU + BLOOD_FRACTION * max(lumen_hu - MUSCLE_HU, 40.0)
    aorta = labelmap.array == Label.AORTA
    brightest = max(lumen_hu, float(np.median(volume.array[aorta])) if aorta.any() else lumen_hu)
    ceiling = brightest + BLOOD_MAX_ABOVE_HU
    spine = labels == Label.SPINE
    has_spine = np.flatnonzero(spine.any(axis=(1, 2)))
    trunks = label_mask(labels, [int(Label.IVC_LUMEN), int(Label.IVC_TUMOR), int(Label.IVC_THROMBUS),
                              int(Label.AORTA)]).astype(np.uint8)
    reach = (2 * int(np.ceil(TRUNK_GAP_MM / dz)) + 1, 2 * int(np.ceil(TRUNK_MARGIN_MM / pixel[0])) + 1,
             2 * int(np.ceil(TRUNK_MARGIN_MM / pixel[1])) + 1)
    trunks = _maximum_in_box(trunks, reach)
    # A slice is read only where the IVC itself is segmented nearby: else its own lumen would pass for a
    # collateral. Kidney tissue beside the spine passes for a vein unless the kidneys are labelled.
    ivc_near = ndimage.maximum_filter1d(label_mask(labels, [int(Label.IVC_LUMEN), int(Label.IVC_TUMOR),
                                                         int(Label.IVC_THROMBUS)]).any(axis=(1, 2)).astype(np.uint8),
                                        size=reach[0]).astype(bool)
    kidneys = bool(np.any(labels == Label.KIDNEY_RIGHT) and np.any(labels == Label.KIDNEY_LEFT))
    px_area = float(pixel[0] * pixel[1])
    # Per slice: the largest candidate blob's diameter per group (0 when none).
    diam = {"azygos_hemiazygos": np.zeros(len(heights)), "ascending_lumbar": np.zeros(len(heights))}
    in_view = {"azygos_hemiazygos": False, "ascending_lumbar": False}
    for k in has_spine:
        if renal_z is None:
            continue  # the two groups are told apart by the renal vein level
        group = "ascending_lumbar" if heights[k] < renal_z else "azygos_hemiazygos"
        if not ivc_near[k] or (group == "ascending_lumbar" and not kidneys):
            continue
        in_view[group] = True
        sp = spine[k]
        rows_cols = np.argwhere(sp)
        centre_row, centre_col = (float(v) for v in np.median(rows_cols, axis=0))
        near_mid = np.abs(rows_cols[:, 1] - centre_col) * pixel[1] <= MIDLINE_MM
        front_row = float(rows_cols[near_mid, 0].min()) if near_mid.any() else float(rows_cols[:, 0].min())
        band = _band(sp, rows_cols, pixel)
        band[int(np.ceil(centre_row)):, :] = False  # the front half: the veins lie beside and before the bodies
        band[:max(0, int(np.floor(front_row - AHEAD_OF_SPINE_MM / pixel[0]))), :] = False
        cols = np.arange(band.shape[1])
        band[:, np.abs(cols - centre_col) * pixel[1] < MIDLINE_MM] = False
        unlabelled = (labels[k] == 0) | (labels[k] == Label.BODY)
        cand = band & unlabelled & ~trunks[k] & (hu[k] >= threshold) & (hu[k] <= ceiling)
        if not cand.any():
            continue
        comps, n = ndimage.label(cand)
        areas = ndimage.sum(np.ones_like(comps), comps, index=np.arange(1, n + 1)) * px_area
        sizes = 2.0 * np.sqrt(areas / np.pi)
        sizes = sizes[(sizes >= MIN_DIAMETER_MM) & (sizes <= MAX_DIAMETER_MM)]
        if sizes.size:
            diam[group][k] = float(sizes.max())
    out: dict[str, Any] = {}
    min_run = max(1, int(np.ceil(MIN_RUN_MM / dz)))
    for group, values in diam.items():
        if not in_view[group]:
            why = ("renal vein level unknown" if renal_z is None else
                   "kidneys not segmented (kidney tissue beside the spine cannot be told from veins)"
                   if group == "ascending_lumbar" and not kidneys else
                   "not in view (no spine, or no segmented IVC to tell it from, at those levels)")
            out[group] = _none(why)
            continue
        present = values > 0
        longest, best_slice = 0, None
        k = 0
        while k < len(present):
            if present[k]:
                j = k
                while j + 1 < len(present) and present[j + 1]:
                    j += 1
                if j - k + 1 > longest:
                    longest, best_slice = j - k + 1, (k, j)
                k = j + 1
            else:
                k += 1
        if longest < min_run:
            out[group] = {"enlarged": False, "diameter_mm": None, "run_mm": round(longest * dz, 1),
                          "reason": f"no vein followed over {MIN_RUN_MM:g} mm beside the spine"}
            continue
        run = values[best_slice[0]:best_slice[1] + 1]
        median = float(np.median(run))
        out[group] = {"enlarged": median >= ENLARGED_MM[group], "diameter_mm": round(median, 1),
                      "run_mm": round(longest * dz, 1), "reason": None}
    return out
