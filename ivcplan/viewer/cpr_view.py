"""Curved planar reformation along the IVC centerline: a straightened 2D image, cranial at the top,
labelled with the IVC segments (I, II, III between their boundaries, left of the strip) and the
landmarks (a line across the strip at each, its name on the right). With the ``landmark`` tool a
click on the strip places the chosen landmark at that arc length, and a press on a landmark's line
drags it along the strip (`landmarkPlaced` with the arc length on release)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkFiltersSources import vtkLineSource
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleImage
from vtkmodules.vtkRenderingAnnotation import vtkCornerAnnotation
from vtkmodules.vtkRenderingCore import vtkActor, vtkImageActor, vtkPolyDataMapper, vtkTextActor

from ivcplan.render.cpr import LABEL_GAP, SEGMENT_BOUNDARIES, segment_spans, spread_labels
from ivcplan.viewer.slicing import compose_rgb, window_to_gray
from ivcplan.viewer.vtkwidget import VtkView
from ivcplan.vocabulary import landmark_tag

#: Segment boundaries are white and thicker, other landmarks cyan (as in the report's CPR picture);
#: the numerals white too (a yellow would read as the tumor's colour).
BOUNDARY_COLOR = (1.0, 1.0, 1.0)
LANDMARK_COLOR = (0.3, 0.9, 1.0)
SEGMENT_COLOR = (0.95, 0.95, 0.95)
#: Landmark lines run this far (mm) right of the strip, where the names start; the numerals sit
#: this far left of it. The camera frames the strip with room for both.
TICK_MM = 4.0
NAME_ROOM_MM = 48.0
NUMERAL_ROOM_MM = 14.0
#: Room below the strip for the title, as a share of the strip's length.
TITLE_ROOM = 0.08
#: Landmarks up to this far (mm) beyond the strip's ends are still drawn (at their own s).
LANDMARK_MARGIN_MM = 5.0
#: A press this close (pixels, along the strip) to a landmark's line grabs it.
LINE_PICK_PX = 6


def _line(p0, p1, color, width: float) -> vtkActor:
    source = vtkLineSource()
    source.SetPoint1(*p0)
    source.SetPoint2(*p1)
    mapper = vtkPolyDataMapper()
    mapper.SetInputConnection(source.GetOutputPort())
    actor = vtkActor()
    actor.SetMapper(mapper)
    actor.GetProperty().SetColor(*color)
    actor.GetProperty().SetLineWidth(width)
    actor.PickableOff()
    return actor


def _text(text: str, xy, color, size: int, justify: int, bold: bool = False) -> vtkTextActor:
    actor = vtkTextActor()
    actor.SetInput(text)
    actor.GetPositionCoordinate().SetCoordinateSystemToWorld()
    actor.GetPositionCoordinate().SetValue(float(xy[0]), float(xy[1]), 0.5)
    prop = actor.GetTextProperty()
    prop.SetFontSize(size)
    prop.SetColor(*color)
    prop.SetJustification(justify)
    prop.SetVerticalJustification(1)
    prop.SetBold(bold)
    return actor


class CprView(VtkView):
    """Shows a CPR image (rows = along the centerline from caudal, cols = across) with its labels."""

    landmarkPlaced = Signal(str, float)  # landmark name, arc length s (mm) along the centerline

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("cpr", parent)
        self.tool = "navigate"
        self.landmark_name = "hepatic_veins"
        self._grabbed: str | None = None
        self.hu: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.colors: dict[int, tuple[int, int, int]] = {}
        self.window, self.level = 400.0, 40.0
        self.spacing = (1.0, 1.0)
        self.s_start = 0.0
        self.landmarks_s: dict[str, float] = {}
        #: What is drawn over the strip: segment name -> (s from, s to); landmark name -> s (mm).
        self.segment_labels: dict[str, tuple[float, float]] = {}
        self.landmark_labels: dict[str, float] = {}
        self.annotations_visible = True
        self._annotation_actors: list = []
        self._label_top_s = -np.inf  # highest landmark name (they are spread upwards): framed too
        self._image = vtkImageData()
        self.actor = vtkImageActor()
        self.actor.GetMapper().SetInputData(self._image)
        self.renderer.AddActor(self.actor)
        self.annotation = vtkCornerAnnotation()
        self.annotation.SetMaximumFontSize(14)
        self.annotation.SetText(0, "CPR along the IVC")
        self.renderer.AddViewProp(self.annotation)
        self.renderer.GetActiveCamera().ParallelProjectionOn()
        self.style = vtkInteractorStyleImage()
        self.interactor.SetInteractorStyle(self.style)
        self.style.AddObserver("LeftButtonPressEvent", self._on_press)
        self.style.AddObserver("LeftButtonReleaseEvent", self._on_release)

    # -- the landmark tool -----------------------------------------------------------------------------
    def display_to_s(self, x: float, y: float) -> float:
        """Display pixel (origin bottom-left) -> arc length s (mm) along the centerline."""
        self.renderer.SetDisplayPoint(float(x), float(y), 0.0)
        self.renderer.DisplayToWorld()
        _, wy, _, w = self.renderer.GetWorldPoint()
        return (wy / w if w else wy) + self.s_start

    def s_to_display(self, s: float, x_mm: float = 0.0) -> tuple[float, float]:
        """Arc length s (mm) at ``x_mm`` across the strip -> display pixel (origin bottom-left)."""
        self.renderer.SetWorldPoint(float(x_mm), self._y(s), 0.0, 1.0)
        self.renderer.WorldToDisplay()
        dx, dy, _ = self.renderer.GetDisplayPoint()
        return dx, dy

    def _on_press(self, *_: object) -> None:
        if self.tool != "landmark" or self.hu is None:
            self.style.OnLeftButtonDown()  # window/level as before
            return
        _, y = self.interactor.GetEventPosition()
        near = {name: abs(self.s_to_display(s)[1] - y) for name, s in self.landmarks_s.items()}
        best = min(near, key=near.get, default=None)
        pick = LINE_PICK_PX * self.vtk_widget.devicePixelRatioF()
        self._grabbed = best if best is not None and near[best] <= pick else None

    def _on_release(self, *_: object) -> None:
        if self.tool != "landmark" or self.hu is None:
            self.style.OnLeftButtonUp()
            return
        x, y = self.interactor.GetEventPosition()
        name, self._grabbed = self._grabbed or self.landmark_name, None
        _, _, s0, s1 = self.strip_extent()
        s = self.display_to_s(x, y)
        if s0 <= s <= s1:
            self.landmarkPlaced.emit(name, s)

    def set_image(self, hu: np.ndarray | None, labels: np.ndarray | None, spacing: tuple[float, float],
                  colors: dict[int, tuple[int, int, int]], *, landmarks_s: Mapping[str, float] | None = None,
                  s_start: float = 0.0) -> None:
        """``hu``/``labels``: (rows along s from caudal, cols across); ``spacing`` (along, across) mm;
        ``landmarks_s``: arc length (mm) of each landmark; ``s_start``: arc length of row 0."""
        self.hu, self.labels, self.colors = hu, labels, dict(colors)
        self.spacing = (float(spacing[0]), float(spacing[1]))
        self.s_start = float(s_start)
        self.landmarks_s = {k: float(v) for k, v in (landmarks_s or {}).items() if np.isfinite(v)}
        if hu is None:
            self.actor.VisibilityOff()
            self._draw_annotations()
            self.annotation.SetText(0, "CPR: no IVC centerline")
            self.render()
            return
        self.actor.VisibilityOn()
        self.annotation.SetText(0, "CPR along the IVC (coronal)")
        rows, cols = hu.shape
        self._image.SetDimensions(cols, rows, 1)
        self._image.SetSpacing(self.spacing[1], self.spacing[0], 1.0)
        self.update_image()
        self._draw_annotations()
        self.fit_camera()
        self.render()

    def set_landmarks_s(self, landmarks_s: Mapping[str, float]) -> None:
        """Move the landmark lines (arc length mm each) without changing the image."""
        self.landmarks_s = {k: float(v) for k, v in landmarks_s.items() if np.isfinite(v)}
        self._draw_annotations()
        self.render()

    def set_window_level(self, window: float, level: float) -> None:
        self.window, self.level = window, level
        self.update_image()

    def set_colors(self, colors: dict[int, tuple[int, int, int]]) -> None:
        self.colors = dict(colors)
        self.update_image()

    def set_annotations_visible(self, visible: bool) -> None:
        """Show or hide the segment numerals, landmark lines and names."""
        self.annotations_visible = bool(visible)
        for actor in self._annotation_actors:
            actor.SetVisibility(self.annotations_visible)
        self.render()

    def update_image(self) -> None:
        if self.hu is None:
            return
        rgb = compose_rgb(window_to_gray(self.hu, self.window, self.level), self.labels, self.colors, 0.35)
        scalars = numpy_to_vtk(np.ascontiguousarray(rgb).reshape(-1, 3), deep=True)
        self._image.GetPointData().SetScalars(scalars)
        self._image.Modified()
        self.render()

    # -- labels --------------------------------------------------------------------------------------
    def strip_extent(self) -> tuple[float, float, float, float]:
        """(x0, x1, s0, s1): the strip in world mm (x across, y = s - s_start along)."""
        assert self.hu is not None
        rows, cols = self.hu.shape
        return (-0.5 * self.spacing[1], (cols - 0.5) * self.spacing[1], self.s_start - 0.5 * self.spacing[0],
                self.s_start + (rows - 0.5) * self.spacing[0])

    def _y(self, s: float) -> float:
        return s - self.s_start

    def _draw_annotations(self) -> None:
        for actor in self._annotation_actors:
            self.renderer.RemoveViewProp(actor)
        self._annotation_actors = []
        self.segment_labels, self.landmark_labels = {}, {}
        if self.hu is None:
            return
        x0, x1, s0, s1 = self.strip_extent()
        # Landmarks on the strip, or just beyond its ends (the cavoatrial junction where the centerline stops).
        margin = LANDMARK_MARGIN_MM
        inside = {k: v for k, v in self.landmarks_s.items() if s0 - margin <= v <= s1 + margin}
        self._label_top_s = -np.inf
        for lo, hi, name in segment_spans(inside, s0, s1):
            self.segment_labels[name] = (lo, hi)
            self._annotation_actors.append(_text(name, (x0 - 2.0, self._y((lo + hi) / 2)), SEGMENT_COLOR, 18, 2,
                                                 bold=True))
        for name, s, s_label in spread_labels(inside, LABEL_GAP * (s1 - s0)):
            boundary = name in SEGMENT_BOUNDARIES
            color = BOUNDARY_COLOR if boundary else LANDMARK_COLOR
            self.landmark_labels[name] = s
            self._annotation_actors.append(_line((x0, self._y(s), 0.4), (x1 + TICK_MM, self._y(s), 0.4), color,
                                                 2.0 if boundary else 1.0))
            if s_label != s:  # moved apart from a close neighbour: a leader to its line
                self._annotation_actors.append(_line((x1 + TICK_MM, self._y(s), 0.4),
                                                     (x1 + TICK_MM + 1.5, self._y(s_label), 0.4), color, 1.0))
            self._annotation_actors.append(_text(landmark_tag(name), (x1 + TICK_MM + 2.0, self._y(s_label)),
                                                 color, 11, 0))
            self._label_top_s = max(self._label_top_s, s_label)
        for actor in self._annotation_actors:
            actor.SetVisibility(self.annotations_visible)
            self.renderer.AddViewProp(actor)

    def fit_camera(self) -> None:
        """Frame the strip with room for the numerals on the left and the names on the right."""
        if self.hu is None:
            return
        x0, x1, s0, s1 = self.strip_extent()
        left, right = x0 - NUMERAL_ROOM_MM, x1 + NAME_ROOM_MM
        top = self._y(max(s1, self._label_top_s + LABEL_GAP * (s1 - s0)))
        bottom = self._y(s0) - TITLE_ROOM * (top - self._y(s0))  # the title's line stays below the strip
        w, h = self.render_window.GetSize()
        aspect = w / h if w > 0 and h > 0 else 1.0
        camera = self.renderer.GetActiveCamera()
        cx, cy = (left + right) / 2, (bottom + top) / 2
        camera.SetFocalPoint(cx, cy, 0.0)
        camera.SetPosition(cx, cy, 1000.0)
        camera.SetViewUp(0.0, 1.0, 0.0)
        camera.SetParallelScale(1.03 * max((top - bottom) / 2, (right - left) / 2 / aspect))
        self.renderer.ResetCameraClippingRange()

    def resizeEvent(self, event) -> None:  # keep the framing when the window changes size
        super().resizeEvent(event)
        self.fit_camera()
