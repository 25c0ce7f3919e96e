"""IVC lesions: a leiomyosarcoma (expanding, enhancing, necrotic) and a bland thrombus.

Both are shaped in the IVC's own frame: arc length ``s`` along its centreline and the
cross-section angle (0 = patient left, 90 = posterior, 180 = right, 270 = anterior).
"""

from __future__ import annotations

import numpy as np

from ivcplan.errors import InputError
from ivcplan.labels import Label
from ivcplan.phantom.anatomy import Anatomy
from ivcplan.phantom.config import ThrombusSpec, TumorSpec, parse_position
from ivcplan.phantom.shapes import Canvas, SmoothNoise
from ivcplan.phantom.tissues import IVC_BLOOD_CLASSES, TUMOR_PROTECTED, T

#: Exponent of the craniocaudal profile (2 = ellipsoid; larger = blunter, sausage-like).
TUMOR_PROFILE_EXP = 2.4
THROMBUS_PROFILE_EXP = 4.0
#: Invaded veins are filled with tumor slightly wider than their lumen (mm of the vein radius).
INVASION_WIDTH = 1.25
#: The tumor never grows into these tissues besides the generic protected set.
_TUMOR_PROTECT = (*TUMOR_PROTECTED, T.LUNG, T.GAS)


def resolve(position: str | float, nominal: dict[str, float], argument: str) -> float:
    """Arc length (mm from the iliac confluence) of a lesion extent."""
    name, offset = parse_position(position, argument)
    return offset if name is None else nominal[name] + offset


def _extent(spec: TumorSpec | ThrombusSpec, anatomy: Anatomy, what: str) -> tuple[float, float]:
    lo = resolve(spec.lower, anatomy.nominal_s, f"{what}.lower")
    hi = resolve(spec.upper, anatomy.nominal_s, f"{what}.upper")
    if hi - lo < 5:
        raise InputError(f"{what}: upper ({spec.upper!r} = {hi:.0f} mm) must be at least 5 mm above "
                         f"lower ({spec.lower!r} = {lo:.0f} mm)")
    if lo < -20 or hi > anatomy.ivc.length + 25:
        raise InputError(f"{what}: extent {lo:.0f}..{hi:.0f} mm lies outside the IVC "
                         f"(0..{anatomy.ivc.length:.0f} mm from the iliac confluence)")
    return lo, hi


def _profile(s: np.ndarray, lo: float, hi: float, exponent: float) -> np.ndarray:
    u = np.clip(np.abs((s - 0.5 * (lo + hi)) / (0.5 * (hi - lo))), 0, 1)
    return (1 - u**exponent) ** (1 / exponent)


def _ellipse_radius(a: float | np.ndarray, b: float | np.ndarray, angle: float) -> np.ndarray:
    return 1.0 / np.sqrt((np.cos(angle) / a) ** 2 + (np.sin(angle) / b) ** 2)


def paint_tumor(canvas: Canvas, anatomy: Anatomy, spec: TumorSpec, rng: np.random.Generator, *,
                calcification: float = 0.0, protect_extra: tuple[int, ...] = (),
                invasion_width: float = INVASION_WIDTH, polyline_mm: float | None = None) -> dict:
    """Paint the tumor; ``calcification`` (0..1): share of the viable tumor turned into calcified clumps;
    ``protect_extra``: tissues the mass body displaces (the invasion step still fills invaded veins);
    ``invasion_width``: an invaded vein is filled to this multiple of its radius; ``polyline_mm``: see
    `Tube.chunks` (coarser is faster for wide masses)."""
    ivc = anatomy.ivc
    lo, hi = _extent(spec, anatomy, "tumor")
    big_a, big_b = spec.transverse_mm / 2, spec.ap_mm / 2
    th0 = np.radians(spec.direction_deg)
    shape_noise = SmoothNoise(rng, (14, 40), waves=9)
    core_noise = SmoothNoise(rng, (8, 25), waves=7)
    # Clumps: the top share of a fine random field (about `calcification` of the tumor's voxels).
    calc_noise = SmoothNoise(rng, (4, 10), waves=9) if calcification > 0 else None
    calc_level = float(np.sqrt(2.0) * _erfinv(1.0 - 2.0 * calcification)) if calcification > 0 else np.inf
    pad = 2 * max(big_a, big_b) + 10
    for sl, f in ivc.chunks(canvas, pad=pad, s_range=(lo - 2, hi + 2), polyline_mm=polyline_mm):
        p = _profile(f.s, lo, hi, TUMOR_PROFILE_EXP)
        a_ivc, b_ivc = ivc.a[f.index], ivc.b[f.index]
        mass_a, mass_b = np.maximum(big_a * p, 1e-3), np.maximum(big_b * p, 1e-3)
        r_opp_mass = _ellipse_radius(mass_a, mass_b, th0 + np.pi)
        r_opp_ivc = _ellipse_radius(a_ivc, b_ivc, th0 + np.pi)
        r_dir_mass = _ellipse_radius(mass_a, mass_b, th0)
        r_dir_ivc = _ellipse_radius(a_ivc, b_ivc, th0)
        # Offset of the mass centre towards its bulge: leaves a residual-lumen crescent of the
        # requested width on the opposite wall, and keeps small sections attached to the wall.
        offset = np.maximum(r_opp_mass - r_opp_ivc + spec.residual_lumen_mm, r_dir_ivc - r_dir_mass)
        theta = np.radians(f.theta)
        v1 = f.radial_mm * np.cos(theta) - offset * np.cos(th0)
        v2 = f.radial_mm * np.sin(theta) - offset * np.sin(th0)
        pts = canvas.points(sl)
        q = np.sqrt((v1 / mass_a) ** 2 + (v2 / mass_b) ** 2) / (1 + spec.irregularity * shape_noise(pts))
        inside = (q < 1) & (p > 0) & (f.s >= lo) & (f.s <= hi)
        if spec.residual_lumen_mm == 0:  # complete occlusion: no lumen left along the mass
            inside |= (f.rho < 1.02) & (p > 0.3) & (f.s < anatomy.nominal_s["cavoatrial_junction"])
        else:  # the residual lumen: a crescent of the requested width along the opposite wall
            along_opp = f.radial_mm * np.cos(theta - th0 - np.pi)
            inside &= ~((f.rho < 1) & (along_opp > r_opp_ivc - spec.residual_lumen_mm))
        canvas.paint(sl, inside, T.TUMOR, Label.IVC_TUMOR, protect=(*_TUMOR_PROTECT, *protect_extra), record="tumor")
        necrotic = inside & (q < spec.necrosis * (1 + 0.35 * core_noise(pts))) & (p > 0.45)
        canvas.paint(sl, necrotic, T.NECROSIS, Label.IVC_TUMOR, only=(T.TUMOR,))
        if calc_noise is not None:
            canvas.paint(sl, inside & (calc_noise(pts) > calc_level), T.CALCIFICATION, Label.IVC_TUMOR,
                         only=(T.TUMOR, T.NECROSIS))
    for names, prefix in ((spec.hepatic_veins_invaded, "hv_"), (spec.renal_veins_invaded, "rv_")):
        for name in names:
            vein = anatomy.veins[prefix + name]
            reach = float(np.max(ivc.a)) + spec.invasion_mm
            for sl, f in vein.chunks(canvas, pad=3.0, s_range=(0, reach)):
                fill = (f.rho < invasion_width) & (f.s <= reach)
                canvas.paint(sl, fill, T.TUMOR, Label.IVC_TUMOR, protect=_TUMOR_PROTECT, record="tumor")
    return {"s_lower_mm": lo, "s_upper_mm": hi}


def paint_thrombus(canvas: Canvas, anatomy: Anatomy, spec: ThrombusSpec, rng: np.random.Generator) -> dict:
    ivc = anatomy.ivc
    lo, hi = _extent(spec, anatomy, "thrombus")
    th0 = np.radians(spec.direction_deg)
    for sl, f in ivc.chunks(canvas, pad=2.0, s_range=(lo - 2, hi + 2)):
        p = _profile(f.s, lo, hi, THROMBUS_PROFILE_EXP)
        theta = np.radians(f.theta)
        r_dir = _ellipse_radius(ivc.a[f.index], ivc.b[f.index], th0)
        along = f.radial_mm * np.cos(theta - th0) / r_dir
        inside = (f.rho < 1) & (p > 0) & (along > 1 - 2 * spec.occlusion * p) & (f.s >= lo) & (f.s <= hi)
        canvas.paint(sl, inside, T.THROMBUS, Label.IVC_THROMBUS, only=IVC_BLOOD_CLASSES)
    return {"s_lower_mm": lo, "s_upper_mm": hi}


def _erfinv(y: float) -> float:
    """Inverse error function (scipy's), for the share of a unit-variance field above a level."""
    from scipy.special import erfinv

    return float(erfinv(y))
