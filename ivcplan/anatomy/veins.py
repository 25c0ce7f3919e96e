"""The IVC's tributaries that define its segments: the renal veins and the hepatic veins.

Both are found on an enhanced scan, in the working frame, as blood-like tissue (brighter than the
liver, about as bright as the IVC lumen) connected to the IVC or its tumor:

- a renal vein is a tube of blood that touches the IVC (or tumor) at one end and a kidney at the
  other, between the kidneys' cranial and caudal poles; its side is the kidney it reaches. It may be
  brighter than bone's threshold (it carries contrast back from the kidney) and labelled kidney where it
  leaves the hilum (only the kidney's core, opened by a few millimetres, is kidney to it). Where partial
  volume breaks the tube (a vein pinched in front of the aorta, thick slices), it is followed as the
  cheapest path through bright tissue from the IVC wall to the kidney, if that path crosses no fat;
- a hepatic vein is blood inside the liver that opens into the IVC (or tumor) in the last few
  centimetres below the cavoatrial junction (or below the liver dome); right, middle or left is
  told by the direction it leaves the IVC in (docs/clinical.md: right laterally, middle anteriorly, left
  to the anterior-left).

The portal vein, at the hilum, does not open into the IVC and is left out by the contact window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ivcplan.anatomy.hepatic_trace import TracedVein, trace_hepatic_veins
from ivcplan.anatomy.hepatic_tree import CLEAR_MM, HILUM_REACH_MM, grow_hepatic_veins
from ivcplan.anatomy.morphology import ball, bbox, slice_hulls
from ivcplan.parallel import side_by_side
from ivcplan.volume import label_mask

#: Blood is above this fraction of the way from the liver (or soft tissue) to the IVC lumen (below
#: the midpoint: thin veins lose contrast to partial volume) ...
BLOOD_FRACTION = 0.4
SOFT_TISSUE_HU = 100.0
#: ... and at most this far (HU) above the lumen (brighter is arterial, kidney cortex or bone).
BLOOD_ABOVE_LUMEN_HU = 80.0
#: Veins are told from the parenchyma only when the IVC lumen is at least this much (HU) brighter.
MIN_CONTRAST_HU = 30.0
#: Where the lumen over the whole IVC is not clearly brighter than the liver (unenhanced infrarenal blood,
#: a tumor's residual lumen), the renal veins' reference is this percentile of the IVC's voxels at the
#: kidneys' levels: the renal inflow's bright blood, not the mean of mixed and unmixed blood (the same
#: percentile the lumen itself is measured at, `tumor.split_ivc`).
INFLOW_PERCENTILE = 90.0
#: Voxels within this distance (mm) of the IVC / tumor / a kidney touch it.
CONTACT_MM = 3.0
#: A vein smaller than this (mm^3) is noise or a small unnamed tributary.
MIN_VEIN_MM3 = 150.0
#: Hepatic veins open into the IVC within this distance (mm) below the cavoatrial junction ...
HEPATIC_OSTIA_WINDOW_MM = 50.0
#: ... and at most this far (mm) above the liver's top beside the IVC (the caval hiatus) ...
HEPATIC_ABOVE_HIATUS_MM = 10.0
#: ... measured in columns this far (mm) from the IVC axis (beside the IVC, within the bare area).
HIATUS_RING_MM = (15.0, 35.0)
#: ... and are followed into the liver down to this distance (mm) below it.
HEPATIC_DEPTH_MM = 80.0
#: A hepatic vein runs at least this far (mm) from the IVC into the liver (what stays closer is the
#: IVC's own residual lumen around a tumor, or partial volume at its wall).
HEPATIC_MIN_LENGTH_MM = 15.0
#: The liver mask is widened by this (mm): the veins' trunks run just outside the parenchyma.
LIVER_MARGIN_MM = 6.0
#: Azimuth (degrees; 0 = patient left, 90 = anterior, 180 = right) boundaries of the hepatic veins:
#: left below the first, middle up to the second, right beyond (docs/clinical.md, hepatic vein anatomy).
HEPATIC_AZIMUTH_DEG = (70.0, 135.0)
#: Traced major hepatic vein ostia lie at most this far (mm) below the liver's top beside the IVC (the
#: hiatus; measure/landmarks checks the level against the same range) ...
HEPATIC_BELOW_HIATUS_MM = 30.0
#: ... within this distance (mm) of each other along the IVC (docs/clinical.md: the three major veins
#: open together just below the diaphragm) ...
HEPATIC_OSTIA_SPREAD_MM = 20.0
#: ... and leave the IVC at least this far apart (degrees; closer: one vein's branches).
HEPATIC_SEPARATION_DEG = 30.0
#: A renal vein ends at most this far (mm) from its kidney (it enters the renal sinus fat at the hilum,
#: where the parenchyma mask stops).
RENAL_KIDNEY_GAP_MM = 25.0
#: The renal vein's partial-volume end at the IVC wall may fall below the blood band: contact reach (mm).
RENAL_CONTACT_MM = 4.5
#: A renal vein voxel lies on a path from the IVC to the kidney at most this much (mm) longer than
#: the shortest: the tube's width, not its side branches.
TUBE_SLACK_MM = 15.0
#: How far (HU) below the blood band a renal vein voxel connected to blood may lie (partial volume).
RENAL_PARTIAL_VOLUME_HU = 35.0
#: Hilar branches near the kidney lie on paths at most this much (mm) longer than the shortest.
HILUM_SLACK_MM = 40.0
#: In-plane gaps (mm) closed along a renal vein.
RENAL_GAP_CLOSING_MM = 3.5
#: A renal vein lies within this distance (mm) of the line from the IVC axis to its kidney's centre.
RENAL_CORRIDOR_MM = 30.0
#: Where no connected blood-like tube joins the IVC to a kidney (a thin or pinched vein whose partial
#: volume drops below the blood band over a few millimetres), the vein is followed as the cheapest path
#: from the IVC wall to the kidney through bright tissue: a voxel costs 1 + `PATH_DARK_COST` x (how far
#: its HU lies below the blood band, as a share of the way down to fat)^2, so a millimetre of fat costs as
#: much as `PATH_DARK_COST` millimetres of vein ...
PATH_DARK_COST = 30.0
#: ... fat (HU) is the bottom of that scale (retroperitoneal fat: -120 to -60) ...
FAT_HU = -80.0
#: ... and the path is a vein only when, beyond its partial-volume mouth at the IVC wall (or at a tumor
#: filling the IVC), at most `PATH_MAX_DIM_MM` of it lie below the band's partial-volume floor (where the
#: left vein is pinched between the aorta and the mesenteric artery, or a thick slice cuts it), at most
#: `PATH_MAX_FAT_MM` of those as dark as fat (below `PATH_FAT_SHARE` of the way from fat to that floor: a
#: vein never crosses fat), and it is at most `PATH_MAX_LENGTH_MM` long (renal veins are 2-8 cm, the left
#: one the longer) ...
PATH_MAX_DIM_MM = 15.0
PATH_MAX_FAT_MM = 4.0
PATH_FAT_SHARE = 0.5
PATH_MAX_LENGTH_MM = 110.0
#: ... and its voxels are kept within this radius (mm) of the path where they are blood-like.
PATH_TUBE_MM = 4.5
#: The kidney "core": the kidney mask opened by a ball of this radius (mm). A renal vein as bright as the
#: cortex is often labelled kidney where it leaves the hilum; a tube thinner than the ball is not kidney.
KIDNEY_CORE_MM = 7.0


@dataclass(frozen=True)
class BranchVeins:
    """Masks on the working grid (``renal``/``hepatic``: side -> boolean mask) and notes."""

    renal: dict[str, np.ndarray] = field(default_factory=dict)
    hepatic: dict[str, np.ndarray] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def blood_band(lumen_hu: float, liver_hu: float | None) -> tuple[float, float]:
    """HU interval of enhanced venous blood, given the IVC lumen and the liver attenuation."""
    floor = liver_hu if liver_hu is not None else SOFT_TISSUE_HU
    return floor + BLOOD_FRACTION * (lumen_hu - floor), lumen_hu + BLOOD_ABOVE_LUMEN_HU


def find_branch_veins(hu: np.ndarray, spacing: np.ndarray, *, ivc: np.ndarray,
                      centres: dict[int, tuple[float, float]],
                      excluded: np.ndarray, liver: np.ndarray, kidneys: dict[str, np.ndarray],
                      lumen_hu: float, liver_hu: float | None, junction_z: int | None,
                      renal_excluded: np.ndarray | None = None, bone: np.ndarray | None = None,
                      tumor: np.ndarray | None = None) -> BranchVeins:
    """Renal and hepatic veins connected to ``ivc`` (lumen + tumor + thrombus, working grid; ``tumor``:
    its tumor and thrombus, which the hepatic veins followed through the liver keep off).

    ``centres``: slice -> IVC axis (y, x); ``excluded``: voxels that are never a branch vein (aorta,
    bone, atrium, iliac veins); ``renal_excluded``: the same for the renal veins (default ``excluded``),
    which may be brighter than a bone threshold: their upper limit is the blood band's. ``bone``: the
    voxels as bright as bone within ``excluded``; inside and at the liver they are blood for the hepatic
    vein tracer (a well enhanced hepatic vein reaches bone attenuation; no bone lies there).
    """
    if bone is None:
        bone = np.zeros_like(ivc)
    # The hepatic veins' exclusions without the bone threshold (``_hepatic_veins`` applies it itself).
    hepatic_excluded = (excluded & ~bone) if renal_excluded is None else renal_excluded
    spacing = np.asarray(spacing, dtype=float)
    axis = np.full((hu.shape[0], 2), np.nan)
    for z, c in centres.items():
        if 0 <= z < hu.shape[0]:
            axis[z] = c
    floor = liver_hu if liver_hu is not None else SOFT_TISSUE_HU
    hepatic_notes: list[str] = []
    renal_notes: list[str] = []
    lumen_clear = bool(np.isfinite(lumen_hu)) and lumen_hu - floor >= MIN_CONTRAST_HU
    # The lumen measured over the whole IVC may be unenhanced infrarenal blood or a tumor's residual lumen;
    # the renal veins carry contrast back from the kidneys into the IVC at the kidneys' levels, and their
    # blood is judged against the blood there (`_inflow_hu`).
    renal_ref = lumen_hu if lumen_clear else _inflow_hu(hu, ivc, kidneys)
    renal_clear = bool(np.isfinite(renal_ref)) and renal_ref - floor >= MIN_CONTRAST_HU
    if renal_clear and not lumen_clear:
        renal_notes.append(f"renal veins: blood band from the IVC at the kidneys' levels ({renal_ref:.0f} HU), the "
                           f"IVC lumen overall ({lumen_hu:.0f} HU) not being clearly brighter than the liver "
                           f"({floor:.0f} HU)")
    if not renal_clear:
        level = f"{lumen_hu:.0f} HU" if np.isfinite(lumen_hu) else "not measured"
        renal_notes.append(f"renal veins not segmented: the IVC lumen ({level}) is not clearly brighter than the "
                           f"liver ({floor:.0f} HU)")
    # Without a clearly brighter lumen the hepatic veins are still traced against the liver itself (no
    # blood band: it rests on the lumen).
    lo, hi = blood_band(lumen_hu, liver_hu) if lumen_clear else (np.inf, np.inf)
    hepatic_task = (_hepatic_veins, (hu, spacing, ivc, axis, hepatic_excluded, liver, lo, hi, junction_z,
                                     hepatic_notes, bone, tumor))
    if not renal_clear:
        return BranchVeins({}, hepatic_task[0](*hepatic_task[1]), tuple(renal_notes + hepatic_notes))
    renal_lo, renal_hi = blood_band(renal_ref, liver_hu)
    # The renal and the hepatic veins are found independently: side by side.
    renal, hepatic = side_by_side(
        (_renal_veins, (hu, spacing, ivc, axis, excluded if renal_excluded is None else renal_excluded, liver,
                        kidneys, renal_lo, renal_hi, renal_notes)),
        hepatic_task)
    return BranchVeins(renal, hepatic, tuple(renal_notes + hepatic_notes))


def _inflow_hu(hu: np.ndarray, ivc: np.ndarray, kidneys: dict[str, np.ndarray]) -> float:
    """The IVC's blood at the kidneys' levels (HU, `INFLOW_PERCENTILE` of its voxels there): where the
    renal veins pour contrast-laden blood into a vein whose infrarenal blood is still unenhanced, this
    is the renal blood's level; NaN without a kidney or IVC there."""
    levels = np.zeros(hu.shape[0], dtype=bool)
    for m in kidneys.values():
        levels |= m.any(axis=(1, 2))
    inside = ivc & levels[:, None, None]
    return float(np.percentile(hu[inside], INFLOW_PERCENTILE)) if inside.any() else float("nan")


def _candidates(hu: np.ndarray, box: tuple[slice, ...], lo: float, hi: float, blocked: np.ndarray,
                *, opened: bool = True) -> np.ndarray:
    """Blood-like voxels in ``box``: smoothed HU in [lo, hi]; ``opened`` in-plane so that one-voxel
    rims (partial volume around brighter structures) do not bridge unrelated vessels."""
    sub = ndimage.gaussian_filter(hu[box].astype(np.float32), sigma=(0.0, 0.8, 0.8))
    cand = (sub >= lo) & (sub <= hi) & ~blocked[box]
    if not opened:
        return cand
    cross = ndimage.generate_binary_structure(2, 1)[None]
    return ndimage.binary_opening(cand, structure=cross)


def _renal_veins(hu: np.ndarray, spacing: np.ndarray, ivc: np.ndarray, centres: np.ndarray, excluded: np.ndarray,
                 liver: np.ndarray, kidneys: dict[str, np.ndarray], lo: float, hi: float,
                 notes: list[str]) -> dict[str, np.ndarray]:
    present = {side: m for side, m in kidneys.items() if m.any()}
    if not present:
        notes.append("renal veins not segmented: no kidney found")
        return {}
    both = np.zeros_like(ivc)
    for m in present.values():
        both |= m
    # A vein labelled kidney where it leaves the hilum is a tube, not kidney: only the kidneys' cores block.
    cores = {side: _kidney_core(m, spacing) for side, m in present.items()}
    present = {side: core if core.any() else present[side] for side, core in cores.items()}  # a sliver stays
    kidney = np.zeros_like(ivc)
    for m in present.values():
        kidney |= m
    # From the kidneys' lowest to their highest slice, as far as the IVC in plane.
    zk = np.nonzero(both.any(axis=(1, 2)))[0]
    region = both | ivc
    region[: zk.min()] = False
    region[zk.max() + 1:] = False
    margin = np.ceil(np.array([0.0, 20.0, 20.0]) / spacing).astype(int)
    box = bbox(region, margin)
    if box is None or not ivc[box].any():
        notes.append("renal veins not segmented: the IVC does not reach the kidneys' level")
        return {}
    # Renal veins are thin (8-12 mm) and oblique: not opened, and a wider contact with the IVC. In the
    # retroperitoneal fat partial volume darkens them (thick slices cut them lengthwise): the blood band
    # is extended down by `RENAL_PARTIAL_VOLUME_HU` for voxels connected to ones within it (hysteresis).
    # Within the IVC's per-slice hull lies a residual lumen crescent around a tumor that the IVC mask
    # missed: never a branch vein creeping along the IVC.
    blocked = excluded | ivc | kidney | liver | slice_hulls(ivc)
    core = _candidates(hu, box, lo, hi, blocked, opened=False)
    wide = _candidates(hu, box, lo - RENAL_PARTIAL_VOLUME_HU, hi, blocked, opened=False)
    cand = ndimage.binary_propagation(core, mask=wide, structure=np.ones((3, 3, 3), bool))
    # Where the left vein is pinched between the aorta and the mesenteric artery (and touches the
    # aorta's mask) its lumen narrows to a few voxels: close small in-plane gaps.
    disc = ball(RENAL_GAP_CLOSING_MM, spacing, planar=True)
    cand = ndimage.binary_closing(cand, structure=disc) & ~(ivc | kidney)[box]
    near_ivc = ndimage.binary_dilation(ivc[box], structure=ball(RENAL_CONTACT_MM, spacing))
    corridors = {side: _corridor(m[box], centres[box[0]], box, spacing) for side, m in present.items()}
    out: dict[str, np.ndarray] = {}
    voxel_mm3 = float(np.prod(spacing))
    structure = np.ones((3, 3, 3), bool)
    for side, m in present.items():
        # Each vein runs in the corridor from the IVC axis to its kidney (the left one bowing in
        # front of the aorta); where both corridors overlap, the nearer axis decides.
        inside = corridors[side] <= RENAL_CORRIDOR_MM
        for other, dist in corridors.items():
            if other != side:
                inside &= corridors[side] <= dist
        comp, _ = ndimage.label(cand & inside, structure=structure)
        dist_k = ndimage.distance_transform_edt(~m[box], sampling=spacing)
        near_k = dist_k <= RENAL_KIDNEY_GAP_MM
        ids = set(np.unique(comp[near_ivc & (comp > 0)]).tolist()) & set(np.unique(comp[near_k & (comp > 0)]).tolist())
        vein = _tube(label_mask(comp, sorted(ids)), near_ivc, near_k, spacing) if ids else None
        if vein is None or vein.sum() * voxel_mm3 < MIN_VEIN_MM3:
            # No connected tube: the cheapest bright path from the IVC wall to the kidney, if it is a vein.
            vein, why = _path_vein(hu[box], spacing, lo, hi, blocked[box] | ~inside, near_ivc,
                                   (dist_k > 0) & (dist_k <= CONTACT_MM))
            if vein is None:
                notes.append(f"{side} renal vein not found (no blood-like tube from the IVC to the {side} kidney: "
                             f"{why})")
                continue
        # The vein's mouth: the partial-volume rim between its lumen and the IVC (or the tumor filling
        # the IVC) belongs to the vein, so that the two touch as they do in the body.
        mouth = ndimage.binary_dilation(vein, structure=ball(RENAL_CONTACT_MM, spacing)) & near_ivc
        vein |= mouth & ~(excluded | ivc | kidney)[box]
        full = np.zeros_like(ivc)
        full[box] = vein
        out[side] = full
    return out


def _kidney_core(kidney: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """The kidney without the tubes (renal vein, ureter) its label runs out into: opened in plane by a
    disc of `KIDNEY_CORE_MM`, on its box."""
    box = bbox(kidney, np.ceil(KIDNEY_CORE_MM / spacing).astype(int) + 1)
    out = np.zeros_like(kidney)
    if box is None:
        return out
    out[box] = ndimage.binary_opening(kidney[box], structure=ball(KIDNEY_CORE_MM, spacing, planar=True))
    return out


def _path_vein(hu: np.ndarray, spacing: np.ndarray, lo: float, hi: float, blocked: np.ndarray,
               start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The vein along the cheapest path from ``start`` (the IVC wall) to ``end`` (the kidney's surface)
    through blood-like tissue (`PATH_DARK_COST`), or (None, why not) when that path is no vein."""
    from skimage.graph import MCP_Geometric

    smooth = ndimage.gaussian_filter(hu.astype(np.float32), sigma=(0.0, 0.8, 0.8))
    below = np.clip((lo - smooth) / (lo - FAT_HU), 0.0, 1.0)
    above = np.clip((smooth - hi) / (hi - lo), 0.0, 1.0)  # brighter than blood: cortex, artery, bone
    cost = 1.0 + PATH_DARK_COST * (below ** 2 + above ** 2)
    cost[blocked] = np.inf
    starts, ends = np.argwhere(start & ~blocked), np.argwhere(end & ~blocked)
    if len(starts) == 0 or len(ends) == 0:
        return None, "no free wall or kidney surface"
    mcp = MCP_Geometric(cost, fully_connected=True, sampling=tuple(float(v) for v in spacing))
    dist, _ = mcp.find_costs([tuple(p) for p in starts], [tuple(p) for p in ends])
    reached = dist[tuple(ends.T)]
    if not np.isfinite(reached).any():
        return None, "no free path"
    path = np.asarray(mcp.traceback(tuple(ends[int(np.argmin(reached))])))
    steps = np.linalg.norm(np.diff(path, axis=0) * spacing, axis=1)
    length = float(steps.sum())
    floor = lo - RENAL_PARTIAL_VOLUME_HU
    values = smooth[tuple(path.T)][1:]
    beyond = ~start[tuple(path.T)][1:]  # the mouth's partial volume (IVC wall, tumor) does not count
    dim_mm = float(np.sum(steps[beyond & (values < floor)]))
    fat_mm = float(np.sum(steps[beyond & (values < FAT_HU + PATH_FAT_SHARE * (floor - FAT_HU))]))
    if length > PATH_MAX_LENGTH_MM:
        return None, f"the brightest path is {length:.0f} mm long"
    if dim_mm > PATH_MAX_DIM_MM or fat_mm > PATH_MAX_FAT_MM:
        return None, f"the brightest path runs {dim_mm:.0f} mm through non-blood tissue ({fat_mm:.0f} mm through fat)"
    on_path = np.zeros(hu.shape, dtype=bool)
    on_path[tuple(path.T)] = True
    near = ndimage.distance_transform_edt(~on_path, sampling=spacing) <= PATH_TUBE_MM
    vein = (near & (smooth >= floor) & (smooth <= hi) & ~blocked) | on_path
    comp, _ = ndimage.label(vein, structure=np.ones((3, 3, 3), bool))
    vein = label_mask(comp, np.unique(comp[on_path]))
    return vein, ""


def _tube(mask: np.ndarray, start: np.ndarray, end: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """The voxels of ``mask`` on near-shortest paths (within `TUBE_SLACK_MM`) from ``start`` to ``end``:
    the vein from the IVC to the kidney without the side branches and neighbours it touches."""
    from skimage.graph import MCP_Geometric

    costs = np.where(mask, 1.0, np.inf)
    out = []
    for seeds in (start & mask, end & mask):
        mcp = MCP_Geometric(costs, sampling=tuple(float(v) for v in spacing))
        dist, _ = mcp.find_costs([tuple(int(v) for v in p) for p in np.argwhere(seeds)])
        out.append(dist)
    total = out[0] + out[1]
    finite = np.isfinite(total) & mask
    if not finite.any():
        return np.zeros_like(mask)
    # Near the kidney the vein divides into its hilar branches: they are kept, but not what only
    # passes by the kidney (the splenic or gonadal vein): a branch stays within a hilum's reach of the path.
    best = total[finite].min()
    return finite & ((total <= best + TUBE_SLACK_MM) | (end & (total <= best + HILUM_SLACK_MM)))


def _corridor(kidney: np.ndarray, axis: np.ndarray, box: tuple[slice, ...], spacing: np.ndarray) -> np.ndarray:
    """In-plane distance (mm) of every voxel of the box to the segment from the IVC axis to the kidney's
    centre on its slice (infinite on slices without both)."""
    shape = kidney.shape
    out = np.full(shape, np.inf, dtype=np.float32)
    yy, xx = np.mgrid[box[1], box[2]]
    for k in range(shape[0]):
        if not kidney[k].any() or not np.isfinite(axis[k, 0]):
            continue
        ky, kx = (np.argwhere(kidney[k]).mean(axis=0) + np.array([box[1].start, box[2].start])) * spacing[1:]
        ay, ax = axis[k] * spacing[1:]
        py, px = yy * spacing[1], xx * spacing[2]
        dy, dx = ky - ay, kx - ax
        t = np.clip(((py - ay) * dy + (px - ax) * dx) / max(dy * dy + dx * dx, 1e-6), 0.0, 1.0)
        out[k] = np.hypot(py - (ay + t * dy), px - (ax + t * dx))
    return out


def _keep_touching(mask: np.ndarray, near: np.ndarray) -> np.ndarray:
    comp, n = ndimage.label(mask)
    if n == 0:
        return mask
    ids = np.unique(comp[near & (comp > 0)])
    return label_mask(comp, ids[ids > 0])


def _hepatic_veins(hu: np.ndarray, spacing: np.ndarray, ivc: np.ndarray, centres: np.ndarray,
                   excluded: np.ndarray, liver: np.ndarray, lo: float, hi: float, junction_z: int | None,
                   notes: list[str], bone: np.ndarray | None = None,
                   tumor: np.ndarray | None = None) -> dict[str, np.ndarray]:
    if not liver.any():
        notes.append("hepatic veins not segmented: no liver found")
        return {}
    zl = np.nonzero(liver.any(axis=(1, 2)))[0]
    zi = np.nonzero(ivc.any(axis=(1, 2)))[0]
    if zi.size == 0:
        return {}
    # The ostia lie just below the junction; without one, just below the liver dome (or the IVC's top).
    top = junction_z if junction_z is not None else min(int(zl.max()), int(zi.max()))
    top = min(top, int(zi.max()))
    z_ostia = top - int(np.ceil(HEPATIC_OSTIA_WINDOW_MM / spacing[0]))
    z_deep = top - int(np.ceil(HEPATIC_DEPTH_MM / spacing[0]))
    if top < zl.min():
        notes.append("hepatic veins not segmented: the IVC does not reach the liver")
        return {}
    # The liver widened by LIVER_MARGIN_MM, only over the slices searched (a distance transform on its box:
    # a dilation by a ball of that size over the whole volume costs seconds).
    band = np.zeros_like(liver)
    band[max(z_deep, 0):top + 1] = liver[max(z_deep, 0):top + 1]
    region = np.zeros_like(liver)
    wbox = bbox(band, np.ceil(LIVER_MARGIN_MM / spacing).astype(int) + 1)
    if wbox is not None:
        region[wbox] = ndimage.distance_transform_edt(~liver[wbox], sampling=spacing) <= LIVER_MARGIN_MM
    region[: max(z_deep, 0)] = False
    region[top + 1:] = False
    # Bone-bright voxels: never blood for the band (a portal vein brighter than the lumen would join it),
    # but veins for the tracer inside and at the liver (a well enhanced hepatic vein; no bone lies there).
    bright = bone if bone is not None else np.zeros_like(liver)
    margin = np.ceil(np.full(3, CONTACT_MM + 2.0) / spacing).astype(int)
    box = bbox(region, margin)
    if box is None:
        return {}
    cand = _candidates(hu, box, lo, hi, excluded | bright | ivc | ~region)
    ivc_box = ivc[box].copy()
    zz = np.arange(box[0].start, box[0].stop)
    ivc_box[(zz < z_ostia) | (zz > top)] = False  # contacts only in the ostia window
    near_ivc = ndimage.binary_dilation(ivc_box, structure=ball(CONTACT_MM, spacing))
    veins = _keep_touching(cand, near_ivc)
    voxel_mm3 = float(np.prod(spacing))
    parts: dict[str, np.ndarray] = {}
    if veins.sum() * voxel_mm3 >= MIN_VEIN_MM3:
        veins = _long_branches(veins, ndimage.distance_transform_edt(~ivc[box], sampling=spacing))
        az = _azimuth(veins, centres, box)
        for side in ("left", "middle", "right"):
            part = np.zeros_like(veins)
            part[veins] = _sector(az) == side
            part = _keep_touching(part, near_ivc) if part.any() else part
            if part.sum() * voxel_mm3 >= MIN_VEIN_MM3:
                parts[side] = part
    z_low, z_high = _major_ostia_window(liver, centres, spacing, z_ostia, top)
    if len(parts) < 3:
        # Veins only faintly brighter than the parenchyma (often so in the portal-venous phase) fall
        # below the blood band measured on the IVC: traced from the IVC wall instead.
        # Traced ostia only where the major ones open.
        within = region[box].copy()
        within[z_high - box[0].start + 1:] = False  # nor does a vein run on above the hiatus
        traced = trace_hepatic_veins(hu[box], spacing, ivc[box], centres[box[0]] - [box[1].start, box[2].start],
                                     liver[box], within, (excluded | (bright & ~region))[box],
                                     (z_low - box[0].start, z_high - box[0].start))
        for side, part in _traced_by_side(traced, float(spacing[0])).items():
            if side not in parts and part.sum() * voxel_mm3 >= MIN_VEIN_MM3:
                parts[side] = part
    out: dict[str, np.ndarray] = {}
    for side, part in parts.items():
        # As for the renal veins: the partial-volume rim between the vein and the IVC or the tumor
        # filling its ostium belongs to the vein (they touch in the body).
        mouth = ndimage.binary_dilation(part, structure=ball(RENAL_CONTACT_MM, spacing)) & near_ivc
        part |= mouth & ~(excluded | ivc)[box] & region[box]
        full = np.zeros_like(ivc)
        full[box] = part
        out[side] = full
    # Each vein followed through the liver, and those not found at the ostia sought from the liver's
    # vessels that drain into their sector of the IVC.
    shell = near_ivc.copy()
    shell[(zz < z_low) | (zz > z_high)] = False
    grown = _through_liver(hu, spacing, ivc, centres, liver, excluded | (bright & ~region), top, out, shell, box,
                           tumor)
    for side, tree in grown.items():
        if side in out:
            out[side] |= tree
        elif tree.sum() * voxel_mm3 >= MIN_VEIN_MM3:
            out[side] = tree
    if not out:
        notes.append("hepatic veins not found: no vessel in the liver opens into the IVC")
        return {}
    missing = [s for s in ("right", "middle", "left") if s not in out]
    if missing:
        notes.append("hepatic vein(s) not found: " + ", ".join(missing))
    return out


def _through_liver(hu: np.ndarray, spacing: np.ndarray, ivc: np.ndarray, centres: np.ndarray, liver: np.ndarray,
                   blocked: np.ndarray, top: int, found: dict[str, np.ndarray], near_ivc: np.ndarray,
                   box: tuple[slice, ...], tumor: np.ndarray | None) -> dict[str, np.ndarray]:
    """The hepatic veins ``found`` (side -> mask) followed through the liver below slice ``top``
    (`hepatic_tree`), and those not found sought from their sector of ``near_ivc`` (the major ostia's
    shell around the IVC, on ``box``); they meet the IVC only on the shell's slices, and never ``tumor``.
    Masks on the working grid."""
    shell = np.zeros(liver.shape, dtype=bool)
    shell[box] = near_ivc & ~ivc[box]
    if not shell.any():
        return {}
    below = liver.copy()
    below[top + 1:] = False
    tbox = bbox(below | shell, np.ceil(np.full(3, HILUM_REACH_MM + 2.0) / spacing).astype(int))
    if tbox is None:
        return {}
    where = np.nonzero(shell)
    # Where a grown vein may touch the IVC: its lumen, on the slices of the major ostia, away from the tumor
    # (dilated on the tree's box widened by the ball: over the whole volume that costs 2-3 s).
    mouths = np.zeros(liver.shape, dtype=bool)
    mouths[where[0].min():where[0].max() + 1] = True
    if tumor is not None and tumor.any():
        reach = np.ceil((CLEAR_MM + 1.5) / spacing).astype(int)
        wide = tuple(slice(max(sl.start - r, 0), min(sl.stop + r, n))
                     for sl, r, n in zip(tbox, reach, liver.shape, strict=True))
        mouths[wide] &= ~ndimage.binary_dilation(tumor[wide], structure=ball(CLEAR_MM + 1.5, spacing))
    sector = _sector(_azimuth(shell, centres, (slice(0, None),) * 3))
    ostia = {}
    for side in ("left", "middle", "right"):
        if side not in found:
            mask = np.zeros(liver.shape, dtype=bool)
            mask[tuple(w[sector == side] for w in where)] = True
            ostia[side] = mask[tbox]
    grown = grow_hepatic_veins(hu[tbox], spacing, ivc[tbox], liver[tbox], blocked[tbox], top - tbox[0].start,
                               {side: m[tbox] for side, m in found.items()}, ostia, mouths[tbox])
    out = {}
    for side, tree in grown.items():
        full = np.zeros(liver.shape, dtype=bool)
        full[tbox] = tree
        out[side] = full
    return out


def _major_ostia_window(liver: np.ndarray, centres: np.ndarray, spacing: np.ndarray, z_ostia: int,
                        top: int) -> tuple[int, int]:
    """Slices (low, high) where the major hepatic veins open: below the junction ``top``, not far above the
    liver's top beside the IVC (the hiatus; the highest liver voxel overall may be a leak into the heart)
    and at most `HEPATIC_BELOW_HIATUS_MM` below it; without a hiatus, from ``z_ostia`` up to ``top``."""
    dome = _liver_top_beside_ivc(liver, centres, spacing)
    if dome is None:
        return z_ostia, top
    z_high = min(top, dome + int(np.ceil(HEPATIC_ABOVE_HIATUS_MM / spacing[0])))
    z_low = max(z_high - int(np.ceil(HEPATIC_OSTIA_WINDOW_MM / spacing[0])),
                dome - int(np.ceil(HEPATIC_BELOW_HIATUS_MM / spacing[0])))
    return z_low, z_high


def _liver_top_beside_ivc(liver: np.ndarray, centres: np.ndarray, spacing: np.ndarray) -> int | None:
    """The median over the columns `HIATUS_RING_MM` around the IVC axis of the liver's highest voxel:
    the diaphragm's under-surface at the IVC (measure/clamp_room's caval hiatus, here before the IVC's
    labels are final). A median: a liver mask leaking into the heart in a few columns does not move it."""
    zl = np.nonzero(liver.any(axis=(1, 2)))[0]
    zs = [int(z) for z in zl if np.isfinite(centres[z, 0])]
    if not zs:
        return None
    cy, cx = np.median(centres[zs[-max(1, len(zs) // 3):]], axis=0)  # the axis in the liver's upper third
    yy, xx = np.mgrid[:liver.shape[1], :liver.shape[2]]
    r = np.hypot((yy - cy) * spacing[1], (xx - cx) * spacing[2])
    has = liver.any(axis=0)
    ring = has & (r >= HIATUS_RING_MM[0]) & (r <= HIATUS_RING_MM[1])
    if np.count_nonzero(ring) < 20:
        return None
    tops = liver.shape[0] - 1 - np.argmax(liver[::-1], axis=0)
    return int(np.median(tops[ring]))


def _sector(az: np.ndarray | float) -> np.ndarray:
    """Right, middle or left hepatic vein by azimuth (degrees): from 0 (left) through 90 (anterior) to
    180 (right); posterior directions (negative) are right-posterior (the right vein curving back) or
    left-posterior (the left one) by their sign of x."""
    left_max, middle_max = HEPATIC_AZIMUTH_DEG
    az = np.asarray(az, dtype=float)
    return np.where((az >= -90.0) & (az < left_max), "left",
                    np.where((az >= left_max) & (az < middle_max), "middle", "right"))


def _traced_by_side(traced: list[TracedVein], dz_mm: float) -> dict[str, np.ndarray]:
    """Right, middle and left among the traced veins: the (at most three) of the highest contrast at
    least `HEPATIC_SEPARATION_DEG` apart around the IVC (the major veins are the widest: a thin caudate
    vein, or a vessel above a liver mask's leak into the heart, loses contrast to partial volume), named
    by their order around the IVC; fewer than three by their sectors (two in one sector: by their order)."""
    chosen: list[TracedVein] = []
    for vein in sorted(traced, key=lambda v: -v.contrast_hu):
        # The major ostia lie close together along the IVC (`HEPATIC_OSTIA_SPREAD_MM`).
        if chosen and abs(vein.ostium[0] - chosen[0].ostium[0]) * dz_mm > HEPATIC_OSTIA_SPREAD_MM:
            continue
        if all(_angle_gap(vein.azimuth_deg, c.azimuth_deg) >= HEPATIC_SEPARATION_DEG for c in chosen):
            chosen.append(vein)
        if len(chosen) == 3:
            break
    # From the patient's left round the front to the right and the right-posterior (beyond 180 degrees).
    chosen.sort(key=lambda v: v.azimuth_deg + 360.0 if v.azimuth_deg < -90.0 else v.azimuth_deg)
    sides = [str(_sector(v.azimuth_deg)) for v in chosen]
    if len(chosen) == 3:
        sides = ["left", "middle", "right"]
    elif len(chosen) == 2 and sides[0] == sides[1]:
        sides = {"left": ["left", "middle"], "right": ["middle", "right"]}.get(sides[0])
        if sides is None:  # both in the middle sector: the one further from its centre is its neighbour
            a = [v.azimuth_deg + 360.0 if v.azimuth_deg < -90.0 else v.azimuth_deg for v in chosen]
            mid = 0.5 * sum(HEPATIC_AZIMUTH_DEG)
            sides = ["middle", "right"] if a[1] - mid > mid - a[0] else ["left", "middle"]
    return {side: vein.mask for side, vein in zip(sides, chosen, strict=True)}


def _angle_gap(a: float, b: float) -> float:
    return float(abs((a - b + 180.0) % 360.0 - 180.0))


def _long_branches(mask: np.ndarray, dist_ivc: np.ndarray) -> np.ndarray:
    """The components of ``mask`` that reach `HEPATIC_MIN_LENGTH_MM` from the IVC."""
    comp, n = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    if n == 0:
        return mask
    reach = ndimage.maximum(dist_ivc, comp, index=np.arange(1, n + 1))
    return label_mask(comp, 1 + np.nonzero(np.asarray(reach) >= HEPATIC_MIN_LENGTH_MM)[0])


def _azimuth(mask: np.ndarray, centres: np.ndarray, box: tuple[slice, ...]) -> np.ndarray:
    """Direction (degrees) of each ``mask`` voxel seen from the IVC axis on its slice (or the nearest
    slice with an axis): 0 = patient left, 90 = anterior, 180 = right."""
    zz, yy, xx = np.nonzero(mask)
    zz = zz + box[0].start
    valid = np.nonzero(np.isfinite(centres[:, 0]))[0]
    nearest = valid[np.clip(np.searchsorted(valid, zz), 0, valid.size - 1)]
    below = valid[np.clip(np.searchsorted(valid, zz) - 1, 0, valid.size - 1)]
    pick = np.where(np.abs(below - zz) < np.abs(nearest - zz), below, nearest)
    cy, cx = centres[pick, 0], centres[pick, 1]
    anterior = cy - (yy + box[1].start)
    left = (xx + box[2].start) - cx
    return np.degrees(np.arctan2(anterior, left))
