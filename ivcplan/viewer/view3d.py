"""The 3D view: one surface per structure (toggle and opacity each) and optional volume rendering.

Surfaces come from `ivcplan.render.mesh.extract_surfaces` (the same meshes the export writes);
they are built in the background job, this view only wraps them in actors.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QWidget
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPiecewiseFunction, vtkPolyData
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
from vtkmodules.vtkRenderingCore import (
    vtkActor,
    vtkColorTransferFunction,
    vtkPolyDataMapper,
    vtkVolume,
    vtkVolumeProperty,
)

from ivcplan.render.mesh import Surface
from ivcplan.render.scene import DEFAULT_EXCLUDED, DEFAULT_OPACITY, VIEWS, surface_actor
from ivcplan.viewer.vtkwidget import VtkView
from ivcplan.volume import Volume

#: Volume rendering works on a copy subsampled to at most this many voxels per axis (interactive on CPU GL).
VOLUME_RENDER_MAX_DIM = 192
#: HU -> opacity ramp of the volume rendering (contrast-filled vessels and bone show, soft tissue fades).
VR_OPACITY_POINTS = ((-200.0, 0.0), (100.0, 0.0), (180.0, 0.15), (400.0, 0.4), (1200.0, 0.8))
VR_COLOR_POINTS = ((100.0, (0.7, 0.25, 0.2)), (200.0, (0.95, 0.6, 0.45)), (600.0, (1.0, 0.95, 0.85)))
CENTERLINE_COLOR = (1.0, 1.0, 1.0)


class View3D(VtkView):
    """Surface models of the segmentation in LPS mm, with per-structure visibility and opacity."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("3d", parent)
        self.renderer.SetBackground(0.08, 0.09, 0.11)
        self.interactor.SetInteractorStyle(vtkInteractorStyleTrackballCamera())
        self.actors: dict[int, vtkActor] = {}
        self.surfaces: dict[int, Surface] = {}
        self.volume_prop: vtkVolume | None = None
        self._centerline_actor: vtkActor | None = None

    # -- surfaces ------------------------------------------------------------------------------
    def set_surfaces(self, surfaces: list[Surface]) -> None:
        for actor in self.actors.values():
            self.renderer.RemoveActor(actor)
        self.actors, self.surfaces = {}, {}
        for surf in surfaces:
            actor = surface_actor(surf, DEFAULT_OPACITY.get(surf.label, 1.0))
            actor.SetVisibility(surf.label not in DEFAULT_EXCLUDED)
            self.renderer.AddActor(actor)
            self.actors[surf.label] = actor
            self.surfaces[surf.label] = surf
        self.set_view("anterior")

    def set_centerline(self, points_lps: np.ndarray | None) -> None:
        if self._centerline_actor is not None:
            self.renderer.RemoveActor(self._centerline_actor)
            self._centerline_actor = None
        if points_lps is None or len(points_lps) < 2:
            return
        pts = vtkPoints()
        for p in np.asarray(points_lps, dtype=float):
            pts.InsertNextPoint(*p)
        line = vtkCellArray()
        line.InsertNextCell(len(points_lps))
        for i in range(len(points_lps)):
            line.InsertCellPoint(i)
        poly = vtkPolyData()
        poly.SetPoints(pts)
        poly.SetLines(line)
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(poly)
        actor = vtkActor()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(*CENTERLINE_COLOR)
        actor.GetProperty().SetLineWidth(2.0)
        self.renderer.AddActor(actor)
        self._centerline_actor = actor
        self.render()

    def set_visible(self, label: int, visible: bool) -> None:
        if label in self.actors:
            self.actors[label].SetVisibility(bool(visible))
            self.render()

    def set_opacity(self, label: int, opacity: float) -> None:
        if label in self.actors:
            self.actors[label].GetProperty().SetOpacity(float(np.clip(opacity, 0.0, 1.0)))
            self.render()

    def is_visible(self, label: int) -> bool:
        return label in self.actors and bool(self.actors[label].GetVisibility())

    def opacity(self, label: int) -> float:
        return float(self.actors[label].GetProperty().GetOpacity()) if label in self.actors else 0.0

    def set_view(self, name: str) -> None:
        """Point the camera as in the report's renderings (anterior, posterior, right, left)."""
        direction, up = VIEWS[name]
        camera = self.renderer.GetActiveCamera()
        self.renderer.ResetCamera()
        focal = np.array(camera.GetFocalPoint())
        distance = camera.GetDistance()
        camera.SetPosition(*(focal + distance * np.asarray(direction)))
        camera.SetViewUp(*up)
        self.renderer.ResetCamera()
        self.render()

    # -- volume rendering ------------------------------------------------------------------------
    def set_volume_rendering(self, volume: Volume | None, enabled: bool) -> None:
        if self.volume_prop is not None:
            self.renderer.RemoveVolume(self.volume_prop)
            self.volume_prop = None
        if enabled and volume is not None:
            self.volume_prop = _volume_prop(volume)
            self.renderer.AddVolume(self.volume_prop)
            if not self.actors:
                self.set_view("anterior")
        self.render()


def _volume_prop(volume: Volume) -> vtkVolume:
    """Subsampled CT as a vtkVolume placed in LPS mm through the grid's affine."""
    import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401  (registers the GPU volume mapper)
    from vtkmodules.vtkCommonMath import vtkMatrix4x4
    from vtkmodules.vtkRenderingVolume import vtkGPUVolumeRayCastMapper

    from ivcplan.render._vtk import image_data

    step = [max(1, int(np.ceil(n / VOLUME_RENDER_MAX_DIM))) for n in volume.shape]
    sub = np.ascontiguousarray(volume.array[:: step[0], :: step[1], :: step[2]], dtype=np.float32)
    mapper = vtkGPUVolumeRayCastMapper()
    mapper.SetInputData(image_data(sub))
    prop = vtkVolumeProperty()
    opacity = vtkPiecewiseFunction()
    for hu, a in VR_OPACITY_POINTS:
        opacity.AddPoint(hu, a)
    colors = vtkColorTransferFunction()
    for hu, rgb in VR_COLOR_POINTS:
        colors.AddRGBPoint(hu, *rgb)
    prop.SetScalarOpacity(opacity)
    prop.SetColor(colors)
    prop.ShadeOn()
    prop.SetInterpolationTypeToLinear()
    actor = vtkVolume()
    actor.SetMapper(mapper)
    actor.SetProperty(prop)
    # VTK index (x, y, z) of the subsampled copy -> LPS: the grid affine with permuted, scaled columns.
    affine = volume.grid.affine.copy()
    linear = affine[:3, :3] * np.asarray(step, dtype=float)[None, :]
    matrix = np.eye(4)
    matrix[:3, :3] = linear[:, ::-1]
    matrix[:3, 3] = affine[:3, 3]
    vtk_matrix = vtkMatrix4x4()
    for i in range(4):
        for j in range(4):
            vtk_matrix.SetElement(i, j, float(matrix[i, j]))
    actor.SetUserMatrix(vtk_matrix)
    return actor
