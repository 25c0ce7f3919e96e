"""`generate_random(seed) -> PhantomCase`: a randomized case (anatomy, enhancement, imaging, field of
view and lesion drawn by `random_params.draw`), with truth computed from its masks.

Streams: the parameters come from ``default_rng([seed, 18])``; textures and small details (surface
bumps, vein tributaries, bowel loops, lung vessels) from ``[seed, 18, 1]``, the lesion's shape from
``[seed, 18, 2]``, image noise from ``[seed, 18, 3]``. All are PCG64: the same seed gives the same
parameters everywhere and the same voxels with the same numpy build.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import numpy as np

from ivcplan.errors import InputError
from ivcplan.labels import Label
from ivcplan.phantom import imaging, lesion, truth, varied
from ivcplan.phantom.anatomy import DIAPHRAGM_MM, Anatomy, Body, paint_bowel
from ivcplan.phantom.config import PhantomConfig, ThrombusSpec, TumorSpec
from ivcplan.phantom.generate import HFS_DIRECTION, PhantomCase, _feet_first, case_uids
from ivcplan.phantom.random_params import Enhancement, RandomParams, draw
from ivcplan.phantom.shapes import Canvas
from ivcplan.phantom.tissues import T, lut
from ivcplan.progress import ProgressCallback, no_progress
from ivcplan.volume import Grid, Labelmap, Volume

log = logging.getLogger(__name__)

#: A crop edge stays this far from any landmark's own extent (mm): each landmark is then clearly in
#: the field of view or clearly out of it (a half-seen confluence has no well-defined truth).
CROP_CLEARANCE_MM = 12.0
#: Invaded veins are filled to this multiple of their radius (the template's 1.25 spills into a
#: neighbouring vein whose ostium lies next to the invaded one).
RANDOM_INVASION_WIDTH = 1.05
#: The tumor's nearest-point search uses chords of this share of its width (wide masses, long chords).
TUMOR_POLYLINE_SHARE = 0.25
#: Shortest field of view (mm).
MIN_FOV_MM = 120.0
#: The lesion lies at least this far inside the field of view (mm): scans of a tumor cover it.
LESION_IN_VIEW_MM = 15.0
#: Largest internal craniocaudal step of a random case (mm); the template's is 1.5 mm.
RANDOM_DZ_MAX_MM = 2.0
#: Radius of the scanner's scan field of view (mm): a 50 cm bore-limited SFOV.
SCAN_FOV_RADIUS_MM = 250.0
#: Image centre height above the body centre before the table offset (mm), as the template's.
FOV_Y_SHIFT_MM = 8.0
#: Noise grain (Gaussian sigma, pixels) = base + per PSF-FWHM-in-pixels: sharp kernels give fine grain
#: (the template's 1.1 mm PSF on 1.5 mm pixels gives its 0.6 px).
GRAIN_BASE_PX, GRAIN_PER_BLUR = 0.3, 0.4
#: Truth landmark groups: ostium landmark -> main vein record, then accessory veins of that side.
VEINS: dict[str, tuple[str, ...]] = {
    "renal_vein_right": ("rv_right", "rv_right_2"), "renal_vein_left": ("rv_left", "rv_left_2"),
    "hepatic_vein_right": ("hv_right",), "hepatic_vein_middle": ("hv_middle",), "hepatic_vein_left": ("hv_left",)}
#: Veins whose ostia are reported besides the nine landmarks (none of them sets a segment boundary).
ACCESSORY = {"rv_right_2": "duplicated right renal vein", "rv_left_2": "retroaortic limb of the left renal vein",
             "hv_inferior_right": "inferior right hepatic vein"}


def case_tables(e: Enhancement) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-tissue (mean, coarse SD, fine SD) HU of a case's enhancement."""
    infra = e.infrarenal_hu
    over: dict[T, tuple[float, float, float]] = {
        T.AORTA: (e.aorta_hu, 3, 5), T.ARTERY: (e.aorta_hu, 3, 5), T.BLOOD_HEART: (e.aorta_hu, 4, 5),
        T.ATRIUM_BLOOD: (e.ivc_hu + e.atrium_mix * (e.aorta_hu - e.ivc_hu), 4, 5),
        T.IVC_BLOOD: (e.ivc_hu, 4, 5), T.IVC_BLOOD_LOW: (infra, 5, 5),
        T.IVC_MIX_1: (infra + 0.25 * (e.ivc_hu - infra), 5, 5), T.IVC_MIX_2: (infra + 0.5 * (e.ivc_hu - infra), 5, 5),
        T.IVC_MIX_3: (infra + 0.75 * (e.ivc_hu - infra), 5, 5),
        T.RENAL_VEIN: (min(e.ivc_hu + e.renal_vein_extra_hu, 300.0), 3, 5),
        T.IVC_JET: (min(e.ivc_hu + e.renal_vein_extra_hu, 300.0), 3, 5),
        T.SMALL_VEIN: (infra + 0.5 * (e.ivc_hu - infra), 5, 5),
        T.PORTAL: (e.portal_hu, 3, 5), T.HEPATIC_VEIN: (e.hepatic_vein_hu, 3, 5),
        T.LIVER: (e.liver_hu, 5, 6), T.SPLEEN: (e.liver_hu + e.spleen_dhu, 4, 6),
        T.KIDNEY_CORTEX: (e.kidney_cortex_hu, 8, 8), T.KIDNEY_MEDULLA: (e.kidney_cortex_hu - e.medulla_drop_hu, 8, 8),
        T.LUNG_VESSEL: (0.5 * (e.aorta_hu + e.ivc_hu) - 30.0, 10, 10),
        T.MYOCARDIUM: (40.0 + 0.4 * e.aorta_hu, 5, 7), T.PANCREAS: (45.0 + 0.3 * e.portal_hu, 10, 10),
        T.BOWEL_WALL: (50.0 + 0.3 * e.portal_hu, 8, 8),
        T.TUMOR: (e.tumor_hu, e.tumor_texture_hu, 10), T.NECROSIS: (e.necrosis_hu, 5, 6),
        T.CALCIFICATION: (e.calcification_hu, 120, 60), T.THROMBUS: (e.thrombus_hu, 4, 5),
    }
    return lut(over)


def _landmark_extents(lay: varied.Layout) -> list[tuple[float, float]]:
    """Height intervals (z) each landmark's truth is computed from, padded by the vein radius."""
    out = [(-12.0, 12.0)]  # the iliac veins meet the IVC around z = 0
    for z, _, r in lay.renal_ostia.values():
        out.append((z - r - 2.0, z + r + 2.0))
    hep = lay.params.hepatic
    for name, r in (("right", hep.right_radius_mm), ("middle", hep.middle_radius_mm), ("left", hep.left_radius_mm)):
        z = lay.levels[f"hepatic_{name}_z"]
        out.append((z - r - 2.0, z + r + 2.0))
    z = lay.levels["caj_nominal_z"]
    out.append((z - 8.0, z + 8.0))
    return out


def _clear_edge(edge: float, extents: list[tuple[float, float]], ok: Any) -> float:
    """``edge`` moved to the nearer height clear of every landmark extent (by CROP_CLEARANCE_MM) that
    ``ok(height)`` accepts; keeps moving in that direction past landmarks it runs into."""
    def walk(z: float, direction: float) -> float:
        for _ in range(len(extents) + 1):
            hit = [(lo, hi) for lo, hi in extents if lo - CROP_CLEARANCE_MM < z < hi + CROP_CLEARANCE_MM]
            if not hit:
                return z
            z = (min(lo for lo, _ in hit) - CROP_CLEARANCE_MM) if direction < 0 else \
                (max(hi for _, hi in hit) + CROP_CLEARANCE_MM)
        return z

    options = sorted((walk(edge, -1.0), walk(edge, 1.0)), key=lambda z: abs(z - edge))
    return next((z for z in options if ok(z)), options[0])


def field_of_view(params: RandomParams, lay: varied.Layout, lesion_z: tuple[float, float] | None
                  ) -> tuple[float, float]:
    """First and last slice heights of the case's field of view: the crop kind drawn, each edge moved to
    the nearer height where no landmark is half in view, the lesion always inside."""
    im = params.imaging
    caj = lay.levels["caj_nominal_z"]
    top = caj + im.top_margin_mm
    if im.crop == "kidneys_up":
        bottom = lay.derived["kidney_lower_pole_z"] - im.kidney_margin_mm
    elif im.crop == "crest_to_dome":
        bottom = im.crest_mm
        top = lay.levels["dome_right"] + im.dome_margin_mm
    else:
        bottom = -im.bottom_margin_mm
    low_limit, high_limit = np.inf, -np.inf
    if lesion_z is not None:
        low_limit, high_limit = lesion_z[0] - LESION_IN_VIEW_MM, lesion_z[1] + LESION_IN_VIEW_MM
        bottom, top = min(bottom, low_limit), max(top, high_limit)
    extents = _landmark_extents(lay)
    bottom = _clear_edge(bottom, extents, lambda z: z <= low_limit)
    top = _clear_edge(top, extents, lambda z: z >= high_limit and z > bottom + MIN_FOV_MM)
    return round(bottom, 2), round(top, 2)


def _in_plane(params: RandomParams, lay: varied.Layout, z0: float, z1: float, matrix: int
              ) -> tuple[float, np.ndarray, np.ndarray]:
    """(pixel mm, y centres, x centres): a square display FOV around the isocentre fitted to the body
    (its widest extent plus the drawn margin), as a technologist reconstructs it."""
    im = params.imaging
    cx, cy = im.table_x_mm, FOV_Y_SHIFT_MM + im.table_y_mm
    zs = np.linspace(z0, z1, 12)
    a, b = lay.body.axes(zs)
    back = float(np.interp(120.0, lay.body.zs, lay.body.half_d))
    theta = np.linspace(0, 2 * np.pi, 181)[:, None]
    c, s = np.abs(np.cos(theta)), np.abs(np.sin(theta))
    p = np.where(np.sin(theta) > 0, 3.4, 2.3)
    bb = np.where(np.sin(theta) > 0, back, b[None, :])
    r = 1.0 / ((c / a[None, :]) ** p + (s / bb) ** p) ** (1.0 / p)
    x, y = r * np.cos(theta), r * np.sin(theta)
    reach = float(max(np.max(np.abs(x - cx)), np.max(np.abs(y - cy))))
    fov = 2.0 * reach + im.fov_margin_mm
    pixel = round(fov / matrix, 4)
    half = (matrix - 1) / 2.0
    grid = (np.arange(matrix) - half) * pixel
    return pixel, grid + cy, grid + cx


def _tumor_spec(le: Any) -> TumorSpec:
    def pos(pair: tuple[str, float]) -> str:
        return f"{pair[0]}{pair[1]:+.1f}"

    return TumorSpec(lower=pos(le.lower), upper=pos(le.upper), transverse_mm=le.transverse_mm, ap_mm=le.ap_mm,
                     direction_deg=le.direction_deg, residual_lumen_mm=le.residual_lumen_mm,
                     irregularity=le.irregularity, necrosis=le.necrosis,
                     hepatic_veins_invaded=le.hepatic_veins_invaded, renal_veins_invaded=le.renal_veins_invaded,
                     invasion_mm=le.invasion_mm)


def generate_random(seed: int, *, matrix: int | None = None, slice_mm: float | None = None,
                    progress: ProgressCallback | None = None) -> PhantomCase:
    """The randomized case of ``seed``. ``matrix`` / ``slice_mm`` override the drawn in-plane matrix and
    slice spacing (thickness follows) for quick tests; the anatomy and field of view stay the same."""
    report = progress or no_progress
    params = draw(seed)
    im = params.imaging
    if matrix is not None and not 16 <= int(matrix) <= 512:
        raise InputError(f"matrix must be between 16 and 512 for a random case, got {matrix}")
    if slice_mm is not None and not slice_mm > 0:
        raise InputError(f"slice_mm must be positive, got {slice_mm}")
    m = int(matrix) if matrix is not None else im.matrix
    dz = float(slice_mm) if slice_mm is not None else im.slice_spacing_mm
    thickness = max(im.slice_thickness_mm, dz) if slice_mm is not None else im.slice_thickness_mm
    report("phantom: layout", 0.0)
    tex = np.random.default_rng([int(seed), 18, 1])
    lay = varied.layout(params, tex)
    tumor_spec = thrombus_spec = None
    below = None
    le = params.lesion
    if le.kind == "tumor":
        tumor_spec = _tumor_spec(le)
        if le.thrombus_below_mm:
            lo_name, lo_off = le.lower
            below = ThrombusSpec(lower=f"{lo_name}{lo_off - le.thrombus_below_mm:+.1f}",
                                 upper=f"{lo_name}{lo_off + 2.0:+.1f}", occlusion=float(le.occlusion or 0.8))
    elif le.kind == "thrombus":
        thrombus_spec = ThrombusSpec(lower=f"{le.lower[0]}{le.lower[1]:+.1f}", upper=f"{le.upper[0]}{le.upper[1]:+.1f}",
                                     occlusion=float(le.occlusion or 0.8))
    lesion_z = _lesion_heights(lay, [s for s in (tumor_spec, thrombus_spec, below) if s is not None])
    z0, z1 = field_of_view(params, lay, lesion_z)
    n_out = int(np.floor((z1 - z0) / dz + 1e-6)) + 1
    # Thin slices are painted at their own spacing; thick ones from sub-slices of at most
    # RANDOM_DZ_MAX_MM and at most half the thickness (the slice profile integrates them).
    step = max(1, int(np.ceil(dz / min(RANDOM_DZ_MAX_MM, thickness / 2.0) - 1e-6)))
    zc = z0 + np.arange((n_out - 1) * step + 1) * (dz / step)
    pixel, yc, xc = _in_plane(params, lay, z0, z1, m)
    canvas = Canvas(zc, yc, xc)
    report("phantom: anatomy", 0.1)
    anatomy = varied.paint(canvas, lay, tex)
    lesion_rng = np.random.default_rng([int(seed), 18, 2])
    lesion_info: dict[str, Any] = {}
    if tumor_spec is not None:
        # The mass displaces the veins it does not invade (invaded ones are filled by the invasion step).
        lesion_info = lesion.paint_tumor(canvas, anatomy, tumor_spec, lesion_rng, calcification=le.calcification,
                                         protect_extra=(T.HEPATIC_VEIN, T.RENAL_VEIN),
                                         invasion_width=RANDOM_INVASION_WIDTH,
                                         polyline_mm=max(3.0, TUMOR_POLYLINE_SHARE * tumor_spec.transverse_mm))
        if below is not None:
            extent = lesion.paint_thrombus(canvas, anatomy, below, lesion_rng)
            lesion_info.update({"thrombus_s_lower_mm": extent["s_lower_mm"],
                                "thrombus_s_upper_mm": extent["s_upper_mm"]})
    elif thrombus_spec is not None:
        lesion_info = lesion.paint_thrombus(canvas, anatomy, thrombus_spec, lesion_rng)
    paint_bowel(canvas, tex, lay.scaffold)
    report("phantom: image", 0.5)
    dz_fine = float(zc[1] - zc[0]) if len(zc) > 1 else dz
    grain = float(np.clip(GRAIN_BASE_PX + GRAIN_PER_BLUR * im.blur_mm / pixel, 0.3, 1.2))
    hu = imaging.render(canvas.tissue, (dz_fine, pixel, pixel), step, thickness_mm=thickness, blur_mm=im.blur_mm,
                        noise_hu=im.noise_hu, rng=np.random.default_rng([int(seed), 18, 3]),
                        tables=case_tables(params.enhancement), noise_grain_px=grain)
    labels = np.ascontiguousarray(canvas.label[::step])
    # Nothing is reconstructed outside the scanner's circular scan field around the isocentre.
    centre_y, centre_x = float(np.mean(yc)), float(np.mean(xc))
    outside_fov = ((xc[None, :] - centre_x) ** 2 + (yc[:, None] - centre_y) ** 2) > SCAN_FOV_RADIUS_MM**2
    hu[:, outside_fov] = imaging.HU_MIN
    labels[:, outside_fov] = 0
    grid = Grid(labels.shape, (dz, pixel, pixel), (xc[0], yc[0], zc[0]), HFS_DIRECTION)
    records = {name: canvas.record_mask(name)[::step] for name in ("ivc", "ra", *anatomy.veins)}
    calcified = np.count_nonzero(canvas.tissue[::step] == T.CALCIFICATION) * grid.voxel_volume_mm3 / 1000.0
    config = PhantomConfig(seed=int(seed), matrix=m, pixel_mm=pixel, slice_spacing_mm=dz, slice_thickness_mm=thickness,
                           z_range_mm=(float(z0), float(zc[-1])), noise_hu=im.noise_hu, blur_mm=im.blur_mm,
                           patient_position=im.patient_position, name=f"random{seed}",
                           series_description=f"Abdomen PV {thickness:.1f} (synthetic random phantom)",
                           extra={"generator": "random", "seed": int(seed),
                                  "overrides": {k: v for k, v in (("matrix", matrix), ("slice_mm", slice_mm))
                                                if v is not None}})
    meta = {**case_uids(config), "modality": "CT", "patient_position": im.patient_position,
            "series_description": config.series_description, "contrast_agent": "IOHEXOL",
            "slice_thickness_mm": thickness, "phantom": config.name}
    report("phantom: truth", 0.8)
    truth_labels = Labelmap(labels, grid)
    domes = lay.body.domes
    info = truth.compute_truth(truth_labels, records, anatomy.ivc, meta=meta, veins=VEINS,
                               diaphragm=lambda x, y: Body.diaphragm(x, y, domes) - DIAPHRAGM_MM)
    info = {"case": config.name, "seed": int(seed), "generator": "random", "config": asdict(config),
            "random_parameters": _plain(asdict(params)), "derived": _plain(lay.derived),
            "field_of_view": {"crop": im.crop, "z_range_mm": [round(float(z0), 2), round(float(zc[-1]), 2)],
                              "pixel_mm": pixel, "matrix": m, "slice_spacing_mm": dz, "slice_thickness_mm": thickness,
                              "noise_grain_px": round(grain, 3)},
            **info,
            "accessory_ostia": _accessory(grid, records, anatomy),
            "lesion": _lesion_truth(le.kind, lesion_info, truth_labels, records, calcified, below is not None)}
    volume = Volume(hu, grid, meta)
    if im.patient_position == "FFS":
        volume, truth_labels = _feet_first(volume), _feet_first(truth_labels)
    report("phantom: done", 1.0)
    return PhantomCase(volume, truth_labels, info, config)


def _lesion_heights(lay: varied.Layout, specs: list) -> tuple[float, float] | None:
    if not specs:
        return None
    anatomy = Anatomy(ivc=lay.ivc, nominal_s=lay.nominal_s)
    z = []
    for spec in specs:
        for value, what in ((spec.lower, "lower"), (spec.upper, "upper")):
            s = lesion.resolve(value, anatomy.nominal_s, what)
            z.append(float(lay.ivc.point_at(s)[2]))
    return min(z), max(z)


def _accessory(grid: Grid, records: dict[str, np.ndarray], anatomy: Anatomy) -> dict[str, Any]:
    out = {}
    for name, what in ACCESSORY.items():
        if name not in records:
            continue
        found = truth.ostium(grid, records, name, anatomy.ivc)
        out[name] = {"what": what, "position_mm": None if found is None else [round(float(v), 2) for v in found[0]],
                     "s_mm": None if found is None else round(float(anatomy.ivc.project(found[0])), 2)}
    return out


def _lesion_truth(kind: str, extent: dict, labels: Labelmap, records: dict[str, np.ndarray], calcified_ml: float,
                  thrombus_below: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind, **{k: round(float(v), 1) for k, v in extent.items()},
                           "thrombus_below": thrombus_below}
    tumor = labels.array == int(Label.IVC_TUMOR)
    if kind == "tumor" and tumor.any():
        ivc = records["ivc"]
        ml = labels.grid.voxel_volume_mm3 / 1000.0
        out["renal_veins_invaded"] = [
            side for side in ("right", "left")
            if any(np.count_nonzero(tumor & records[r] & ~ivc) * ml >= truth.INVASION_MIN_ML
                   for r in VEINS[f"renal_vein_{side}"] if r in records)]
        out["extraluminal_share"] = round(float(np.count_nonzero(tumor & ~ivc) / np.count_nonzero(tumor)), 3)
        out["calcified_ml"] = round(float(calcified_ml), 2)
    return out


def _plain(value: Any) -> Any:
    """JSON-ready copy: tuples as lists, numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
