"""Curved planar reformation along the IVC centerline: a straightened 2D image, cranial at the top."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QWidget
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleImage
from vtkmodules.vtkRenderingAnnotation import vtkCornerAnnotation
from vtkmodules.vtkRenderingCore import vtkImageActor

from ivcplan.viewer.slicing import compose_rgb, window_to_gray
from ivcplan.viewer.vtkwidget import VtkView


class CprView(VtkView):
    """Shows a CPR image (rows = along the centerline from caudal, cols = across) with its labels."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("cpr", parent)
        self.hu: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.colors: dict[int, tuple[int, int, int]] = {}
        self.window, self.level = 400.0, 40.0
        self.spacing = (1.0, 1.0)
        self._image = vtkImageData()
        self.actor = vtkImageActor()
        self.actor.GetMapper().SetInputData(self._image)
        self.renderer.AddActor(self.actor)
        self.annotation = vtkCornerAnnotation()
        self.annotation.SetMaximumFontSize(14)
        self.annotation.SetText(2, "CPR along the IVC")
        self.renderer.AddViewProp(self.annotation)
        self.renderer.GetActiveCamera().ParallelProjectionOn()
        self.interactor.SetInteractorStyle(vtkInteractorStyleImage())

    def set_image(self, hu: np.ndarray | None, labels: np.ndarray | None, spacing: tuple[float, float],
                  colors: dict[int, tuple[int, int, int]]) -> None:
        """``hu``/``labels``: (rows along s from caudal, cols across); ``spacing`` (along, across) mm."""
        self.hu, self.labels, self.colors = hu, labels, dict(colors)
        self.spacing = (float(spacing[0]), float(spacing[1]))
        if hu is None:
            self.actor.VisibilityOff()
            self.annotation.SetText(2, "CPR: no IVC centerline")
            self.render()
            return
        self.actor.VisibilityOn()
        self.annotation.SetText(2, "CPR along the IVC")
        rows, cols = hu.shape
        self._image.SetDimensions(cols, rows, 1)
        self._image.SetSpacing(self.spacing[1], self.spacing[0], 1.0)
        self.update_image()
        self.renderer.ResetCamera()
        self.render()

    def set_window_level(self, window: float, level: float) -> None:
        self.window, self.level = window, level
        self.update_image()

    def set_colors(self, colors: dict[int, tuple[int, int, int]]) -> None:
        self.colors = dict(colors)
        self.update_image()

    def update_image(self) -> None:
        if self.hu is None:
            return
        rgb = compose_rgb(window_to_gray(self.hu, self.window, self.level), self.labels, self.colors, 0.35)
        scalars = numpy_to_vtk(np.ascontiguousarray(rgb).reshape(-1, 3), deep=True)
        self._image.GetPointData().SetScalars(scalars)
        self._image.Modified()
        self.render()
