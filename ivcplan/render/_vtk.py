"""Small VTK helpers shared by the renderers: offscreen windows, capture, numpy <-> VTK.

The environment default makes VTK open an EGL (headless) window; set before vtk is imported so
that the object factory picks it up. A caller that wants another window class sets it first.
"""

from __future__ import annotations

import os

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Importing these registers the OpenGL render window and volume mappers with VTK's factories.
import vtkmodules.vtkRenderingFreeType
import vtkmodules.vtkRenderingOpenGL2
import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401
from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkImageData, vtkPolyData
from vtkmodules.vtkRenderingCore import vtkRenderer, vtkRenderWindow, vtkWindowToImageFilter

from ivcplan.errors import InputError

#: zlib level of the PNGs: 3 is several times faster than the default 6 for a few % more bytes.
PNG_COMPRESSION = 3
#: PNG text chunk holding the height in pixels of the smallest text drawn on the image: with the image's
#: print resolution (its pHYs chunk, pixels per inch) it gives the text's size on paper.
MIN_TEXT_KEY = "ivcplan:min_text_px"
#: Smallest text on paper (points): below it labels are hard to read on a printed report.
MIN_PRINT_PT = 8.0


def text_px(points: float, dpi: float) -> int:
    """Pixels of a text of ``points`` on an image printed at ``dpi`` pixels per inch (VTK font sizes are pixels)."""
    return max(int(np.ceil(points * dpi / 72.0)), 1)


@dataclass(frozen=True)
class Snapshot:
    """A rendered RGB image and the camera that made it (world LPS mm -> pixel); ``dpi`` the resolution it is
    meant to be printed at and ``min_text_px`` the height of its smallest text (None: not known)."""

    rgb: np.ndarray
    world_to_ndc: np.ndarray
    dpi: float | None = None
    min_text_px: float | None = None

    def save(self, path: str | Path) -> Path:
        return save_png(self.rgb, Path(path), dpi=self.dpi, min_text_px=self.min_text_px)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])

    def pixel_of(self, points_lps: np.ndarray) -> np.ndarray:
        """(N, 2) pixel (column, row) of (N, 3) LPS points, row 0 at the top."""
        return project(self.world_to_ndc, self.size, points_lps)


def offscreen_window(renderer: vtkRenderer, size: tuple[int, int]) -> vtkRenderWindow:
    """An offscreen render window of ``size`` (w, h) pixels holding ``renderer``."""
    width, height = (int(v) for v in size)
    if width < 16 or height < 16 or width > 8192 or height > 8192:
        raise InputError(f"image size must be between 16 and 8192 pixels per side, got {size}")
    window = vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetMultiSamples(0)
    window.AddRenderer(renderer)
    window.SetSize(width, height)
    return window


def capture(window: vtkRenderWindow) -> np.ndarray:
    """Render and return the window as an RGB uint8 array (rows top to bottom)."""
    window.Render()
    grab = vtkWindowToImageFilter()
    grab.SetInput(window)
    grab.SetInputBufferTypeToRGB()
    grab.ReadFrontBufferOff()
    grab.Update()
    image = grab.GetOutput()
    w, h, _ = image.GetDimensions()
    rgb = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(h, w, -1)[:, :, :3]
    return np.ascontiguousarray(rgb[::-1])


def save_png(rgb: np.ndarray, path: Path, *, dpi: float | None = None, min_text_px: float | None = None) -> Path:
    """Write an (h, w, 3) uint8 array as PNG (Pillow, installed with matplotlib), with its print resolution
    (pHYs) and the height of its smallest text (`MIN_TEXT_KEY`) when known."""
    from PIL import Image, PngImagePlugin

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra: dict = {}
    if dpi:
        extra["dpi"] = (float(dpi), float(dpi))
    if min_text_px is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text(MIN_TEXT_KEY, f"{float(min_text_px):.2f}")
        extra["pnginfo"] = info
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(path, format="PNG", compress_level=PNG_COMPRESSION,
                                                                    **extra)
    return path


def print_info(path: str | Path) -> tuple[float | None, float | None]:
    """(print resolution in pixels per inch, smallest text height in pixels) recorded in a PNG, None when absent."""
    from PIL import Image

    with Image.open(path) as img:
        dpi = img.info.get("dpi")
        text = img.info.get(MIN_TEXT_KEY)
    resolution = float(dpi[0]) if dpi and float(dpi[0]) > 1.0 else None
    return resolution, (float(text) if text is not None else None)


def world_to_pixel_matrix(renderer: vtkRenderer, size: tuple[int, int]) -> np.ndarray:
    """4x4 matrix mapping homogeneous world points to normalized device coordinates."""
    aspect = size[0] / size[1]
    m = renderer.GetActiveCamera().GetCompositeProjectionTransformMatrix(aspect, -1.0, 1.0)
    return np.array([[m.GetElement(i, j) for j in range(4)] for i in range(4)])


def project(matrix: np.ndarray, size: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """(N, 3) world points -> (N, 2) pixel (column, row) positions, row 0 at the top."""
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    hom = np.c_[pts, np.ones(len(pts))] @ matrix.T
    ndc = hom[:, :2] / hom[:, 3:4]
    col = (ndc[:, 0] + 1.0) / 2.0 * size[0]
    row = (1.0 - (ndc[:, 1] + 1.0) / 2.0) * size[1]
    return np.c_[col, row]


def image_data(array_zyx: np.ndarray, spacing_xyz=(1.0, 1.0, 1.0), origin_xyz=(0.0, 0.0, 0.0)) -> vtkImageData:
    """vtkImageData over a (z, y, x) array (VTK's x index runs fastest)."""
    arr = np.ascontiguousarray(array_zyx)
    img = vtkImageData()
    img.SetDimensions(arr.shape[2], arr.shape[1], arr.shape[0])
    img.SetSpacing(*spacing_xyz)
    img.SetOrigin(*origin_xyz)
    scalars = numpy_to_vtk(arr.reshape(-1), deep=True)
    scalars.SetName("scalars")
    img.GetPointData().SetScalars(scalars)
    return img


def polydata_points(poly: vtkPolyData) -> np.ndarray:
    if poly.GetNumberOfPoints() == 0:
        return np.zeros((0, 3))
    return vtk_to_numpy(poly.GetPoints().GetData()).astype(float)


def set_points(poly: vtkPolyData, points: np.ndarray) -> None:
    pts = vtkPoints()
    pts.SetData(numpy_to_vtk(np.ascontiguousarray(points, dtype=np.float64), deep=True))
    poly.SetPoints(pts)


def polydata_triangles(poly: vtkPolyData) -> np.ndarray:
    """(M, 3) vertex indices of a triangle-only polydata."""
    polys = poly.GetPolys()
    if polys.GetNumberOfCells() == 0:
        return np.zeros((0, 3), dtype=np.int64)
    conn = vtk_to_numpy(polys.GetConnectivityArray()).astype(np.int64)
    offsets = vtk_to_numpy(polys.GetOffsetsArray()).astype(np.int64)
    if not np.all(np.diff(offsets) == 3):
        raise ValueError("polydata must contain triangles only")
    return conn.reshape(-1, 3)
