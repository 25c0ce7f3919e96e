"""Randomized anatomy: the geometry of a case built from its drawn parameters, then painted.

`layout(params, rng)` computes every shape (IVC course, veins, kidneys, liver lobes, atrium, the
scaffold of the other organs) without touching voxels; `paint(canvas, lay, rng)` paints them in
anatomical order (body wall, muscles, bones, organs, heart, vessels) with the template's painters
(`ivcplan.phantom.anatomy`) where the shapes are the same kind. The vessels and organs that the
landmarks rest on are placed from the drawn levels and angles (not scaled from one template):
vein courses follow the drawn ostium directions to kidneys placed on their own, the hepatic veins
fan out from drawn ostia with drawn descent and length, the left renal vein may pass behind the
aorta, and so on. ``rng`` (a texture stream) only adds detail: surface bumps, small branches,
short hepatic veins, lung vessels.

Coordinates: the canonical head-first frame of `ivcplan.phantom.anatomy` (LPS mm, z = 0 at the
iliac confluence). Angles around the IVC: 0 = left, 90 = posterior, 180 = right, 270 = anterior.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ivcplan.labels import Label
from ivcplan.phantom import anatomy as base
from ivcplan.phantom.anatomy import Anatomy, Body, Frame
from ivcplan.phantom.random_params import RandomParams
from ivcplan.phantom.shapes import Blob, Canvas, SmoothNoise, Tube, paint_blob, paint_tube, rotation
from ivcplan.phantom.tissues import T

#: Template heights (z, mm) of the confluence, right renal ostium, lowest hepatic ostium, cavoatrial
#: junction and the IVC's end in the atrium: anchors of the scaffold warp.
TEMPLATE_LEVELS = (0.0, 97.0, 211.0, 230.0, 268.0)
#: Template IVC centreline (x, y, z) and its (transverse, AP) radii.
TEMPLATE_IVC = np.array([(-18, 20, 0), (-21, 14, 40), (-24, 7, 80), (-25, 4, 105), (-25, 2, 130), (-24, -2, 160),
                         (-21, -7, 190), (-19, -11, 214), (-21, -15, 238), (-26, -19, 255), (-30, -22, 268)], float)
#: Hepatic veins are painted into any soft tissue up to this far beyond the IVC wall (mm), then only
#: inside the liver (a vein never leaves its organ).
HEPATIC_FREE_MM = 10.0
#: The broad body of the right liver lobe ends at least this far above the right renal ostium (mm);
#: only its lateral tip reaches lower (the liver's lower edge is drawn separately).
LIVER_BODY_ABOVE_RENAL_MM = 22.0
#: The caudate lobe and the liver beside the IVC end at least this far above the right renal ostium (mm).
CAUDATE_ABOVE_RENAL_MM = 25.0
#: The renal inflow's bright jets hug the wall: normalised radius beyond which blood is jet (0..1).
JET_RHO = 0.55
#: Angular half-width of a renal jet around its ostium direction (degrees).
JET_HALF_ANGLE = 55.0
#: The caval hiatus (the diaphragm's under-surface at the IVC) lies this far above the highest major
#: hepatic ostium (mm): the hepatic veins join the IVC just below the diaphragm.
HIATUS_ABOVE_OSTIA_MM = 6.0
#: The atrium's centre lies this share of its craniocaudal half-size above the junction.
ATRIUM_CENTRE_ABOVE_CAJ = 0.7
#: Aortic wall thickness (mm).
AORTIC_WALL_MM = 1.5
#: The IVC is kept this far in front of the vertebral bodies (mm).
IVC_SPINE_CLEARANCE_MM = 3.0
#: Vein tissues and labels of the recorded veins (records feed the truth's ostia).
RENAL_LABEL = {"right": Label.RENAL_VEIN_RIGHT, "left": Label.RENAL_VEIN_LEFT}
HEPATIC_LABEL = {"right": Label.HEPATIC_VEIN_RIGHT, "middle": Label.HEPATIC_VEIN_MIDDLE,
                 "left": Label.HEPATIC_VEIN_LEFT}
_BONES = (T.BONE_CORTEX, T.BONE_MARROW, T.BONE_ARCH, T.DISC, T.CSF, T.CORD)


def unit(angle_deg: float) -> np.ndarray:
    """Axial-plane unit vector of an angle around the IVC (0 = left, 90 = posterior)."""
    a = np.radians(angle_deg)
    return np.array([np.cos(a), np.sin(a), 0.0])


class Warp:
    """Piecewise-linear map of template heights to a case's (linear beyond the end anchors)."""

    def __init__(self, src: tuple[float, ...], dst: tuple[float, ...], below: float, above: float) -> None:
        self.src, self.dst = np.asarray(src, float), np.asarray(dst, float)
        self.below, self.above = below, above

    def __call__(self, z: float | np.ndarray) -> np.ndarray | float:
        z = np.asarray(z, float)
        out = np.interp(z, self.src, self.dst)
        out = np.where(z < self.src[0], self.dst[0] + (z - self.src[0]) * self.below, out)
        out = np.where(z > self.src[-1], self.dst[-1] + (z - self.src[-1]) * self.above, out)
        return out if out.ndim else float(out)


@dataclass
class VeinSpec:
    """A vein to paint: its tube, tissue and label; ``record`` names it for the truth."""

    tube: Tube
    tissue: int
    label: int
    record: str | None = None
    liver_only_from: float | None = None   # arc length beyond which it stays inside the liver


@dataclass
class Layout:
    """The geometry of a randomized case (every shape, before any voxel is painted). `layout` fills the
    shapes in dependency order (IVC, aorta, kidneys, veins, liver, atrium, the rest); None until then."""

    params: RandomParams
    body: Body
    frame: Frame                 # skeleton, muscles
    scaffold: Frame              # bowel
    warp: Warp                   # template heights -> case heights (scaffold organs)
    ivc: Tube
    aorta: Tube | None = None
    arteries: list[Tube] = field(default_factory=list)
    portal: list[Tube] = field(default_factory=list)
    veins: list[VeinSpec] = field(default_factory=list)
    kidneys: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)  # centre, axes, rot
    liver: list[Blob] = field(default_factory=list)
    gallbladder: Blob | None = None
    spleen: Blob | None = None
    stomach: Blob | None = None
    pancreas: Tube | None = None
    esophagus: Tube | None = None
    ra: Blob | None = None
    heart: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    renal_ostia: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # record -> (z, angle, r)
    nominal_s: dict[str, float] = field(default_factory=dict)
    levels: dict[str, float] = field(default_factory=dict)
    derived: dict[str, Any] = field(default_factory=dict)

    def on_ivc(self, z: float) -> np.ndarray:
        """IVC centreline point at height ``z`` (below the atrium, where it rises monotonically)."""
        pts = self.ivc.points
        rising = pts[: int(np.argmax(pts[:, 2])) + 1]
        return rising[int(np.argmin(np.abs(rising[:, 2] - z)))].copy()

    def ivc_radius(self, z: float, angle_deg: float) -> float:
        """Distance from the centreline to the IVC wall at height ``z`` in direction ``angle_deg``."""
        pts = self.ivc.points
        i = int(np.argmin(np.abs(pts[: int(np.argmax(pts[:, 2])) + 1, 2] - z)))
        a, b = self.ivc.a[i], self.ivc.b[i]
        th = np.radians(angle_deg)
        return float(1.0 / np.sqrt((np.cos(th) / a) ** 2 + (np.sin(th) / b) ** 2))


# -- layout ------------------------------------------------------------------------------------------
def layout(params: RandomParams, rng: np.random.Generator) -> Layout:
    """All shapes of the case from its parameters (``rng``: texture stream for small details)."""
    p = params
    lv = p.levels
    zr, zl = lv.renal_right_z, lv.renal_right_z + lv.renal_left_dz
    zh, zc = lv.hepatic_z, lv.caj_z
    hs = p.body.height_scale
    warp = Warp(TEMPLATE_LEVELS, (0.0, zr, zh, zc, zc + 38.0 * hs), below=hs, above=hs)
    ws, ds = p.body.width_scale, p.body.depth_scale
    frame = Frame(sx=ws, sy=ds, sz=hs, dz=p.body.spine_shift_mm, size=p.body.vertebra_scale)
    scaffold = Frame(sx=ws, sy=ds, sz=zc / TEMPLATE_LEVELS[3])

    # Hepatic ostia and the diaphragm: the veins join the IVC just under the central tendon, whose
    # under-surface (the caval hiatus) lies HIATUS_ABOVE_OSTIA_MM above the highest major ostium.
    hep = p.hepatic
    z_hv = {"right": zh + hep.right_dz_mm, "middle": zh + hep.middle_dz_mm, "left": zh + hep.left_dz_mm}
    if hep.common_trunk:
        z_hv["middle"] = z_hv["left"] = min(z_hv["middle"], z_hv["left"])
    hep_top = max(z_hv.values())
    ivc, ra_centre = _ivc_tube(p, warp, frame, rng)
    at_ivc = ivc.points[int(np.argmin(np.abs(ivc.points[:, 2] - hep_top)))]
    tendon_only = (-np.inf, -np.inf, base.TEMPLATE_DOMES[2])  # the central tendon's own curvature at the IVC
    drop = float(base.TEMPLATE_DOMES[2] - Body.diaphragm(at_ivc[0], at_ivc[1], tendon_only))
    dome_centre = hep_top + HIATUS_ABOVE_OSTIA_MM + base.DIAPHRAGM_MM + drop
    dome_right = max(zc + lv.dome_vs_caj_mm, dome_centre + 4.0)
    body = _body(p, warp, dome_right, dome_centre)

    lay = Layout(params=p, body=body, frame=frame, scaffold=scaffold, warp=warp, ivc=ivc)
    lay.levels = {"renal_right_z": zr, "renal_left_z": zl, "hepatic_z": zh, "caj_z": zc, "dome_right": dome_right,
                  "dome_left": dome_right - lv.left_dome_drop_mm, "dome_centre": dome_centre,
                  **{f"hepatic_{k}_z": v for k, v in z_hv.items()}}
    _aorta(lay, frame)
    _kidneys(lay)
    _iliac_veins(lay)
    _renal_veins(lay)
    _arteries(lay)
    _liver(lay, rng)
    _hepatic_veins(lay, z_hv, rng)
    _atrium(lay, ra_centre)
    _scaffold_organs(lay)
    _nominal(lay)
    return lay


def _body(p: RandomParams, warp: Warp, dome_right: float, dome_centre: float) -> Body:
    """The template's body outline with the cavity scaled and the subcutaneous fat drawn."""
    t = Body(1.0, 1.0, 1.0)
    fat = p.body.fat
    # Template: cavity = half-size - skin (2) - fat (26 / 24 mm x fat) - wall (12): keep the cavity scaled.
    half_w = (t.half_w - 40.0) * p.body.width_scale + 14.0 + 26.0 * fat
    half_d = (t.half_d - 38.0) * p.body.depth_scale + 14.0 + 24.0 * fat
    return Body(1.0, 1.0, fat, zs=np.asarray(warp(t.zs)), half_w=half_w, half_d=half_d,
                domes=(dome_right, dome_right - p.levels.left_dome_drop_mm, dome_centre))


def spine_front(frame: Frame, z: float) -> float:
    """y of the vertebral bodies' anterior surface at case height ``z``."""
    zt = (z - frame.dz) / frame.sz
    return float(base.spine_y(zt)) * frame.sy - float(base.spine_axes(zt)[1]) * frame.size


def _ivc_tube(p: RandomParams, warp: Warp, frame: Frame, rng: np.random.Generator) -> tuple[Tube, np.ndarray]:
    """The IVC from the confluence up to the centre of the right atrium (where it ends, inside the
    atrium), and that centre."""
    v = p.ivc
    zt = TEMPLATE_IVC[:, 2]
    z = np.asarray(warp(zt))
    share = np.clip(zt / TEMPLATE_LEVELS[3], 0.0, 1.0)
    exponent = np.log(0.5) / np.log(v.bow_peak)  # sin(pi * share**exponent) peaks at share = bow_peak
    x = v.x_confluence_mm + (TEMPLATE_IVC[:, 0] + 18.0) + v.bow_mm * np.sin(np.pi * share**exponent)
    y_renal = float(np.interp(TEMPLATE_LEVELS[1], zt, TEMPLATE_IVC[:, 1]))
    y_t = np.where(zt > TEMPLATE_LEVELS[1], y_renal + v.anterior_swing * (TEMPLATE_IVC[:, 1] - y_renal),
                   TEMPLATE_IVC[:, 1])
    y = y_t * p.body.depth_scale + v.y_shift_mm
    # Cross-section: infrarenal, renal level, retrohepatic (blended by template height).
    t_inf, t_ren, t_hep = v.transverse_mm * v.infrarenal_scale, v.transverse_mm, v.transverse_mm * v.hepatic_scale
    ap_inf, ap_ren, ap_hep = t_inf * v.infrarenal_flattening, v.ap_mm, v.ap_mm * v.hepatic_scale
    tr = np.interp(zt, [60, 97, 160, 214], [t_inf, t_ren, t_ren, t_hep])
    ap = np.interp(zt, [60, 97, 160, 214], [min(ap_inf, t_inf - 1), ap_ren, ap_ren, ap_hep])
    wob = 1.0 + np.clip(v.wobble * rng.normal(size=(len(zt), 2)), -2 * v.wobble, 2 * v.wobble)
    a, b = tr / 2 * wob[:, 0], ap / 2 * wob[:, 1]
    b = np.minimum(b, a)
    for i in range(len(z)):  # in front of the vertebral bodies, never into them
        if zt[i] < 200:
            y[i] = min(y[i], spine_front(frame, z[i]) - b[i] - IVC_SPINE_CLEARANCE_MM)
    # Up to 8 mm (template) above the junction, then straight to the atrium's centre.
    at = p.atrium
    keep = zt <= TEMPLATE_LEVELS[3] + 8.0
    centre = np.array([np.interp(255.0, zt, x) + at.dx_mm, np.interp(255.0, zt, y) + at.dy_mm,
                       p.levels.caj_z + ATRIUM_CENTRE_ABOVE_CAJ * at.cc_mm])
    pts = np.vstack([np.stack([x, y, z], axis=1)[keep], centre])
    radii = np.vstack([np.stack([a, b], axis=1)[keep], [a[-1], b[-1]]])
    return Tube(pts, radii), centre


def _aorta(lay: Layout, frame: Frame) -> None:
    p = lay.params
    zt = np.array([25, 60, 113, 160, 215, 260, 330.0])
    xt = np.array([8, 10, 9, 8, 12, 20, 23.0])
    yt = np.array([18, 14, 12, 17, 28, 34, 36.0])
    rt = np.array([9.5, 10.5, 11, 11, 11.5, 12.5, 12.5]) / 11.0
    z = np.asarray(lay.warp(zt))
    z[0] = p.levels.aortic_bifurcation_z
    z[1] = max(z[1], z[0] + 15.0)
    r = rt * p.aorta.radius_mm
    gap = p.aorta.gap_mm
    if p.renal.left_course != "preaortic":  # room for a vein behind the aorta (flattened)
        gap = max(gap, 1.1 * p.renal.left_radius_mm + 3.0)
    lay.derived["aorta_gap_mm"] = round(gap, 2)
    share = np.clip(zt / 230.0, 0, 1)
    x = xt - 8.0 + p.aorta.x_mm + p.aorta.bow_mm * np.sin(np.pi * share)
    y = np.empty_like(z)
    for i in range(len(z)):
        front = spine_front(frame, z[i])
        if zt[i] < 170:
            y[i] = front - gap - r[i] - 1.5  # 1.5 mm wall
        else:  # thoracic: beside the spine as in the template
            front_t = float(base.spine_y(zt[i])) - float(base.spine_axes(zt[i])[1])
            y[i] = front + (yt[i] - front_t) * p.body.depth_scale
    lay.aorta = Tube(np.stack([x, y, z], axis=1), r)


def aorta_at(lay: Layout, z: float) -> tuple[np.ndarray, float]:
    pts = lay.aorta.points
    i = int(np.argmin(np.abs(pts[:, 2] - z)))
    return pts[i].copy(), float(lay.aorta.a[i])


def _kidneys(lay: Layout) -> None:
    p = lay.params
    ostium_z = {"right": p.levels.renal_right_z, "left": p.levels.renal_right_z + p.levels.renal_left_dz}
    if p.renal.left_course == "retroaortic":
        ostium_z["left"] = p.levels.renal_right_z + (p.renal.retro_dz_mm or 0.0)
    for side, k, sign in (("right", p.kidney_right, -1.0), ("left", p.kidney_left, 1.0)):
        centre = np.array([sign * k.x_mm * p.body.width_scale, k.y_mm * p.body.depth_scale, ostium_z[side] + k.dz_mm])
        rot_a, tilt = np.radians(k.axial_rotation_deg), np.radians(k.coronal_tilt_deg)
        lateral = np.array([sign * np.cos(rot_a), np.sin(rot_a), 0.0])
        cc = np.array([-sign * np.sin(tilt), 0.0, 1.0])
        cc -= (cc @ lateral) * lateral
        cc /= np.linalg.norm(cc)
        rot = np.stack([lateral, np.cross(cc, lateral), cc], axis=1)
        axes = np.array([k.width_mm / 2, k.depth_mm / 2, k.length_mm / 2])
        lay.kidneys[side] = (centre, axes, rot)
    lay.derived["kidney_lower_pole_z"] = round(min(c[2] - ax[2] for c, ax, _ in lay.kidneys.values()), 1)


def hilum(lay: Layout, side: str, depth: float = 0.55, dz: float = 0.0) -> np.ndarray:
    """A point in the renal sinus (``depth`` x the half-width medial of the centre)."""
    centre, axes, rot = lay.kidneys[side]
    return centre - depth * axes[0] * rot[:, 0] + rot[:, 2] * dz


def _iliac_veins(lay: Layout) -> None:
    il = lay.params.iliac
    p0 = lay.ivc.points[0].copy()
    r = il.radius_mm
    for side, angle, sign in (("right", il.right_angle_deg, -1.0), ("left", il.left_angle_deg, 1.0)):
        a1, a2 = np.radians(angle), np.radians(angle * 0.6)  # steeper once in the pelvis
        d1 = np.array([sign * np.sin(a1), il.posterior_slope * 0.5, -np.cos(a1)])
        d2 = np.array([sign * np.sin(a2), il.posterior_slope, -np.cos(a2)])
        q1 = p0 + 28.0 * d1 / np.linalg.norm(d1)
        q2 = q1 + 45.0 * d2 / np.linalg.norm(d2)
        q3 = q2 + 60.0 * d2 / np.linalg.norm(d2)
        flat = il.left_flattening if side == "left" else 1.0
        radii = [(r * 1.05, r * 0.95), (r * 1.05 * flat, r * 1.1), (r, r * 0.95), (r, r * 0.95)]
        label = Label.ILIAC_VEIN_RIGHT if side == "right" else Label.ILIAC_VEIN_LEFT
        lay.veins.append(VeinSpec(Tube([p0, q1, q2, q3], radii, ref=(0, 1, 0)), T.IVC_BLOOD_LOW, label,
                                  record=f"iliac_{side}"))
    lay.derived["iliac_confluence_z"] = round(float(p0[2]), 1)
    lay.derived["iliac_angle_deg"] = round(il.right_angle_deg + il.left_angle_deg, 1)


def _renal_veins(lay: Layout) -> None:
    p, rv = lay.params, lay.params.renal
    zr = p.levels.renal_right_z
    zl = zr + p.levels.renal_left_dz

    def exit_point(z: float, angle: float, extra: float) -> tuple[np.ndarray, np.ndarray, float]:
        c = lay.on_ivc(z)
        wall = lay.ivc_radius(z, angle)
        return c, c + unit(angle) * (wall + extra), wall

    def bent(a: np.ndarray, b: np.ndarray, bend: float) -> np.ndarray:
        mid = 0.5 * (a + b)
        d = b - a
        side = np.cross(d / max(np.linalg.norm(d), 1e-6), [0, 0, 1.0])
        return mid + bend * side

    ostia: dict[str, tuple[float, float, float]] = {}
    # Right renal vein: short, from the IVC's right wall to the hilum.
    c, o, _ = exit_point(zr, rv.right_angle_deg, 4.0)
    h = hilum(lay, "right")
    tube = Tube([c, o, bent(o, h, rv.right_bend_mm), h], [rv.right_radius_mm] * 3 + [rv.right_radius_mm * 0.9])
    lay.veins.append(VeinSpec(tube, T.RENAL_VEIN, RENAL_LABEL["right"], record="rv_right"))
    ostia["rv_right"] = (c[2], rv.right_angle_deg, rv.right_radius_mm)
    lay.derived["renal_right_length_mm"] = round(float(np.linalg.norm(h - o)) + 4.0, 1)
    lay.derived["renal_right_descent_deg"] = round(float(np.degrees(np.arctan2(o[2] - h[2], np.linalg.norm(
        (h - o)[:2])))), 1)
    if rv.right_duplicated and rv.accessory_dz_mm is not None and rv.accessory_radius_mm is not None:
        za = zr + rv.accessory_dz_mm
        angle = rv.right_angle_deg + (12.0 if rv.accessory_dz_mm > 0 else -12.0)
        c2, o2, _ = exit_point(za, angle, 3.0)
        h2 = hilum(lay, "right", 0.5, dz=float(np.sign(rv.accessory_dz_mm)) * 14.0)
        lay.veins.append(VeinSpec(Tube([c2, o2, bent(o2, h2, -rv.right_bend_mm), h2], [rv.accessory_radius_mm] * 4),
                                  T.RENAL_VEIN, RENAL_LABEL["right"], record="rv_right_2"))
        ostia["rv_right_2"] = (c2[2], angle, rv.accessory_radius_mm)
    # Left renal vein: long, crosses the aorta (in front, behind, or both limbs).
    rl = rv.left_radius_mm
    hl = hilum(lay, "left")
    if rv.left_course in ("preaortic", "circumaortic"):
        c, o, _ = exit_point(zl, rv.left_angle_deg, 3.0)
        a_pt, ra = aorta_at(lay, zl)
        narrow = rl * rv.left_nutcracker
        pre = np.array([a_pt[0], a_pt[1] - ra - 1.5 - narrow - 1.0, zl - 2.0])
        lateral = np.array([a_pt[0] + ra + 12.0, a_pt[1] - 0.3 * ra, zl - 4.0])
        ctrl = [c, o, 0.5 * (o + pre) + np.array([0, 0, 0.0]), pre, lateral, bent(lateral, hl, rv.left_bend_mm), hl]
        radii = [rl, rl, rl * (1 + rv.left_nutcracker) / 2, narrow, rl * 1.1, rl, rl * 0.9]
        lay.veins.append(VeinSpec(Tube(ctrl, radii), T.RENAL_VEIN, RENAL_LABEL["left"], record="rv_left"))
        ostia["rv_left"] = (c[2], rv.left_angle_deg, rl)
        lay.derived["renal_left_length_mm"] = round(float(sum(np.linalg.norm(np.diff(np.array(ctrl[1:]), axis=0),
                                                                          axis=1))), 1)
        lay.derived["left_gonadal_start"] = [round(float(v), 1) for v in lateral]
    if rv.left_course in ("retroaortic", "circumaortic") and rv.retro_dz_mm is not None:
        z_ret = (zl if rv.left_course == "circumaortic" else zr) + rv.retro_dz_mm
        angle = 45.0 + 0.5 * (rv.left_angle_deg + 20.0)  # posterior-left wall
        c, o, _ = exit_point(z_ret, angle, 3.0)
        a_pt, ra = aorta_at(lay, z_ret)
        flat = 0.55  # squeezed between aorta and vertebra
        behind = np.array([a_pt[0], a_pt[1] + ra + 1.5 + flat * rl + 0.8, z_ret + 1.0])
        lateral = np.array([a_pt[0] + ra + 10.0, a_pt[1] + 0.4 * ra, z_ret + 4.0])
        end = hl if rv.left_course == "retroaortic" else hilum(lay, "left", 0.5, dz=-14.0)
        ctrl = [c, o, behind, lateral, bent(lateral, end, rv.left_bend_mm), end]
        radii = [(rl, rl), (rl, rl * 0.8), (rl * 1.1, rl * flat), (rl, rl * 0.8), (rl, rl), (rl * 0.9, rl * 0.9)]
        record = "rv_left" if rv.left_course == "retroaortic" else "rv_left_2"
        lay.veins.append(VeinSpec(Tube(ctrl, radii, ref=(0, 0, 1)), T.RENAL_VEIN, RENAL_LABEL["left"], record=record))
        ostia[record] = (c[2], angle, rl)
        if rv.left_course == "retroaortic":
            lay.derived["left_gonadal_start"] = [round(float(v), 1) for v in lateral]
    # Gonadal veins (right into the IVC, left into the left renal vein) and right lumbar veins:
    # small tributaries that are not renal veins.
    zg = zr + rv.gonadal_dz_mm
    c, o, _ = exit_point(zg, 235.0, 2.0)
    ws = p.body.width_scale
    ctrl = [c, o, o + np.array([-10.0, 2.0, -40.0]), np.array([o[0] - 22.0, o[1] + 4.0, zg - 100.0]),
            np.array([-48.0 * ws, 4.0, -110.0])]
    lay.veins.append(VeinSpec(Tube(ctrl, [2.2] * 5), T.SMALL_VEIN, Label.BODY))
    start = np.array(lay.derived["left_gonadal_start"]) + np.array([4.0, 0.0, -3.0])
    ctrl = [start, start + np.array([8.0, 2.0, -45.0]), np.array([44.0 * ws, 6.0, -110.0])]
    lay.veins.append(VeinSpec(Tube(ctrl, [2.4, 2.2, 2.0]), T.SMALL_VEIN, Label.BODY))
    for zt in base.vertebra_levels():
        z = lay.frame.z(zt[0])
        if not 20.0 < z < min(zr, zl) - 12.0:
            continue
        c, o, _ = exit_point(z, 110.0, 1.0)
        front = spine_front(lay.frame, z)
        lat = float(base.spine_axes((z - lay.frame.dz) / lay.frame.sz)[0]) * lay.frame.size
        ctrl = [c, o, np.array([-lat * 0.7, front + 3.0, z - 1.0]), np.array([-lat - 5.0, front + 16.0, z - 2.0])]
        lay.veins.append(VeinSpec(Tube(ctrl, [1.9] * 4), T.SMALL_VEIN, Label.BODY))
    lay.renal_ostia = ostia


def _arteries(lay: Layout) -> None:
    p = lay.params
    bif = lay.aorta.points[0]
    conf = lay.ivc.points[0]
    zr = p.levels.renal_right_z
    zl = zr + p.levels.renal_left_dz
    ra_r = 2.4 + 0.04 * p.aorta.radius_mm
    arteries = [
        # Right common iliac artery crosses in front of the confluence; the left runs down-left.
        ([bif, conf + np.array([9.0, -16.0, 3.0]), conf + np.array([-10.0, -12.0, -24.0]),
          conf + np.array([-26.0, -6.0, -60.0])], [5.5, 5.5, 5.0, 5.0]),
        ([bif, bif + np.array([14.0, -3.0, -22.0]), bif + np.array([26.0, 0.0, -48.0]),
          bif + np.array([38.0, 3.0, -85.0])], [5.5, 5.5, 5.0, 5.0]),
    ]
    # Renal arteries: behind the renal veins, the right one behind the IVC.
    a_pt, ra = aorta_at(lay, zr + 6.0)
    ivc_pt = lay.on_ivc(zr + 2.0)
    b = lay.ivc_radius(zr + 2.0, 90.0)
    h = hilum(lay, "right", 0.5, dz=6.0) + np.array([0, 6.0, 0])
    arteries.append(([a_pt + np.array([-ra * 0.6, ra * 0.5, 0]), np.array([ivc_pt[0], ivc_pt[1] + b + 5.0, zr + 2.0]),
                      h], [ra_r, ra_r, ra_r * 0.9]))
    a_pt, ra = aorta_at(lay, zl + 6.0)
    h = hilum(lay, "left", 0.5, dz=6.0) + np.array([0, 6.0, 0])
    arteries.append(([a_pt + np.array([ra * 0.6, ra * 0.5, 0]), a_pt + np.array([ra + 12.0, ra * 0.8, -3.0]), h],
                     [ra_r, ra_r, ra_r * 0.9]))
    # SMA: leaves the aorta above the left renal vein and descends in front of it; coeliac above.
    z_sma = zl + 22.0
    a_pt, ra = aorta_at(lay, z_sma)
    y_front = a_pt[1] - ra
    arteries.append(([a_pt + np.array([0, -ra * 0.5, 0]), np.array([a_pt[0] - 1, y_front - 16.0, z_sma - 10.0]),
                      np.array([a_pt[0] - 3, y_front - 26.0, zl - 12.0]),
                      np.array([a_pt[0] - 7, y_front - 36.0, zl - 55.0]),
                      np.array([a_pt[0] - 14, y_front - 48.0, zl - 110.0])], [3.6, 3.6, 3.3, 3.0, 2.5]))
    z_ce = z_sma + 12.0
    a_pt, ra = aorta_at(lay, z_ce)
    arteries.append(([a_pt + np.array([0, -ra * 0.5, 0]), a_pt + np.array([1.0, -ra - 14.0, 6.0]),
                      a_pt + np.array([-19.0, -ra - 24.0, 10.0]), a_pt + np.array([-39.0, -ra - 26.0, 8.0])],
                     [3.2, 3.0, 2.5, 2.2]))
    lay.arteries = [Tube(ctrl, radii) for ctrl, radii in arteries]
    lay.derived["sma_origin_z"] = round(z_sma, 1)


def _ivc_offset(lay: Layout, zt: float) -> np.ndarray:
    """Displacement of the case IVC from the template IVC at template height ``zt`` (x, y)."""
    z = float(lay.warp(zt))
    case = lay.on_ivc(z)
    tmpl = np.array([np.interp(zt, TEMPLATE_IVC[:, 2], TEMPLATE_IVC[:, i]) for i in range(2)])
    return np.array([case[0] - tmpl[0], case[1] - tmpl[1] * lay.params.body.depth_scale])


def attached(lay: Layout, point: tuple[float, float, float]) -> np.ndarray:
    """A template point near the IVC moved with it (portal system, pancreas head)."""
    off = _ivc_offset(lay, float(np.clip(point[2], 0, 240)))
    return np.array([point[0] + off[0], point[1] * lay.params.body.depth_scale + off[1], float(lay.warp(point[2]))])


def scaffold_point(lay: Layout, point: tuple[float, float, float]) -> np.ndarray:
    """A template point away from the IVC: scaled with the body, height warped."""
    return np.array([point[0] * lay.params.body.width_scale, point[1] * lay.params.body.depth_scale,
                     float(lay.warp(point[2]))])


def _liver(lay: Layout, rng: np.random.Generator) -> None:
    p, li = lay.params, lay.params.liver
    zh = p.levels.hepatic_z
    ivc_h = lay.on_ivc(zh)
    ls = li.scale
    bumps = SmoothNoise(rng, (li.bump_wavelength_mm, li.bump_wavelength_mm * 2.2))
    top = lay.levels["dome_right"] + 15.0  # clipped by the diaphragm: the dome shapes the liver's top
    lower = p.levels.renal_right_z + li.lower_edge_dz_mm
    # The broad part of the right lobe ends above the renal veins; below that only its lateral tip
    # (segment 6) reaches down, beside and in front of the right kidney.
    main_lower = max(lower, p.levels.renal_right_z + LIVER_BODY_ABOVE_RENAL_MM)
    cz, az = 0.5 * (top + main_lower), 0.5 * (top - main_lower)
    right = Blob.make((ivc_h[0] - 46.0 * ls + li.dx_mm, ivc_h[1] + 12.0, cz), np.array([80.0 * ls, 90.0 * ls, az]),
                      rotation(10 + li.yaw_deg, 8, 0), bumps, li.bump_amp)
    tip_top = main_lower + 45.0
    tip = Blob.make((ivc_h[0] - 74.0 * ls + li.dx_mm, ivc_h[1] + 2.0, 0.5 * (tip_top + lower)),
                    np.array([30.0 * ls, 48.0 * ls, 0.5 * (tip_top - lower)]), rotation(li.yaw_deg, 12, 0), bumps,
                    li.bump_amp)
    left = Blob.make((ivc_h[0] + 24.0 * li.left_lobe_scale, ivc_h[1] - 37.0, zh - 19.0),
                     np.array([62.0 * li.left_lobe_scale, 36.0, 30.0]) * ls, rotation(-12 + li.yaw_deg, -10, 0),
                     bumps, li.bump_amp * 1.2)
    # Caudate lobe: anterior-left of the retrohepatic IVC (its hypertrophy wraps the IVC), and liver
    # tissue beside the IVC (it lies in a groove of the liver); both end above the renal veins.
    floor = p.levels.renal_right_z + CAUDATE_ABOVE_RENAL_MM

    def hugging(dx: float, dy: float, top: float, depth: float, axes: tuple[float, float]) -> Blob:
        bottom = max(top - depth, floor)
        return Blob.make((ivc_h[0] + dx, ivc_h[1] + dy, 0.5 * (top + bottom)),
                         (axes[0], axes[1], max(0.5 * (top - bottom), 8.0)), None, bumps, li.bump_amp)

    caudate = hugging(13.0, -15.0, zh, 64.0 * li.caudate_scale, (18.0 * li.caudate_scale, 16.0 * li.caudate_scale))
    groove = hugging(-10.0, 4.0, zh + 12.0, 84.0 * ls, (26.0 * ls, 24.0 * ls))
    lay.liver = [right, tip, left, caudate, groove]
    if li.riedel and li.riedel_mm:
        lay.liver.append(Blob.make((ivc_h[0] - 78.0 * ls, ivc_h[1] + 8.0, lower - 0.4 * li.riedel_mm + 8.0),
                                   np.array([24.0, 32.0, 0.5 * li.riedel_mm + 12.0]), rotation(0, 10, 0), bumps, 0.04))
    if li.gallbladder:
        lay.gallbladder = Blob.make((ivc_h[0] - 29.0 * ls, ivc_h[1] - 45.0, lower + 22.0), (14, 15, 34),
                                    rotation(0, 0, -35), bumps, 0.04)
    lay.derived["liver_lower_edge_z"] = round(lower, 1)
    lay.derived["liver_top_z"] = round(top, 1)


def _hepatic_veins(lay: Layout, z_hv: dict[str, float], rng: np.random.Generator) -> None:
    hep = lay.params.hepatic
    angle = {"right": hep.right_angle_deg, "middle": hep.middle_angle_deg, "left": hep.left_angle_deg}
    descent = {"right": hep.right_descent_deg, "middle": hep.middle_descent_deg, "left": hep.left_descent_deg}
    length = {"right": hep.right_length_mm, "middle": hep.middle_length_mm, "left": hep.left_length_mm}
    radius = {"right": hep.right_radius_mm, "middle": hep.middle_radius_mm, "left": hep.left_radius_mm}

    def course(start: np.ndarray, ang: float, desc: float, total: float, r: float) -> tuple[list, list]:
        """Points from ``start`` outward: the vein descends and curls a little as it reaches into the liver."""
        pts, radii = [], []
        pos = start.copy()
        heading = ang
        for k, share in enumerate((0.3, 0.35, 0.35)):
            heading += float(rng.uniform(-15, 15))
            d = np.radians(desc + 8.0 * k)
            step = unit(heading) * np.cos(d) + np.array([0, 0, -np.sin(d)])
            pos = pos + share * total * step
            pts.append(pos.copy())
            radii.append(r * (0.8, 0.55, 0.35)[k] + 0.6)
        return pts, radii

    trunk_end = None
    if hep.common_trunk and hep.trunk_mm:
        z_t = z_hv["middle"]
        mid_angle = 0.5 * (angle["middle"] + angle["left"])
        c = lay.on_ivc(z_t)
        wall = lay.ivc_radius(z_t, mid_angle)
        trunk_r = 1.1 * max(radius["middle"], radius["left"])
        trunk_start = [c, c + unit(mid_angle) * (wall + 3.0)]
        trunk_end = c + unit(mid_angle) * (wall + hep.trunk_mm) + np.array([0, 0, -1.5])
        lay.derived["hepatic_trunk_angle_deg"] = round(mid_angle, 1)
    for name in ("right", "middle", "left"):
        r = radius[name]
        if trunk_end is not None and name in ("middle", "left"):
            pts, radii = course(trunk_end, angle[name], descent[name], length[name], r)
            ctrl = [*trunk_start, trunk_end, *pts]
            rads = [trunk_r, trunk_r, trunk_r, *radii]
        else:
            c = lay.on_ivc(z_hv[name])
            wall = lay.ivc_radius(z_hv[name], angle[name])
            start = c + unit(angle[name]) * (wall + 4.0)
            pts, radii = course(start, angle[name], descent[name], length[name], r)
            ctrl, rads = [c, start, *pts], [r, r, *radii]
        tube = Tube(ctrl, rads)
        lay.veins.append(VeinSpec(tube, T.HEPATIC_VEIN, HEPATIC_LABEL[name], record=f"hv_{name}",
                                  liver_only_from=float(tube.project(ctrl[1][None])[0]) + HEPATIC_FREE_MM))
        # Tributaries deep in the liver (same label, not recorded: they never reach the IVC).
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(len(ctrl) - 3, len(ctrl) - 1))
            base_pt = np.asarray(ctrl[i], float)
            ang = angle[name] + float(rng.choice([-1, 1])) * float(rng.uniform(35, 75))
            d = np.radians(float(rng.uniform(10, 50)))
            end = base_pt + float(rng.uniform(25, 45)) * (unit(ang) * np.cos(d) + np.array([0, 0, -np.sin(d)]))
            lay.veins.append(VeinSpec(Tube([base_pt, 0.5 * (base_pt + end) + rng.normal(0, 3, 3), end],
                                           [0.45 * r + 0.6, 0.35 * r + 0.5, 1.4]),
                                      T.HEPATIC_VEIN, HEPATIC_LABEL[name], liver_only_from=0.0))
    lower = lay.derived["liver_lower_edge_z"]
    if hep.inferior_right and hep.irhv_dz_mm is not None and hep.irhv_radius_mm is not None:
        z_i = max(lay.params.levels.hepatic_z + hep.irhv_dz_mm, lower + 25.0)
        ang = float(hep.irhv_angle_deg or 180.0)
        c = lay.on_ivc(z_i)
        start = c + unit(ang) * (lay.ivc_radius(z_i, ang) + 3.0)
        d = np.radians(10.0)
        step = unit(ang + 15.0) * np.cos(d) + np.array([0, 0, -np.sin(d)])
        tube = Tube([c, start, start + 25.0 * step, start + 60.0 * step],
                    [hep.irhv_radius_mm] * 3 + [1.6])
        # Not one of the three major veins: its ostium never sets the II/III boundary (clinical.md).
        lay.veins.append(VeinSpec(tube, T.HEPATIC_VEIN, Label.BODY, record="hv_inferior_right",
                                  liver_only_from=float(tube.project(start[None])[0]) + HEPATIC_FREE_MM))
        lay.derived["irhv_ostium_z"] = round(z_i, 1)
    short = []
    for _ in range(lay.params.hepatic.short_veins):
        zh = lay.params.levels.hepatic_z
        z_s = float(rng.uniform(max(lower + 20.0, zh - 60.0), zh - 8.0))
        ang = float(rng.uniform(230, 330))
        c = lay.on_ivc(z_s)
        start = c + unit(ang) * (lay.ivc_radius(z_s, ang) + 2.0)
        end = start + unit(ang + float(rng.uniform(-20, 20))) * float(rng.uniform(15, 30)) + np.array([0, 0, -6.0])
        lay.veins.append(VeinSpec(Tube([c, start, end], [2.2, 2.0, 1.4]), T.HEPATIC_VEIN, Label.BODY,
                                  liver_only_from=float(Tube([c, start, end], [2.2, 2.0, 1.4]).project(start[None])[0])
                                  + 4.0))
        short.append(round(z_s, 1))
    lay.derived["short_hepatic_veins_z"] = short


def _atrium(lay: Layout, centre: np.ndarray) -> None:
    at, zc = lay.params.atrium, lay.params.levels.caj_z
    rot = rotation(-28, 18, 0)
    ra = Blob.make(centre, (at.lateral_mm, at.ap_mm, at.cc_mm), rot)
    # Moved along z until the IVC-atrium interface (as the truth finds it) lies at the drawn junction;
    # the IVC's end stays inside (it ends at the first centre, a few mm from the moved one).
    pts = _solid_points(lay.ivc, (0.0, lay.ivc.length), step=0.5)
    for _ in range(3):
        on = np.abs(ra.field(pts.astype(np.float32)) - 1.0) < 0.06
        if not on.any():
            break
        z_now = float(lay.ivc.point_at(float(lay.ivc.project(pts[on].mean(axis=0)[None])[0]))[2])
        ra = Blob.make(ra.center + np.array([0.0, 0.0, zc - z_now]), ra.axes, rot)
    lay.ra = ra
    hs = at.heart_scale
    lay.heart = (ra.center + np.array([48.0, -14.0, 14.0]) * hs, np.array([68.0, 52.0, 50.0]) * hs, rot)


def _scaffold_organs(lay: Layout) -> None:
    o = lay.params.organs
    lay.spleen = Blob.make(scaffold_point(lay, (88, 52, 178)), np.array([22, 55, 45]) * o.spleen_scale,
                           rotation(-38, 0, 0), None, 0.0)
    lay.stomach = Blob.make(scaffold_point(lay, (50, -44, 184)), np.array([42, 32, 48]) * o.stomach_scale,
                            rotation(20, -20, 0), None, 0.0)
    lay.pancreas = Tube([attached(lay, (-36, -20, 104)), attached(lay, (-8, -40, 120)),
                         scaffold_point(lay, (28, -27, 132)), scaffold_point(lay, (64, 14, 148))],
                        np.array([13, 10, 10, 8]) * o.pancreas_scale)
    portal_t = [
        [(-12, -48, 5), (-10, -34, 60), (-8, -28, 100), (-2, -22, 118)],        # SMV
        [(72, 30, 150), (45, 6, 136), (15, -14, 126), (-2, -22, 118)],          # splenic vein
        [(-2, -22, 118), (-18, -25, 135), (-32, -22, 150)],                     # main portal vein
        [(-32, -22, 150), (-60, -15, 160), (-92, -10, 166)],                    # right branch
        [(-32, -22, 150), (-15, -40, 162), (10, -50, 172)],                     # left branch
    ]
    radii = [[4.5, 5, 5.5, 6], [4.5, 4.5, 5, 5], [7, 7, 6.5], [5.5, 4.5, 3], [5, 4, 3]]
    lay.portal = []
    for k, (pts, r) in enumerate(zip(portal_t, radii, strict=True)):
        ctrl = [scaffold_point(lay, q) if (k == 1 and i < 2) else attached(lay, q) for i, q in enumerate(pts)]
        lay.portal.append(Tube(ctrl, r))
    lay.esophagus = Tube([scaffold_point(lay, q) for q in ((8, 26, 330), (10, 18, 262), (20, 2, 218), (34, -18, 196))],
                         [(8, 5)] * 4)


def _solid_points(tube: Tube, s_range: tuple[float, float], step: float = 1.0) -> np.ndarray:
    """Points filling a tube's lumen over an arc-length range (rings of radii 0..1 at each sample)."""
    keep = (tube.s >= s_range[0]) & (tube.s <= s_range[1])
    idx = np.nonzero(keep)[0][:: max(1, round(step / (tube.s[1] - tube.s[0])))]
    theta = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    rad = np.array([0.0, 0.35, 0.7, 0.95])
    c, s = np.cos(theta)[None, :, None], np.sin(theta)[None, :, None]
    r = rad[None, None, :]
    out = (tube.points[idx, None, None, :]
           + (tube.a[idx, None, None] * r * c)[..., None] * tube.n1[idx, None, None, :]
           + (tube.b[idx, None, None] * r * s)[..., None] * tube.n2[idx, None, None, :])
    return out.reshape(-1, 3)


def _interface_s(lay: Layout, points: np.ndarray, on_surface: np.ndarray) -> tuple[float, float] | None:
    """(centroid s, highest s) along the IVC of the ``points`` flagged ``on_surface`` - the geometric
    version of the truth's interface voxels (ivcplan.phantom.truth)."""
    if not on_surface.any():
        return None
    s = lay.ivc.project(points[on_surface])
    return float(lay.ivc.project(points[on_surface].mean(axis=0)[None])[0]), float(s.max())


def _nominal(lay: Layout) -> None:
    """Landmark positions along the IVC centreline from the geometry, defined as the truth defines them
    (interfaces of the vein / atrium with the IVC); lesion extents resolve against them, and the truth
    recomputes every landmark from the masks."""
    ivc = lay.ivc
    shell = 0.06  # normalised thickness of a surface (about a voxel on a 15 mm radius)
    ring: dict[str, tuple[float, float]] = {}
    for spec in lay.veins:
        if spec.record is None or not spec.record.startswith(("rv_", "hv_")):
            continue
        pts = _solid_points(spec.tube, (0.0, 40.0), step=0.5)
        rho = ivc.fields(pts).rho
        found = _interface_s(lay, pts, np.abs(rho - 1.0) < shell)
        if found is not None:
            ring[spec.record] = found
    renal = [ring[k][1] for k in ring if k.startswith("rv_")]
    hep = [ring[k][0] for k in ("hv_right", "hv_middle", "hv_left") if k in ring]
    pts = _solid_points(ivc, (0.0, ivc.length), step=0.5)
    caj = _interface_s(lay, pts, np.abs(lay.ra.field(pts.astype(np.float32)) - 1.0) < shell)
    lay.nominal_s = {"iliac_confluence": 0.0, "renal_veins": max(renal), "hepatic_veins": min(hep),
                     "cavoatrial_junction": caj[0] if caj is not None else ivc.length}
    lay.derived["ostium_ring_s"] = {k: round(v[0], 2) for k, v in ring.items()}
    s_caj = lay.nominal_s["cavoatrial_junction"]
    lay.levels["caj_nominal_z"] = float(ivc.point_at(s_caj)[2])
    lay.levels["lowest_renal_ostium_s"] = min(float(ivc.project(lay.on_ivc(z)[None])[0])
                                              for z, _, _ in lay.renal_ostia.values())


# -- painting ----------------------------------------------------------------------------------------
def paint(canvas: Canvas, lay: Layout, rng: np.random.Generator) -> Anatomy:
    """Paint the case's normal anatomy; returns the IVC/vein geometry the lesion and the truth need."""
    p = lay.params
    base._paint_body(canvas, lay.body)
    base._paint_muscles(canvas, rng, Frame(sx=lay.frame.sx, sy=lay.frame.sy, sz=lay.frame.sz, dz=lay.frame.dz,
                                           size=p.body.psoas_scale))
    base._paint_spine(canvas, lay.frame)
    base._paint_ribs(canvas, lay.body, lay.frame)
    _paint_organs(canvas, lay, rng)
    _paint_heart(canvas, lay)
    anatomy = _paint_vessels(canvas, lay, rng)
    base._paint_lung_vessels(canvas, rng, z_top=lay.levels["caj_z"] + 70.0)
    return anatomy


def _paint_organs(canvas: Canvas, lay: Layout, rng: np.random.Generator) -> None:
    bumps = SmoothNoise(rng, (40, 90))
    for blob in lay.liver:
        paint_blob(canvas, blob, T.LIVER, Label.LIVER, only=(T.FAT_VISCERAL,))
    if lay.gallbladder is not None:
        paint_blob(canvas, lay.gallbladder, T.GALLBLADDER, Label.BODY, only=(T.LIVER, T.FAT_VISCERAL))
    spleen = Blob.make(lay.spleen.center, lay.spleen.axes, lay.spleen.rot, bumps, 0.05)
    paint_blob(canvas, spleen, T.SPLEEN, Label.BODY, only=(T.FAT_VISCERAL,))
    for side in ("right", "left"):
        centre, axes, rot = lay.kidneys[side]
        label = Label.KIDNEY_RIGHT if side == "right" else Label.KIDNEY_LEFT
        base.paint_kidney(canvas, centre, axes, rot, bumps, label)
    for sl, f in lay.pancreas.chunks(canvas, pad=2.0):
        lobules = f.rho * (1 + 0.08 * bumps(canvas.points(sl)))
        canvas.paint(sl, lobules < 1, T.PANCREAS, Label.BODY, only=(T.FAT_VISCERAL,))
    stomach = Blob.make(lay.stomach.center, lay.stomach.axes, lay.stomach.rot, bumps, 0.05)
    base.paint_stomach(canvas, stomach)


def _paint_heart(canvas: Canvas, lay: Layout) -> None:
    centre, axes, rot = lay.heart
    into = (T.LUNG, T.PERICARDIAL_FAT, T.MUSCLE)  # never below the diaphragm
    paint_blob(canvas, Blob.make(centre, axes + 4, rot), T.PERICARDIAL_FAT, Label.BODY,
               only=(T.LUNG, T.PERICARDIAL_FAT))
    paint_blob(canvas, Blob.make(centre, axes, rot), T.MYOCARDIUM, Label.BODY, only=into)
    k = axes / np.array([68.0, 52.0, 50.0])
    for offset, size in (((-10, -28, -10), (34, 15, 30)), ((26, 2, -8), (22, 22, 32)), ((-12, 42, 18), (30, 18, 20))):
        paint_blob(canvas, Blob.make(centre + np.asarray(offset) * k, np.asarray(size) * k, rot), T.BLOOD_HEART,
                   Label.BODY, only=(T.MYOCARDIUM,))


def _paint_vessels(canvas: Canvas, lay: Layout, rng: np.random.Generator) -> Anatomy:
    protect = _BONES
    # The wall as a solid tube under the lumen (paint_tube's wall option leaves seams between chunks).
    wall = Tube(lay.aorta.points[:: max(1, len(lay.aorta.points) // 40)], lay.aorta.a[:: max(1, len(lay.aorta.a) // 40)]
                + AORTIC_WALL_MM)
    paint_tube(canvas, wall, T.VESSEL_WALL, Label.BODY, protect=protect)
    paint_tube(canvas, lay.aorta, T.AORTA, Label.AORTA, protect=protect)
    for tube in lay.arteries:
        paint_tube(canvas, tube, T.ARTERY, Label.BODY, protect=protect)
    for tube in lay.portal:
        paint_tube(canvas, tube, T.PORTAL, Label.PORTAL_VEIN, protect=protect)
    veins: dict[str, Tube] = {}
    for spec in lay.veins:
        if spec.liver_only_from is None:
            paint_tube(canvas, spec.tube, spec.tissue, spec.label, protect=protect, record=spec.record)
        else:
            cut = spec.liver_only_from
            if cut > 0:
                paint_tube(canvas, spec.tube, spec.tissue, spec.label, protect=protect, record=spec.record,
                           s_range=(0.0, cut))
            # Inside the liver only; the record keeps what was painted (a vein never runs outside its organ).
            for sl, f in spec.tube.chunks(canvas, pad=1.0, s_range=(cut, spec.tube.length)):
                inside = (f.rho < 1) & (f.s >= cut)
                canvas.paint(sl, inside, spec.tissue, spec.label,
                             only=(T.LIVER, T.HEPATIC_VEIN, T.PORTAL, T.GALLBLADDER))
                if spec.record is not None:
                    canvas.record(sl, inside & (canvas.tissue[sl] == spec.tissue), spec.record)
        if spec.record is not None:
            veins[spec.record] = spec.tube
    ivc = lay.ivc
    paint_tube(canvas, ivc, T.IVC_BLOOD, Label.IVC_LUMEN, protect=protect, record="ivc")
    _paint_inflow_mixing(canvas, lay, rng)
    paint_blob(canvas, lay.ra, T.ATRIUM_BLOOD, Label.RIGHT_ATRIUM, protect=protect, record="ra")
    paint_blob(canvas, lay.ra, T.MYOCARDIUM, Label.BODY, shell=0.1, inner=1.0,
               only=(T.LUNG, T.FAT_VISCERAL, T.PERICARDIAL_FAT))
    paint_tube(canvas, lay.esophagus, T.ESOPHAGUS, Label.BODY,
               only=(T.LUNG, T.FAT_VISCERAL, T.PERICARDIAL_FAT, T.MUSCLE))
    return Anatomy(ivc=ivc, veins=veins, nominal_s=dict(lay.nominal_s))


def _paint_inflow_mixing(canvas: Canvas, lay: Layout, rng: np.random.Generator) -> None:
    """Infrarenal blood (less enhanced) below the renal inflow; above it the bright renal blood runs up
    along the walls beside its ostia (jets) and mixes with the dark central stream over ``mixing_mm``."""
    ivc = lay.ivc
    s0 = lay.levels["lowest_renal_ostium_s"]
    mix = lay.params.enhancement.mixing_mm
    paint_tube(canvas, ivc, T.IVC_BLOOD_LOW, Label.IVC_LUMEN, only=(T.IVC_BLOOD,), s_range=(0, s0 - 4.0))
    ostia = [(float(ivc.project(lay.on_ivc(z)[None])[0]), angle) for z, angle, _ in lay.renal_ostia.values()]
    swirl = SmoothNoise(rng, (10, 25), waves=6)
    levels = (T.IVC_BLOOD_LOW, T.IVC_MIX_1, T.IVC_MIX_2, T.IVC_MIX_3)
    for sl, f in ivc.chunks(canvas, pad=1.0, s_range=(s0 - 4.0, s0 + mix)):
        inside = (f.rho < 1) & (f.s >= s0 - 4.0) & (f.s <= s0 + mix)
        if not inside.any():
            continue
        progress = np.clip((f.s - s0) / mix, 0, 1) + 0.3 * swirl(canvas.points(sl)) + 0.25 * np.clip(f.rho, 0, 1)
        level = np.clip((progress * 4).astype(np.int16), 0, 4)
        for k, tissue in enumerate(levels):
            canvas.paint(sl, inside & (level == k), tissue, Label.IVC_LUMEN, only=(T.IVC_BLOOD,))
        for s_o, angle in ostia:
            diff = np.abs((f.theta - angle + 180.0) % 360.0 - 180.0)
            jet = inside & (f.rho > JET_RHO) & (diff < JET_HALF_ANGLE) & (f.s > s_o - 3.0) & (f.s < s_o + 0.6 * mix)
            canvas.paint(sl, jet, T.IVC_JET, Label.IVC_LUMEN, only=(T.IVC_BLOOD, *levels))
