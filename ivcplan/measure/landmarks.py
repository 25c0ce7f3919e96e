"""IVC landmarks from a labelmap and the IVC centerline (definitions in docs/design.md).

A landmark whose structure is not in the labelmap is reported with ``position_mm = None``: it is
never extrapolated. Vein ostia are where that vein's label touches the IVC (the union of lumen,
tumor and thrombus, because a tumor filling the IVC at an inflow touches the vein instead of the
lumen).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ivcplan.labels import HEPATIC_VEIN_LABELS, IVC_LABELS, LANDMARKS, RENAL_VEIN_LABELS, Label
from ivcplan.measure.centerline import Centerline
from ivcplan.volume import Labelmap, label_mask

log = logging.getLogger(__name__)

#: A vein voxel within this many voxel spacings (largest spacing) of the IVC touches it.
CONTACT_SPACINGS = 1.5
#: A vein that does not touch but comes this close (mm) to the IVC still gives an ostium, with
#: lower confidence (small segmentation gaps).
NEAR_MM = 6.0
#: ... for a hepatic vein: the vein tracer (`anatomy.hepatic_trace`) keeps a vein's label 8 mm off the IVC
#: wall beyond its mouth, and the mouth itself, blurred against the wall, often stays below its
#: threshold: a hepatic vein ending within this distance (mm) of the IVC opens there (tune seeds 0-16:
#: ostia within 10 mm 7 -> 22 of 51, wrong 4 -> 9, all at the near confidence).
HEPATIC_NEAR_MM = 9.0
#: Confidences: touching, near, and renal level estimated from the kidney hila only.
CONFIDENCE_CONTACT = 0.9
CONFIDENCE_NEAR = 0.6
CONFIDENCE_KIDNEY_HILUM = 0.35
CONFIDENCE_AREA_JUMP = 0.4
#: The I/II boundary from the right renal vein alone (the left kidney in view, its vein not found).
CONFIDENCE_ONE_RENAL_VEIN = 0.55
#: The renal level is the cranial edge of the highest renal vein inflow: at most this far (mm) above the
#: middle of its contact with the IVC (a renal vein is 8-14 mm wide: half of it plus a voxel of partial
#: volume). A contact running further up is the vein label lying along a tumor or the IVC wall, not the inflow.
RENAL_EDGE_ABOVE_OSTIUM_MAX_MM = 8.0
LEFT_RENAL_ABOVE_RIGHT_MM = 15.0
#: Sudden area jump (cavoatrial junction without an atrium label): ratio to the median area of the
#: reference window below (mm), lasting from the jump to the cranial end of the centerline (the
#: atrium is where the IVC ends), at least `AREA_JUMP_MIN_MM` long, reaching an atrium-sized area
#: and lying in the cranial part of the centerline.
AREA_JUMP_RATIO = 2.0
AREA_JUMP_WINDOW_MM = (30.0, 10.0)
AREA_JUMP_MIN_MM = 5.0
ATRIUM_MIN_AREA_MM2 = 700.0
AREA_JUMP_CRANIAL_FRACTION = 0.3
#: A vein whose contact with the IVC union lies farther than this (mm) beyond the normal IVC wall
#: meets a tumor grown into it: its ostium is traced back along the vein's axis to the normal wall.
OSTIUM_BEYOND_WALL_MM = 4.0
#: Margin (mm) around the vein contact and its centerline point searched for that path.
VEIN_AXIS_MM = 15.0
#: A vein label shorter than this (mm) near the contact gives no direction of its own.
VEIN_MIN_EXTENT_MM = 12.0
#: Sections whose outline borders the right atrium over at least this share (%) lie inside the
#: atrium (intracardiac tumor): their atrium contact is not the junction.
INTRA_ATRIAL_PCT = 60.0
#: Kidney hilum: slices whose hull-minus-kidney area reaches this fraction of the maximum.
HILUM_FRACTION = 0.5
#: Confidence of a landmark a person placed: it is what the planner's landmark limit (R9) checks, and
#: a person's placement is taken as certain (the report says who placed it and why).
CONFIDENCE_PLACED = 1.0
#: Where a landmark came from (the report's ``landmarks.<name>.source``).
AUTOMATIC, EDITED = "automatic", "edited"

#: Anatomical cross-checks (issue 18: rest on what does not vary; docs/clinical.md, landmark table).
#: The iliac confluence (L4-L5) lies below the kidneys (lower poles at about L3): a confluence above the
#: lower poles of both kidneys is some other pair of vessels, and is not reported. One between the two
#: lower poles is reported without confirmation (`CONFIDENCE_INCONSISTENT`): a ptotic kidney, or a kidney
#: label leaked downwards, may reach below a right confluence, and a wrong one may lie there too (tune
#: seeds 0-59: one of each). A kidney label longer than this (mm; adult kidneys are 10-13 cm) has leaked
#: and is no reference.
KIDNEY_MAX_LENGTH_MM = 170.0
#: ... and a confluence less than this (mm) below both lower poles is not confirmed by them: the lower poles
#: lie at about L3, the confluence one to two vertebrae lower (random phantom tune seeds 0-119: 6 of the 8
#: confluences reported 2-13 mm below the poles lay 11-51 mm off, 2 of 45 right ones).
CONFLUENCE_BELOW_POLES_MIN_MM = 15.0
#: The iliac confluence: the mean over the sides of each common iliac vein's cranial end of contact with the
#: IVC, taken at this percentile of its contact's arc lengths along the IVC (not the maximum: a stray voxel).
#: The middle of all contact voxels lay a median 6 mm low on the random phantom's tune seeds 0-59 (BENCHMARKS.md).
ILIAC_CONTACT_END_PCT = 90.0
#: The renal veins leave the kidneys at their hila: an inflow outside the kidneys' craniocaudal extent,
#: widened by this margin (mm), is doubtful.
RENAL_KIDNEY_EXTENT_MARGIN_MM = 10.0
#: The left renal vein usually enters 1-2 cm above the right one; outside this range (mm, left minus
#: right) one of the two is doubtful.
LEFT_MINUS_RIGHT_MM = (-10.0, 40.0)
#: ... except a left renal vein running behind the aorta (retroaortic or the posterior limb of a
#: circumaortic one, 2-9 % of people), which may enter as low as L4-L5 (Radiopaedia, "Retroaortic left
#: renal vein", type II): down to this far (mm) below the right one. Behind the aorta: at least
#: `RETROAORTIC_MIN_MM3` of the label lies across the aorta's width (its centre +- `RETROAORTIC_HALF_WIDTH_MM`)
#: and more than `RETROAORTIC_BEHIND_MM` behind its centre, on the aorta's slices.
RETROAORTIC_LEFT_MIN_MM = -60.0
RETROAORTIC_MIN_MM3 = 150.0
RETROAORTIC_HALF_WIDTH_MM = 8.0
RETROAORTIC_BEHIND_MM = 8.0
#: The major hepatic veins open into the IVC just below the diaphragm: without hepatic vein labels their
#: lowest ostium is estimated this far (mm) below the caval hiatus (the ostia span about 2 cm under it) ...
HEPATIC_BELOW_HIATUS_MM = 12.0
#: ... and a labelled lowest ostium is consistent with the hiatus when it lies within this range (mm)
#: below it: the ostia's 2 cm and a few mm of the hiatus's own error (at 30 mm an ostium 25 mm under a
#: confident hiatus, 18 mm too low, set the level at 0.9 on the random phantom's tune seed 58).
HEPATIC_BELOW_HIATUS_RANGE_MM = (-5.0, 22.0)
#: The cavoatrial junction lies 1-2 cm above the caval hiatus: the estimate without an atrium label
#: (the same typical distance as `clamp_room.HIATUS_BELOW_CAJ_MM`), and the range (mm above the
#: hiatus) within which a found junction is consistent with it.
CAJ_ABOVE_HIATUS_MM = 15.0
CAJ_ABOVE_HIATUS_RANGE_MM = (-5.0, 40.0)
#: Confidences of the cross-checked and estimated landmarks (calibrated on tune seeds 0-31 of the random
#: phantom, BENCHMARKS.md "random phantom (issue 18)"): a landmark that agrees with an independent one
#: keeps its own; one that contradicts it falls to `CONFIDENCE_INCONSISTENT`.
CONFIDENCE_INCONSISTENT = 0.3
CONFIDENCE_HEPATIC_FROM_HIATUS = 0.55
CONFIDENCE_CAJ_FROM_HIATUS = 0.4
#: An estimate at most this far (mm) beyond an end of the centerline is put at that end.
END_REACH_MM = 10.0
#: A renal vein label meeting the IVC in places more than this far apart along it (mm; at least 1.5
#: voxels) holds another vessel as well; the vein's inflow is the widest of those contacts (tune seeds
#: 0-39, labels of main 1c598b9: renal ostia within 10 mm 37 -> 41 of 69; 8 mm gaps gave 40).
CONTACT_GAP_MM = 5.0
#: A landmark from one method that no independent one confirms (kidneys for the confluence and the renal
#: level, the caval hiatus for the hepatic level and the junction) stays below the planner's "trusted"
#: range: on the random phantom's tune seeds single-method landmarks at 0.9 lay within 10 mm in only
#: about half of the cases (BENCHMARKS.md, issue 18).
CONFIDENCE_UNCONFIRMED_MAX = 0.7
#: An ostium traced back from a vein label that starts beyond the IVC wall (a tumor plug in the vein) is an
#: inference, not a contact: on the random phantom's tune seeds 0-15 and 20-27 such ostia (then 0.81) lay within
#: 10 mm in about half of the cases, and so did the renal level taken from them. Kept under the trusted range.
CONFIDENCE_TRACED_OSTIUM_MAX = CONFIDENCE_UNCONFIRMED_MAX
#: Only a hiatus at least this confident anchors the cross-checks (a contradiction lowers a landmark) ...
MIN_ANCHOR_CONFIDENCE = 0.6
#: ... and at least this confident, the estimates of a missing hepatic level or junction (at no more than
#: the hiatus's own confidence). A hiatus the thorax above did not confirm (``clamp_room``: 0.44) is still
#: the liver's top beside the IVC: a low-confidence estimate says more than a missing landmark.
MIN_ESTIMATE_ANCHOR_CONFIDENCE = 0.4

_IVC = tuple(int(v) for v in IVC_LABELS)


@dataclass(frozen=True)
class Landmark:
    """A landmark: LPS position, arc length on the centerline, confidence 0..1, why, and who placed it
    (``source``: `AUTOMATIC` from the labelmap, `EDITED` by a person)."""

    position_mm: np.ndarray | None
    s_mm: float | None
    confidence: float
    detail: str
    source: str = AUTOMATIC

    @property
    def found(self) -> bool:
        return self.position_mm is not None

    def to_dict(self) -> dict:
        pos = None if self.position_mm is None else [round(float(v), 2) for v in self.position_mm]
        return {"position_mm": pos, "s_mm": None if self.s_mm is None else round(float(self.s_mm), 2),
                "confidence": round(float(self.confidence), 3), "detail": self.detail, "source": self.source}


def place_landmark(centerline: Centerline | None, position_mm: Sequence[float] | None, detail: str) -> Landmark:
    """A landmark a person placed at ``position_mm`` (LPS mm, kept as given) or removed (``None``).

    Its arc length is the position's projection on the centerline (None without one).
    """
    if position_mm is None:
        return Landmark(None, None, 0.0, detail, EDITED)
    pos = np.asarray(position_mm, dtype=float).reshape(3)
    s = None if centerline is None else float(centerline.project(pos))
    return Landmark(pos, s, CONFIDENCE_PLACED, detail, EDITED)


def _missing(detail: str) -> Landmark:
    return Landmark(None, None, 0.0, detail)


class Landmarks(Mapping[str, Landmark]):
    """Read-only mapping landmark name -> `Landmark` (every name in `ivcplan.labels.LANDMARKS` is present)."""

    def __init__(self, items: Mapping[str, Landmark]) -> None:
        self._items = {name: items.get(name, _missing("not computed")) for name in LANDMARKS}

    def __getitem__(self, key: str) -> Landmark:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def s(self, name: str) -> float | None:
        return self._items[name].s_mm

    def to_dict(self) -> dict[str, dict]:
        return {name: lm.to_dict() for name, lm in self._items.items()}


@dataclass(frozen=True)
class _Contact:
    points: np.ndarray  # LPS mm of the vein voxels at the IVC
    s: np.ndarray
    confidence: float
    detail: str


class _Context:
    """Shared per-call data: the IVC mask and its distance map, computed once."""

    def __init__(self, labelmap: Labelmap, centerline: Centerline) -> None:
        self.labelmap = labelmap
        self.centerline = centerline
        self.grid = labelmap.grid
        self.ivc = label_mask(labelmap.array, _IVC)
        self._dist: np.ndarray | None = None
        # One pass for every label's box: the per-label lookups below scan that box, not the volume.
        arr = labelmap.array
        self._boxes = ndimage.find_objects(arr if arr.dtype.kind == "u" else arr.astype(np.int32))
        self._voxels: dict[int, np.ndarray] = {}

    def has(self, label: int) -> bool:
        return 0 < int(label) <= len(self._boxes) and self._boxes[int(label) - 1] is not None

    def voxels(self, label: int) -> np.ndarray:
        """(K, 3) indices of the voxels of ``label`` (cached)."""
        key = int(label)
        if key not in self._voxels:
            if not self.has(key):
                self._voxels[key] = np.zeros((0, 3), dtype=np.intp)
            else:
                box = self._boxes[key - 1]
                local = np.argwhere(self.labelmap.array[box] == key)
                self._voxels[key] = local + np.array([sl.start for sl in box])
        return self._voxels[key]

    def mask_in_box(self, label: int) -> tuple[np.ndarray, tuple[slice, ...]] | None:
        """(mask of ``label`` in its box, the box), or None when absent."""
        if not self.has(label):
            return None
        box = self._boxes[int(label) - 1]
        return self.labelmap.array[box] == int(label), box

    def height_range(self, labels: tuple[int, ...]) -> list[tuple[float, float]]:
        """(lowest, highest) LPS height of each of ``labels`` present (voxel centres +- half a voxel)."""
        out = []
        half = 0.5 * float(self.grid.spacing[self.grid.axis_of(2)])
        for label in labels:
            idx = self.voxels(label)
            if len(idx):
                z = self.grid.index_to_lps(idx)[:, 2]
                out.append((float(z.min()) - half, float(z.max()) + half))
        return out

    def kidney_ranges(self) -> list[tuple[float, float]]:
        """Height ranges of the kidneys whose labels have a kidney's length (`KIDNEY_MAX_LENGTH_MM`)."""
        ranges = self.height_range((int(Label.KIDNEY_RIGHT), int(Label.KIDNEY_LEFT)))
        return [(lo, hi) for lo, hi in ranges if hi - lo <= KIDNEY_MAX_LENGTH_MM]

    def dist_to_ivc(self, idx: np.ndarray) -> np.ndarray:
        """Distance (mm) to the IVC of (K, 3) voxel indices; inf beyond the search range."""
        if self._dist is None:
            reach = max(NEAR_MM, HEPATIC_NEAR_MM) + CONTACT_SPACINGS * self.grid.spacing.max()
            margin = np.ceil(reach / self.grid.spacing) + 1
            nz = np.nonzero(self.ivc)
            lo = np.maximum([int(v.min() - m) for v, m in zip(nz, margin, strict=True)], 0)
            hi = np.minimum([int(v.max() + m + 1) for v, m in zip(nz, margin, strict=True)], self.grid.shape)
            box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
            self._lo, self._hi = lo, hi
            self._dist = ndimage.distance_transform_edt(~self.ivc[box], sampling=self.grid.spacing)
        inside = np.all((idx >= self._lo) & (idx < self._hi), axis=1)
        out = np.full(len(idx), np.inf)
        out[inside] = self._dist[tuple((idx[inside] - self._lo).T)]
        return out

    def contact(self, label: int, near_mm: float = NEAR_MM) -> _Contact | None:
        idx = self.voxels(label)
        if len(idx) == 0:
            return None
        d = self.dist_to_ivc(idx)
        tol = CONTACT_SPACINGS * float(self.grid.spacing.max())
        touching = d <= tol
        if touching.any():
            conf, detail = CONFIDENCE_CONTACT, "touches the IVC"
        else:
            if d.min() > near_mm:
                return None
            touching = d <= d.min() + tol
            conf, detail = CONFIDENCE_NEAR, f"{d.min():.1f} mm from the IVC"
        pts = self.grid.index_to_lps(idx[touching])
        return _Contact(pts, self.centerline.project(pts), conf, detail)

    def on_centerline(self, s: float, confidence: float, detail: str) -> Landmark:
        cl = self.centerline
        s_clamped = float(np.clip(s, cl.s[0], cl.s[-1]))
        return Landmark(cl.point_at(s_clamped), s_clamped, confidence, detail)


def find_landmarks(labelmap: Labelmap, centerline: Centerline,
                   placed: Mapping[str, Landmark] | None = None) -> Landmarks:
    """Landmarks of `ivcplan.labels.LANDMARKS` (see docs/design.md); absent structures give ``position_mm = None``.

    ``placed``: landmarks a person placed or removed (`place_landmark`), kept as they are. A placed
    vein ostium also moves the level it defines (``renal_veins``, ``hepatic_veins``) unless that level
    was placed too: the levels follow their definitions from whichever ostia are in force.
    """
    placed = dict(placed or {})
    unknown = sorted(set(placed) - set(LANDMARKS))
    if unknown:
        raise KeyError(f"unknown landmark(s) {unknown}; known: {', '.join(LANDMARKS)}")
    ctx = _Context(labelmap, centerline)
    out: dict[str, Landmark] = {}
    out["iliac_confluence"] = placed.get("iliac_confluence") or _iliac_confluence(ctx)
    out.update(_renal(ctx, placed))
    out.update(_hepatic(ctx, placed))
    out["cavoatrial_junction"] = placed.get("cavoatrial_junction") or _cavoatrial(ctx)
    out.update(placed)
    for name, lm in out.items():
        log.debug("landmark %s: s=%s conf=%.2f (%s)", name, lm.s_mm, lm.confidence, lm.detail)
    return Landmarks(out)


def _iliac_confluence(ctx: _Context) -> Landmark:
    contacts = [c for c in (ctx.contact(Label.ILIAC_VEIN_RIGHT), ctx.contact(Label.ILIAC_VEIN_LEFT)) if c]
    if not contacts:
        return _missing("no common iliac vein (labels 18/19) meets the IVC in the labelmap")
    # Each vein ends in the IVC at the cranial end of its contact (the top of the flare where the two run in
    # side by side); below that its label lies along the IVC's side, the longer the more oblique the vein, so
    # the middle of all contact voxels sits low and leans to the side touching more. Each side counts once.
    s = float(np.mean([np.percentile(c.s, ILIAC_CONTACT_END_PCT) for c in contacts]))
    conf = min(c.confidence for c in contacts) * (1.0 if len(contacts) == 2 else 0.7)
    lm = ctx.on_centerline(s, conf, f"{len(contacts)} common iliac vein(s) meet the IVC")
    kidneys = ctx.kidney_ranges()
    if not kidneys or lm.position_mm is None:
        return _unconfirmed(lm, "no kidney in view to check it against")
    z, low, high = float(lm.position_mm[2]), min(lo for lo, _ in kidneys), max(lo for lo, _ in kidneys)
    if z > high:
        return _missing(f"the vessels labelled common iliac veins meet the IVC {z - high:.0f} mm "
                        f"above the lower pole{' of either kidney' if len(kidneys) > 1 else ' of the kidney'}, where "
                        "the iliac confluence (L4-L5, below the kidneys) cannot lie: not reported")
    if z > low:
        return Landmark(lm.position_mm, lm.s_mm, min(lm.confidence, CONFIDENCE_INCONSISTENT),
                        f"{lm.detail}, {z - low:.0f} mm above the lower pole of one kidney and {high - z:.0f} mm "
                        "below the other's: doubtful (a low kidney, or not the confluence)")
    below = Landmark(lm.position_mm, lm.s_mm, lm.confidence,
                     f"{lm.detail}, {low - z:.0f} mm below the kidneys' lower poles")
    if low - z < CONFLUENCE_BELOW_POLES_MIN_MM:
        return _unconfirmed(below, "the confluence (L4-L5) usually lies several cm below the lower poles (L3)")
    return below


def _capped(ostium: Landmark, level: Landmark) -> Landmark:
    """An ostium whose level landmark was doubted or left unconfirmed: no more confident than that level."""
    if not ostium.found or ostium.confidence <= level.confidence:
        return ostium
    return Landmark(ostium.position_mm, ostium.s_mm, level.confidence,
                    f"{ostium.detail}; capped at the confidence of its level ({level.detail.split('; ', 1)[-1]})")


def _unconfirmed(lm: Landmark, why: str) -> Landmark:
    """``lm`` capped at `CONFIDENCE_UNCONFIRMED_MAX` (one method only), saying why."""
    if lm.confidence <= CONFIDENCE_UNCONFIRMED_MAX:
        return lm
    return Landmark(lm.position_mm, lm.s_mm, CONFIDENCE_UNCONFIRMED_MAX, f"{lm.detail}; not confirmed: {why}")


def _ostium(ctx: _Context, label: int, contact: _Contact) -> tuple[Landmark, float]:
    """The vein's ostium and the arc-length shift from its IVC contact to the ostium.

    Normally the contact is the ostium. When a tumor fills the vein, the vein label meets the tumor
    beyond the IVC wall; the ostium is then where the shortest path through the IVC labels from that
    contact back to the centerline (along the tumor plug inside the vein) crosses the normal IVC wall
    (the local tumor-free radius around the centerline).
    """
    centre = contact.points.mean(axis=0)
    s_contact = float(np.median(contact.s))
    cl = ctx.centerline
    radius = cl.normal_radius(s_contact)
    depth = float(cl.distance_to(centre)[0]) - (radius or 0.0)
    plain = Landmark(centre, s_contact, contact.confidence, contact.detail), 0.0
    if radius is None or depth <= OSTIUM_BEYOND_WALL_MM:
        return plain
    path = _path_to_axis(ctx, centre)
    if path is None:
        return plain
    inside = np.flatnonzero(cl.distance_to(path) <= radius)
    point = path[inside[0]] if len(inside) else path[-1]
    along = _prolonged_vein(ctx, label, centre, radius)
    if along is not None:
        # The shortest path cuts across the mass (ostium too near the contact); the straight
        # prolongation of a vein that bends towards the IVC overshoots: the ostium lies between.
        point = 0.5 * (point + along)
    s_ost = float(cl.project(point))
    detail = (f"vein label starts {depth:.0f} mm beyond the normal IVC wall (tumor or widened IVC labels at its "
              "mouth): ostium traced back to the wall")
    if "; " in contact.detail:  # what was said about the contact (several contacts) still holds
        detail += "; " + contact.detail.split("; ", 1)[1]
    confidence = min(contact.confidence * 0.9, CONFIDENCE_TRACED_OSTIUM_MAX)
    return Landmark(point, s_ost, confidence, detail), s_ost - s_contact


def _prolonged_vein(ctx: _Context, label: int, centre: np.ndarray, radius: float) -> np.ndarray | None:
    """Where the vein's axis near ``centre``, prolonged towards the IVC, meets the normal wall.

    None when the vein label near the contact is too short to give a direction.
    """
    cl = ctx.centerline
    vein = ctx.grid.index_to_lps(ctx.voxels(label))
    near = vein[np.linalg.norm(vein - centre, axis=1) <= VEIN_AXIS_MM]
    if len(near) < 4:
        return None
    centred = near - near.mean(axis=0)
    axis = np.linalg.eigh(centred.T @ centred)[1][:, -1]
    if np.ptp(centred @ axis) < VEIN_MIN_EXTENT_MM:
        return None
    if (cl.point_at(float(cl.project(centre))) - centre) @ axis < 0:
        axis = -axis
    depth = float(cl.distance_to(centre)[0])
    line = centre + np.arange(0.0, 2.0 * depth, 0.5)[:, None] * axis
    hit = np.flatnonzero(cl.distance_to(line) <= radius)
    return line[hit[0]] if len(hit) else None


def _path_to_axis(ctx: _Context, start_lps: np.ndarray) -> np.ndarray | None:
    """Shortest path (LPS, from the start) through the IVC labels from near ``start_lps`` to the centerline."""
    from skimage.graph import MCP_Geometric

    grid, cl = ctx.grid, ctx.centerline
    target = cl.point_at(float(cl.project(start_lps)))
    reach = float(np.linalg.norm(target - start_lps)) + 2.0 * VEIN_AXIS_MM
    lo_lps, hi_lps = np.minimum(start_lps, target) - reach, np.maximum(start_lps, target) + reach
    corners = grid.lps_to_index(np.array([[x, y, z] for x in (lo_lps[0], hi_lps[0]) for y in (lo_lps[1], hi_lps[1])
                                          for z in (lo_lps[2], hi_lps[2])]))
    lo = np.clip(np.floor(corners.min(axis=0)).astype(int), 0, np.asarray(grid.shape) - 1)
    hi = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 1, 1, grid.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    ivc = ctx.ivc[box]
    vox = np.argwhere(ivc)
    if len(vox) == 0:
        return None
    lps = grid.index_to_lps(vox + lo)
    start = tuple(int(v) for v in vox[np.argmin(np.linalg.norm(lps - start_lps, axis=1))])
    on_axis = vox[cl.distance_to(lps) <= float(grid.spacing.max())]
    if len(on_axis) == 0:
        return None
    mcp = MCP_Geometric(np.where(ivc, 1.0, np.inf), fully_connected=True,
                        sampling=tuple(float(v) for v in grid.spacing))
    costs = mcp.find_costs([start], [tuple(v) for v in on_axis])[0]
    reached = costs[tuple(on_axis.T)]
    if not np.isfinite(reached).any():
        return None
    end = tuple(int(v) for v in on_axis[int(np.argmin(reached))])
    return grid.index_to_lps(np.asarray(mcp.traceback(end), dtype=float) + lo)


def _renal(ctx: _Context, placed: Mapping[str, Landmark]) -> dict[str, Landmark]:
    out: dict[str, Landmark] = {}
    edges: list[tuple[float, float]] = []
    half_voxel = 0.5 * float(ctx.grid.spacing.max())
    for side, label in RENAL_VEIN_LABELS.items():
        c = ctx.contact(label)
        mine = placed.get(f"renal_vein_{side}")
        if mine is not None:
            out[f"renal_vein_{side}"] = mine
            if mine.found and mine.s_mm is not None:
                # The inflow's cranial edge keeps its automatic offset from the ostium (the contact's
                # highest voxel above its middle, as below) when the vein meets the IVC in the labelmap.
                offset = half_voxel + (0.0 if c is None else _edge_above_middle(c))
                edges.append((mine.s_mm + offset, mine.confidence))
            continue
        if c is None:
            present = ctx.has(label)
            out[f"renal_vein_{side}"] = _missing("renal vein does not reach the IVC" if present
                                                 else f"no {side} renal vein (label {int(label)}) in the labelmap")
            continue
        c = _renal_inflow(ctx, c)
        lm, shift = _ostium(ctx, label, c)
        out[f"renal_vein_{side}"] = lm
        # Cranial edge of the inflow: highest contact voxel centre + half a voxel (moved with the ostium).
        edges.append((float(np.median(c.s)) + _edge_above_middle(c) + shift + half_voxel, lm.confidence))
    left_kidney = ctx.has(Label.KIDNEY_LEFT)
    if "renal_veins" in placed:
        return out
    if len(edges) == 1 and not out["renal_vein_left"].found and "renal_vein_left" not in placed and left_kidney:
        # Only the right vein: the left one, which usually enters 1-2 cm higher (docs/clinical.md), was missed
        # (thin, pinched in front of the aorta, lost to partial volume in thick slices).
        s_right, conf = edges[0]
        out["renal_veins"] = ctx.on_centerline(
            s_right + LEFT_RENAL_ABOVE_RIGHT_MM, min(conf, CONFIDENCE_ONE_RENAL_VEIN),
            f"left renal vein not found: estimated {LEFT_RENAL_ABOVE_RIGHT_MM:.0f} mm above the right one's inflow "
            "(the left usually enters 1-2 cm higher); check the I/II boundary on the images")
        return out
    if edges:
        s, conf = max(edges)
        lm = ctx.on_centerline(s, conf, f"cranial edge of the highest of {len(edges)} renal vein(s)"
                               + _placed_note(placed, "renal_vein_"))
        if any(f"renal_vein_{side}" in placed for side in RENAL_VEIN_LABELS):
            out["renal_veins"] = lm  # a level a person's ostia define is not second-guessed
            return out
        out["renal_veins"] = checked = _check_renal(ctx, lm, out)
        if checked.confidence < lm.confidence:  # the ostia are no surer than the level they give
            for side in RENAL_VEIN_LABELS:
                out[f"renal_vein_{side}"] = _capped(out[f"renal_vein_{side}"], checked)
        return out
    level = _kidney_hilum_height(ctx)
    if level is None:
        out["renal_veins"] = _missing("no renal vein or kidney hilum in the labelmap")
        return out
    s = ctx.centerline.s_at_height(level)
    if s is None:
        out["renal_veins"] = _missing("kidney hilum level is outside the IVC centerline")
        return out
    out["renal_veins"] = ctx.on_centerline(s, CONFIDENCE_KIDNEY_HILUM,
                                           "estimated at the highest kidney hilum (renal veins not labelled)")
    return out


def _renal_inflow(ctx: _Context, contact: _Contact) -> _Contact:
    """The renal vein's inflow among the places its label meets the IVC.

    A label that meets the IVC in places more than `CONTACT_GAP_MM` (or 1.5 voxels) apart along it also
    holds some other vessel lying along the IVC or joining it (a gonadal, adrenal or lumbar vein, hilar
    branches along the kidney, a vessel on a tumor's surface). The renal vein (8-14 mm wide) is the
    largest tributary at its level: its inflow is the widest of those contacts (the most voxels), not
    their mean. The choice among several contacts is an inference: kept under the trusted range.
    """
    order = np.argsort(contact.s)
    gap = max(CONTACT_GAP_MM, 1.5 * float(ctx.grid.spacing.max()))
    groups = np.split(order, np.flatnonzero(np.diff(contact.s[order]) > gap) + 1)
    if len(groups) < 2:
        return contact
    best = max(groups, key=len)
    detail = f"{contact.detail}; the widest of {len(groups)} places where the vein label meets the IVC"
    return _Contact(contact.points[best], contact.s[best], min(contact.confidence, CONFIDENCE_UNCONFIRMED_MAX),
                    detail)


def _edge_above_middle(contact: _Contact) -> float:
    """How far (mm) the inflow's cranial edge lies above the middle of its IVC contact (capped:
    `RENAL_EDGE_ABOVE_OSTIUM_MAX_MM`)."""
    return min(float(contact.s.max() - np.median(contact.s)), RENAL_EDGE_ABOVE_OSTIUM_MAX_MM)


def _check_renal(ctx: _Context, level: Landmark, out: Mapping[str, Landmark]) -> Landmark:
    """The renal level found from the veins, its confidence lowered when the anatomy contradicts it."""
    problems = []
    kidneys = ctx.kidney_ranges()
    if not kidneys:
        return _unconfirmed(level, "no kidney in view to check it against")
    if level.position_mm is not None:
        lo = min(a for a, _ in kidneys) - RENAL_KIDNEY_EXTENT_MARGIN_MM
        hi = max(b for _, b in kidneys) + RENAL_KIDNEY_EXTENT_MARGIN_MM
        if not lo <= level.position_mm[2] <= hi:
            problems.append(f"outside the kidneys' craniocaudal extent ({lo:.0f} to {hi:.0f} mm)")
    right, left = out.get("renal_vein_right"), out.get("renal_vein_left")
    if right is not None and left is not None and right.found and left.found:
        dz = float(left.position_mm[2] - right.position_mm[2])
        retroaortic = dz < LEFT_MINUS_RIGHT_MM[0] and _behind_aorta(ctx, Label.RENAL_VEIN_LEFT)
        low = RETROAORTIC_LEFT_MIN_MM if retroaortic else LEFT_MINUS_RIGHT_MM[0]
        if not low <= dz <= LEFT_MINUS_RIGHT_MM[1]:
            problems.append(f"left renal vein inflow {dz:+.0f} mm from the right one's (usually 1-2 cm above it"
                            f"{'; a retroaortic one at most 6 cm below it' if retroaortic else ''})")
        elif retroaortic and not problems:
            # A low retroaortic inflow is no contradiction, but no confirmation of the right one either.
            return _unconfirmed(level, f"the left renal vein runs behind the aorta and enters {-dz:.0f} mm below "
                                       "the right one: the two do not check each other")
    if problems:
        return Landmark(level.position_mm, level.s_mm, min(level.confidence, CONFIDENCE_INCONSISTENT),
                        f"{level.detail}; doubtful: {'; '.join(problems)}")
    if right is None or left is None or not (right.found and left.found):
        return _unconfirmed(level, "one renal vein only")
    return level


def _behind_aorta(ctx: _Context, label: int) -> bool:
    """Whether the vein ``label`` crosses behind the aorta (see `RETROAORTIC_MIN_MM3`)."""
    vein, aorta = ctx.voxels(label), ctx.voxels(Label.AORTA)
    if len(vein) == 0 or len(aorta) == 0:
        return False
    axis = ctx.grid.axis_of(2)
    aorta = aorta[np.isin(aorta[:, axis], np.unique(vein[:, axis]))]
    if len(aorta) == 0:
        return False
    a_pts, v_pts = ctx.grid.index_to_lps(aorta), ctx.grid.index_to_lps(vein)
    # The aorta's centre on each of the vein's slices.
    slices, inverse = np.unique(aorta[:, axis], return_inverse=True)
    counts = np.bincount(inverse)
    cx = np.bincount(inverse, weights=a_pts[:, 0]) / counts
    cy = np.bincount(inverse, weights=a_pts[:, 1]) / counts
    at = np.searchsorted(slices, vein[:, axis])
    on = (at < slices.size) & (slices[np.minimum(at, slices.size - 1)] == vein[:, axis])
    at = np.minimum(at, slices.size - 1)
    behind = on & (np.abs(v_pts[:, 0] - cx[at]) <= RETROAORTIC_HALF_WIDTH_MM) \
        & (v_pts[:, 1] - cy[at] > RETROAORTIC_BEHIND_MM)  # LPS: +y is posterior
    return float(np.count_nonzero(behind)) * ctx.grid.voxel_volume_mm3 >= RETROAORTIC_MIN_MM3


def _kidney_hilum_height(ctx: _Context) -> float | None:
    """LPS height of the cranial edge of the highest kidney hilum (where the renal vein leaves).

    Per axial slice, the hilum's concavity is the convex-hull area minus the kidney area; the
    hilum spans the slices reaching `HILUM_FRACTION` of the largest concavity, and its cranial
    edge (matching the I/II boundary's definition) is the highest of them.
    """
    from scipy.spatial import ConvexHull, QhullError

    grid = ctx.grid
    axis = grid.axis_of(2)
    plane_axes = [a for a in range(3) if a != axis]
    corners = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])
    levels = []
    for label in (Label.KIDNEY_RIGHT, Label.KIDNEY_LEFT):
        found = ctx.mask_in_box(label)
        if found is None:
            continue
        kidney, box = found
        extent = kidney.any(axis=tuple(plane_axes)).sum() * float(grid.spacing[axis])
        if extent > KIDNEY_MAX_LENGTH_MM:  # a leaked label: its concavities are not the hilum's
            continue
        heights, deficits = [], []
        for k in np.nonzero(kidney.any(axis=tuple(plane_axes)))[0]:
            pix = np.argwhere(np.take(kidney, k, axis=axis)).astype(float)
            if len(pix) < 3:
                continue
            pts = (pix[:, None, :] + corners[None]).reshape(-1, 2) * grid.spacing[plane_axes]
            try:
                hull = ConvexHull(pts).volume
            except QhullError:
                continue
            deficits.append(hull - len(pix) * float(np.prod(grid.spacing[plane_axes])))
            centre = np.zeros(3)
            centre[axis] = k + box[axis].start
            heights.append(float(grid.index_to_lps(centre)[2]))
        if not deficits:
            continue
        d = np.asarray(deficits)
        sel = d >= HILUM_FRACTION * d.max()
        if d.max() <= 0:
            continue
        levels.append(float(np.max(np.asarray(heights)[sel])))
    return max(levels) if levels else None


def _hepatic(ctx: _Context, placed: Mapping[str, Landmark]) -> dict[str, Landmark]:
    out: dict[str, Landmark] = {}
    found: list[Landmark] = []
    touching: list[Landmark] = []  # placed ostia and those of labels touching the IVC (not only near it)
    for side, label in HEPATIC_VEIN_LABELS.items():
        mine = placed.get(f"hepatic_vein_{side}")
        if mine is not None:
            out[f"hepatic_vein_{side}"] = mine
            if mine.found and mine.s_mm is not None:
                found.append(mine)
                touching.append(mine)
            continue
        c = ctx.contact(label, HEPATIC_NEAR_MM)
        if c is None:
            present = ctx.has(label)
            out[f"hepatic_vein_{side}"] = _missing("hepatic vein does not reach the IVC" if present
                                                   else f"no {side} hepatic vein (label {int(label)}) in the labelmap")
            continue
        lm, _ = _ostium(ctx, label, c)
        out[f"hepatic_vein_{side}"] = lm
        found.append(lm)
        if c.confidence >= CONFIDENCE_CONTACT:
            touching.append(lm)
    if "hepatic_veins" in placed:
        return out
    if not found:
        out["hepatic_veins"] = _missing("no hepatic vein ostium (labels 10/11/12) in the labelmap")
        return out
    # The level is the lowest ostium, so one spurious low ostium moves it: a vein label only coming near the
    # IVC gives the level only when none touches it.
    basis = touching or found
    lowest = min(basis, key=lambda lm: lm.s_mm)
    conf = max(lm.confidence for lm in basis) * (0.7 + 0.1 * len(basis))
    out["hepatic_veins"] = ctx.on_centerline(lowest.s_mm, conf, f"lowest of {len(basis)} hepatic vein ostia"
                                             + (" touching the IVC" if touching and len(touching) < len(found) else "")
                                             + _placed_note(placed, "hepatic_vein_"))
    return out


def _placed_note(placed: Mapping[str, Landmark], prefix: str) -> str:
    names = [name for name in placed if name.startswith(prefix)]
    return f" (from ostia placed by a person: {', '.join(names)})" if names else ""


def _cavoatrial(ctx: _Context) -> Landmark:
    c = ctx.contact(Label.RIGHT_ATRIUM)
    if c is not None:
        # The junction is the middle of the IVC-atrium interface (an oblique opening spans several
        # cm); contact above the first section lying inside the atrium is intracardiac tumor.
        cl = ctx.centerline
        intra = np.flatnonzero(cl.atrium_contact_pct >= INTRA_ATRIAL_PCT)
        keep = c.s < cl.s[intra[0]] if len(intra) else np.ones(len(c.s), dtype=bool)
        pts = c.points[keep] if keep.any() else c.points
        s = float(cl.project(pts.mean(axis=0)))
        return ctx.on_centerline(s, c.confidence, "middle of the IVC-right atrium interface (label 13)")
    cl = ctx.centerline
    if cl.reaches_cranial_border:
        return _missing("the IVC leaves the field of view cranially: junction not in view")
    s = _area_jump(cl)
    if s is None:
        return _missing("no right atrium label and no sudden IVC area jump")
    return ctx.on_centerline(s, CONFIDENCE_AREA_JUMP, "sudden IVC cross-section area jump (no atrium label)")


def _area_jump(cl: Centerline) -> float | None:
    area = cl.total_area_mm2
    far, near = AREA_JUMP_WINDOW_MM
    for i, s in enumerate(cl.s):
        if s < cl.s[-1] - AREA_JUMP_CRANIAL_FRACTION * cl.length_mm or cl.s[-1] - s < AREA_JUMP_MIN_MM:
            continue
        ref = area[(cl.s >= s - far) & (cl.s <= s - near)]
        if len(ref) < 3 or np.median(ref) <= 0:
            continue
        above = area[i:]
        if np.all(above > AREA_JUMP_RATIO * np.median(ref)) and np.median(above) >= ATRIUM_MIN_AREA_MM2:
            return float(s)
    return None


def cross_check(landmarks: Landmarks, hiatus: Landmark | None, centerline: Centerline) -> Landmarks:
    """The hepatic level and the cavoatrial junction checked against (or, when not found, estimated
    from) the caval hiatus, which the liver's top beside the IVC gives independently of the vein labels
    (``clamp_room``). The hepatic vein ostia open just below the diaphragm; the junction lies 1-2 cm
    above it (docs/clinical.md). A contradiction lowers the confidence to `CONFIDENCE_INCONSISTENT`; for
    the hepatic level, the ostia consistent with the hiatus give it instead (a stray low vein label made the
    lowest ostium), or, with none, the hiatus's estimate.
    """
    items = dict(landmarks.items())
    # What a person placed or removed, and a level that follows from ostia a person placed, stay as they
    # are: the check is there to doubt the automatic landmarks, not the corrections (issue 20).
    kept = {name for name in ("hepatic_veins", "cavoatrial_junction") if _edited(items, name)}
    if hiatus is None or not hiatus.found or hiatus.confidence < MIN_ANCHOR_CONFIDENCE:
        for name in ("hepatic_veins", "cavoatrial_junction"):
            if items[name].found and name not in kept:
                items[name] = _unconfirmed(items[name], "no confident caval hiatus to check it against")
    if hiatus is None or not hiatus.found:
        return _cap_hepatic_ostia(items)
    z_h = float(hiatus.position_mm[2])
    cl = centerline
    caj = items["cavoatrial_junction"]
    below_hiatus = caj.found and float(caj.position_mm[2]) - z_h < CAJ_ABOVE_HIATUS_RANGE_MM[0]
    if below_hiatus and "cavoatrial_junction" not in kept:
        # Junction below the hiatus: they contradict each other (clamp_room lowers the hiatus; the
        # junction is as doubtful).
        items["cavoatrial_junction"] = Landmark(
            caj.position_mm, caj.s_mm, min(caj.confidence, CONFIDENCE_INCONSISTENT),
            f"{caj.detail}; doubtful: {z_h - float(caj.position_mm[2]):.0f} mm below the caval hiatus")
    if hiatus.confidence < MIN_ESTIMATE_ANCHOR_CONFIDENCE:
        return _cap_hepatic_ostia(items)
    checks = hiatus.confidence >= MIN_ANCHOR_CONFIDENCE

    def at_height(z: float, confidence: float, detail: str) -> Landmark:
        s = cl.s_at_height(z)
        if s is None:
            # Just beyond an end (the IVC labels may stop a little short of the atrium): that end.
            ends = [(abs(float(cl.points[i, 2]) - z), float(cl.s[i])) for i in (0, -1)]
            gap, s = min(ends)
            if gap > END_REACH_MM:
                return _missing(f"{detail}; the IVC centerline does not reach that height")
            detail += f" (the IVC centerline ends {gap:.0f} mm short of it: its end)"
        return Landmark(cl.point_at(s), float(s), confidence, detail)

    hv = items["hepatic_veins"]
    if "hepatic_veins" in kept:
        pass
    elif not hv.found:
        items["hepatic_veins"] = at_height(
            z_h - HEPATIC_BELOW_HIATUS_MM, min(CONFIDENCE_HEPATIC_FROM_HIATUS, hiatus.confidence),
            f"hepatic vein ostia not found ({hv.detail}): estimated {HEPATIC_BELOW_HIATUS_MM:g} mm below the caval "
            "hiatus (the major hepatic veins open just below the diaphragm); check on the images")
    elif checks:
        below = z_h - float(hv.position_mm[2])
        lo, hi = HEPATIC_BELOW_HIATUS_RANGE_MM
        if not lo <= below <= hi:
            side = "below" if below >= 0 else "above"
            why = f"{abs(below):.0f} mm {side} the caval hiatus (the ostia open just below the diaphragm: expected " \
                  f"{lo:g} to {hi:g} mm below it)"
            # Only ostia of labels touching the IVC (their confidence is above the near one): an ostium placed
            # from a label that merely comes near the IVC is too uncertain to set the level against the hiatus.
            consistent = [lm for side in HEPATIC_VEIN_LABELS if (lm := items[f"hepatic_vein_{side}"]).found
                          and lm.confidence > CONFIDENCE_NEAR and lo <= z_h - float(lm.position_mm[2]) <= hi]
            if consistent:
                # The lowest labelled ostium is off (a vein label ending near the IVC far below, e.g. on an
                # inferior or short hepatic vein); the ostia that agree with the hiatus give the level.
                low = min(consistent, key=lambda lm: lm.s_mm)
                items["hepatic_veins"] = Landmark(
                    low.position_mm, low.s_mm, min(hv.confidence, low.confidence, CONFIDENCE_HEPATIC_FROM_HIATUS),
                    f"lowest of the {len(consistent)} hepatic vein ostia consistent with the caval hiatus; the "
                    f"lowest labelled one lies {why}")
            else:
                est = at_height(z_h - HEPATIC_BELOW_HIATUS_MM, min(CONFIDENCE_HEPATIC_FROM_HIATUS, hiatus.confidence),
                                f"estimated {HEPATIC_BELOW_HIATUS_MM:g} mm below the caval hiatus: the lowest labelled "
                                f"hepatic vein ostium lies {why}; check on the images")
                doubtful = Landmark(hv.position_mm, hv.s_mm, min(hv.confidence, CONFIDENCE_INCONSISTENT),
                                    f"{hv.detail}; doubtful: {why}")
                items["hepatic_veins"] = est if est.found else doubtful
    caj = items["cavoatrial_junction"]
    if "cavoatrial_junction" in kept:
        pass
    elif not caj.found:
        z_top = float(max(cl.points[0, 2], cl.points[-1, 2]))
        if not cl.reaches_cranial_border or z_top >= z_h + CAJ_ABOVE_HIATUS_RANGE_MM[1]:
            # The IVC labels may run on into the atrium or the superior vena cava: the junction is in view
            # when the scan reaches well above the hiatus.
            items["cavoatrial_junction"] = at_height(
                z_h + CAJ_ABOVE_HIATUS_MM, min(CONFIDENCE_CAJ_FROM_HIATUS, hiatus.confidence),
                f"junction not found ({caj.detail}): estimated {CAJ_ABOVE_HIATUS_MM:g} mm above the caval hiatus "
                "(it lies 1-2 cm above it); check on the images")
    elif checks:
        above = float(caj.position_mm[2]) - z_h
        lo, hi = CAJ_ABOVE_HIATUS_RANGE_MM
        if not lo <= above <= hi:
            items["cavoatrial_junction"] = Landmark(
                caj.position_mm, caj.s_mm, min(caj.confidence, CONFIDENCE_INCONSISTENT),
                f"{caj.detail}; doubtful: {above:.0f} mm above the caval hiatus (expected {lo:g} to {hi:g} mm)")
    return _cap_hepatic_ostia(items)


def _cap_hepatic_ostia(items: dict[str, Landmark]) -> Landmarks:
    """Each hepatic vein ostium no more confident than the (checked) hepatic level."""
    level = items["hepatic_veins"]
    if level.found:
        for side in HEPATIC_VEIN_LABELS:
            if items[f"hepatic_vein_{side}"].source != EDITED:
                items[f"hepatic_vein_{side}"] = _capped(items[f"hepatic_vein_{side}"], level)
    return Landmarks(items)


def _edited(items: Mapping[str, Landmark], name: str) -> bool:
    """Whether a person placed or removed ``name``, or the ostia that define it (a level)."""
    if items[name].source == EDITED:
        return True
    prefix = {"hepatic_veins": "hepatic_vein_", "renal_veins": "renal_vein_"}.get(name)
    return prefix is not None and any(lm.source == EDITED for n, lm in items.items() if n.startswith(prefix))
