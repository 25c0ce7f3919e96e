"""Renderings of an analysis (VTK offscreen and matplotlib): 3D surface scenes, volume rendering,
orthogonal slices, stretched CPR and the area/diameter profile.

Modules: `scene` (surfaces), `volume` (CT volume rendering), `slices`, `cpr`, `plots`, `mesh`
(label surfaces shared with the mesh export and the viewer). `write_all` writes every image of
an `ivcplan.pipeline.Analysis`; it is registered as the ``images`` output kind.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ivcplan.errors import InputError

log = logging.getLogger(__name__)

#: Sub-directory of the output directory holding the images.
IMAGES_DIR = "images"
SCENE_VIEWS = ("anterior", "right", "posterior")
# The last write_all result: (analysis, outdir, images). The HTML and PDF writers of one
# write_outputs call share the images instead of rendering them twice.
_last: tuple[Any, Path, dict[str, Path]] | None = None


def _landmarks_s(landmarks: Any) -> dict[str, float]:
    if landmarks is None:
        return {}
    out = {}
    for name, lm in landmarks.items():
        value = getattr(lm, "s_mm", None)
        if value is not None and np.isfinite(value):
            out[str(name)] = float(value)
    return out


def _slice_center(labelmap, centerline) -> np.ndarray:
    from ivcplan.labels import IVC_LABELS
    from ivcplan.render.slices import tumor_center

    centre = tumor_center(labelmap)
    if centre is not None:
        return centre
    if centerline is not None and len(centerline.points):
        return np.asarray(centerline.points[len(centerline.points) // 2], dtype=float)
    ivc = np.argwhere(labelmap.mask(*IVC_LABELS))
    idx = ivc.mean(axis=0) if len(ivc) else (np.asarray(labelmap.grid.shape) - 1) / 2.0
    return labelmap.grid.index_to_lps(idx)


def write_all(analysis: Any, outdir: str | Path) -> dict[str, Path]:
    """Write every image of ``analysis`` into ``outdir/images``; returns image key -> path.

    Keys: scene_anterior, scene_right, scene_posterior, volume, axial, coronal, sagittal, cpr,
    profile. An image that cannot be made (no structure, no centerline) is left out and logged.
    """
    global _last
    outdir = Path(outdir)
    if _last is not None and _last[0] is analysis and _last[1] == outdir.resolve() and all(
            p.is_file() for p in _last[2].values()):
        return dict(_last[2])
    from ivcplan.render.cpr import curved_reformation
    from ivcplan.render.mesh import default_surfaces
    from ivcplan.render.plots import area_profile
    from ivcplan.render.scene import render_surfaces
    from ivcplan.render.slices import orthogonal
    from ivcplan.render.volume import render_volume

    volume = analysis.volume
    labelmap = analysis.segmentation.labelmap
    centerline = getattr(analysis, "centerline", None)
    landmarks_s = _landmarks_s(getattr(analysis, "landmarks", None))
    images_dir = outdir / IMAGES_DIR
    images_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    surfaces = default_surfaces(labelmap)
    for view in SCENE_VIEWS:
        try:
            out[f"scene_{view}"] = render_surfaces(labelmap, images_dir / f"scene_{view}.png", view=view,
                                                   surfaces=surfaces)
        except InputError as exc:
            log.warning("3D scene (%s) not rendered: %s", view, exc)
            break
    try:
        out["volume"] = render_volume(volume, labelmap, images_dir / "volume_anterior.png")
    except InputError as exc:
        log.warning("volume rendering skipped: %s", exc)
    for plane, path in orthogonal(volume, labelmap, _slice_center(labelmap, centerline), images_dir / "slice").items():
        out[plane] = path
    if centerline is not None and len(centerline.points) >= 2:
        try:
            out["cpr"] = curved_reformation(volume, labelmap, centerline.points, centerline.s, landmarks_s,
                                            images_dir / "cpr.png")
            diameters = {name: getattr(centerline, name) for name in (
                "eq_diameter_mm", "max_diameter_mm", "min_diameter_mm") if hasattr(centerline, name)}
            out["profile"] = area_profile(centerline.s, centerline.lumen_area_mm2, centerline.tumor_area_mm2,
                                          diameters, landmarks_s, images_dir / "profile.png")
        except InputError as exc:
            log.warning("curved reformation / profile skipped: %s", exc)
    else:
        log.warning("no IVC centerline: curved reformation and profile skipped")
    _last = (analysis, outdir.resolve(), dict(out))
    return out


def _images_writer(analysis: Any, outdir: Path) -> Path:
    write_all(analysis, outdir)
    return Path(outdir) / IMAGES_DIR


def _register() -> None:
    from ivcplan.pipeline import register_writer

    register_writer("images", _images_writer)


_register()
