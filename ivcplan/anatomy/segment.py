"""`segment()`: the built-in, fully automatic segmentation of a CT volume, and `merge()`.

Order: working frame -> vertebral anchor -> aorta -> IVC (optionally through user seeds) ->
contrast phase -> organs (body, spine, liver, kidneys; `ivcplan.anatomy.organs`) -> tumor and
bland thrombus inside the IVC -> branches (iliac, renal, hepatic veins, right atrium, portal vein)
-> one labelmap on the volume's own grid. Vessel labels override organ labels where they overlap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from ivcplan.anatomy.boundary import refine_outline
from ivcplan.anatomy.frame import WorkFrame
from ivcplan.anatomy.morphology import ball, bbox
from ivcplan.anatomy.phase import detect_phase
from ivcplan.anatomy.trunk import BONE_HU, Column, SpineAnchor, find_column, spine_anchor
from ivcplan.anatomy.tumor import (
    MAX_TUMOR_RADIUS_MM,
    lower_end_cap,
    residual_lumen,
    split_ivc,
    stability_cap,
    tumor_stability,
)
from ivcplan.anatomy.veins import blood_band, find_branch_veins
from ivcplan.anatomy.vessels import VesselResult, continue_aorta, ellipse_mask, find_aorta, find_ivc
from ivcplan.anatomy.vessels_branches import find_ends
from ivcplan.anatomy.vessels_track import Track
from ivcplan.errors import InputError
from ivcplan.labels import HEPATIC_VEIN_LABELS, IVC_LABELS, RENAL_VEIN_LABELS, Label
from ivcplan.parallel import available_threads, run_beside
from ivcplan.progress import ProgressCallback, no_progress
from ivcplan.volume import Labelmap, Volume, label_mask

if TYPE_CHECKING:
    from ivcplan.anatomy.organs import OrganSegmentation
    from ivcplan.io.label_import import ImportedLabels

log = logging.getLogger(__name__)

#: A structure is reported as found at or above this confidence.
FOUND_CONFIDENCE = 0.3
#: Fewer trunk slices than this (with a vertebral column) is "no abdomen in view".
MIN_TRUNK_SLICES = 3
#: Labels whose boundaries are carried sub-voxel from the working grid to the scan grid.
SMOOTH_LABELS = (Label.IVC_LUMEN, Label.IVC_TUMOR, Label.IVC_THROMBUS, Label.AORTA)
#: Labels of blood whose outline is settled on the scan grid (`refine_outline`), and the labels whose
#: union is the vessel they outline (a lumen voxel against tumor, thrombus, the atrium or a branch lies
#: inside it). Not the hepatic veins: often only 10-30 HU above the liver, they would be cut into pieces
#: where they open into the IVC (their ostia are landmarks). Not the aorta: references differ on whether
#: its wall is included (TotalSegmentator includes it), and the plan measures nothing on its outline.
BLOOD_LABELS = tuple(int(v) for v in (Label.IVC_LUMEN, *RENAL_VEIN_LABELS.values(), Label.ILIAC_VEIN_RIGHT,
                                      Label.ILIAC_VEIN_LEFT))
#: ... kept near the branch veins' mouths and near tumor or thrombus (`refine_outline`).
BRANCH_LABELS = tuple(int(v) for v in (*RENAL_VEIN_LABELS.values(), *HEPATIC_VEIN_LABELS.values()))
OUTLINED_LABELS = (*BLOOD_LABELS, *(int(v) for v in HEPATIC_VEIN_LABELS.values()), int(Label.AORTA),
                   int(Label.IVC_TUMOR), int(Label.IVC_THROMBUS), int(Label.RIGHT_ATRIUM))
#: Below the bifurcation an iliac artery's cross-section is under this fraction of the aorta's over
#: the BIFURCATION_REFERENCE_MM above it.
BIFURCATION_AREA_FRACTION = 0.55
BIFURCATION_REFERENCE_MM = 30.0
#: ... and the track moves off the aortic axis (of the `AORTA_AXIS_SLICES` above) by at least this
#: (mm) within two slices below (onto one iliac artery: 8-12 mm on the phantoms; a gently curving
#: aorta moves 2-3 mm over two slices on real CT).
BIFURCATION_SHIFT_MM = 5.0
#: The abdominal aorta runs straight: a centre farther than this (mm) from the median of the
#: `AORTA_AXIS_SLICES` above it has left the aorta (bifurcation, or a jump onto the iliac veins).
AORTA_MAX_OFF_AXIS_MM = 9.0
AORTA_AXIS_SLICES = 6
#: On an enhanced scan, more than this share of the tracked IVC inside the liver mask means the lumen
#: is isodense with the liver (the track is then a guess).
ISODENSE_LIVER_SHARE = 0.3
#: Within this distance (mm) below the cavoatrial junction, lumen outside the vein's typical section
#: (enlarged by FUNNEL_SECTION_MARGIN) is the atrium's funnel.
JUNCTION_FUNNEL_MM = 10.0
FUNNEL_SECTION_MARGIN = 1.15
#: ... around the vein's axis fitted over this length (mm) beyond the funnel (or the flare below).
FUNNEL_AXIS_MM = 30.0
#: The iliac veins join at most this far (mm) above the aorta's bifurcation (they join below it).
CONFLUENCE_ABOVE_BIFURCATION_MM = 15.0
#: Within this distance (mm) above the iliac confluence, lumen beyond the vein's typical section is
#: the iliac veins running into it.
CONFLUENCE_FLARE_MM = 12.0
#: Lumen beyond the slice's template enlarged by this factor is a branch vein's mouth.
MOUTH_SECTION_MARGIN = 1.2
#: A right atrium candidate with more than this fraction inside the liver mask is liver.
ATRIUM_MAX_LIVER_FRACTION = 0.3
#: An IVC tumor enhances less than the liver by at least this (HU) on an enhanced scan.
LIVER_MARGIN_HU = 12.0
#: A slice with no liver within this distance (mm) of the aorta's centre is below the liver: there
#: the IVC is retroperitoneal (the caudate lobe, 20-50 mm from the aorta, wraps the IVC above).
LIVER_NEAR_AORTA_MM = 60.0
#: A bulky tumor may reach this far (mm) behind the front of the vertebral bodies, beside them.
PARAVERTEBRAL_BAND_MM = 20.0
#: Radius (mm) of the closing that puts vessels inside the liver (and tumor filling them) into it.
LIVER_ENCLOSURE_MM = 6.0
#: ... and the reach (mm) from a kidney within which a tumor-filled renal vein is kept.
HILUM_REACH_MM = 15.0
#: Liver lesions are never taken within this distance (mm) of the IVC, its tumor, the aorta or atrium.
LESION_VESSEL_MARGIN_MM = 6.0
NON_CONTRAST_WARNING = ("non-contrast scan: vessels and tumor were segmented from shape and position "
                        "priors only; tumor measurements are unreliable")


@dataclass(frozen=True)
class Seeds:
    """Optional user points (LPS mm) inside the IVC lumen and inside the tumor."""

    ivc: tuple[tuple[float, float, float], ...] = ()
    tumor: tuple[tuple[float, float, float], ...] = ()

    def __post_init__(self) -> None:
        for name in ("ivc", "tumor"):
            pts = np.asarray(getattr(self, name), dtype=float).reshape(-1, 3) if len(getattr(self, name)) else \
                np.zeros((0, 3))
            if not np.all(np.isfinite(pts)):
                raise InputError(f"seed points must be finite LPS mm, got {pts.tolist()}", f"seeds.{name}")
            object.__setattr__(self, name, tuple(tuple(float(v) for v in p) for p in pts))


@dataclass(frozen=True)
class Segmentation:
    labelmap: Labelmap
    confidence: Mapping[str, float]  # label key -> 0..1
    phase: str
    warnings: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def found(self, label: Label) -> bool:
        return self.confidence.get(label.key, 0.0) >= FOUND_CONFIDENCE and bool(np.any(self.labelmap.array == label))


def segment(volume: Volume, *, seeds: Seeds | None = None,
            progress: ProgressCallback | None = None) -> Segmentation:
    """Segment the IVC (lumen, tumor, thrombus), aorta, organs and branches of ``volume``."""
    if not isinstance(volume, Volume):
        raise InputError(f"expected an ivcplan Volume, got {type(volume).__name__}", "volume")
    if seeds is not None and not isinstance(seeds, Seeds):
        raise InputError(f"expected ivcplan.anatomy.Seeds, got {type(seeds).__name__}", "seeds")
    report = progress or no_progress
    report("segmentation: preparing", 0.0)
    # One body outline and one vertebral column, on the organs' coarse frame, for every step.
    coarse = WorkFrame.coarse(volume)
    column = find_column(coarse)
    # The organs need nothing from the vessel steps up to the IVC: they run beside them.
    organ_warnings: list[str] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        organs_job = run_beside(pool, _organs, volume, coarse, column, organ_warnings) \
            if available_threads() > 1 else None
        return _segment(volume, seeds, report, coarse, column, organs_job, organ_warnings)


def _segment(volume: Volume, seeds: Seeds | None, report: ProgressCallback, coarse: WorkFrame, column: Column,
             organs_job: Future | None, organ_warnings: list[str]) -> Segmentation:
    frame = WorkFrame.fine(volume)
    body = frame.from_frame(coarse, column.body)
    spine = spine_anchor(column, coarse, frame)
    confidence = {lab.key: 0.0 for lab in Label if lab is not Label.BACKGROUND}
    warnings: list[str] = []
    labels = np.zeros(frame.hu.shape, dtype=np.uint8)
    details: dict[str, Any] = {}

    usable = spine.present & spine.trunk
    if usable.sum() < MIN_TRUNK_SLICES:
        # Head, neck, limb or phantom without a trunk: report cleanly, segment nothing.
        warnings.append("no abdomen in view: no trunk with a vertebral column was found; "
                        "no vessel or organ was segmented")
        if body.any():
            labels[body] = Label.BODY
            confidence[Label.BODY.key] = 0.5
        report("segmentation: done", 1.0)
        return Segmentation(Labelmap(frame.to_scan(labels), volume.grid), confidence, "unknown", tuple(warnings),
                            details)

    report("segmentation: aorta", 0.1)
    aorta = find_aorta(frame, body, spine)
    bifurcation_z = None
    if aorta is not None:  # before the IVC: an aorta running on over the confluence would hide it
        aorta, bifurcation_z = _trim_aorta(aorta, frame.spacing)
        aorta, continued = continue_aorta(aorta, frame, body, spine)
        if continued:
            mm = round(continued * float(frame.spacing[0]))
            details["aorta_continued_mm"] = mm
            warnings.append(f"aorta: its upper {mm} mm (no contrast against the diaphragmatic crura) follow "
                            "its course as a shape prior; they were not delineated")
    report("segmentation: organs", 0.3)
    organs = organs_job.result() if organs_job is not None else _organs(volume, coarse, column, organ_warnings)
    warnings[:0] = organ_warnings  # the organs' notes first, as they come first in the report
    report("segmentation: IVC", 0.5)
    seed_vox = _seeds_to_frame(seeds.ivc, frame, "seeds.ivc") if seeds and seeds.ivc else None
    tumor_vox = _seeds_to_frame(seeds.tumor, frame, "seeds.tumor") if seeds and seeds.tumor else None
    if tumor_vox is not None:  # a tumor seed lies in the (expanded) IVC: the track must pass there
        seed_vox = tumor_vox if seed_vox is None else np.vstack([seed_vox, tumor_vox])
    # A tumor enhances less than the liver: a filling defect is darker than it.
    defect_max = organs.liver_hu - LIVER_MARGIN_HU if organs.liver_hu else None
    organ_work = frame.labels_from_scan(organs.labels)
    ivc = find_ivc(frame, body, spine, aorta, exclude=aorta.mask if aorta else None, seeds_vox=seed_vox,
                   defect_max_hu=defect_max, retroperitoneal=_below_liver(organ_work == Label.LIVER, aorta, frame))

    attenuation = {"aorta": aorta.inside_hu if aorta else None, "ivc": ivc.inside_hu if ivc else None}
    attenuation.update(organs.kidney_hu)
    phase = detect_phase(attenuation)
    details["phase_reason"] = phase.reason
    details["attenuation_hu"] = {k: (None if v is None else round(float(v), 1)) for k, v in attenuation.items()}
    if phase.phase == "non_contrast":
        warnings.append(NON_CONTRAST_WARNING)

    report("segmentation: tumor", 0.7)
    for lab, value in organs.confidence.items():
        confidence[lab.key] = value
    enhanced = phase.phase in ("arterial", "portal_venous", "delayed")
    _place_vessel(labels, confidence, aorta, Label.AORTA, warnings, "aorta")
    _place_vessel(labels, confidence, ivc, Label.IVC_LUMEN, warnings, "IVC")
    if ivc is not None and ivc.mask.any():
        # The IVC proper runs from the iliac confluence to the cavoatrial junction.
        if enhanced:
            _check_isodense(labels, organ_work, confidence, warnings)
        confluence_z, junction_z = _place_ends(labels, confidence, details, warnings, frame, ivc, aorta,
                                               enhanced=enhanced, liver=organ_work == Label.LIVER,
                                               spine=organ_work == Label.SPINE, bifurcation_z=bifurcation_z)
        forbidden, paravertebral = _tumor_forbidden(frame, spine, aorta)
        _place_bridges(labels, ivc, frame, forbidden, confluence_z, junction_z)
        kept_thin = _thin_extensions_kept(organ_work, frame, labels == Label.IVC_LUMEN)
        split_args = dict(contrast=phase.phase not in ("non_contrast", "unknown"), tumor_seeds=tumor_vox,
                          forbidden=forbidden, within_mass=paravertebral, centres=ivc.track.centres(),
                          upper_hu=defect_max, enclosed=kept_thin)
        vein = labels == Label.IVC_LUMEN
        parts = split_ivc(frame.hu, vein, frame.spacing, **split_args)
        # How far the image determines the tumor's outline (seeded tumors: the user's word).
        stability = tumor_stability(frame.hu, vein, frame.spacing, parts.tumor, **split_args) \
            if enhanced and tumor_vox is None else 1.0
        details["tumor_stability"] = round(stability, 3)
        labels[parts.tumor] = Label.IVC_TUMOR
        labels[parts.thrombus] = Label.IVC_THROMBUS
        details["ivc_lumen_hu"] = round(parts.lumen_hu, 1)
        if enhanced and parts.tumor.any():
            free = (labels == 0) & ~forbidden & (organ_work != Label.KIDNEY_RIGHT) & (organ_work != Label.KIDNEY_LEFT)
            band = blood_band(parts.lumen_hu, organs.liver_hu)
            labels[residual_lumen(frame.hu, free, parts.tumor, labels == Label.IVC_LUMEN, band,
                                  frame.spacing)] = Label.IVC_LUMEN
        for part, lab in ((parts.tumor, Label.IVC_TUMOR), (parts.thrombus, Label.IVC_THROMBUS)):
            confidence[lab.key] = round(ivc.confidence * (0.5 if phase.phase == "non_contrast" else 0.9), 3) \
                if part.any() else 0.0
        confidence[Label.IVC_TUMOR.key] = min(confidence[Label.IVC_TUMOR.key], stability_cap(stability))
        at_lower_end = lower_end_cap(parts.tumor, vein, frame.spacing) if enhanced and tumor_vox is None else 1.0
        if at_lower_end < 1.0:
            confidence[Label.IVC_TUMOR.key] = min(confidence[Label.IVC_TUMOR.key], at_lower_end)
            warnings.append("IVC tumor: it begins at the vein's lower end, where unopacified blood from the legs or "
                            "a thrombus from the iliac veins looks the same on this phase: check it on the images")
        if parts.note and phase.phase != "non_contrast":
            warnings.append(f"IVC tumor: {parts.note}")
        if parts.unopacified_mm:
            details["ivc_unopacified_mm"] = round(parts.unopacified_mm)
            warnings.append(f"IVC: its lowest {parts.unopacified_mm:.0f} mm are less enhanced than the vein above "
                            "(unopacified blood from the legs, read as lumen); a thrombus filling the vein "
                            "there cannot be excluded on this phase")
        if enhanced:
            report("segmentation: renal and hepatic veins", 0.8)
            _trim_branch_mouths(labels, ivc, frame)
            _place_branch_veins(labels, confidence, warnings, frame, organs, organ_work, ivc, parts.lumen_hu,
                                junction_z)

    report("segmentation: resampling", 0.9)
    # The liver's lesions (into the organs' labels) and the vessels' outlines (on their own array) are
    # independent: side by side when a second thread is free.
    with ThreadPoolExecutor(max_workers=1) as pool:
        lesions = run_beside(pool, _add_liver_lesions, organs, coarse, frame, labels) \
            if available_threads() > 1 else None
        if lesions is None:
            _add_liver_lesions(organs, coarse, frame, labels)
        # Vessels are carried from the working grid; organs are already on the scan grid. Vessel
        # labels override organ labels where they overlap.
        vessels = frame.to_scan(labels, tuple(int(v) for v in SMOOTH_LABELS))
        # The blood's outline settled on the scan's own grid, at half its contrast with the surroundings.
        vessels[refine_outline(volume.array, vessels, volume.spacing, BLOOD_LABELS, OUTLINED_LABELS,
                               BRANCH_LABELS, (int(Label.IVC_TUMOR), int(Label.IVC_THROMBUS)))] = 0
        if lesions is not None:
            lesions.result()
    final = organs.labels
    final[vessels > 0] = vessels[vessels > 0]
    labelmap = Labelmap(final, volume.grid)
    report("segmentation: done", 1.0)
    return Segmentation(labelmap, confidence, phase.phase, tuple(warnings), details)


def _below_liver(liver: np.ndarray, aorta: VesselResult | None, frame: WorkFrame) -> np.ndarray | None:
    """Per working slice, whether no liver lies within `LIVER_NEAR_AORTA_MM` of the aorta's centre:
    below the liver the IVC lies retroperitoneal, on the vertebral column beside the aorta (None: no
    aorta to measure from)."""
    if aorta is None:
        return None
    out = np.zeros(frame.shape[0], dtype=bool)
    sp = frame.spacing
    for k, z in enumerate(aorta.track.z):
        ys, xs = np.nonzero(liver[z])
        near = np.hypot((ys - aorta.track.y[k]) * sp[1], (xs - aorta.track.x[k]) * sp[2]) <= LIVER_NEAR_AORTA_MM
        out[z] = not near.any()
    return out


def _place_vessel(labels: np.ndarray, confidence: dict[str, float], result: VesselResult | None, label: Label,
                  warnings: list[str], name: str) -> None:
    if result is None or not result.mask.any():
        warnings.append(f"{name} not found")
        return
    labels[result.mask] = label
    confidence[label.key] = result.confidence
    if result.confidence < FOUND_CONFIDENCE:
        warnings.append(f"{name} found with low confidence ({result.confidence:.2f})")


def _trim_aorta(aorta: VesselResult, spacing: np.ndarray) -> tuple[VesselResult, int | None]:
    """End the aorta at its bifurcation. Below it the track follows one, much smaller, iliac artery, or
    slides sideways onto the iliac confluence of the veins: the first (from the top, in the lower half)
    of three cross-sections under `BIFURCATION_AREA_FRACTION` of the aorta's just above them (the
    aorta tapers on its way down: its own upper sections are no measure) where the track then leaves
    the aortic axis, or of a centre far off that axis, is cut with all below. Returns the result and
    the working slice of the bifurcation (None: the aorta does not divide within the scan)."""
    zs = aorta.track.z
    if zs.size < 6:
        return aorta, None
    area = aorta.mask.reshape(aorta.mask.shape[0], -1).sum(axis=1)[zs].astype(float)
    above_n = max(3, int(np.rint(BIFURCATION_REFERENCE_MM / spacing[0])))
    centre = np.stack([aorta.track.y * spacing[1], aorta.track.x * spacing[2]], axis=1)
    cut = None
    for k in range(zs.size - 1, 1, -1):
        above = area[k + 1:k + 1 + above_n]
        if above.size >= 3 and (area[k - 2:k + 1] < BIFURCATION_AREA_FRACTION * np.median(above)).all():
            # ... and the track leaves the aorta's axis there, onto one iliac artery (a tapering aorta,
            # or one whose outline is underestimated, stays on it).
            axis = np.median(centre[k + 1:k + 1 + AORTA_AXIS_SLICES], axis=0)
            if np.linalg.norm(centre[k - 2:k] - axis, axis=1).max() >= BIFURCATION_SHIFT_MM:
                cut = k
                break
        if k < zs.size // 2 and _off_axis(centre, k):
            cut = k
            break
    if cut is None:
        return aorta, None
    mask = aorta.mask.copy()
    mask[:zs[cut] + 1] = False
    return replace(aorta, mask=mask), int(zs[cut])


def _place_ends(labels: np.ndarray, confidence: dict[str, float], details: dict[str, Any], warnings: list[str],
                frame: WorkFrame, ivc: VesselResult, aorta: VesselResult | None, *, enhanced: bool,
                liver: np.ndarray, spine: np.ndarray, bifurcation_z: int | None) -> tuple[int | None, int | None]:
    """Iliac veins below the confluence and the right atrium above the junction replace the IVC there.
    Returns the working slices of the iliac confluence and the cavoatrial junction (None: not found).

    The iliac veins join below the aorta's bifurcation: where the aorta runs undivided to the scan's
    lower end, the confluence is not in view (no pair of lumens above it is one)."""
    forbidden = frame.hu > BONE_HU
    # The iliac veins and the atrium are blood within a narrow band around the vein's own level, which may
    # lie above the bone threshold (bright inflow, mixed atrial blood): there only the aorta and the
    # vertebrae are excluded.
    blood_forbidden = spine.copy()
    if aorta is not None:
        forbidden |= aorta.mask
        blood_forbidden |= aorta.mask
    iliac_top = None if bifurcation_z is None else \
        bifurcation_z + int(np.ceil(CONFLUENCE_ABOVE_BIFURCATION_MM / frame.spacing[0]))
    ends = find_ends(frame.hu, ivc.track, ivc.mask, forbidden, frame.spacing, enhanced=enhanced, iliac_top=iliac_top,
                     blood_forbidden=blood_forbidden)
    warnings.extend(ends.notes)
    vein = labels == Label.IVC_LUMEN
    confluence, right, left, certainty = ends.confluence_z, ends.iliac_right, ends.iliac_left, 0.8
    start = _off_axis_start(ivc.track, frame.spacing) if confluence is None and enhanced and iliac_top is not None \
        else None
    if start is not None and start <= iliac_top:
        # No pair of veins below the track, but its lowest slices veer off the vein's axis: it began
        # on one iliac vein, above the other's inflow. Those slices are that iliac vein.
        axis_x = float(np.median(ivc.track.x[ivc.track.z >= start][:AORTA_AXIS_SLICES]))
        low = vein.copy()
        low[start:] = False
        side = np.arange(labels.shape[2])[None, None, :] < axis_x  # x runs to the patient's left
        confluence, right, left, certainty = start, low & side, low & ~side, 0.5
    if confluence is not None:
        below = np.zeros_like(vein)
        below[:confluence] = True
        labels[vein & below] = 0
        labels[right & (labels == 0)] = Label.ILIAC_VEIN_RIGHT
        labels[left & (labels == 0)] = Label.ILIAC_VEIN_LEFT
        _flare_to_iliacs(labels, ivc, frame, confluence)
        for lab in (Label.ILIAC_VEIN_RIGHT, Label.ILIAC_VEIN_LEFT):
            confidence[lab.key] = round(certainty * ivc.confidence, 3) if np.any(labels == lab) else 0.0
        details["iliac_confluence_slice_lps_z"] = float(frame.grid.index_to_lps([confluence, 0, 0])[2])
    elif enhanced and bifurcation_z is None:
        warnings.append("iliac confluence not in view: the aorta does not divide within the scanned range")
    elif enhanced:
        warnings.append("iliac confluence not found (below the field of view or not resolved)")
    junction = ends.junction_z
    if junction is not None and ends.atrium.any():
        in_liver = float(np.count_nonzero(ends.atrium & liver)) / float(np.count_nonzero(ends.atrium))
        if in_liver > ATRIUM_MAX_LIVER_FRACTION:
            # A "chamber" that is mostly liver: the IVC is isodense with the liver on this scan and
            # the tracked blood pool is parenchyma. No junction rather than an invented one.
            warnings.append(f"right atrium not found: the chamber candidate lies {100 * in_liver:.0f} % in the "
                            "liver (IVC not distinguishable from the liver)")
            junction = None
    if junction is not None:
        above = np.zeros_like(vein)
        above[junction:] = True
        labels[vein & above] = 0  # above the junction the track is no longer the IVC
        # Noise voxels below the blood window leave holes inside the chamber: they are its blood.
        atrium = np.stack([ndimage.binary_fill_holes(sl) for sl in ends.atrium])
        labels[atrium & ~liver & (labels == 0)] = Label.RIGHT_ATRIUM
        confidence[Label.RIGHT_ATRIUM.key] = round(0.8 * ivc.confidence, 3)
        _funnel_to_atrium(labels, ivc, frame, junction)
    elif enhanced and ends.junction_z is None:
        warnings.append("right atrium not found (above the field of view or not resolved)")
    return confluence, junction


def _off_axis(centre: np.ndarray, k: int) -> bool:
    """Track point ``k`` (centres in mm, (n, 2)) lies more than `AORTA_MAX_OFF_AXIS_MM` from the
    median centre of the `AORTA_AXIS_SLICES` above it (at least 3 of them): it has left the vessel's
    straight axis (the aorta onto an iliac vessel, the IVC's start on one iliac vein)."""
    above = centre[k + 1:k + 1 + AORTA_AXIS_SLICES]
    return len(above) >= 3 and float(np.linalg.norm(centre[k] - np.median(above, axis=0))) > AORTA_MAX_OFF_AXIS_MM


def _off_axis_start(track: Track, spacing: np.ndarray) -> int | None:
    """The first slice of the track on the vein's axis when its lowest slices lie off it (`_off_axis`):
    None when they do not, or when that is not in the lowest third of the track."""
    if track.z.size < 3 * AORTA_AXIS_SLICES:
        return None
    centre = np.stack([track.y * spacing[1], track.x * spacing[2]], axis=1)
    for k in range(track.z.size // 3, -1, -1):
        if _off_axis(centre, k):
            return int(track.z[k + 1])
    return None


def _check_isodense(labels: np.ndarray, organs: np.ndarray, confidence: dict[str, float],
                    warnings: list[str]) -> None:
    """An enhanced lumen is brighter than the liver and lies outside its mask. When most of the tracked
    vein lies in what the liver segmentation took for liver, the lumen is isodense with it there and
    the track followed shape and position only: lower the confidence and say so."""
    vein = labels == Label.IVC_LUMEN
    n = int(np.count_nonzero(vein))
    if n == 0:
        return
    share = float(np.count_nonzero(vein & (organs == Label.LIVER))) / n
    if share <= ISODENSE_LIVER_SHARE:
        return
    key = Label.IVC_LUMEN.key
    confidence[key] = round(confidence.get(key, 0.0) * (1.0 - share), 3)
    warnings.append(f"IVC: {100 * share:.0f} % of the tracked vein lies in tissue taken for liver (its lumen is "
                    "not brighter than the liver on this scan): its course there is a guess from position and "
                    "shape; check it, or give IVC seed points")


def _funnel_to_atrium(labels: np.ndarray, ivc: VesselResult, frame: WorkFrame, junction: int) -> None:
    """Just below the junction the vein widens into the atrium: there the IVC is its typical section
    around its axis (carried straight on from below: the track itself drifts into the chamber's
    blood), and the rest of the blood pool is atrium."""
    z_lo = max(0, junction - max(1, round(JUNCTION_FUNNEL_MM / frame.spacing[0])))
    blood = (labels == Label.IVC_LUMEN) | (labels == Label.RIGHT_ATRIUM)
    for z, section, _axis_x in _sections_on_axis(labels.shape, ivc, frame, range(z_lo, junction),
                                                 (z_lo - FUNNEL_AXIS_MM / frame.spacing[0], z_lo)):
        labels[z][blood[z] & ~section] = Label.RIGHT_ATRIUM
        labels[z][blood[z] & section] = Label.IVC_LUMEN


def _flare_to_iliacs(labels: np.ndarray, ivc: VesselResult, frame: WorkFrame, confluence: int) -> None:
    """Just above the confluence the two iliac veins run into the vein's lumen side by side, as one
    wide blob: there the IVC is its typical section around its axis (carried on from above), and the
    blob beyond it is the iliac vein of its side."""
    z_hi = min(labels.shape[0], confluence + max(1, round(CONFLUENCE_FLARE_MM / frame.spacing[0])))
    lumen = labels == Label.IVC_LUMEN
    for z, section, axis_x in _sections_on_axis(labels.shape, ivc, frame, range(confluence, z_hi),
                                                (z_hi, z_hi + FUNNEL_AXIS_MM / frame.spacing[0])):
        beyond = lumen[z] & ~section
        right = beyond & (np.arange(labels.shape[2])[None, :] < axis_x)  # x runs to the patient's left
        labels[z][right] = Label.ILIAC_VEIN_RIGHT
        labels[z][beyond & ~right] = Label.ILIAC_VEIN_LEFT


def _sections_on_axis(shape: tuple[int, ...], ivc: VesselResult, frame: WorkFrame, zs: range,
                      fit: tuple[float, float]) -> Iterator[tuple[int, np.ndarray, float]]:
    """Per slice of ``zs``: the vein's typical section (enlarged by `FUNNEL_SECTION_MARGIN`) around its
    axis, the line fitted to the track's centres on slices within ``fit`` (from, to); the track's own
    centre where too few are there. Yields (slice, section mask, axis x)."""
    centres = ivc.track.centres()
    # The whole track's median: where a tumor distends the vein up to its end, so does the end.
    ry, rx = FUNNEL_SECTION_MARGIN * _typical_radii_px(ivc.track, frame.spacing, lumen_only=False)
    near = np.array([z for z in centres if fit[0] <= z < fit[1]], dtype=float)
    line = None
    if near.size >= 3:
        line = (np.polyfit(near, [centres[int(z)][0] for z in near], 1),
                np.polyfit(near, [centres[int(z)][1] for z in near], 1))
    for z in zs:
        if line is not None:
            cy, cx = float(np.polyval(line[0], z)), float(np.polyval(line[1], z))
        elif z in centres:
            cy, cx = centres[z]
        else:
            continue
        yield z, ellipse_mask(shape[1:], cy, cx, ry, rx), cx


def _trim_branch_mouths(labels: np.ndarray, ivc: VesselResult, frame: WorkFrame) -> None:
    """Where hepatic or renal veins open into it, the delineated lumen runs out into their mouths.
    On slices where the track is on lumen and no tumor or thrombus lies, lumen beyond the slice's
    template (at least the vein's typical section, enlarged by `MOUTH_SECTION_MARGIN`) is left to
    the branch veins."""
    ry_typ, rx_typ = _typical_radii_px(ivc.track, frame.spacing, lumen_only=True)
    filled = label_mask(labels, [int(Label.IVC_TUMOR), int(Label.IVC_THROMBUS)]).reshape(labels.shape[0], -1)
    filled = filled.any(axis=1)
    for k, z in enumerate(ivc.track.z):
        if ivc.track.defect[k] or filled[z]:
            continue
        ry = MOUTH_SECTION_MARGIN * max(ivc.track.ry[k] / frame.spacing[1], ry_typ)
        rx = MOUTH_SECTION_MARGIN * max(ivc.track.rx[k] / frame.spacing[2], rx_typ)
        section = ellipse_mask(labels.shape[1:], ivc.track.y[k], ivc.track.x[k], ry, rx)
        labels[z][(labels[z] == Label.IVC_LUMEN) & ~section] = 0


def _place_branch_veins(labels: np.ndarray, confidence: dict[str, float], warnings: list[str], frame: WorkFrame,
                        organs: OrganLabels, organ_work: np.ndarray, ivc: VesselResult, lumen_hu: float,
                        junction_z: int | None) -> None:
    """Renal and hepatic veins (``ivcplan.anatomy.veins``) where nothing else is labelled."""
    vein = label_mask(labels, [int(Label.IVC_LUMEN), int(Label.IVC_TUMOR), int(Label.IVC_THROMBUS)])
    # Vessels placed so far, and the vertebral marrow (it enhances like blood), are never a branch vein ...
    renal_excluded = ((labels > 0) & ~vein) | (organ_work == Label.SPINE)
    # ... nor, in the liver, anything brighter than bone's threshold. Renal veins may be brighter than that
    # (a renal vein carries contrast back from the kidney: up to 250-300 HU): their band's own upper limit
    # (``veins.BLOOD_ABOVE_LUMEN_HU``) keeps out cortex and bone.
    excluded = renal_excluded | (frame.hu > BONE_HU)
    found = find_branch_veins(frame.hu, frame.spacing, ivc=vein, centres=ivc.track.centres(), excluded=excluded,
                              liver=organ_work == Label.LIVER,
                              kidneys={"right": organ_work == Label.KIDNEY_RIGHT,
                                       "left": organ_work == Label.KIDNEY_LEFT},
                              lumen_hu=lumen_hu, liver_hu=organs.liver_hu, junction_z=junction_z,
                              renal_excluded=renal_excluded, bone=frame.hu > BONE_HU,
                              tumor=label_mask(labels, [int(Label.IVC_TUMOR), int(Label.IVC_THROMBUS)]))
    warnings.extend(found.notes)
    for group, table in ((found.renal, RENAL_VEIN_LABELS), (found.hepatic, HEPATIC_VEIN_LABELS)):
        for side, mask in group.items():
            lab = table[side]
            labels[mask & (labels == 0)] = lab
            confidence[lab.key] = round(0.7 * ivc.confidence, 3)


def _place_bridges(labels: np.ndarray, ivc: VesselResult, frame: WorkFrame, forbidden: np.ndarray,
                   confluence_z: int | None, junction_z: int | None) -> None:
    """Where the track has no lumen (bridged, or on a filling defect), the vein is there all the same:
    put a section of the vein's typical size on its axis, for the tumor / thrombus split to examine.
    Bridges beyond the iliac confluence and the cavoatrial junction are left out: there the track
    skips through the iliac veins or the atrium, which have their own labels (a filling defect there
    is kept: a tumor may reach into the atrium)."""
    track = ivc.track
    centres = track.centres()
    ry, rx = _typical_radii_px(track, frame.spacing, lumen_only=True)
    lo = -1 if confluence_z is None else confluence_z
    hi = labels.shape[0] if junction_z is None else junction_z
    on_defect = set(track.z[track.defect].tolist())
    for z in track.filled:
        if not lo <= z < hi and int(z) not in on_defect:
            continue
        cy, cx = centres[int(z)]
        disc = ellipse_mask(labels.shape[1:], cy, cx, ry, rx) & ~forbidden[z]
        labels[z][disc & (labels[z] == 0)] = Label.IVC_LUMEN


def _typical_radii_px(track: Track, spacing: np.ndarray, *, lumen_only: bool) -> np.ndarray:
    """The vein's typical section (semi-axes y, x in working voxels): the median template over the
    track, or only where it is on lumen (a filling defect's template is a fixed guess)."""
    lumen = ~track.defect if lumen_only else np.ones(track.z.size, bool)
    if not lumen.any():
        lumen = np.ones(track.z.size, bool)
    return np.array([float(np.median(track.ry[lumen])) / spacing[1], float(np.median(track.rx[lumen])) / spacing[2]])


def _thin_extensions_kept(organs: np.ndarray, frame: WorkFrame, ivc: np.ndarray) -> np.ndarray:
    """Where a thin tumor extension is vein invasion, not a leak: inside the liver (closed by
    `LIVER_ENCLOSURE_MM`: its veins, not the diaphragm or crus on its surface) and at the renal hila
    (within `HILUM_REACH_MM` of a kidney, where a tumor-filled renal vein ends). Computed only around
    the IVC (as far as a tumor may reach), with distance transforms (a large ball is slow)."""
    out = np.zeros(organs.shape, dtype=bool)
    reach = MAX_TUMOR_RADIUS_MM + max(LIVER_ENCLOSURE_MM, HILUM_REACH_MM) + 5.0
    box = bbox(ivc, np.ceil(reach / frame.spacing).astype(int))
    if box is None:
        return out
    sub = organs[box]
    liver = sub == Label.LIVER
    kept = liver.copy()
    if liver.any():
        grown = ndimage.distance_transform_edt(~liver, sampling=frame.spacing) <= LIVER_ENCLOSURE_MM
        kept |= ndimage.distance_transform_edt(grown, sampling=frame.spacing) > LIVER_ENCLOSURE_MM  # closing
    kidneys = (sub == Label.KIDNEY_RIGHT) | (sub == Label.KIDNEY_LEFT)
    if kidneys.any():
        kept |= ndimage.distance_transform_edt(~kidneys, sampling=frame.spacing) <= HILUM_REACH_MM
    out[box] = kept
    return out


def _tumor_forbidden(frame: WorkFrame, spine: SpineAnchor, aorta: VesselResult | None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Where an IVC tumor never grows (the aorta, bone, and behind the front of the vertebral bodies),
    and the band behind that front where a bulky tumor may lie beside the vertebral body, only
    within its own mass's outline (the psoas and crura there are of the tumor's attenuation)."""
    forbidden = frame.hu > BONE_HU
    if aorta is not None:
        forbidden |= aorta.mask
    yy = np.arange(frame.hu.shape[1])[None, :, None]
    front = np.where(spine.usable, spine.y_anterior, np.inf)[:, None, None]
    behind = yy > front
    band = behind & (yy <= front + PARAVERTEBRAL_BAND_MM / frame.spacing[1]) & ~forbidden
    return forbidden | behind, band


def _seeds_to_frame(points: Sequence[Sequence[float]], frame: WorkFrame, name: str) -> np.ndarray:
    idx = frame.grid.lps_to_index(np.asarray(points, dtype=float).reshape(-1, 3))
    inside = frame.grid.contains_index(idx)
    if not np.all(inside):
        bad = np.asarray(points, dtype=float).reshape(-1, 3)[~inside]
        raise InputError(f"seed points outside the volume: {bad.round(1).tolist()}", name)
    return idx


@dataclass(frozen=True)
class OrganLabels:
    """The organs as the vessel steps use them: one label array on the volume grid and its references."""

    labels: np.ndarray  # uint8 (z, y, x) on the volume grid: body, spine, liver, kidneys
    confidence: Mapping[Label, float]
    kidney_hu: Mapping[str, float]  # "kidney" (median) and "kidney_p99" when a kidney was found
    liver_hu: float | None  # median attenuation of the liver, None when not found
    segmentation: OrganSegmentation | None = None  # the organs' own result (liver lesions are added later)


def _organs(volume: Volume, coarse: WorkFrame, column: Column, warnings: list[str]) -> OrganLabels:
    """Body, spine, liver and kidneys from the organs module: one label array on the volume grid."""
    from ivcplan.anatomy import organs as organ_mod

    seg = organ_mod.segment_organs(volume, frame=coarse, column=column, lesions_later=True)
    # One composite label array, resampled once onto the working grid (organs do not overlap
    # except body/spine, which the later, more specific labels override).
    composite = np.zeros(volume.shape, dtype=np.uint8)
    conf = {Label.BODY: 0.9 if seg.body.any() else 0.0, Label.SPINE: 0.8 if seg.spine.any() else 0.0,
            Label.LIVER: float(seg.liver.confidence)}
    composite[seg.body] = Label.BODY
    composite[seg.spine] = Label.SPINE
    composite[seg.liver.mask] = Label.LIVER
    kidney_vals = []
    for side, lab in (("right", Label.KIDNEY_RIGHT), ("left", Label.KIDNEY_LEFT)):
        res = seg.kidneys.get(side)
        if res is None:
            continue
        composite[res.mask] = lab
        conf[lab] = float(res.confidence)
        if res.found:
            kidney_vals.append(volume.array[res.mask])
    warnings.extend(f"{name}: {res.note}" for name, res in
                    [("liver", seg.liver)] + [(f"kidney_{s}", r) for s, r in seg.kidneys.items()]
                    if res.note and not res.found)
    kidney_hu: dict[str, float] = {}
    if kidney_vals:
        vals = np.concatenate(kidney_vals).astype(np.float32)
        kidney_hu = {"kidney": float(np.median(vals)), "kidney_p99": float(np.percentile(vals, 99))}
    liver_hu = float(np.median(volume.array[seg.liver.mask])) if seg.liver.found else None
    return OrganLabels(composite, conf, kidney_hu, liver_hu, seg)


def _add_liver_lesions(organs: OrganLabels, coarse: WorkFrame, frame: WorkFrame, labels: np.ndarray) -> None:
    """The liver's lesions (`organs.fill_lesions`), now that the vessels are known: they never take
    the IVC, its tumor or thrombus, the aorta or the atrium, nor tissue within `LESION_VESSEL_MARGIN_MM`
    of them (an IVC tumor in the liver's groove is darker than the parenchyma too)."""
    from ivcplan.anatomy import organs as organ_mod

    seg = organs.segmentation
    if seg.liver_low is None or not seg.liver_low.any() or seg.lesion_candidates is None:
        return
    vessels = label_mask(labels, [int(v) for v in (*IVC_LABELS, Label.AORTA, Label.RIGHT_ATRIUM)])
    exclude = coarse.from_frame(frame, ndimage.binary_dilation(vessels, iterations=1))
    exclude = ndimage.binary_dilation(exclude, structure=ball(LESION_VESSEL_MARGIN_MM, coarse.spacing))
    added = organ_mod.fill_lesions(seg.liver_low, seg.lesion_candidates, coarse.spacing, exclude) & ~seg.liver_low
    if added.any():
        grown = coarse.to_scan(added, (True,))
        # Within the lesions' box only (a view: written into the composite).
        box = ndimage.find_objects(grown.astype(np.uint8, copy=False), max_label=1)[0]
        if box is not None:
            part = organs.labels[box]
            part[grown[box] & label_mask(part, [0, int(Label.BODY)])] = Label.LIVER


def merge(segmentation: Segmentation, imported: ImportedLabels) -> Segmentation:
    """Put the imported structures in place of the built-in ones (the rest is kept)."""
    lm = imported.labelmap
    if not lm.grid.is_same(segmentation.labelmap.grid):
        lm = lm.resample_to(segmentation.labelmap.grid)
    out = segmentation.labelmap.array.copy()
    if out.dtype != lm.array.dtype:
        out = out.astype(np.promote_types(out.dtype, lm.array.dtype))
    confidence = dict(segmentation.confidence)
    for lab in imported.imported:
        value = int(lab)
        out[out == value] = 0
        out[lm.array == value] = value
        confidence[Label(value).key] = 1.0 if np.any(lm.array == value) else 0.0
    warnings = (*segmentation.warnings, f"imported from {imported.source}: "
                + ", ".join(Label(int(v)).key for v in imported.imported), *imported.warnings)
    return replace(segmentation, labelmap=segmentation.labelmap.with_array(out), confidence=confidence,
                   warnings=warnings)
