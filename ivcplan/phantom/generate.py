"""`generate(config) -> PhantomCase`: anatomy + lesion -> CT volume, truth labelmap and truth dict."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from pydicom.uid import generate_uid

from ivcplan.phantom import anatomy as anatomy_mod
from ivcplan.phantom import imaging, lesion, truth
from ivcplan.phantom.config import PhantomConfig
from ivcplan.phantom.shapes import Canvas
from ivcplan.progress import ProgressCallback, no_progress
from ivcplan.volume import Grid, Labelmap, Volume

log = logging.getLogger(__name__)

#: Internal craniocaudal step is at most this (mm): thick slices are averaged from thinner ones.
INTERNAL_DZ_MAX_MM = 1.5
#: The field of view is centred this far posterior of the body centre (room for the table).
FOV_Y_SHIFT_MM = 8.0
HFS_DIRECTION = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
FFS_DIRECTION = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])


@dataclass(frozen=True)
class PhantomCase:
    """A synthetic CT (HU, int16), its ground-truth labelmap on the same grid, and truth.json content."""

    volume: Volume
    truth: Labelmap
    truth_info: dict[str, Any]
    config: PhantomConfig


def case_uids(config: PhantomConfig) -> dict[str, str]:
    """Deterministic study/series/frame-of-reference UIDs derived from the config."""
    key = hashlib.sha256(repr(config).encode()).hexdigest()
    return {name: generate_uid(entropy_srcs=[key, name])
            for name in ("study_instance_uid", "series_instance_uid", "frame_of_reference_uid")}


def _canonical_axes(config: PhantomConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    z0, z1 = config.z_range_mm
    dz = config.spacing_z
    n_out = config.n_slices or int(np.floor((z1 - z0) / dz + 1e-6)) + 1
    step = max(1, int(np.ceil(dz / INTERNAL_DZ_MAX_MM - 1e-6)))
    zc = z0 + np.arange((n_out - 1) * step + 1) * (dz / step)
    half = (config.matrix - 1) / 2.0
    xy = (np.arange(config.matrix) - half) * config.pixel_mm
    return zc, xy + FOV_Y_SHIFT_MM, xy, step


def generate(config: PhantomConfig, *, progress: ProgressCallback | None = None) -> PhantomCase:
    """Build a case; the same config (seed included) always gives the same voxels and truth."""
    report = progress or no_progress
    rng = np.random.default_rng(config.seed)
    zc, yc, xc, step = _canonical_axes(config)
    canvas = Canvas(zc, yc, xc)
    report("phantom: anatomy", 0.0)
    anatomy = anatomy_mod.build(canvas, rng)
    lesion_info: dict[str, Any] = {}
    lesion_rng = np.random.default_rng([config.seed, 1])
    if config.tumor is not None:
        lesion_info = lesion.paint_tumor(canvas, anatomy, config.tumor, lesion_rng)
    elif config.thrombus is not None:
        lesion_info = lesion.paint_thrombus(canvas, anatomy, config.thrombus, lesion_rng)
    anatomy_mod.paint_bowel(canvas, rng)  # into the fat left free: around the mass, never inside it
    report("phantom: image", 0.5)
    dz_fine = float(zc[1] - zc[0]) if len(zc) > 1 else config.spacing_z
    hu = imaging.render(canvas.tissue, (dz_fine, config.pixel_mm, config.pixel_mm), step,
                        thickness_mm=config.thickness, blur_mm=config.blur_mm, noise_hu=config.noise_hu,
                        rng=np.random.default_rng([config.seed, 2]))
    labels = np.ascontiguousarray(canvas.label[::step])
    # Like a scanner, nothing is reconstructed outside the circular scan field of view.
    radius = config.matrix * config.pixel_mm / 2.0
    outside_fov = (xc[None, :] ** 2 + (yc[:, None] - FOV_Y_SHIFT_MM) ** 2) > radius**2
    hu[:, outside_fov] = imaging.HU_MIN
    labels[:, outside_fov] = 0
    grid = Grid(labels.shape, (config.spacing_z, config.pixel_mm, config.pixel_mm),
                (xc[0], yc[0], zc[0]), HFS_DIRECTION)
    records = {name: canvas.record_mask(name)[::step] for name in ("ivc", "ra", *anatomy.veins)}
    uids = case_uids(config)
    meta = {**uids, "modality": "CT", "patient_position": config.patient_position,
            "series_description": config.series_description, "contrast_agent": "IOHEXOL",
            "slice_thickness_mm": config.thickness, "phantom": config.name}
    report("phantom: truth", 0.8)
    truth_labels = Labelmap(labels, grid)
    info = truth.compute_truth(truth_labels, records, anatomy.ivc, meta=meta,
                               diaphragm=lambda x, y: anatomy_mod.Body.diaphragm(x, y) - anatomy_mod.DIAPHRAGM_MM)
    info = {"case": config.name, "seed": config.seed, "config": asdict(config), **info,
            "lesion": {"kind": "tumor" if config.tumor else "thrombus" if config.thrombus else "none",
                       **{k: round(float(v), 1) for k, v in lesion_info.items()}}}
    volume = Volume(hu, grid, meta)
    if config.patient_position == "FFS":
        volume, truth_labels = _feet_first(volume), _feet_first(truth_labels)
    report("phantom: done", 1.0)
    return PhantomCase(volume, truth_labels, info, config)


def _feet_first(image: Volume | Labelmap) -> Volume | Labelmap:
    """Same physical image stored as a feet-first scan: slices run caudally, columns to the right."""
    grid = image.grid
    n0, _, n2 = grid.shape
    flipped = Grid(grid.shape, grid.spacing, grid.index_to_lps((n0 - 1, 0, n2 - 1)), FFS_DIRECTION)
    array = np.ascontiguousarray(image.array[::-1, :, ::-1])
    if isinstance(image, Volume):
        return Volume(array, flipped, image.meta, image.warnings)
    return Labelmap(array, flipped, image.table, image.meta)
