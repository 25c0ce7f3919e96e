"""Volume rendering of the CT around the IVC ("cinematic"-style preset) with the tumor highlighted.

The CT is cropped to the IVC with a margin and downsampled to about RENDER_SPACING_MM so that a
full-size CT renders in a few seconds on a CPU; contrast-filled vessels show red, bone ivory,
the soft tissue and fat stay transparent. The tumor is drawn as an opaque yellow surface inside
the rendered volume (depth-correct), so it stands out whatever its enhancement.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ivcplan.errors import InputError
from ivcplan.labels import IVC_LABELS, Label
from ivcplan.render._vtk import Snapshot, capture, image_data, offscreen_window, world_to_pixel_matrix
from ivcplan.render.mesh import label_surface
from ivcplan.render.scene import BACKGROUND, VIEW_TITLES, VIEWS, WIDTH_IN, annotate_view, fit_camera, surface_actor
from ivcplan.volume import Grid, Labelmap, Volume

log = logging.getLogger(__name__)

#: Target sample spacing of the rendered volume (mm): coarser renders faster.
RENDER_SPACING_MM = 1.5
#: Threads of the CPU ray caster (the target machine has 2 cores).
RENDER_THREADS = 2
#: Margin around the IVC kept in the crop: lateral (x, y) and cranio-caudal (mm).
CROP_MARGIN_MM = (45.0, 45.0, 15.0)
#: HU -> (r, g, b) and HU -> opacity of the preset (portal-venous or arterial contrast CT).
COLOR_POINTS = ((-100.0, (0.3, 0.1, 0.05)), (120.0, (0.55, 0.12, 0.08)), (180.0, (0.85, 0.25, 0.18)),
                (280.0, (0.95, 0.55, 0.4)), (400.0, (0.95, 0.88, 0.78)), (1200.0, (1.0, 1.0, 0.95)))
#: Opacity starts above enhanced liver (90-130 HU portal venous) so the retrohepatic IVC shows, and
#: enhanced blood (140-200 HU) is already fairly opaque: the vessels are what the view is for.
OPACITY_POINTS = ((-1024.0, 0.0), (125.0, 0.0), (150.0, 0.45), (200.0, 0.65), (300.0, 0.7), (800.0, 0.85),
                  (3000.0, 0.9))
#: Gradient-magnitude opacity (HU/mm -> factor): flat regions fade, boundaries stay (sharper look); the
#: floor keeps a vessel's uniform lumen visible.
GRADIENT_POINTS = ((0.0, 0.6), (15.0, 0.8), (60.0, 1.0))


def crop_box(labelmap: Labelmap, margin_mm=CROP_MARGIN_MM) -> tuple[np.ndarray, np.ndarray]:
    """[start, stop) array indices of the IVC (lumen, tumor, thrombus) plus a margin; whole grid without IVC."""
    mask = labelmap.mask(*IVC_LABELS)
    shape = np.asarray(labelmap.grid.shape)
    if not mask.any():
        return np.zeros(3, dtype=int), shape
    idx = np.argwhere(mask)
    margin_lps = np.asarray(margin_mm, dtype=float)
    # Margin per array axis: that of the LPS axis it runs along.
    margin_vox = np.array([margin_lps[int(np.argmax(np.abs(labelmap.grid.direction[:, a])))] / labelmap.grid.spacing[a]
                           for a in range(3)])
    start = np.maximum(np.floor(idx.min(axis=0) - margin_vox), 0).astype(int)
    stop = np.minimum(np.ceil(idx.max(axis=0) + 1 + margin_vox), shape).astype(int)
    return start, stop


def _affine_xyz(grid) -> np.ndarray:
    """4x4 matrix mapping VTK (x, y, z) = (column, row, slice) indices to LPS mm."""
    m = np.eye(4)
    m[:3, :3] = (grid.direction * grid.spacing[None, :])[:, ::-1]
    m[:3, 3] = grid.origin
    return m


def volume_snapshot(volume: Volume, labelmap: Labelmap | None, *, view: str = "anterior",
                    size: tuple[int, int] = (800, 800), spacing_mm: float = RENDER_SPACING_MM, caption: bool = True,
                    width_in: float = WIDTH_IN) -> Snapshot:
    """Render the cropped, downsampled CT with the preset; the tumor surface in its label color. Text is sized
    for a print ``width_in`` wide."""
    from vtkmodules.vtkCommonDataModel import vtkPiecewiseFunction
    from vtkmodules.vtkCommonMath import vtkMatrix4x4
    from vtkmodules.vtkRenderingCore import vtkColorTransferFunction, vtkRenderer, vtkVolume, vtkVolumeProperty
    from vtkmodules.vtkRenderingVolume import vtkFixedPointVolumeRayCastMapper

    if view not in VIEWS:
        raise InputError(f"view must be one of {sorted(VIEWS)}, got {view!r}")
    if labelmap is not None and not labelmap.grid.is_same(volume.grid):
        labelmap = labelmap.resample_to(volume.grid)
    if labelmap is not None:
        start, stop = crop_box(labelmap)
    else:
        start, stop = np.zeros(3, dtype=int), np.asarray(volume.grid.shape)
    step = np.maximum(np.floor(spacing_mm / volume.grid.spacing + 1e-6), 1).astype(int)
    sl = tuple(slice(int(a), int(b), int(c)) for a, b, c in zip(start, stop, step, strict=True))
    ct = np.ascontiguousarray(volume.array[sl], dtype=np.int16)
    if min(ct.shape) < 2:
        raise InputError(f"volume: region to render is too small ({ct.shape} samples)")
    sub = Grid(ct.shape, volume.grid.spacing * step, volume.grid.index_to_lps(start), volume.grid.direction)

    # CPU ray casting: on a machine without a GPU it is an order of magnitude faster than the
    # OpenGL ray caster running on a software rasterizer.
    mapper = vtkFixedPointVolumeRayCastMapper()
    mapper.SetInputData(image_data(ct))
    mapper.SetBlendModeToComposite()
    mapper.SetNumberOfThreads(RENDER_THREADS)
    mapper.AutoAdjustSampleDistancesOff()
    mapper.SetSampleDistance(float(np.min(sub.spacing)))
    colors = vtkColorTransferFunction()
    for hu, rgb in COLOR_POINTS:
        colors.AddRGBPoint(hu, *rgb)
    opacity = vtkPiecewiseFunction()
    for hu, a in OPACITY_POINTS:
        opacity.AddPoint(hu, a)
    gradient = vtkPiecewiseFunction()
    for g, a in GRADIENT_POINTS:
        gradient.AddPoint(g, a)
    prop = vtkVolumeProperty()
    prop.SetColor(colors)
    prop.SetScalarOpacity(opacity)
    prop.SetGradientOpacity(gradient)
    prop.SetScalarOpacityUnitDistance(float(np.mean(sub.spacing)))
    prop.SetInterpolationTypeToLinear()
    prop.ShadeOn()
    prop.SetAmbient(0.45)
    prop.SetDiffuse(0.9)
    prop.SetSpecular(0.35)
    prop.SetSpecularPower(18.0)
    actor = vtkVolume()
    actor.SetMapper(mapper)
    actor.SetProperty(prop)
    matrix = vtkMatrix4x4()
    affine = _affine_xyz(sub)
    for i in range(4):
        for j in range(4):
            matrix.SetElement(i, j, float(affine[i, j]))
    actor.SetUserMatrix(matrix)

    renderer = vtkRenderer()
    renderer.SetBackground(*BACKGROUND)
    renderer.AddVolume(actor)
    has_tumor = False
    if labelmap is not None:
        tumor = label_surface(labelmap, int(Label.IVC_TUMOR))
        if tumor is not None:
            renderer.AddActor(surface_actor(tumor, 1.0))
            has_tumor = True

    corners = np.array([[i, j, k] for i in (0, ct.shape[0] - 1) for j in (0, ct.shape[1] - 1)
                        for k in (0, ct.shape[2] - 1)], dtype=float)
    pts = sub.index_to_lps(corners)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    fit_camera(renderer, lo, hi, view, size, margin=0.02)
    text = f"CT volume rendering, {VIEW_TITLES[view]}" + ("; tumor in yellow" if has_tumor else "")
    dpi = size[0] / width_in
    smallest = annotate_view(renderer, view, text if caption else None, dpi)

    window = offscreen_window(renderer, size)
    rgb = capture(window)
    m = world_to_pixel_matrix(renderer, size)
    window.Finalize()
    return Snapshot(rgb, m, dpi=dpi, min_text_px=smallest)


def render_volume(volume: Volume, labelmap: Labelmap | None, path: str | Path, *, view: str = "anterior",
                  size: tuple[int, int] = (800, 800), spacing_mm: float = RENDER_SPACING_MM, caption: bool = True,
                  width_in: float = WIDTH_IN) -> Path:
    """Write the volume rendering (cropped to the IVC, tumor highlighted) to ``path`` (PNG)."""
    snap = volume_snapshot(volume, labelmap, view=view, size=size, spacing_mm=spacing_mm, caption=caption,
                           width_in=width_in)
    return snap.save(path)
