"""The phantom's normal anatomy, painted onto a canonical head-first canvas (LPS mm).

Levels (z, mm) are relative to the iliac confluence (z=0, about L5); a seed jitters sizes and
positions. Vertebral levels: L5 ~ -15, L1 ~ +125, T10 ~ +213, T8 ~ +264. Structures are painted in
anatomical order (body wall, muscles, bones, organs, vessels, bowel) so that later ones win.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ivcplan.labels import Label
from ivcplan.phantom.shapes import Blob, Canvas, SmoothNoise, Tube, paint_blob, paint_tube, rotation
from ivcplan.phantom.tissues import T

#: Slabs of slices processed at once for the whole-body layers (bounds memory).
SLAB_SLICES = 24
#: Heights (z, mm) of the template's right dome, left dome and central tendon.
TEMPLATE_DOMES = (230.0, 220.0, 221.0)
#: Thickness (mm) of the diaphragm below its dome surface (`Body.diaphragm`).
DIAPHRAGM_MM = 5.0
_BONES = (T.BONE_CORTEX, T.BONE_MARROW, T.BONE_ARCH, T.DISC, T.CSF, T.CORD)


@dataclass(frozen=True)
class Frame:
    """Affine map of the template's coordinates into a case's: x and y scaled about the body centre,
    z scaled and shifted; ``size`` scales bone and muscle cross-sections. The default is the identity
    (multiplying by 1.0 and adding 0.0 are exact, so the template paints the same voxels)."""

    sx: float = 1.0
    sy: float = 1.0
    sz: float = 1.0
    dz: float = 0.0
    size: float = 1.0

    def z(self, z: float) -> float:
        return z * self.sz + self.dz

    def p(self, point: tuple[float, float, float]) -> tuple[float, float, float]:
        return point[0] * self.sx, point[1] * self.sy, self.z(point[2])


IDENTITY = Frame()


@dataclass
class Anatomy:
    """Geometry the tumor and the truth need: the IVC tube (extended into the atrium) and veins."""

    ivc: Tube
    veins: dict[str, Tube] = field(default_factory=dict)
    nominal_s: dict[str, float] = field(default_factory=dict)


@dataclass
class Body:
    """Body cross-section (superellipse) as a function of z, and the diaphragm dome."""

    sx: float
    sy: float
    fat: float
    zs: np.ndarray = field(default_factory=lambda: np.array([-80, 0, 60, 120, 180, 240, 330.0]))
    half_w: np.ndarray = field(default_factory=lambda: np.array([168, 160, 150, 146, 150, 156, 158.0]))
    half_d: np.ndarray = field(default_factory=lambda: np.array([112, 110, 106, 104, 106, 110, 112.0]))
    #: Heights (z) of the right dome, the left dome and the central tendon.
    domes: tuple[float, float, float] = TEMPLATE_DOMES

    def axes(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.interp(z, self.zs, self.half_w) * self.sx, np.interp(z, self.zs, self.half_d) * self.sy

    @staticmethod
    def powers(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(|x|^p, |y|^p, p) of the body superellipse; flatter on the back (lying on the table)."""
        p = np.where(y > 0, 3.4, 2.3).astype(np.float32)
        return np.abs(x) ** p, np.abs(y) ** p, p

    @staticmethod
    def inside(powers: tuple[np.ndarray, np.ndarray, np.ndarray], y: np.ndarray, a: np.ndarray,
               b_ant: np.ndarray, b_post: np.ndarray) -> np.ndarray:
        """Whether points lie inside the superellipse of half-axes a (lateral), b_ant / b_post."""
        xp, yp, p = powers
        b = np.where(y > 0, b_post, b_ant).astype(np.float32)
        return xp * a.astype(np.float32) ** -p + yp * b ** -p < 1

    @staticmethod
    def diaphragm(x: np.ndarray, y: np.ndarray, domes: tuple[float, float, float] = TEMPLATE_DOMES) -> np.ndarray:
        """z of the diaphragm dome: right dome higher than the left, low posterior recesses; ``domes``:
        heights of the right dome, the left dome and the central tendon."""
        # Steep laterally (costophrenic angles) and posteriorly (posterior recesses), gentle in front.
        ap = np.where(y > -5, (y + 5) ** 2 / 110.0, (y + 5) ** 2 / 220.0)
        right = domes[0] - (x + 60) ** 2 / 75.0 - ap
        left = domes[1] - (x - 68) ** 2 / 75.0 - ap
        # central tendon: the hepatic vein confluence lies under it
        centre = domes[2] - (x**2 + (y + 30) ** 2) / 300.0
        return np.maximum(np.maximum(right, left), centre)


def spine_y(z: np.ndarray | float) -> np.ndarray:
    """Centre (y) of the vertebral bodies: lumbar lordosis, thoracic kyphosis."""
    return np.interp(z, [-80, 0, 60, 130, 200, 330], [56, 52, 48, 50, 55, 60])


def spine_axes(z: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """(lateral, AP) half-sizes of the vertebral bodies."""
    return np.interp(z, [-80, 130, 200, 330], [25, 23, 18, 16]), np.interp(z, [-80, 130, 200, 330], [18, 17, 15, 14])


def vertebra_levels() -> list[tuple[float, float]]:
    """(centre z, body height) of the vertebrae, S1 upwards (disc gap in between)."""
    levels, z = [], -52.0
    while z < 360:
        h = float(np.interp(z, [-60, 130, 200, 330], [29, 27, 22, 20]))
        levels.append((z, h))
        z += h + float(np.interp(z, [-60, 130, 330], [10, 8, 5]))
    return levels


def build(canvas: Canvas, rng: np.random.Generator) -> Anatomy:
    """Paint the normal anatomy onto ``canvas`` and return the IVC/vein geometry. The bowel comes
    last, after any lesion (`paint_bowel`, same ``rng``): loops then lie around a mass, not inside it."""
    body = Body(sx=rng.uniform(0.94, 1.06), sy=rng.uniform(0.94, 1.06), fat=rng.uniform(0.7, 1.3))
    _paint_body(canvas, body)
    _paint_muscles(canvas, rng)
    _paint_spine(canvas)
    _paint_ribs(canvas, body)
    _paint_organs(canvas, rng)
    _paint_heart(canvas)
    anatomy = _paint_vessels(canvas, rng)
    _paint_lung_vessels(canvas, rng)
    return anatomy


# -- body wall ---------------------------------------------------------------------------------
def _paint_body(canvas: Canvas, body: Body) -> None:
    y2 = canvas.yc[None, :, None]
    x2 = canvas.xc[None, None, :]
    dome = Body.diaphragm(x2, y2, body.domes)
    pw = Body.powers(x2, y2)
    fat_a, fat_ant, fat_post = 26.0 * body.fat, 24.0 * body.fat, 14.0 * body.fat
    # A cradle-shaped table just under the widest part of the back.
    back = float(np.interp(120.0, body.zs, body.half_d)) * body.sy
    table_top = (back + 0.5 - 0.0006 * x2**2).astype(np.float32)
    for z0 in range(0, canvas.shape[0], SLAB_SLICES):
        zs = canvas.zc[z0:z0 + SLAB_SLICES]
        z = zs[:, None, None]
        a, b = body.axes(z)
        wall = np.interp(zs, [-80, 200, 260, 330], [12, 12, 16, 18])[:, None, None]
        bp = np.full_like(b, back)  # the back lies flat on the table at every level
        in_body = Body.inside(pw, y2, a, b, bp)
        in_skin = Body.inside(pw, y2, a - 2.0, b - 2.0, bp - 2.0)
        in_fat = Body.inside(pw, y2, a - 2.0 - fat_a, b - 2.0 - fat_ant, bp - 2.0 - fat_post)
        cavity = Body.inside(pw, y2, a - 2.0 - fat_a - wall, b - 2.0 - fat_ant - wall, bp - 2.0 - fat_post - wall)
        tissue = np.full(in_body.shape, T.AIR, dtype=np.uint8)
        under = (y2 > table_top) & (y2 < table_top + 22) & (np.abs(x2) < 230)
        tissue[np.broadcast_to(under, tissue.shape)] = T.TABLE_FOAM
        shell = (y2 > table_top) & (y2 < table_top + 4) & (np.abs(x2) < 230)
        tissue[np.broadcast_to(shell, tissue.shape)] = T.TABLE
        tissue[in_body] = T.SKIN
        tissue[in_skin] = T.FAT_SUBCUT
        tissue[in_fat] = T.MUSCLE
        above = z >= dome
        diaphragm = (z >= dome - DIAPHRAGM_MM) & ~above
        tissue[cavity & ~above] = T.FAT_VISCERAL
        tissue[cavity & diaphragm] = T.MUSCLE
        tissue[cavity & above] = T.LUNG
        # Its own fat class: abdominal organs (painted into visceral fat) must stop at the diaphragm.
        tissue[cavity & above & _mediastinum(x2, y2, z - dome)] = T.PERICARDIAL_FAT
        canvas.tissue[z0:z0 + len(zs)] = tissue
        canvas.label[z0:z0 + len(zs)] = np.where(in_body, np.uint8(Label.BODY), np.uint8(0))


def _mediastinum(x: np.ndarray, y: np.ndarray, height: np.ndarray) -> np.ndarray:
    """The fat between the lungs: a rounded, pear-shaped column in front of the spine that rests on the
    diaphragm (no lung under it) and narrows towards the dome's edge, so no straight edge shows."""
    # Half-width 18 mm where it meets the dome, 32 mm from 12 mm above it, a little wider in front.
    rise = np.clip(height / 12.0, 0.0, 1.0)
    half_w = (18.0 + 14.0 * np.sqrt(rise)) * (1.0 + 0.1 * np.clip((-y - 20.0) / 60.0, 0.0, 1.0))
    return ((x - 5.0) / half_w) ** 2 + ((y + 25.0) / 65.0) ** 2 < 1.0


def _paint_muscles(canvas: Canvas, rng: np.random.Generator, frame: Frame = IDENTITY) -> None:
    f, k = frame.p, frame.size
    for side in (-1, 1):
        psoas = Tube([f((side * 26, 44, 140)), f((side * 33, 40, 95)), f((side * 42, 36, 45)), f((side * 52, 30, 0)),
                      f((side * 60, 24, -60))], [(6 * k, 5 * k), (12 * k, 10 * k), (18 * k, 15 * k), (22 * k, 18 * k),
                                                 (22 * k, 18 * k)])
        paint_tube(canvas, psoas, T.MUSCLE, Label.BODY, only=(T.FAT_VISCERAL,))
        quadratus = Tube([f((side * 55, 72, 150)), f((side * 62, 72, 90)), f((side * 68, 70, 20)),
                          f((side * 75, 66, -20))], [(8 * k, 6 * k), (16 * k, 9 * k), (16 * k, 9 * k), (8 * k, 6 * k)])
        paint_tube(canvas, quadratus, T.MUSCLE, Label.BODY, only=(T.FAT_VISCERAL,))
        erector = Tube([f((side * 32, 86, -80)), f((side * 34, 84, 100)), f((side * 30, 86, 230)),
                        f((side * 28, 90, 360))],
                       [(20 * k, 17 * k), (22 * k, 19 * k), (19 * k, 17 * k), (17 * k, 15 * k)],
                       ref=(1, 0, 0))
        paint_tube(canvas, erector, T.MUSCLE, Label.BODY, protect=(T.AIR, T.SKIN))


# -- bones -------------------------------------------------------------------------------------
def _paint_spine(canvas: Canvas, frame: Frame = IDENTITY) -> None:
    for zt, ht in vertebra_levels():
        lat, ap = (float(v) * frame.size for v in spine_axes(zt))
        yc = float(spine_y(zt)) * frame.sy
        gap = float(np.interp(zt, [-60, 130, 330], [10, 8, 5])) * frame.sz
        zc, h = frame.z(zt), ht * frame.sz
        sl = canvas.box((-60, yc - ap - 2, zc - h / 2 - gap), (60, yc + ap + 60, zc + h / 2 + 1))
        if sl is None:
            continue
        x, y, z = canvas.grids(sl)
        r = np.sqrt((x / lat) ** 2 + ((y - yc) / ap) ** 2)
        waist = 1 - 0.06 * np.cos(np.pi * (z - zc) / h) ** 2  # concave waist of the body
        dz = np.abs(z - zc)
        in_body = (r < waist) & (dz < h / 2)
        shell = in_body & ((r > waist - 2.0 / lat) | (dz > h / 2 - 1.6))
        disc = (r < waist * 0.98) & (z < zc - h / 2) & (z >= zc - h / 2 - gap)
        canvas.paint(sl, disc, T.DISC, Label.BODY)
        canvas.paint(sl, in_body, T.BONE_MARROW, Label.SPINE)
        canvas.paint(sl, shell, T.BONE_CORTEX, Label.SPINE)
        # Posterior arch: pedicles + laminae around the canal, spinous and transverse processes.
        canal_y = yc + ap + 9.0
        rc = np.sqrt(x**2 + (y - canal_y) ** 2)
        level = dz < h / 2 - 1
        arch = level & (rc < 16.0) & (rc >= 9.5) & (y > yc + ap - 3)
        lumbar = zt < 140  # lumbar vertebrae: flatter spinous and longer transverse processes
        slope = 0.15 if lumbar else 0.55
        depth = y - canal_y
        spinous = (np.abs(x) < 3.5 - 0.04 * depth) & (depth > 9) & (depth < 30) & \
            (np.abs(z - (zc - slope * depth)) < h * 0.3)
        tp_len = (46.0 if lumbar else 30.0) * frame.size
        tp_y = canal_y + (-2 if lumbar else 6)
        transverse = (np.abs(z - zc) < 4.5) & (np.abs(y - tp_y) < 3.5 - 1.5 * np.abs(x) / tp_len) & \
            (np.abs(x) > 8) & (np.abs(x) < tp_len)
        canvas.paint(sl, arch | spinous | transverse, T.BONE_ARCH, Label.SPINE)
        canal = (rc < 9.5) & (dz < h / 2 + gap)
        canvas.paint(sl, canal, T.CSF, Label.BODY)
        if zt > 135:
            canvas.paint(sl, (np.sqrt((x / 5.0) ** 2 + ((y - canal_y) / 4.0) ** 2) < 1) & canal, T.CORD, Label.BODY)


def _paint_ribs(canvas: Canvas, body: Body, frame: Frame = IDENTITY) -> None:
    levels = [lv for lv in vertebra_levels() if lv[0] > 140]
    for k, (zt, _) in enumerate(levels[:8]):
        # T12 and T11 ribs are short (floating); higher ribs reach the costal cartilage in front.
        end = [0.36, 0.5, 0.78, 0.84, 0.9, 0.94, 0.97, 0.98][k]
        drop = [35, 50, 75, 80, 85, 85, 85, 85][k]
        zc = frame.z(zt)
        for side in (-1, 1):
            yc = float(spine_y(zt)) * frame.sy
            ctrl = [(side * 16 * frame.size, yc + 14, zc)]
            for phi in np.linspace(0.12, end, 8) * np.pi:
                z = zc - drop * frame.sz * (phi / np.pi) ** 1.4
                a, b = body.axes(z)
                a_in = a - 2 - 26 * body.fat - 5
                b_in = (b - 2 - (14 if np.cos(phi) > 0 else 24) * body.fat - 5)
                ctrl.append((side * a_in * np.sin(phi) ** 0.85,
                             np.sign(np.cos(phi)) * b_in * abs(np.cos(phi)) ** 0.87, z))
            tube = Tube(ctrl, [(4, 3)] + [(6.5, 3.8)] * 8, ref=(0, 0, 1))
            # Fraction of the rib's length beyond which it is costal cartilage (anterior ends).
            cart_frac = (0.72 - 0.12) / (end - 0.12) if end > 0.72 else np.inf
            for sl, f in tube.chunks(canvas, pad=1.0):
                is_cart = (f.s / tube.length) > cart_frac
                bone = (f.rho < 1) & ~is_cart
                canvas.paint(sl, bone, T.BONE_CORTEX, Label.BODY, protect=(T.AIR,))
                canvas.paint(sl, bone & (f.rho < 0.55), T.BONE_MARROW, Label.BODY, protect=(T.AIR,))
                canvas.paint(sl, (f.rho < 0.9) & is_cart, T.CARTILAGE, Label.BODY, protect=(T.AIR,))


# -- solid organs --------------------------------------------------------------------------------
def _paint_organs(canvas: Canvas, rng: np.random.Generator) -> None:
    ls = rng.uniform(0.93, 1.07)
    bumps = SmoothNoise(rng, (40, 90))
    liver_parts = [
        Blob.make((-66, 2, 182), np.array([80, 90, 68]) * ls, rotation(10, 8, 0), bumps, 0.05),
        Blob.make((4, -48, 192), np.array([62, 36, 30]) * ls, rotation(-12, -10, 0), bumps, 0.06),
        Blob.make((-8, 12, 184), np.array([20, 18, 30]) * ls, None, bumps, 0.05),
    ]
    for blob in liver_parts:
        paint_blob(canvas, blob, T.LIVER, Label.LIVER, only=(T.FAT_VISCERAL,))
    gb = Blob.make((-48, -56, 136), (14, 15, 34), rotation(0, 0, -35), bumps, 0.04)
    paint_blob(canvas, gb, T.GALLBLADDER, Label.BODY, only=(T.LIVER, T.FAT_VISCERAL))

    spleen = Blob.make((88, 52, 178), (22, 55, 45), rotation(-38, 0, 0), bumps, 0.05)
    paint_blob(canvas, spleen, T.SPLEEN, Label.BODY, only=(T.FAT_VISCERAL,))
    paint_blob(canvas, Blob.make((55, 25, 175), (34, 34, 40)), T.FAT_VISCERAL, Label.BODY, only=(T.SPLEEN,))

    for side, zc in ((-1, 76 + rng.uniform(-5, 5)), (1, 92 + rng.uniform(-5, 5))):
        centre = np.array([side * 70 + rng.uniform(-4, 4), 50, zc])
        lateral = np.array([side * np.cos(np.radians(32)), np.sin(np.radians(32)), 0])
        cc = np.array([-side * np.sin(np.radians(12)), 0, 1.0])
        cc -= (cc @ lateral) * lateral
        cc /= np.linalg.norm(cc)
        rot = np.stack([lateral, np.cross(cc, lateral), cc], axis=1)
        axes = np.array([26.0, 22.0, 52.0])
        paint_kidney(canvas, centre, axes, rot, bumps, Label.KIDNEY_RIGHT if side < 0 else Label.KIDNEY_LEFT)

    pancreas = Tube([(-36, -20, 104), (-8, -40, 120), (28, -27, 132), (64, 14, 148)], [13, 10, 10, 8])
    for sl, f in pancreas.chunks(canvas, pad=2.0):
        lobules = f.rho * (1 + 0.08 * bumps(canvas.points(sl)))
        canvas.paint(sl, lobules < 1, T.PANCREAS, Label.BODY, only=(T.FAT_VISCERAL,))

    stomach = Blob.make((50, -44, 184), (42, 32, 48), rotation(20, -20, 0), bumps, 0.05)
    paint_stomach(canvas, stomach)


def paint_kidney(canvas: Canvas, centre: np.ndarray, axes: np.ndarray, rot: np.ndarray, bumps: SmoothNoise,
                 label: Label) -> None:
    """A kidney: cortex, medullary pyramids, sinus fat and hilum on its medial side (local -x), pelvis.
    ``rot`` columns: lateral, AP and craniocaudal axes; ``axes``: the half-sizes along them."""
    kidney = Blob.make(centre, axes, rot, bumps, 0.02)
    lo, hi = kidney.bounds(pad=4)
    sl = canvas.box(lo, hi)
    if sl is None:
        return
    pts = canvas.points(sl)
    f = kidney.field(pts)
    local = (pts - centre.astype(np.float32)) @ rot.astype(np.float32) / axes.astype(np.float32)
    ang = np.arctan2(local[..., 2], local[..., 1])
    pyramids = (f < 0.74) & (np.cos(7 * ang) > -0.35)
    sinus = (local[..., 0] < -0.45) & (f < 0.8) & (np.abs(local[..., 2]) < 0.45)
    hilum = (local[..., 0] < -0.7) & (f < 1.08) & (np.abs(local[..., 2]) < 0.22) & (np.abs(local[..., 1]) < 0.35)
    pelvis = (local[..., 0] < -0.6) & (f < 0.9) & (np.abs(local[..., 2]) < 0.18)
    allowed = (T.FAT_VISCERAL, T.LIVER, T.SPLEEN)
    canvas.paint(sl, f < 1, T.KIDNEY_CORTEX, label, only=allowed)
    kid = (T.KIDNEY_CORTEX,)
    canvas.paint(sl, pyramids, T.KIDNEY_MEDULLA, label, only=kid)
    canvas.paint(sl, sinus | hilum, T.RENAL_SINUS, Label.BODY, only=(*kid, T.KIDNEY_MEDULLA, *allowed))
    canvas.paint(sl, pelvis, T.URINE, Label.BODY, only=(T.RENAL_SINUS,))


def paint_stomach(canvas: Canvas, stomach: Blob) -> None:
    """The stomach: wall, fluid, and gas on top (anterior: the patient lies supine)."""
    paint_blob(canvas, stomach, T.BOWEL_WALL, Label.BODY, only=(T.FAT_VISCERAL,))
    lo, hi = stomach.bounds()
    sl = canvas.box(lo, hi)
    if sl is None:
        return
    f = stomach.field(canvas.points(sl))
    _, y, _ = canvas.grids(sl)
    lumen = (f < 0.88) & (canvas.tissue[sl] == T.BOWEL_WALL)
    canvas.paint(sl, lumen, T.BOWEL_FLUID, Label.BODY)
    canvas.paint(sl, lumen & (y < stomach.center[1] - 10), T.GAS, Label.BODY)


def _paint_heart(canvas: Canvas) -> None:
    rot = rotation(-28, 18, 0)
    heart = Blob.make((18, -36, 270), (68, 52, 50), rot)
    into = (T.LUNG, T.FAT_VISCERAL, T.MUSCLE)
    paint_blob(canvas, Blob.make(heart.center, heart.axes + 4, rot), T.PERICARDIAL_FAT, Label.BODY, only=into)
    paint_blob(canvas, heart, T.MYOCARDIUM, Label.BODY, only=(*into, T.PERICARDIAL_FAT))
    for centre, axes in (((8, -64, 260), (34, 15, 30)), ((44, -34, 262), (22, 22, 32)), ((6, 6, 288), (30, 18, 20))):
        paint_blob(canvas, Blob.make(centre, axes, rot), T.BLOOD_HEART, Label.BODY, only=(T.MYOCARDIUM,))


# -- vessels ---------------------------------------------------------------------------------------
def _paint_vessels(canvas: Canvas, rng: np.random.Generator) -> Anatomy:
    j = rng.uniform(-3, 3, size=3)
    protect = _BONES
    wall = {"wall_tissue": T.VESSEL_WALL, "wall_label": Label.BODY}

    aorta = Tube([(8, 18, 25), (10, 14, 60), (9, 12, 113), (8, 17, 160), (12, 28, 215), (20, 34, 260),
                  (23, 36, 330)], [9.5, 10.5, 11, 11, 11.5, 12.5, 12.5])
    paint_tube(canvas, aorta, T.AORTA, Label.AORTA, wall_mm=1.5, protect=protect, **wall)
    arteries = [
        ([(8, 18, 25), (-10, 4, 2), (-30, 8, -25), (-45, 14, -60)], [5.5, 5.5, 5, 5]),     # right common iliac
        ([(8, 18, 25), (22, 14, 2), (35, 17, -25), (47, 20, -60)], [5.5, 5.5, 5, 5]),      # left common iliac
        ([(9, 8, 138), (8, -14, 126), (6, -24, 100), (2, -32, 60), (-5, -45, 5)], [3.6, 3.6, 3.3, 3, 2.5]),  # SMA
        ([(8, 14, 104), (-20, 24, 96), (-48, 38, 80)], [2.8, 2.8, 2.5]),                    # right renal artery
        ([(10, 14, 106), (30, 26, 100), (48, 38, 94)], [2.8, 2.8, 2.5]),                    # left renal artery
        ([(9, 6, 150), (10, -10, 156), (-10, -20, 160), (-30, -22, 158)], [3.2, 3, 2.5, 2.2]),  # coeliac/hepatic
    ]
    for ctrl, radii in arteries:
        paint_tube(canvas, Tube(ctrl, radii), T.ARTERY, Label.BODY, protect=protect)

    portal = [
        ([(-12, -48, 5), (-10, -34, 60), (-8, -28, 100), (-2, -22, 118)], [4.5, 5, 5.5, 6]),    # SMV
        ([(72, 30, 150), (45, 6, 136), (15, -14, 126), (-2, -22, 118)], [4.5, 4.5, 5, 5]),      # splenic vein
        ([(-2, -22, 118), (-18, -25, 135), (-32, -22, 150)], [7, 7, 6.5]),                       # main portal vein
        ([(-32, -22, 150), (-60, -15, 160), (-92, -10, 166)], [5.5, 4.5, 3]),                   # right branch
        ([(-32, -22, 150), (-15, -40, 162), (10, -50, 172)], [5, 4, 3]),                        # left branch
    ]
    for ctrl, radii in portal:
        paint_tube(canvas, Tube(ctrl, radii), T.PORTAL, Label.PORTAL_VEIN, protect=protect)

    ivc = Tube([(-18 + j[0], 20, 0), (-21 + j[0], 14, 40), (-24 + j[1], 7, 80), (-25 + j[1], 4, 105),
                (-25, 2, 130), (-24, -2, 160), (-21, -7, 190), (-19, -11, 214), (-21, -15, 238),
                (-26, -19, 255), (-30, -22, 268)],
               [(10.5, 7.5), (11, 7.5), (11.5, 8), (12.5, 8.5), (12.5, 8.5), (12.5, 8.5), (13, 8.5),
                (13, 9), (13.5, 9), (13.5, 9), (13.5, 9)])
    veins: dict[str, Tube] = {}
    iliac = {"iliac_right": [(ivc.points[0][0], 20, 0), (-30, 27, -25), (-44, 33, -60)],
             "iliac_left": [(ivc.points[0][0], 20, 0), (0, 25, -12), (24, 32, -30), (44, 36, -60)]}
    for name, ctrl in iliac.items():
        veins[name] = Tube(ctrl, [(8.5, 7)] * len(ctrl), ref=(0, 1, 0))
        lab = Label.ILIAC_VEIN_RIGHT if name.endswith("right") else Label.ILIAC_VEIN_LEFT
        paint_tube(canvas, veins[name], T.IVC_BLOOD_LOW, lab, protect=protect, record=name)

    def on_ivc(z: float) -> np.ndarray:
        return ivc.points[int(np.argmin(np.abs(ivc.points[:, 2] - z)))]

    rr = 97 + j[2]
    lr = rr + 15 + rng.uniform(-3, 3)
    renal = {
        "rv_right": ([on_ivc(rr), (-35, 18, rr - 6), (-46, 32, 84)], [6, 5.5, 5]),
        "rv_left": ([on_ivc(lr), (-2, -4, lr - 1), (12, -6, lr - 3), (32, 10, lr - 7), (46, 30, 100)],
                    [5.5, 4.5, 4, 5, 5]),
    }
    hepatic = {
        "hv_right": ([on_ivc(211), (-44, -8, 205), (-80, -6, 186), (-112, -4, 160)], [6.5, 5.5, 4, 2.5]),
        "hv_middle": ([on_ivc(216), (-26, -36, 208), (-36, -60, 186), (-40, -76, 160)], [5.5, 4.5, 3.5, 2.2]),
        "hv_left": ([on_ivc(218), (-4, -34, 214), (14, -50, 204), (34, -60, 194)], [5.5, 4.5, 3.5, 2.2]),
    }
    labels = {"rv_right": Label.RENAL_VEIN_RIGHT, "rv_left": Label.RENAL_VEIN_LEFT,
              "hv_right": Label.HEPATIC_VEIN_RIGHT, "hv_middle": Label.HEPATIC_VEIN_MIDDLE,
              "hv_left": Label.HEPATIC_VEIN_LEFT}
    for name, (ctrl, radii) in {**renal, **hepatic}.items():
        veins[name] = Tube(ctrl, radii)
        tissue = T.RENAL_VEIN if name.startswith("rv") else T.HEPATIC_VEIN
        paint_tube(canvas, veins[name], tissue, labels[name], protect=protect, record=name)

    paint_tube(canvas, ivc, T.IVC_BLOOD, Label.IVC_LUMEN, protect=protect, record="ivc")
    s_renal = float(ivc.project(veins["rv_right"].points[0][None])[0])
    paint_tube(canvas, ivc, T.IVC_BLOOD_LOW, Label.IVC_LUMEN, only=(T.IVC_BLOOD,), s_range=(0, s_renal - 6))
    ra = Blob.make((-30, -22, 256), (26, 24, 30), rotation(-28, 18, 0))
    paint_blob(canvas, ra, T.BLOOD_HEART, Label.RIGHT_ATRIUM, protect=protect, record="ra")
    paint_blob(canvas, ra, T.MYOCARDIUM, Label.BODY, shell=0.1, inner=1.0,
               only=(T.LUNG, T.FAT_VISCERAL, T.PERICARDIAL_FAT))

    esophagus = Tube([(8, 26, 330), (10, 18, 262), (20, 2, 218), (34, -18, 196)], [(8, 5)] * 4)
    paint_tube(canvas, esophagus, T.ESOPHAGUS, Label.BODY,
               only=(T.LUNG, T.FAT_VISCERAL, T.PERICARDIAL_FAT, T.MUSCLE))

    nominal = {
        "iliac_confluence": 0.0,
        "renal_veins": float(ivc.project(veins["rv_left"].points[0][None])[0]) + 5.0,
        "hepatic_veins": float(ivc.project(veins["hv_right"].points[0][None])[0]),
        "cavoatrial_junction": float(ivc.project(np.array([[-22, -16, 230]]))[0]),
    }
    return Anatomy(ivc=ivc, veins=veins, nominal_s=nominal)


def _paint_lung_vessels(canvas: Canvas, rng: np.random.Generator, z_top: float = 300.0) -> None:
    for side in (-1, 1):
        for _ in range(14):
            pos = np.array([side * 50.0, rng.uniform(-10, 20), z_top])
            ctrl = [pos.copy()]
            heading = np.array([side * rng.uniform(0.3, 1.0), rng.uniform(-0.6, 0.8), -rng.uniform(0.5, 1.2)])
            for _ in range(4):
                heading = heading / np.linalg.norm(heading) + rng.normal(0, 0.25, 3)
                pos = pos + 22 * heading / np.linalg.norm(heading)
                ctrl.append(pos.copy())
            paint_tube(canvas, Tube(ctrl, np.linspace(3.5, 1.0, len(ctrl))), T.LUNG_VESSEL, Label.BODY,
                       only=(T.LUNG,))


# -- bowel -----------------------------------------------------------------------------------------
def paint_bowel(canvas: Canvas, rng: np.random.Generator, frame: Frame = IDENTITY) -> None:
    """Bowel loops (gas, content, wall) in the free visceral fat; call after the lesion."""
    only = (T.FAT_VISCERAL,)
    f = frame.p
    gas_noise = SmoothNoise(rng, (12, 30))
    duodenum = Tube([f(p) for p in ((-50, -32, 142), (-56, -20, 110), (-48, -14, 80), (-25, -15, 71), (0, -14, 69),
                                    (25, -13, 75), (32, -16, 96), (24, -26, 110))], [10] * 8)
    colon = Tube([f(p) for p in ((-85, -12, -25), (-96, 4, 40), (-94, -2, 110), (-78, -42, 126), (-40, -76, 114),
                                 (0, -82, 104), (42, -76, 116), (86, -30, 152), (100, 16, 110), (100, 20, 40),
                                 (84, 8, -22), (40, -30, -48))], [24, 22, 21, 20, 19, 19, 19, 18, 16, 16, 15, 14])
    loops = [duodenum]
    for _ in range(7):
        pos = np.array([rng.uniform(-60, 60), rng.uniform(-80, -20), rng.uniform(-30, 90)])
        ctrl = [f(pos)]
        for _ in range(7):
            step = rng.normal(0, 1, 3)
            pos = np.clip(pos + 24 * step / np.linalg.norm(step), [-75, -95, -40], [75, 10, 100])
            ctrl.append(f(pos))
        loops.append(Tube(ctrl, [rng.uniform(10, 13)] * len(ctrl)))
    for tube, contents in [(t, T.BOWEL_FLUID) for t in loops] + [(colon, T.STOOL)]:
        for sl, f in tube.chunks(canvas, pad=3.0):
            r_ref = float(np.mean(tube.a))
            outer = f.rho < 1 + 2.5 / r_ref
            canvas.paint(sl, outer & (f.rho >= 1), T.BOWEL_WALL, Label.BODY, only=only)
            lumen = f.rho < 1
            canvas.paint(sl, lumen, contents, Label.BODY, only=only)
            pts = canvas.points(sl)
            # Gas rises to the front (non-dependent) part of the lumen, in pockets.
            _, idx_y, _ = canvas.grids(sl)
            front = (idx_y - tube.points[f.index, 1]) < -0.45 * tube.a[f.index]
            noise = gas_noise(pts)
            gas = lumen & ((noise > (0.2 if contents == T.STOOL else 0.9)) | (front & (noise > 0.6)))
            canvas.paint(sl, gas, T.GAS, Label.BODY, only=(contents,))
