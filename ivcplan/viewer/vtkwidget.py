"""A Qt widget holding one VTK render window: the common base of the 2D, 3D and CPR views."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import vtkmodules.vtkInteractionStyle  # registers the interactor styles
import vtkmodules.vtkRenderingFreeType  # text actors
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (OpenGL back end)
from PySide6.QtWidgets import QVBoxLayout, QWidget
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkRenderingCore import vtkRenderer, vtkRenderWindow, vtkWindowToImageFilter

BACKGROUND = (0.0, 0.0, 0.0)


def windowed_render_window() -> vtkRenderWindow:
    """A render window of the platform's windowed class, whatever VTK_DEFAULT_OPENGL_WINDOW says.

    The offscreen renderers (ivcplan.render, tests) select EGL through that variable; a Qt widget
    given an EGL window has no usable GL context (shaders fail, the view stays black), so the
    variable is lifted only while this window is created and the offscreen renderers keep EGL.
    """
    saved = os.environ.pop("VTK_DEFAULT_OPENGL_WINDOW", None)
    try:
        return vtkRenderWindow()
    finally:
        if saved is not None:
            os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = saved


class VtkView(QWidget):
    """QWidget + QVTKRenderWindowInteractor + one renderer, with capture to an RGB array/PNG."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.setObjectName(f"view_{title}")
        self.vtk_widget = QVTKRenderWindowInteractor(self, rw=windowed_render_window())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.vtk_widget)
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(*BACKGROUND)
        self.render_window = self.vtk_widget.GetRenderWindow()
        self.render_window.AddRenderer(self.renderer)
        self.interactor = self.render_window.GetInteractor()
        self._initialized = False

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._initialized:
            self.vtk_widget.Initialize()
            self._initialized = True

    def render(self) -> None:  # type: ignore[override]  # QWidget.render paints elsewhere
        if self.isVisible():
            self.render_window.Render()

    def capture(self) -> np.ndarray:
        """The view's current pixels as an (h, w, 3) uint8 array, top row first."""
        self.render_window.Render()
        grab = vtkWindowToImageFilter()
        grab.SetInput(self.render_window)
        grab.SetInputBufferTypeToRGB()
        grab.ReadFrontBufferOff()
        grab.Update()
        image = grab.GetOutput()
        w, h, _ = image.GetDimensions()
        pixels = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(h, w, -1)[:, :, :3]
        return np.ascontiguousarray(pixels[::-1])

    def save_png(self, path: str | Path) -> Path:
        from PySide6.QtGui import QImage

        pixels = self.capture()
        h, w, _ = pixels.shape
        image = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        path = Path(path)
        if not image.save(str(path)):
            raise OSError(f"could not write screenshot {path}")
        return path

    def finalize(self) -> None:
        """Release the GL context (call before the widget is destroyed)."""
        self.vtk_widget.Finalize()
