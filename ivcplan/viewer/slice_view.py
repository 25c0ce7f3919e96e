"""One 2D slice view (axial, coronal or sagittal): image + label overlay + crosshair + tools, with the
patient's orientation letters at the four edges and a scale bar (redrawn before every render, so they
follow zoom and resize).

Mouse: wheel = next/previous slice; left click = move the crosshair (or place a seed / measure,
depending on the tool); left drag = window/level; right drag = zoom; middle drag = pan; hovering
reports the voxel under the cursor (`hovered`). Editing tools: ``landmark`` (a click places the chosen
landmark, a press on a drawn landmark drags it; `landmarkPlaced` on release), ``paint`` / ``erase``
(a left drag is one brush stroke: `strokeStarted`, `brushed` at each mouse position, `strokeEnded`).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkImageData, vtkPolyData
from vtkmodules.vtkFiltersSources import vtkLineSource, vtkRegularPolygonSource
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleImage
from vtkmodules.vtkRenderingAnnotation import vtkCornerAnnotation
from vtkmodules.vtkRenderingCore import (
    vtkActor,
    vtkActor2D,
    vtkImageActor,
    vtkPolyDataMapper,
    vtkPolyDataMapper2D,
    vtkTextActor,
)

from ivcplan.viewer.slicing import (
    MIN_WINDOW_HU,
    SlicePlane,
    compose_rgb,
    scale_bar_length,
    screen_letters,
    window_to_gray,
)
from ivcplan.viewer.vtkwidget import VtkView

#: A press-release shorter than this (pixels) is a click, longer a drag.
CLICK_TOLERANCE_PX = 3
#: HU of window/level change per pixel of mouse drag.
WL_HU_PER_PIXEL = 2.0
SEED_RADIUS_MM = 3.0
CROSSHAIR_COLORS = {"axial": (0.9, 0.3, 0.3), "coronal": (0.3, 0.9, 0.3), "sagittal": (0.3, 0.5, 1.0)}
SEED_COLORS = {"ivc": (0.24, 0.43, 0.9), "tumor": (0.94, 0.78, 0.08)}
MEASURE_COLOR = (1.0, 0.55, 0.0)
TOOLS = ("navigate", "seed_ivc", "seed_tumor", "measure", "landmark", "paint", "erase")
#: Landmarks are drawn as diamonds of this radius (mm) in this colour (cyan: the CPR's ostium lines).
LANDMARK_RADIUS_MM = 4.0
LANDMARK_COLOR = (0.1, 0.95, 0.95)
#: A press this close (pixels) to a landmark drawn on the slice grabs it (a drag moves it).
LANDMARK_PICK_PX = 12
#: Orientation letters and scale bar: colour (near white: no label's colour, the tumor's yellow least
#: of all), letter size, distance from the view's edges (pixels).
OVERLAY_COLOR = (0.92, 0.92, 0.92)
LETTER_FONT_PX = 18
EDGE_MARGIN_PX = 8
#: The scale bar sits at the lower right, this high above the bottom edge (clear of the W/L text).
SCALE_BAR_Y_PX = 36
SCALE_TICK_PX = 5


def _line_actor(color: tuple[float, float, float], width: float = 1.5) -> tuple[vtkLineSource, vtkActor]:
    source = vtkLineSource()
    mapper = vtkPolyDataMapper()
    mapper.SetInputConnection(source.GetOutputPort())
    actor = vtkActor()
    actor.SetMapper(mapper)
    actor.GetProperty().SetColor(*color)
    actor.GetProperty().SetLineWidth(width)
    actor.PickableOff()
    return source, actor


class SliceView(VtkView):
    """Shows ``volume`` (z, y, x) along ``plane`` at the shared cursor, with overlays and tools."""

    cursorMoved = Signal(object)        # (3,) fractional array index (z, y, x)
    seedPlaced = Signal(str, object)    # kind ("ivc" | "tumor"), (3,) array index
    measured = Signal(object, object)   # two (3,) array indices
    windowLevelChanged = Signal(float, float)
    hovered = Signal(object)            # (3,) fractional array index under the mouse, or None outside the image
    landmarkPlaced = Signal(str, object)  # landmark name, (3,) array index (placed by a click or dragged there)
    strokeStarted = Signal()            # the brush (paint / erase) pressed
    brushed = Signal(object)            # (3,) array index under the brush, while pressed
    strokeEnded = Signal()

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(name, parent)
        self.name = name
        self.plane: SlicePlane | None = None
        self.array: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.colors: dict[int, tuple[int, int, int]] = {}
        self.overlay_opacity = 0.45
        self.window, self.level = 400.0, 40.0
        self.cursor = np.zeros(3)
        self.tool = "navigate"
        self.seeds: list[tuple[str, np.ndarray]] = []
        self.measurement: tuple[np.ndarray, np.ndarray] | None = None
        self.measurement_text = ""
        self._line_colors: dict[int, tuple[float, float, float]] = {}
        #: Landmarks drawn (name -> array index) and the one a click of the landmark tool places.
        self.landmarks: dict[str, np.ndarray] = {}
        self.landmark_name = "hepatic_veins"
        self._grabbed: str | None = None
        self._landmark_actors: list[vtkActor] = []

        self._image = vtkImageData()
        self.image_actor = vtkImageActor()
        self.image_actor.GetMapper().SetInputData(self._image)
        self.image_actor.InterpolateOff()
        self.renderer.AddActor(self.image_actor)
        self._cross = [_line_actor(c) for c in ((1, 1, 1), (1, 1, 1))]
        for _, actor in self._cross:
            self.renderer.AddActor(actor)
        self._measure_source, self._measure_actor = _line_actor(MEASURE_COLOR, 2.5)
        self._measure_actor.VisibilityOff()
        self.renderer.AddActor(self._measure_actor)
        self._seed_actors: list[vtkActor] = []
        self.annotation = vtkCornerAnnotation()
        self.annotation.SetMaximumFontSize(14)
        self.annotation.GetTextProperty().SetColor(0.9, 0.9, 0.9)
        self.renderer.AddViewProp(self.annotation)
        self.renderer.GetActiveCamera().ParallelProjectionOn()
        self.letters = screen_letters(name) if name in ("axial", "coronal", "sagittal") else {}
        self.letter_actors: dict[str, vtkTextActor] = {}
        for edge, letter in self.letters.items():
            actor = vtkTextActor()
            actor.SetInput(letter)
            prop = actor.GetTextProperty()
            prop.SetFontSize(LETTER_FONT_PX)
            prop.BoldOn()
            prop.SetColor(*OVERLAY_COLOR)
            prop.SetJustification({"left": 0, "right": 2}.get(edge, 1))
            prop.SetVerticalJustification({"bottom": 0, "top": 2}.get(edge, 1))
            actor.PickableOff()
            self.renderer.AddViewProp(actor)
            self.letter_actors[edge] = actor
        self._bar_points = vtkPoints()
        bar = vtkPolyData()
        bar.SetPoints(self._bar_points)
        lines = vtkCellArray()
        for a, b in ((0, 1), (0, 2), (1, 3)):  # the bar and its two end ticks
            lines.InsertNextCell(2)
            lines.InsertCellPoint(a)
            lines.InsertCellPoint(b)
        bar.SetLines(lines)
        self._bar = bar
        bar_mapper = vtkPolyDataMapper2D()
        bar_mapper.SetInputData(bar)
        self.scale_bar_actor = vtkActor2D()
        self.scale_bar_actor.SetMapper(bar_mapper)
        self.scale_bar_actor.GetProperty().SetColor(*OVERLAY_COLOR)
        self.scale_bar_actor.GetProperty().SetLineWidth(2.0)
        self.renderer.AddViewProp(self.scale_bar_actor)
        self.scale_text = vtkTextActor()
        self.scale_text.GetTextProperty().SetFontSize(13)
        self.scale_text.GetTextProperty().SetColor(*OVERLAY_COLOR)
        self.scale_text.GetTextProperty().SetJustification(1)
        self.scale_text.GetTextProperty().SetVerticalJustification(0)
        self.renderer.AddViewProp(self.scale_text)
        #: Where the overlay was last drawn (display pixels, origin bottom-left): letters and bar.
        self.overlay_geometry: dict[str, object] = {}
        self.overlay_visible = True
        self.renderer.AddObserver("StartEvent", lambda *_: self._place_overlay())

        self.style = vtkInteractorStyleImage()
        self.interactor.SetInteractorStyle(self.style)
        self.style.AddObserver("MouseWheelForwardEvent", lambda *_: self.step(+1))
        self.style.AddObserver("MouseWheelBackwardEvent", lambda *_: self.step(-1))
        self.style.AddObserver("LeftButtonPressEvent", self._on_press)
        self.style.AddObserver("MouseMoveEvent", self._on_move)
        self.style.AddObserver("LeftButtonReleaseEvent", self._on_release)
        self._press: tuple[int, int] | None = None
        self._press_wl = (self.window, self.level)
        self._dragging = False

    # -- data ---------------------------------------------------------------------------------
    def set_volume(self, array: np.ndarray, planes: dict[str, SlicePlane]) -> None:
        """Show ``array`` along this view's plane; ``planes`` (all views) colour the crosshair."""
        plane = planes[self.name]
        self.array, self.plane = array, plane
        # The crosshair line along which array axis a is constant is the plane of the view whose
        # normal is a: draw it in that view's colour.
        self._line_colors = {p.normal_axis: CROSSHAIR_COLORS.get(n, (1.0, 1.0, 1.0)) for n, p in planes.items()}
        self.labels = None
        self.seeds = []
        self.measurement = None
        self.cursor = (np.asarray(array.shape, dtype=float) - 1) / 2.0
        ncol, nrow = plane.size
        sc, sr = plane.pixel_spacing
        self._image.SetDimensions(ncol, nrow, 1)
        self._image.SetSpacing(sc, sr, 1.0)
        self._image.SetOrigin(0.0, 0.0, 0.0)
        self.update_slice()
        self.reset_camera()

    def set_labels(self, labels: np.ndarray | None, colors: dict[int, tuple[int, int, int]]) -> None:
        self.labels, self.colors = labels, dict(colors)
        self.update_slice()

    def set_window_level(self, window: float, level: float) -> None:
        self.window, self.level = max(float(window), MIN_WINDOW_HU), float(level)
        self.update_slice()

    def set_cursor(self, index: np.ndarray) -> None:
        self.cursor = np.asarray(index, dtype=float)
        self.update_slice()

    def set_seeds(self, seeds: list[tuple[str, np.ndarray]]) -> None:
        self.seeds = list(seeds)
        self.update_slice()

    def set_landmarks(self, landmarks: dict[str, np.ndarray]) -> None:
        """Landmarks to draw (name -> array index (z, y, x)); those on the shown slice appear."""
        self.landmarks = {name: np.asarray(index, dtype=float) for name, index in landmarks.items()}
        self.update_slice()

    def shown_landmarks(self) -> list[str]:
        """The landmarks drawn on the current slice."""
        if self.plane is None:
            return []
        axis = self.plane.normal_axis
        return [name for name, index in self.landmarks.items() if round(float(index[axis])) == self.slice_index]

    @property
    def slice_index(self) -> int:
        assert self.plane is not None
        return int(np.clip(round(float(self.cursor[self.plane.normal_axis])), 0, self.plane.depth - 1))

    def step(self, delta: int) -> None:
        if self.plane is None:
            return
        cursor = self.cursor.copy()
        cursor[self.plane.normal_axis] = np.clip(self.slice_index + delta, 0, self.plane.depth - 1)
        self.cursor = cursor
        self.update_slice()
        self.cursorMoved.emit(cursor)

    # -- drawing ------------------------------------------------------------------------------
    def current_rgb(self) -> np.ndarray:
        """The displayed slice as (rows, cols, 3) uint8, row 0 at the bottom."""
        assert self.plane is not None and self.array is not None
        gray = window_to_gray(self.plane.extract(self.array, self.slice_index), self.window, self.level)
        labels = None if self.labels is None else self.plane.extract(self.labels, self.slice_index)
        return compose_rgb(gray, labels, self.colors, self.overlay_opacity)

    def update_slice(self) -> None:
        if self.plane is None or self.array is None:
            return
        rgb = self.current_rgb()
        scalars = numpy_to_vtk(rgb.reshape(-1, 3), deep=True)
        scalars.SetName("rgb")
        self._image.GetPointData().SetScalars(scalars)
        self._image.Modified()
        self._update_crosshair()
        self._update_seeds()
        self._update_landmarks()
        self._update_measurement()
        self.annotation.SetText(0, f"{self.name}  {self.slice_index + 1}/{self.plane.depth}")
        self.annotation.SetText(1, f"W {self.window:.0f}  L {self.level:.0f}")
        self.annotation.SetText(2, self.measurement_text)
        self.render()

    def _world(self, index: np.ndarray) -> tuple[float, float]:
        assert self.plane is not None
        col, row = self.plane.to_pixel(index)
        sc, sr = self.plane.pixel_spacing
        return col * sc, row * sr

    def _update_crosshair(self) -> None:
        assert self.plane is not None
        ncol, nrow = self.plane.size
        sc, sr = self.plane.pixel_spacing
        x, y = self._world(self.cursor)
        (vsrc, vact), (hsrc, hact) = self._cross
        vsrc.SetPoint1(x, -0.5 * sr, 0.5)
        vsrc.SetPoint2(x, (nrow - 0.5) * sr, 0.5)
        hsrc.SetPoint1(-0.5 * sc, y, 0.5)
        hsrc.SetPoint2((ncol - 0.5) * sc, y, 0.5)
        vact.GetProperty().SetColor(*self._line_colors.get(self.plane.col_axis, (1.0, 1.0, 1.0)))
        hact.GetProperty().SetColor(*self._line_colors.get(self.plane.row_axis, (1.0, 1.0, 1.0)))

    def _update_seeds(self) -> None:
        assert self.plane is not None
        for actor in self._seed_actors:
            self.renderer.RemoveActor(actor)
        self._seed_actors = []
        for kind, index in self.seeds:
            if abs(float(index[self.plane.normal_axis]) - self.slice_index) > 0.5:
                continue
            circle = vtkRegularPolygonSource()
            circle.SetNumberOfSides(24)
            circle.SetRadius(SEED_RADIUS_MM)
            x, y = self._world(index)
            circle.SetCenter(x, y, 0.6)
            mapper = vtkPolyDataMapper()
            mapper.SetInputConnection(circle.GetOutputPort())
            actor = vtkActor()
            actor.SetMapper(mapper)
            actor.GetProperty().SetColor(*SEED_COLORS[kind])
            self.renderer.AddActor(actor)
            self._seed_actors.append(actor)

    def _update_landmarks(self) -> None:
        for actor in self._landmark_actors:
            self.renderer.RemoveActor(actor)
        self._landmark_actors = []
        for name in self.shown_landmarks():
            diamond = vtkRegularPolygonSource()
            diamond.SetNumberOfSides(4)
            diamond.GeneratePolygonOff()  # an outline: the anatomy under it stays visible
            diamond.SetRadius(LANDMARK_RADIUS_MM)
            x, y = self._world(self.landmarks[name])
            diamond.SetCenter(x, y, 0.65)
            mapper = vtkPolyDataMapper()
            mapper.SetInputConnection(diamond.GetOutputPort())
            actor = vtkActor()
            actor.SetMapper(mapper)
            actor.GetProperty().SetColor(*LANDMARK_COLOR)
            actor.GetProperty().SetLineWidth(2.5)
            actor.PickableOff()
            self.renderer.AddActor(actor)
            self._landmark_actors.append(actor)

    def _update_measurement(self) -> None:
        if self.measurement is None:
            self._measure_actor.VisibilityOff()
            return
        a, b = self.measurement
        xa, ya = self._world(a)
        xb, yb = self._world(b)
        self._measure_source.SetPoint1(xa, ya, 0.7)
        self._measure_source.SetPoint2(xb, yb, 0.7)
        self._measure_actor.VisibilityOn()

    # -- orientation letters and scale bar ----------------------------------------------------------
    def pixels_per_mm(self) -> float:
        """Screen pixels per millimetre at the current zoom (parallel projection)."""
        _, h = self.renderer.GetSize()
        scale = self.renderer.GetActiveCamera().GetParallelScale()
        return h / (2.0 * scale) if scale > 0 and h > 0 else 0.0

    def set_overlay_visible(self, visible: bool) -> None:
        """Show or hide the orientation letters and the scale bar."""
        self.overlay_visible = bool(visible)
        for actor in (*self.letter_actors.values(), self.scale_bar_actor, self.scale_text):
            actor.SetVisibility(self.overlay_visible and self.plane is not None)
        self.render()

    def _place_overlay(self) -> None:
        """Put the letters at the edges' middles and size the scale bar for the current zoom."""
        w, h = self.renderer.GetSize()
        shown = self.overlay_visible and self.plane is not None and w > 0 and h > 0
        for actor in (*self.letter_actors.values(), self.scale_bar_actor, self.scale_text):
            actor.SetVisibility(shown)
        if not shown:
            return
        m = EDGE_MARGIN_PX
        positions = {"left": (m, h / 2), "right": (w - m, h / 2), "top": (w / 2, h - m), "bottom": (w / 2, m)}
        for edge, actor in self.letter_actors.items():
            actor.SetDisplayPosition(round(positions[edge][0]), round(positions[edge][1]))
        ppm = self.pixels_per_mm()
        length_mm = scale_bar_length(ppm, w)
        x1 = w - 2 * m
        x0 = x1 - length_mm * ppm
        y = SCALE_BAR_Y_PX
        for i, (px, py) in enumerate(((x0, y), (x1, y), (x0, y + SCALE_TICK_PX), (x1, y + SCALE_TICK_PX))):
            if self._bar_points.GetNumberOfPoints() <= i:
                self._bar_points.InsertNextPoint(px, py, 0.0)
            else:
                self._bar_points.SetPoint(i, px, py, 0.0)
        self._bar_points.Modified()
        self._bar.Modified()
        self.scale_text.SetInput(f"{length_mm:g} mm")
        self.scale_text.SetDisplayPosition(round((x0 + x1) / 2), round(y + SCALE_TICK_PX + 2))
        self.overlay_geometry = {"letters": {e: positions[e] for e in self.letter_actors},
                                 "scale_bar": ((x0, y), (x1, y)), "scale_bar_mm": length_mm}

    def reset_camera(self) -> None:
        assert self.plane is not None
        ncol, nrow = self.plane.size
        sc, sr = self.plane.pixel_spacing
        camera = self.renderer.GetActiveCamera()
        cx, cy = (ncol - 1) * sc / 2.0, (nrow - 1) * sr / 2.0
        camera.SetFocalPoint(cx, cy, 0.0)
        camera.SetPosition(cx, cy, 1000.0)
        camera.SetViewUp(0.0, 1.0, 0.0)
        camera.SetParallelScale(max(nrow * sr, ncol * sc * self._aspect()) / 2.0 * 1.02)
        self.renderer.ResetCameraClippingRange()
        self.render()

    def _aspect(self) -> float:
        w, h = self.render_window.GetSize()
        return h / w if w > 0 and h > 0 else 1.0

    def zoom(self, factor: float) -> None:
        self.renderer.GetActiveCamera().Zoom(factor)
        self.render()

    # -- picking and mouse --------------------------------------------------------------------
    def display_to_index(self, x: float, y: float) -> np.ndarray:
        """Display pixel (VTK convention, origin bottom-left) -> fractional array index on this slice."""
        assert self.plane is not None
        self.renderer.SetDisplayPoint(float(x), float(y), 0.0)
        self.renderer.DisplayToWorld()
        wx, wy, _, w = self.renderer.GetWorldPoint()
        if w:
            wx, wy = wx / w, wy / w
        sc, sr = self.plane.pixel_spacing
        return self.plane.to_index(wx / sc, wy / sr, self.slice_index)

    def index_to_display(self, index: np.ndarray) -> tuple[float, float]:
        """Array index -> display pixel (origin bottom-left): what a click there would hit."""
        x, y = self._world(np.asarray(index, dtype=float))
        self.renderer.SetWorldPoint(x, y, 0.0, 1.0)
        self.renderer.WorldToDisplay()
        dx, dy, _ = self.renderer.GetDisplayPoint()
        return dx, dy

    def _inside(self, index: np.ndarray) -> bool:
        assert self.array is not None
        return bool(np.all(index >= -0.5) and np.all(index <= np.asarray(self.array.shape) - 0.5))

    def _on_press(self, *_: object) -> None:
        if self.plane is None:
            return
        self._press = self.interactor.GetEventPosition()
        self._press_wl = (self.window, self.level)
        self._dragging = False
        if self.tool == "measure":
            start = self.display_to_index(*self._press)
            if self._inside(start):
                self.measurement = (start, start.copy())
                self.update_slice()
        elif self.tool == "landmark":
            self._grabbed = self.landmark_at(*self._press)
        elif self.tool in ("paint", "erase"):
            index = self.display_to_index(*self._press)
            self.strokeStarted.emit()
            if self._inside(index):
                self.brushed.emit(index)

    def landmark_at(self, x: float, y: float) -> str | None:
        """The landmark drawn within `LANDMARK_PICK_PX` of display pixel (x, y), the nearest, or None."""
        best, name = LANDMARK_PICK_PX * self.vtk_widget.devicePixelRatioF(), None
        for candidate in self.shown_landmarks():
            dx, dy = self.index_to_display(self.landmarks[candidate])
            d = float(np.hypot(dx - x, dy - y))
            if d <= best:
                best, name = d, candidate
        return name

    def _on_move(self, *_: object) -> None:
        if self._press is None:
            self.style.OnMouseMove()  # keep the built-in zoom (right) and pan (middle) drags
            self.hover(*self.interactor.GetEventPosition())
            return
        x, y = self.interactor.GetEventPosition()
        dx, dy = x - self._press[0], y - self._press[1]
        if abs(dx) + abs(dy) > CLICK_TOLERANCE_PX:
            self._dragging = True
        if self.tool in ("paint", "erase"):
            index = self.display_to_index(x, y)
            if self._inside(index):
                self.brushed.emit(index)
            return
        if not self._dragging:
            return
        if self.tool == "landmark" and self._grabbed is not None:
            self.landmarks[self._grabbed] = self.display_to_index(x, y)  # follows the mouse; placed on release
            self.update_slice()
        elif self.tool == "measure" and self.measurement is not None:
            end = self.display_to_index(x, y)
            self.measurement = (self.measurement[0], end)
            self.update_slice()
        elif self.tool == "navigate":
            window = self._press_wl[0] + dx * WL_HU_PER_PIXEL
            level = self._press_wl[1] - dy * WL_HU_PER_PIXEL
            self.set_window_level(window, level)
            self.windowLevelChanged.emit(self.window, self.level)

    def _on_release(self, *_: object) -> None:
        if self._press is None:
            return
        x, y = self.interactor.GetEventPosition()
        dragging, self._press = self._dragging, None
        if self.tool in ("paint", "erase"):
            self.strokeEnded.emit()
            return
        self.click(x, y, dragging=dragging)

    def hover(self, x: float, y: float) -> None:
        """Report the voxel under display pixel (x, y) through `hovered` (None outside the image)."""
        if self.plane is None:
            return
        index = self.display_to_index(x, y)
        self.hovered.emit(index if self._inside(index) else None)

    def click(self, x: float, y: float, *, dragging: bool = False) -> None:
        """Act on a left click (or the end of a drag) at display pixel (x, y) with the current tool."""
        if self.plane is None:
            return
        index = self.display_to_index(x, y)
        if self.tool == "measure":
            if self.measurement is not None and dragging:
                self.measurement = (self.measurement[0], index)
                self.measured.emit(self.measurement[0], self.measurement[1])
            return
        if self.tool == "landmark":
            name, self._grabbed = self._grabbed or self.landmark_name, None
            if self._inside(index):
                self.landmarkPlaced.emit(name, index)
            return
        if dragging or not self._inside(index):
            return
        if self.tool in ("seed_ivc", "seed_tumor"):
            self.seedPlaced.emit(self.tool.removeprefix("seed_"), index)
        else:
            self.cursor = index
            self.update_slice()
            self.cursorMoved.emit(index)

