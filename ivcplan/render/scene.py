"""3D surface scene of the segmented anatomy (VTK offscreen): anatomical views, legend, orientation.

Camera conventions (patient LPS): the anterior view looks from -y (the patient's right appears on
the image left, as when facing the patient), the right lateral view from -x (anterior on the image
right), the posterior view from +y. Head (+z) is always up. Parallel projection, so sizes compare.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from ivcplan.errors import InputError
from ivcplan.labels import Label
from ivcplan.render._vtk import Snapshot, capture, offscreen_window, text_px, world_to_pixel_matrix
from ivcplan.render.mesh import DEFAULT_EXCLUDED, Surface, default_surfaces, extract_surfaces
from ivcplan.vocabulary import label_name
from ivcplan.volume import Labelmap

log = logging.getLogger(__name__)

__all__ = ["BACKGROUND", "DEFAULT_EXCLUDED", "DEFAULT_OPACITY", "VIEWS", "orientation_letter", "render_surfaces",
           "scene_snapshot", "surface_actor"]

#: view name -> (direction from the focal point to the camera, view-up), LPS.
VIEWS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "anterior": ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
    "posterior": ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "right": ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "left": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
}
VIEW_TITLES = {"anterior": "anterior view", "posterior": "posterior view", "right": "right lateral view",
               "left": "left lateral view"}
#: Default opacities: the liver is see-through so the retrohepatic IVC and hepatic veins show.
DEFAULT_OPACITY: dict[int, float] = {int(Label.LIVER): 0.22, int(Label.RIGHT_ATRIUM): 0.7}
#: Empty border around the anatomy, as a fraction of its size.
_MARGIN = 0.08
BACKGROUND = (0.08, 0.09, 0.11)
#: Width on paper (inches): the report prints two 3D views side by side (86 mm each). Text sizes are set
#: in printed points (at least 8) and converted to pixels for the image's size.
WIDTH_IN = 3.4
LETTER_PT = 12.0
CAPTION_PT = 9.0
LEGEND_PT = 8.0
_LPS_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))


def orientation_letter(vector: np.ndarray) -> str:
    """Anatomical letter (R/L, A/P, I/S) of the LPS axis closest to ``vector``."""
    v = np.asarray(vector, dtype=float)
    axis = int(np.argmax(np.abs(v)))
    return _LPS_LETTERS[axis][int(v[axis] > 0)]


def surface_actor(surface: Surface, opacity: float):
    """A shaded (Phong) actor of one label surface in its label colour (scenes, volume rendering, viewer)."""
    from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper

    mapper = vtkPolyDataMapper()
    mapper.SetInputData(surface.polydata)
    mapper.ScalarVisibilityOff()
    actor = vtkActor()
    actor.SetMapper(mapper)
    prop = actor.GetProperty()
    prop.SetColor(*(c / 255.0 for c in surface.color))
    prop.SetOpacity(float(opacity))
    prop.SetInterpolationToPhong()
    prop.SetAmbient(0.15)
    prop.SetDiffuse(0.8)
    prop.SetSpecular(0.25)
    prop.SetSpecularPower(20)
    return actor


def _legend(surfaces: list[Surface], font_px: int, size: tuple[int, int]):
    from vtkmodules.vtkFiltersSources import vtkCubeSource
    from vtkmodules.vtkRenderingAnnotation import vtkLegendBoxActor

    cube = vtkCubeSource()
    cube.Update()
    legend = vtkLegendBoxActor()
    legend.SetNumberOfEntries(len(surfaces))
    for i, surf in enumerate(surfaces):
        legend.SetEntry(i, cube.GetOutput(), label_name(surf.name), [c / 255.0 for c in surf.color])
    legend.UseBackgroundOn()
    legend.SetBackgroundColor(*BACKGROUND)
    legend.SetBackgroundOpacity(0.8)
    legend.BorderOff()
    legend.GetEntryTextProperty().SetColor(1.0, 1.0, 1.0)
    legend.GetEntryTextProperty().SetFontSize(font_px)
    height = min(1.4 * font_px * len(surfaces) / size[1], 0.6)  # the box scales its text to fit: a line per entry
    width = min(12 * font_px / size[0], 0.4)
    legend.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    legend.GetPositionCoordinate().SetValue(0.99 - width, 0.98 - height)
    legend.GetPosition2Coordinate().SetCoordinateSystemToNormalizedViewport()
    legend.GetPosition2Coordinate().SetValue(width, height)
    legend.SetPadding(3)
    return legend


def _text(text: str, x: float, y: float, *, size: int = 22, justify: str = "center", bold: bool = True,
          color=(1.0, 1.0, 1.0)):
    from vtkmodules.vtkRenderingCore import vtkTextActor

    actor = vtkTextActor()
    actor.SetInput(text)
    prop = actor.GetTextProperty()
    prop.SetFontSize(size)
    prop.SetBold(bold)
    prop.SetColor(*color)
    prop.SetShadow(True)
    getattr(prop, {"center": "SetJustificationToCentered", "left": "SetJustificationToLeft",
                   "right": "SetJustificationToRight"}[justify])()
    prop.SetVerticalJustificationToCentered()
    actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    actor.GetPositionCoordinate().SetValue(x, y)
    return actor


def fit_camera(renderer, lo: np.ndarray, hi: np.ndarray, view: str, size: tuple[int, int], *,
               margin: float = _MARGIN) -> None:
    """Parallel-projection camera looking at the box [lo, hi] (LPS) from ``view``, fitted with a margin."""
    to_camera, up = (np.asarray(v, dtype=float) for v in VIEWS[view])
    right = np.cross(-to_camera, up)
    centre = (lo + hi) / 2.0
    half_w = float(np.abs(right) @ (hi - lo)) / 2.0
    half_h = float(np.abs(up) @ (hi - lo)) / 2.0
    camera = renderer.GetActiveCamera()
    camera.ParallelProjectionOn()
    camera.SetFocalPoint(*centre)
    camera.SetPosition(*(centre + to_camera * (float(np.linalg.norm(hi - lo)) * 2.0 + 100.0)))
    camera.SetViewUp(*up)
    camera.SetParallelScale(max(half_h, half_w * size[1] / size[0]) * (1.0 + 2 * margin) + 1.0)
    renderer.ResetCameraClippingRange()


def annotate_view(renderer, view: str, caption: str | None, dpi: float) -> float:
    """Orientation letters on the four edges (from the camera of ``view``) and a caption, sized for an image
    printed at ``dpi``; returns the smallest text's height in pixels."""
    to_camera, up = (np.asarray(v, dtype=float) for v in VIEWS[view])
    right = np.cross(-to_camera, up)
    letter = text_px(LETTER_PT, dpi)
    renderer.AddViewProp(_text(orientation_letter(-right), 0.03, 0.5, size=letter))
    renderer.AddViewProp(_text(orientation_letter(right), 0.97, 0.5, size=letter))
    renderer.AddViewProp(_text(orientation_letter(up), 0.5, 0.97, size=letter))
    renderer.AddViewProp(_text(orientation_letter(-up), 0.5, 0.03, size=letter))
    if not caption:
        return float(letter)
    small = text_px(CAPTION_PT, dpi)
    renderer.AddViewProp(_text(caption, 0.02, 0.08, size=small, justify="left", bold=False))
    return float(min(letter, small))


def scene_snapshot(labelmap: Labelmap, *, view: str = "anterior", size: tuple[int, int] = (800, 800),
                   opacity: Mapping[int, float] | None = None, labels: Iterable[int] | None = None,
                   surfaces: list[Surface] | None = None, title: str | None = None, legend: bool = False,
                   caption: bool = True, width_in: float = WIDTH_IN) -> Snapshot:
    """Render the labelled structures as shaded surfaces; return the image and its camera.

    ``labels`` restricts the structures (default: all present but the body); ``surfaces`` reuses
    already extracted ones (several views of one case). Text is sized for a print ``width_in`` wide;
    ``legend`` / ``caption`` off leave the colour key and the view's name to the page around the image
    (the report). Raises InputError on an empty scene.
    """
    from vtkmodules.vtkRenderingCore import vtkLightKit, vtkRenderer

    if view not in VIEWS:
        raise InputError(f"view must be one of {sorted(VIEWS)}, got {view!r}")
    if surfaces is None:
        surfaces = default_surfaces(labelmap) if labels is None else extract_surfaces(labelmap, list(labels))
    if not surfaces:
        raise InputError("labelmap: nothing to render: no labelled structure of at least a few voxels "
                         f"(labels present: {labelmap.present() or 'none'})")
    opacities = {**DEFAULT_OPACITY, **{int(k): float(v) for k, v in (opacity or {}).items()}}

    renderer = vtkRenderer()
    renderer.SetBackground(*BACKGROUND)
    # No depth peeling: it triples the render time on a software rasterizer and the scene has
    # few translucent surfaces, which plain alpha blending shows acceptably.
    for surf in surfaces:
        renderer.AddActor(surface_actor(surf, opacities.get(surf.label, 1.0)))
    kit = vtkLightKit()
    kit.AddLightsToRenderer(renderer)

    pts = np.concatenate([s.points for s in surfaces])
    fit_camera(renderer, pts.min(axis=0), pts.max(axis=0), view, size, margin=_MARGIN)
    dpi = size[0] / width_in
    smallest = annotate_view(renderer, view, (title or VIEW_TITLES[view]) if caption else None, dpi)
    if legend:
        font = text_px(LEGEND_PT, dpi)
        renderer.AddViewProp(_legend(surfaces, font, size))
        smallest = None  # the legend box scales its text to fit: its size is not known here

    window = offscreen_window(renderer, size)
    rgb = capture(window)
    matrix = world_to_pixel_matrix(renderer, size)
    window.Finalize()
    return Snapshot(rgb, matrix, dpi=dpi, min_text_px=smallest)


def render_surfaces(labelmap: Labelmap, path: str | Path, *, view: str = "anterior",
                    size: tuple[int, int] = (800, 800), opacity: Mapping[int, float] | None = None,
                    labels: Iterable[int] | None = None, surfaces: list[Surface] | None = None, legend: bool = False,
                    caption: bool = True, width_in: float = WIDTH_IN) -> Path:
    """Render the 3D surface scene from ``view`` to a PNG at ``path``; returns the path."""
    snap = scene_snapshot(labelmap, view=view, size=size, opacity=opacity, labels=labels, surfaces=surfaces,
                          legend=legend, caption=caption, width_in=width_in)
    return snap.save(path)
