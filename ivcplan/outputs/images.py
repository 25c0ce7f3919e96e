"""The images of an analysis: 3D scene views, a volume rendering, three orthogonal slices, the
stretched CPR along the IVC and its area/diameter profile (`ivcplan.render` draws each)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ivcplan.analysis import Analysis
from ivcplan.errors import InputError
from ivcplan.labels import IVC_LABELS
from ivcplan.measure import Centerline, Landmarks
from ivcplan.render.cpr import curved_reformation
from ivcplan.render.mesh import Surface
from ivcplan.render.plots import area_profile
from ivcplan.render.scene import render_surfaces
from ivcplan.render.slices import orthogonal, tumor_center
from ivcplan.render.volume_rendering import render_volume
from ivcplan.volume import Labelmap

log = logging.getLogger(__name__)

SCENE_VIEWS = ("anterior", "right", "posterior")
PLANES = ("axial", "coronal", "sagittal")
#: The images drawn from the CT and the segmentation alone (no landmark, no plan): file names by
#: group, each group reused whole (copied) from a folder with the same CT and segmentation.
SEGMENTATION_IMAGES: dict[str, dict[str, str]] = {
    "scenes": {f"scene_{view}": f"scene_{view}.png" for view in SCENE_VIEWS},
    "volume": {"volume": "volume_anterior.png"},
    "slices": {plane: f"slice_{plane}.png" for plane in PLANES},
}


def render_images(analysis: Analysis, images_dir: Path, surfaces: Callable[[], Sequence[Surface]], *,
                  reuse_from: Path | None = None, reused: list[str] | None = None) -> dict[str, Path]:
    """Write every image of ``analysis`` into ``images_dir``; returns image key -> path.

    Keys: scene_anterior, scene_right, scene_posterior, volume, axial, coronal, sagittal, cpr,
    profile. An image that cannot be made (no structure, no centerline) is left out and logged.
    ``surfaces`` gives the label surfaces (made only when a 3D view is drawn). ``reuse_from``: an
    images folder of an analysis with the same CT and segmentation, whose `SEGMENTATION_IMAGES` are
    copied (a group that is not there whole is drawn); copied names are added to ``reused``.
    """
    volume, labelmap, centerline = analysis.volume, analysis.labelmap, analysis.centerline
    landmarks_s = _landmarks_s(analysis.landmarks)
    images_dir = Path(images_dir)
    images_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    copied = _copy_groups(reuse_from, images_dir, reused)
    out.update(copied)
    if "scene_anterior" not in copied:
        for view in SCENE_VIEWS:
            try:
                out[f"scene_{view}"] = render_surfaces(labelmap, images_dir / f"scene_{view}.png", view=view,
                                                       surfaces=list(surfaces()))
            except InputError as exc:
                log.warning("3D scene (%s) not rendered: %s", view, exc)
                break
    if "volume" not in copied:
        try:
            out["volume"] = render_volume(volume, labelmap, images_dir / "volume_anterior.png")
        except InputError as exc:
            log.warning("volume rendering skipped: %s", exc)
    if "axial" not in copied:
        # No structure names on the slices: the report prints one colour key for every picture, in legible type.
        for plane, path in orthogonal(volume, labelmap, _slice_center(labelmap, centerline), images_dir / "slice",
                                      legend=False).items():
            out[plane] = path
    if centerline is not None and len(centerline.points) >= 2:
        try:
            out["cpr"] = curved_reformation(volume, labelmap, centerline.points, centerline.s, landmarks_s,
                                            images_dir / "cpr.png")
            diameters = {name: getattr(centerline, name) for name in (
                "eq_diameter_mm", "max_diameter_mm", "min_diameter_mm")}
            out["profile"] = area_profile(centerline.s, centerline.lumen_area_mm2, centerline.tumor_area_mm2,
                                          diameters, landmarks_s, images_dir / "profile.png")
        except InputError as exc:
            log.warning("curved reformation / profile skipped: %s", exc)
    else:
        log.warning("no IVC centerline: curved reformation and profile skipped")
    return {key: out[key] for key in _ORDER if key in out}


_ORDER = (*(f"scene_{v}" for v in SCENE_VIEWS), "volume", *PLANES, "cpr", "profile")


def _copy_groups(source: Path | None, images_dir: Path, reused: list[str] | None) -> dict[str, Path]:
    """Copy each whole group of `SEGMENTATION_IMAGES` found in ``source``; returns key -> new path."""
    out: dict[str, Path] = {}
    if source is None:
        return out
    for files in SEGMENTATION_IMAGES.values():
        if all((source / name).is_file() for name in files.values()):
            for key, name in files.items():
                out[key] = Path(shutil.copy2(source / name, images_dir / name))
                if reused is not None:
                    reused.append(f"images/{name}")
    return out


def _landmarks_s(landmarks: Landmarks | None) -> dict[str, float]:
    """Arc length along the IVC of each landmark that was placed."""
    if landmarks is None:
        return {}
    return {name: float(lm.s_mm) for name, lm in landmarks.items() if lm.s_mm is not None and np.isfinite(lm.s_mm)}


def _slice_center(labelmap: Labelmap, centerline: Centerline | None) -> np.ndarray:
    """Where the orthogonal slices cross: the tumor's largest section, else the IVC's middle."""
    centre = tumor_center(labelmap)
    if centre is not None:
        return centre
    if centerline is not None and len(centerline.points):
        return np.asarray(centerline.points[len(centerline.points) // 2], dtype=float)
    ivc = np.argwhere(labelmap.mask(*IVC_LABELS))
    idx = ivc.mean(axis=0) if len(ivc) else (np.asarray(labelmap.grid.shape) - 1) / 2.0
    return labelmap.grid.index_to_lps(idx)
